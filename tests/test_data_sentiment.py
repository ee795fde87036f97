"""Sentiment data: the vader archive format, the local-file and hub paths, and their errors."""

from __future__ import annotations

import json
import tarfile

import pytest

from pipeline.config import SentimentPrepareParams
from pipeline.data import DataError
from pipeline.data.sentiment import build, split_indices
from pipeline.data.store import load_prepared, save_prepared
from pipeline.data.vader import read_snippets

from .conftest import synthetic_reviews, write_vader_sdist


def test_reads_the_vader_archive(vader_sdist):
    snippets = read_snippets(vader_sdist)
    assert len(snippets) == 244
    assert snippets[0].id == "1" and snippets[0].corpus == "movieReviewSnippets"
    assert isinstance(snippets[0].rating, float) and snippets[0].text.endswith("number 0.")


def test_build_binarizes_deduplicates_and_splits(vader_sdist, tiny_prepare):
    dataset, tokenizer, meta = build(tiny_prepare, 7, vader_sdist)
    assert meta["classes"] == ["negative", "positive"]
    assert meta["dropped_neutral"] == 1  # the 0.2 rating, inside the 0.5 band
    # the upper-cased copy of sentence 0, and both versions of the text seen with two labels
    assert meta["dropped_duplicates"] == 3
    sizes = {split: len(dataset[split]) for split in ("train", "val", "test")}
    assert sum(sizes.values()) == 240 and sizes["test"] == sizes["val"] == 48
    texts = [set(dataset[s]["text"]) for s in ("train", "val", "test")]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    row = dataset["train"][0]
    assert row["input_ids"] == tokenizer.encode(row["text"]).ids
    assert dataset["train"].features["label"].names == ["negative", "positive"]


def test_split_is_seeded():
    a, b, c = split_indices(100, 0.1, 0.1, 1), split_indices(100, 0.1, 0.1, 1), split_indices(100, 0.1, 0.1, 2)
    assert all((a[k] == b[k]).all() for k in a)
    assert not (a["test"] == c["test"]).all()
    with pytest.raises(DataError, match="too few"):
        split_indices(5, 0.1, 0.1, 0)


def test_save_and_load_roundtrip(tmp_path, vader_sdist, tiny_prepare):
    save_prepared(tmp_path / "p", *build(tiny_prepare, 7, vader_sdist))
    dataset, tokenizer, meta = load_prepared(tmp_path / "p", "sentiment")
    assert json.loads((tmp_path / "p" / "meta.json").read_text()) == meta
    assert tokenizer.get_vocab_size() == meta["vocab_size"]
    with pytest.raises(DataError, match="run `dvc repro prepare@sentiment` first"):
        load_prepared(tmp_path / "nothing", "sentiment")


def _local_rows():
    rows = synthetic_reviews(60, seed=3)
    return [{"sentence": text, "sentiment": "pos" if rating > 0 else "neg"} for text, rating in rows]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl", ".parquet"])
def test_local_files(tmp_path, suffix):
    import pandas as pd

    frame = pd.DataFrame(_local_rows())
    path = tmp_path / f"reviews{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".json":
        path.write_text(json.dumps(frame.to_dict(orient="records")))
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    cfg = SentimentPrepareParams(source="local", path=str(path), text_column="sentence", label_column="sentiment", min_frequency=1)
    dataset, _, meta = build(cfg, 0, None)
    assert meta["classes"] == ["neg", "pos"]
    assert sum(len(dataset[s]) for s in dataset) == 60


def test_hub_path_reads_a_folder_in_hub_layout(tmp_path):
    """`load_dataset(id)` on a folder laid out like a hub repository (data/train-*.parquet),
    with a ClassLabel column as SST-2 has; the same call downloads a real hub id."""
    import datasets

    rows = synthetic_reviews(50, seed=4)
    features = datasets.Features({"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["negative", "positive"])})
    table = datasets.Dataset.from_dict({"sentence": [t for t, _ in rows], "label": [int(r > 0) for _, r in rows]}, features=features)
    (tmp_path / "sst" / "data").mkdir(parents=True)
    table.to_parquet(str(tmp_path / "sst" / "data" / "train-00000-of-00001.parquet"))
    cfg = SentimentPrepareParams(source="hub", path=str(tmp_path / "sst"), text_column="sentence", min_frequency=1)
    dataset, _, meta = build(cfg, 0, None)
    assert meta["classes"] == ["negative", "positive"]
    assert sum(len(dataset[s]) for s in dataset) == 50


def test_hub_id_that_cannot_be_loaded_says_so():
    cfg = SentimentPrepareParams(source="hub", path="nobody/no-such-dataset")
    with pytest.raises(DataError, match="could not load hub data set 'nobody/no-such-dataset'"):
        build(cfg, 0, None)


def test_local_file_errors(tmp_path):
    with pytest.raises(DataError, match="data file not found"):
        build(SentimentPrepareParams(source="local", path=str(tmp_path / "missing.csv")), 0, None)
    odd = tmp_path / "reviews.xlsx"
    odd.write_text("x")
    with pytest.raises(DataError, match="unsupported file type '.xlsx'"):
        build(SentimentPrepareParams(source="local", path=str(odd)), 0, None)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("review,stars\nnice film,5\n")
    with pytest.raises(DataError, match=r"has no column 'text', 'label'; its columns are \['review', 'stars'\]"):
        build(SentimentPrepareParams(source="local", path=str(wrong)), 0, None)
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\n" + "".join(f"film {i},pos\n" for i in range(20)))
    with pytest.raises(DataError, match="single class"):
        build(SentimentPrepareParams(source="local", path=str(one_class)), 0, None)


def test_vader_archive_errors(tmp_path):
    with pytest.raises(DataError, match="run `dvc repro fetch_vader`"):
        read_snippets(tmp_path / "missing.tar.gz")
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tar file")
    with pytest.raises(DataError, match="not a readable vaderSentiment source distribution"):
        read_snippets(broken)
    malformed = write_vader_sdist(tmp_path / "m" / "v.tar.gz", [("fine film", 2.0)], extra_lines=["2\tnot-a-number\tbad line"])
    with pytest.raises(DataError, match="line 2: expected 'id<TAB>rating<TAB>text'"):
        read_snippets(malformed)
    with tarfile.open(tmp_path / "empty.tar.gz", "w:gz"):
        pass
    with pytest.raises(DataError, match="not a readable"):
        read_snippets(tmp_path / "empty.tar.gz")


def test_unlabeled_rows_are_dropped_and_counted(tmp_path):
    """SST-2's test split marks unlabeled rows with -1: they are not a class, nor 'neutral'."""
    import datasets

    rows = synthetic_reviews(40, seed=5)
    labels = [int(r > 0) for _, r in rows]
    labels[:4] = [-1] * 4
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["negative", "positive"])})
    table = datasets.Dataset.from_dict({"text": [t for t, _ in rows], "label": labels}, features=features)
    (tmp_path / "hub" / "data").mkdir(parents=True)
    table.to_parquet(str(tmp_path / "hub" / "data" / "test-00000-of-00001.parquet"))
    dataset, _, meta = build(SentimentPrepareParams(source="hub", path=str(tmp_path / "hub"), hub_split="test", min_frequency=1), 0, None)
    assert (meta["dropped_empty"], meta["dropped_neutral"]) == (4, 0)
    assert sum(len(dataset[s]) for s in dataset) == 36
