"""Sentiment data (many-to-one): sentences with a positive or negative label.

Sources (``prepare.sentiment.source`` in params.yaml):

- ``vader`` (default, offline once fetched): the 10,605 human-rated movie-review snippets of
  the vaderSentiment source distribution (see ``pipeline.data.vader``).
- ``local``: a csv, tsv, json/jsonl or parquet file with a text column and a label column.
- ``hub``: a Hugging Face hub data set id (``stanfordnlp/sst2``), with ``hub_config`` and
  ``hub_split``; the same ``datasets.load_dataset`` call also reads a local folder of data files.

Labels: a class-label or string column gives the classes; a float column is read as a
rating whose sign is the class (negative < 0 < positive), and ratings within
``neutral_band`` of zero are dropped: the raters themselves did not agree on a direction
there (on the vader movie snippets |rating| <= 0.5 removes 562 of 10,605 sentences). Then
texts are de-duplicated (case- and space-insensitive; a text that appears with two
different labels is dropped), split train/val/test with a generator seeded from params,
and tokenized with a word vocabulary fitted on the training split.

Output folder (``pipeline.data.store.save_prepared``): ``dataset/`` (``datasets.DatasetDict.save_to_disk`` with
``text``, ``label``, ``input_ids``), ``tokenizer.json`` and ``meta.json`` (classes, counts).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import SentimentPrepareParams
from pipeline.data import DataError
from pipeline.data.store import load_table
from pipeline.data.tokenize import PAD_ID, train_word_tokenizer
from pipeline.data.vader import read_snippets

BINARY_CLASSES = ["negative", "positive"]
VADER_DESCRIPTION = "VADER movie-review snippets (Hutto & Gilbert 2014, from the vaderSentiment 3.3.2 source distribution)"


def _rows_from_table(table, cfg: SentimentPrepareParams) -> tuple[list[str], list[Any], list[str] | None]:
    """Text and raw label columns, and the class names if the label column declares them."""
    import datasets

    where = cfg.path
    missing = [c for c in (cfg.text_column, cfg.label_column) if c not in table.column_names]
    if missing:
        raise DataError(
            f"{where} has no column {', '.join(map(repr, missing))}; its columns are {table.column_names}. "
            "Set prepare.sentiment.text_column / label_column in params.yaml."
        )
    feature = table.features[cfg.label_column]
    names = list(feature.names) if isinstance(feature, datasets.ClassLabel) else None
    return list(table[cfg.text_column]), list(table[cfg.label_column]), names


def _to_classes(texts: list, labels: list, names: list[str] | None, neutral_band: float, where: str):
    """Turn raw labels into class ids. Returns (texts, ids, class_names, n_neutral_dropped, n_empty_dropped);
    "empty" counts rows without text or without a label (None, NaN, or -1 in a class-label column)."""

    def labelled(y) -> bool:
        if y is None or (isinstance(y, float) and math.isnan(y)):
            return False
        return names is None or 0 <= int(y) < len(names)

    keep_texts, keep_labels, neutral = [], [], 0
    valid = [(t, y) for t, y in zip(texts, labels) if labelled(y)]
    empty = len(texts) - len(valid)
    if not valid:
        raise DataError(f"{where}: no rows with a label")
    sample = [y for _, y in valid]
    is_rating = names is None and all(isinstance(y, float) for y in sample) and not all(float(y).is_integer() for y in sample)
    if is_rating:
        class_names = BINARY_CLASSES
        to_id = lambda y: None if abs(y) <= neutral_band else int(y > 0)  # noqa: E731
    elif names is not None:
        class_names = names
        to_id = int
    else:
        values = sorted({str(y) if isinstance(y, str) else int(y) for y in sample}, key=str)
        class_names = [str(v) for v in values]
        index = {v: i for i, v in enumerate(class_names)}
        to_id = lambda y: index[str(y) if isinstance(y, str) else str(int(y))]  # noqa: E731
    for text, y in valid:
        if not isinstance(text, str) or not text.strip():
            empty += 1
            continue
        label = to_id(y)
        if label is None:
            neutral += 1
            continue
        keep_texts.append(text.strip())
        keep_labels.append(label)
    if len(class_names) < 2:
        raise DataError(f"{where}: the label column has a single class {class_names}; sentiment needs at least two")
    return keep_texts, keep_labels, class_names, neutral, empty


def _deduplicate(texts: list[str], labels: list[int]) -> tuple[list[str], list[int], int]:
    """Keep one copy of each text (case- and whitespace-insensitive); drop texts seen with two labels."""
    key = lambda t: " ".join(t.lower().split())  # noqa: E731
    seen: dict[str, int] = {}
    conflicting: set[str] = set()
    for text, label in zip(texts, labels):
        k = key(text)
        if k in seen and seen[k] != label:
            conflicting.add(k)
        seen.setdefault(k, label)
    out_texts, out_labels, emitted = [], [], set()
    for text, label in zip(texts, labels):
        k = key(text)
        if k in emitted or k in conflicting:
            continue
        emitted.add(k)
        out_texts.append(text)
        out_labels.append(label)
    return out_texts, out_labels, len(texts) - len(out_texts)


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Shuffle 0..n-1 with a seeded generator and cut it into train/val/test."""
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_val = round(n * test_fraction), round(n * val_fraction)
    if min(n_test, n_val, n - n_test - n_val) < 1:
        raise DataError(f"{n} examples are too few to split into train/val/test with fractions {val_fraction}/{test_fraction}")
    return {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}


