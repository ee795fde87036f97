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


CELL_COLOURS = {"rnn": "C3", "rnn_relu": "C1", "lstm": "C0", "gru": "C2"}
CELL_LABELS = {"rnn": "Elman (tanh)", "rnn_relu": "Elman (ReLU)", "lstm": "LSTM", "gru": "GRU"}
FLOW_FLOOR = 1e-30  # a log scale cannot draw 0: smaller values (float32 underflow) are drawn here


def gradient_flow(curves: dict[str, dict[str, Sequence[float]]], title: str) -> Figure:
    """||dL/dh_t|| against t on a log scale: one panel per cell, a line per moment (init, trained).

    ``curves``: {cell (rnn, rnn_relu, lstm, gru): {"at initialisation": [...], "after training": [...]}}."""
    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.6), layout="constrained", sharey=True, squeeze=False)
    for ax, (cell, moments) in zip(axes[0], curves.items()):
        for (moment, values), style in zip(moments.items(), ("--", "-")):
            values = np.maximum(np.asarray(values, dtype=float), FLOW_FLOOR)
            ax.semilogy(np.arange(1, len(values) + 1), values, style, color=CELL_COLOURS.get(cell, "C4"), label=moment)
        ax.set(title=CELL_LABELS.get(cell, cell), xlabel="time step t (the loss is at the last step)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    axes[0][0].set_ylabel("||dL/dh_t||")
    fig.suptitle(f"{title}\n(values below {FLOW_FLOOR:g} are drawn at {FLOW_FLOOR:g})", fontsize="medium")
    return fig


def error_vs_length(table: dict[str, dict[str, dict[str, float]]], baselines: dict[str, float], ylabels: dict[str, str], title: str) -> Figure:
    """One panel per problem: test error against sequence length, a line per cell, the trivial baseline dashed;
    one legend for all panels, at the right.

    ``table``: {problem: {cell: {length: error}}}; ``baselines``: {problem: error}."""
    fig, axes = plt.subplots(1, len(table), figsize=(5.2 * len(table) + 1.6, 3.8), layout="constrained", squeeze=False)
    for ax, (problem, cells) in zip(axes[0], table.items()):
        lengths = sorted({int(length) for per_length in cells.values() for length in per_length})
        for cell, per_length in cells.items():
            xs = sorted(int(length) for length in per_length)
            ax.plot(xs, [per_length[str(x)] for x in xs], "-o", color=CELL_COLOURS.get(cell, "C4"), label=CELL_LABELS.get(cell, cell))
        if problem in baselines:
            ax.axhline(baselines[problem], color="grey", linestyle="--", label="trivial baseline")
        ax.set(title=problem, xlabel="sequence length (steps between cue and answer)", ylabel=ylabels.get(problem, "test error"), xticks=lengths)
        if problem == "adding":
            ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center")
    fig.suptitle(title)
    return fig


def exploding_gradients(runs: dict[str, dict[str, Sequence[float]]], clip: float, title: str) -> Figure:
    """Gradient norm (log) and loss per training step, one line per run (unclipped, clipped); a run
    whose loss stopped being finite says so in its legend entry."""
    fig, (ax_norm, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    for index, (label, run) in enumerate(runs.items()):
        as_array = lambda values: np.array([np.nan if v is None else v for v in values], dtype=float)  # noqa: E731
        steps = np.arange(1, len(run["grad_norm"]) + 1)
        if None in run["loss"] or None in run["grad_norm"]:  # the run ended: its weights are no longer finite
            label = f"{label}: not finite at step {len(steps)}, the weights are lost"
        marker = "-o" if len(steps) < 5 else "-"
        ax_norm.semilogy(steps, as_array(run["grad_norm"]), marker, color=f"C{index}", label=label)
        ax_loss.semilogy(steps, as_array(run["loss"]), marker, color=f"C{index}", label=label)
    ax_norm.axhline(clip, color="grey", linestyle=":", label=f"clip threshold {clip:g}")
    ax_norm.set(title="gradient norm before clipping", xlabel="optimizer step", ylabel="||dL/dθ||")
    ax_loss.set(title="training loss (MSE)", xlabel="optimizer step")
    for ax in (ax_norm, ax_loss):
        ax.grid(alpha=0.3, which="both")
    ax_norm.legend(loc="upper right", fontsize="small")
    fig.suptitle(title)
    return fig
