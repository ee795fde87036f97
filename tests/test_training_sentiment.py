"""Training the sentiment model on a shrunk configuration: it learns, it is reproducible,
it resumes, every cell and backend trains, and a NaN loss stops it with a clear message."""

from __future__ import annotations

import pytest
import torch

from pipeline.config import TrainerParams
from pipeline.evaluation.sentiment import evaluate
from pipeline.models.checkpoint import load_checkpoint
from pipeline.predict import SentimentPredictor
from pipeline.training.sentiment import train


def test_tiny_model_learns_the_synthetic_reviews(trained_sentiment, prepared_sentiment):
    from pipeline.data.store import load_prepared

    model_dir, result = trained_sentiment
    assert [row["epoch"] for row in result["history"]] == list(range(1, len(result["history"]) + 1))
    assert {"train/loss", "val/loss", "val/acc", "val/f1"} <= set(result["history"][-1])
    dataset, _, _ = load_prepared(prepared_sentiment, "sentiment")
    scored = evaluate(SentimentPredictor.from_dir(model_dir), dataset["test"], batch_size=8)
    assert scored["metrics"]["test"]["accuracy"] >= 0.9  # two sentiment words per sentence decide it
    assert scored["confusion"].sum() == len(dataset["test"])
    assert set(scored["metrics"]["baseline_vader"]) == {"accuracy", "f1_macro"}


def test_checkpoint_rebuilds_the_model(trained_sentiment):
    model_dir, result = trained_sentiment
    payload = load_checkpoint(model_dir / "model.pt", "sentiment")
    assert payload["model_args"] == result["model_args"]
    assert payload["extra"]["classes"] == ["negative", "positive"]
    assert payload["extra"]["best_epoch"] == result["best_epoch"]
    assert all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values())


def test_same_seed_same_model(tmp_path, prepared_sentiment, tiny_train):
    cfg = tiny_train.model_copy(update={"max_epochs": 2})
    a = train(cfg, TrainerParams(), 11, prepared_sentiment, tmp_path / "a", tmp_path / "wa")
    b = train(cfg, TrainerParams(), 11, prepared_sentiment, tmp_path / "b", tmp_path / "wb")
    assert a["history"] == b["history"]
    sa = torch.load(tmp_path / "a" / "model.pt", weights_only=True)["state_dict"]
    sb = torch.load(tmp_path / "b" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


# Resuming writes into the run's own checkpoint folder: Lightning's "exists and is not empty" is expected there.
@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")
def test_resume_from_checkpoint_continues_the_run(tmp_path, prepared_sentiment, tiny_train):
    first = train(tiny_train.model_copy(update={"max_epochs": 2}), TrainerParams(), 5, prepared_sentiment, tmp_path / "m", tmp_path / "w")
    assert len(first["history"]) == 2
    last = tmp_path / "w" / "checkpoints" / "last.ckpt"
    assert last.is_file()
    resumed = train(tiny_train.model_copy(update={"max_epochs": 3}), TrainerParams(), 5, prepared_sentiment, tmp_path / "m", tmp_path / "w", resume_from=last)
    assert [row["epoch"] for row in resumed["history"]] == [3]  # only the epoch that was missing


@pytest.mark.parametrize(("cell", "backend"), [("rnn", "fused"), ("gru", "scratch"), ("lstm", "scratch")])
def test_every_cell_and_backend_trains(tmp_path, prepared_sentiment, tiny_train, cell, backend):
    cfg = tiny_train.model_copy(update={"cell": cell, "backend": backend, "max_epochs": 1, "num_layers": 2, "pooling": "last"})
    result = train(cfg, TrainerParams(), 3, prepared_sentiment, tmp_path / "m", tmp_path / "w")
    assert result["model_args"]["cell"] == cell and result["model_args"]["backend"] == backend
    assert (tmp_path / "m" / "model.pt").is_file() and (tmp_path / "m" / "tokenizer.json").is_file()


def test_nan_loss_stops_with_a_clear_error(tmp_path, prepared_sentiment, tiny_train, monkeypatch):
    from pipeline.models.sentiment import SentimentClassifier

    original = SentimentClassifier.forward
    monkeypatch.setattr(SentimentClassifier, "forward", lambda self, ids, lengths: original(self, ids, lengths) * float("nan"))
    with pytest.raises(FloatingPointError, match=r"training loss is nan at epoch 0, step 0: lower train.sentiment.lr"):
        train(tiny_train, TrainerParams(), 3, prepared_sentiment, tmp_path / "m", tmp_path / "w")
    assert not (tmp_path / "m" / "model.pt").exists()  # nothing half-trained is left as the model
