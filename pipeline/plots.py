"""Figures logged to MLflow and shown in the model card (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def training_curves(history: Sequence[dict[str, float]], title: str) -> Figure:
    """Loss (left) and every other per-epoch metric (right), train dashed and val solid."""
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    epochs = [row["epoch"] for row in history]
    names = sorted({k.split("/", 1)[1] for row in history for k in row if "/" in k})
    metric_values = []
    for index, name in enumerate(names):  # one colour per metric; dashed train, solid val
        ax = ax_loss if name == "loss" else ax_metric
        for split, style in (("train", "--"), ("val", "-")):
            values = [row.get(f"{split}/{name}", np.nan) for row in history]
            if not all(np.isnan(values)):
                ax.plot(epochs, values, style, color=f"C{index}", marker="o", markersize=3, label=f"{split}/{name}")
                metric_values += [] if ax is ax_loss else [v for v in values if not np.isnan(v)]
    ax_loss.set(title="loss", xlabel="epoch", ylabel="cross-entropy (nats)")
    ax_metric.set(title="metrics", xlabel="epoch")
    if metric_values and 0 <= min(metric_values) and max(metric_values) <= 1:  # rates (accuracy, F1): the whole scale
        ax_metric.set(ylim=(0, 1))
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return fig


def confusion_matrix(matrix: np.ndarray, classes: Sequence[str], title: str) -> Figure:
    """Counts with row-normalised shading (rows: true class, columns: predicted)."""
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.6 * len(classes) + 2.5, 1.4 * len(classes) + 2), layout="constrained")
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{int(matrix[i, j])}\n{rates[i, j]:.0%}", ha="center", va="center", color="white" if rates[i, j] > 0.5 else "black")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes, xlabel="predicted", ylabel="true", title=title)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true class")
    return fig


def attention_heatmap(weights: Sequence[Sequence[float]], source: Sequence[str], target: Sequence[str], title: str) -> Figure:
    """Attention weights: one row per output token, one column per source token."""
    matrix = np.asarray(weights)
    fig, ax = plt.subplots(figsize=(0.45 * len(source) + 2.5, 0.4 * len(target) + 1.8), layout="constrained")
    image = ax.imshow(matrix, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set(xticks=range(len(source)), yticks=range(len(target)), xlabel="source", ylabel="output", title=title)
    ax.set_xticklabels(source, rotation=60, ha="right")
    ax.set_yticklabels(target)
    fig.colorbar(image, ax=ax, fraction=0.04, label="attention weight")
    return fig
