"""Sentiment evaluation: the trained classifier and the VADER lexicon on the same test split.

VADER (Hutto & Gilbert 2014) is the rule-based baseline the data came with: its compound
score in [-1, 1] is read as positive when >= 0 and negative below, the sign rule used for
the ratings themselves. It only applies to a binary negative/positive task; for other label
sets the baseline is reported as not applicable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_confusion_matrix, multiclass_f1_score

from pipeline.predict import SentimentPredictor


def scores(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict[str, float]:
    """Accuracy and macro-F1 with torchmetrics."""
    t, p = torch.as_tensor(y_true), torch.as_tensor(y_pred)
    return {
        "accuracy": round(float(multiclass_accuracy(p, t, num_classes, average="micro")), 4),
        "f1_macro": round(float(multiclass_f1_score(p, t, num_classes, average="macro")), 4),
    }


def vader_predictions(texts: list[str], classes: list[str]) -> np.ndarray | None:
    """VADER's label for each text, in the task's class ids; None when the classes are not negative/positive."""
    if [c.lower() for c in classes] != ["negative", "positive"]:
        return None
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return np.array([int(analyzer.polarity_scores(t)["compound"] >= 0) for t in texts])


def evaluate(predictor: SentimentPredictor, test, batch_size: int) -> dict[str, Any]:
    """Score the model and the baseline on the test split (a datasets.Dataset with text, label, input_ids).

    Returns {"metrics": {...}, "confusion": (C, C) array, "y_true", "y_pred"}.
    """
    classes = predictor.classes
    y_true = np.array(test["label"])
    all_ids = list(test["input_ids"])
    probs = np.concatenate([predictor.probabilities_from_ids(all_ids[i : i + batch_size]) for i in range(0, len(all_ids), batch_size)])
    y_pred = probs.argmax(axis=1)
    metrics: dict[str, Any] = {"test": scores(y_true, y_pred, len(classes)), "n_test": int(len(y_true))}
    vader = vader_predictions(list(test["text"]), classes)
    metrics["baseline_vader"] = scores(y_true, vader, len(classes)) if vader is not None else "not applicable (classes are not negative/positive)"
    confusion = multiclass_confusion_matrix(torch.as_tensor(y_pred), torch.as_tensor(y_true), len(classes)).numpy()
    return {"metrics": metrics, "confusion": confusion, "y_true": y_true, "y_pred": y_pred}