def build(cfg: SentimentPrepareParams, seed: int, raw_sdist: Path | None) -> tuple[Any, Any, dict]:
    """Build the tokenized DatasetDict, the fitted tokenizer and the statistics for meta.json."""
    import datasets

    if cfg.source == "vader":
        if raw_sdist is None:
            raise DataError("source 'vader' needs the vaderSentiment source distribution (stages/prepare.py --raw)")
        snippets = read_snippets(raw_sdist, ("movieReviewSnippets",))
        texts, labels, names, where = [s.text for s in snippets], [s.rating for s in snippets], None, str(raw_sdist)
    else:
        texts, labels, names = _rows_from_table(load_table(cfg.source, cfg.path, cfg.hub_config, cfg.hub_split, "prepare.sentiment.path"), cfg)
        where = cfg.path
    n_raw = len(texts)
    texts, labels, class_names, n_neutral, n_empty = _to_classes(texts, labels, names, cfg.neutral_band, where)
    texts, labels, n_duplicates = _deduplicate(texts, labels)
    parts = split_indices(len(texts), cfg.val_fraction, cfg.test_fraction, seed)

    tokenizer = train_word_tokenizer((texts[i] for i in parts["train"]), cfg.min_frequency, cfg.max_vocab, cfg.lowercase, cfg.max_length)
    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=class_names),
            "input_ids": datasets.Sequence(datasets.Value("int32")),
        }
    )
    splits, stats = {}, {}
    for split, idx in parts.items():
        split_texts = [texts[i] for i in idx]
        split_labels = [labels[i] for i in idx]
        ids = [enc.ids for enc in tokenizer.encode_batch(split_texts)]
        splits[split] = datasets.Dataset.from_dict({"text": split_texts, "label": split_labels, "input_ids": ids}, features=features)
        lengths = np.array([len(x) for x in ids])
        stats[split] = {
            "examples": len(idx),
            "per_class": {name: int(np.sum(np.array(split_labels) == c)) for c, name in enumerate(class_names)},
            "mean_tokens": round(float(lengths.mean()), 2),
            "at_max_length": int(np.sum(lengths >= cfg.max_length)),  # possibly truncated
        }
    meta = {
        "task": "sentiment",
        "source": cfg.source,
        "path": cfg.path if cfg.source != "vader" else VADER_DESCRIPTION,
        "classes": class_names,
        "vocab_size": tokenizer.get_vocab_size(),
        "pad_id": PAD_ID,
        "raw_examples": n_raw,
        "dropped_neutral": n_neutral,
        "dropped_empty": n_empty,
        "dropped_duplicates": n_duplicates,
        "neutral_band": cfg.neutral_band,
        "splits": stats,
        "seed": seed,
    }
    return datasets.DatasetDict(splits), tokenizer, meta
