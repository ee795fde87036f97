"""Shared fixtures: small data sets made here in the real formats, and a tiny trained model.

Nothing here touches the network: the vaderSentiment source distribution is rebuilt in
miniature (same archive layout, same line format), and the hub path reads local files.
"""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DVC_NO_ANALYTICS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.pop("MLFLOW_TRACKING_URI", None)

REPO = Path(__file__).resolve().parent.parent
POSITIVE = ["good", "great", "wonderful", "moving", "funny", "brilliant", "charming", "smart"]
NEGATIVE = ["bad", "awful", "dull", "boring", "clumsy", "tedious", "stupid", "flat"]
FILLER = ["the", "film", "story", "is", "a", "and", "cast", "plot", "really", "very", "movie", "acting"]


def synthetic_reviews(n: int, seed: int = 0) -> list[tuple[str, float]]:
    """Sentences whose rating follows their sentiment words, so a tiny model can learn them."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        words = rng.sample(FILLER, 4) + rng.sample(POSITIVE if positive else NEGATIVE, 2)
        rng.shuffle(words)
        rating = rng.uniform(1.0, 4.0) * (1 if positive else -1)
        rows.append((f"{' '.join(words)} number {i}.", round(rating, 4)))
    return rows


OTHER_CORPORA = {  # a few lines each, so the four-corpus reader (charlm) finds every file
    "amazonReviewSnippets": ["This blender works great.", "The strap broke after a week."],
    "tweets": ["loving the sunshine today :)", "ugh, monday again"],
    "nytEditorialSnippets": ["The council's decision is a sensible one.", "The plan fails the city's poorest residents."],
}


def write_vader_sdist(path: Path, rows: list[tuple[str, float]], extra_lines: list[str] = (), other: dict[str, list[str]] | None = None) -> Path:
    """A miniature vaderSentiment-3.3.2.tar.gz with the layout of the real one: ``rows`` are the
    movie-review snippets, ``other`` (default OTHER_CORPORA) the lines of the other three corpora."""
    files = {"movieReviewSnippets": [f"{i + 1}\t{rating}\t{text}" for i, (text, rating) in enumerate(rows)] + list(extra_lines)}
    for corpus, lines in (OTHER_CORPORA if other is None else other).items():
        files[corpus] = [f"{i + 1}\t1.0\t{text}" for i, text in enumerate(lines)]
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        for corpus, lines in files.items():
            data = ("\r\n".join(lines) + "\r\n").encode("utf-8")
            info = tarfile.TarInfo(f"hutto_ICWSM_2014/{corpus}_GroundTruth.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode="w:gz") as tar:
        info = tarfile.TarInfo("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        info.size = len(inner.getvalue())
        tar.addfile(info, io.BytesIO(inner.getvalue()))
    return path


@pytest.fixture(scope="session")
def vader_sdist(tmp_path_factory) -> Path:
    rows = synthetic_reviews(240)
    rows += [("a perfectly ordinary film.", 0.2), (rows[0][0].upper(), rows[0][1]), ("same words here.", 2.0), ("Same words  here.", -2.0)]
    return write_vader_sdist(tmp_path_factory.mktemp("raw") / "vaderSentiment-3.3.2.tar.gz", rows)


@pytest.fixture(scope="session")
def tiny_prepare():
    from pipeline.config import SentimentPrepareParams

    return SentimentPrepareParams(min_frequency=1, val_fraction=0.2, test_fraction=0.2)


@pytest.fixture(scope="session")
def tiny_train():
    from pipeline.config import SentimentTrainParams

    return SentimentTrainParams(embedding_dim=16, hidden_size=16, batch_size=16, lr=0.01, max_epochs=6, patience=6, dropout=0.1)


@pytest.fixture(scope="session")
def prepared_sentiment(tmp_path_factory, vader_sdist, tiny_prepare) -> Path:
    from pipeline.data.sentiment import build
    from pipeline.data.store import save_prepared

    out = tmp_path_factory.mktemp("prepared") / "sentiment"
    save_prepared(out, *build(tiny_prepare, 7, vader_sdist))
    return out


@pytest.fixture(scope="session")
def trained_sentiment(tmp_path_factory, prepared_sentiment, tiny_train) -> tuple[Path, dict]:
    """A tiny LSTM trained on the synthetic reviews: (model dir, train() result)."""
    from pipeline.config import TrainerParams
    from pipeline.training.sentiment import train

    base = tmp_path_factory.mktemp("trained")
    result = train(tiny_train, TrainerParams(), 7, prepared_sentiment, base / "models", base / "work")
    return base / "models", result


@pytest.fixture(scope="session")
def tiny_charlm_train():
    from pipeline.config import CharLMTrainParams

    return CharLMTrainParams(
        embedding_dim=8, hidden_size=32, num_layers=1, dropout=0.0, batch_size=4, bptt=16, windows_per_batch=2, lr=0.01, max_epochs=3, validations_per_epoch=2
    )


@pytest.fixture(scope="session")
def prepared_charlm(tmp_path_factory, vader_sdist) -> Path:
    from pipeline.config import CharLMPrepareParams
    from pipeline.data.charlm import build
    from pipeline.data.store import save_prepared

    out = tmp_path_factory.mktemp("prepared") / "charlm"
    save_prepared(out, *build(CharLMPrepareParams(val_fraction=0.1, test_fraction=0.1, min_char_count=2), 7, vader_sdist))
    return out


@pytest.fixture(scope="session")
def trained_charlm(tmp_path_factory, prepared_charlm, tiny_charlm_train) -> tuple[Path, dict]:
    """A tiny LSTM language model trained on the synthetic snippets: (model dir, train() result)."""
    from pipeline.config import TrainerParams
    from pipeline.training.charlm import train

    base = tmp_path_factory.mktemp("trained_charlm")
    result = train(tiny_charlm_train, TrainerParams(), 7, prepared_charlm, base / "models", base / "work")
    return base / "models", result
