"""Using a trained model: the `rnnlab predict` command and its errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from pipeline.cli import main
from pipeline.models.checkpoint import CheckpointError, load_checkpoint
from pipeline.predict import SentimentPredictor


def test_predict_prints_label_and_probability(trained_sentiment, capsys):
    model_dir, _ = trained_sentiment
    assert main(["predict", "sentiment", "a wonderful and brilliant film", "a dull and boring film", "--model-dir", str(model_dir)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    labels = [line.split("\t")[0] for line in lines]
    probabilities = [float(line.split("\t")[1]) for line in lines]
    assert labels == ["positive", "negative"]
    assert all(0.5 < p <= 1.0 for p in probabilities)


def test_predict_json(trained_sentiment, capsys):
    model_dir, _ = trained_sentiment
    assert main(["predict", "sentiment", "--json", "--model-dir", str(model_dir), "great fun"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["label"] in ("negative", "positive")
    assert abs(sum(row["probabilities"].values()) - 1) < 1e-5


def test_unknown_words_are_not_an_error(trained_sentiment):
    model_dir, _ = trained_sentiment
    [prediction] = SentimentPredictor.from_dir(model_dir).predict(["zyxw qwerty"])
    assert prediction.label in ("negative", "positive")


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_is_a_clear_error(trained_sentiment, capsys, text):
    model_dir, _ = trained_sentiment
    assert main(["predict", "sentiment", text, "--model-dir", str(model_dir)]) == 2
    assert "text 1 is empty: give a sentence to classify" in capsys.readouterr().err


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    assert main(["predict", "sentiment", "nice", "--model-dir", str(tmp_path)]) == 2
    assert f"no trained model at {tmp_path / 'model.pt'}: run `dvc repro train@sentiment` first" in capsys.readouterr().err


def test_corrupted_checkpoint_is_a_clear_error(trained_sentiment, tmp_path, capsys):
    model_dir, _ = trained_sentiment
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    data = (broken / "model.pt").read_bytes()
    (broken / "model.pt").write_bytes(data[: len(data) // 2])  # a download cut short
    assert main(["predict", "sentiment", "nice", "--model-dir", str(broken)]) == 2
    assert "is not a readable checkpoint" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="holds a 'sentiment' model, not a 'charlm' model"):
        load_checkpoint(model_dir / "model.pt", "charlm")


def test_predict_does_not_import_lightning_or_mlflow(trained_sentiment):
    model_dir, _ = trained_sentiment
    code = (
        "import sys; from pipeline.cli import main; "
        f"rc = main(['predict', 'sentiment', 'good', '--model-dir', {str(model_dir)!r}]); "
        "heavy = [m for m in ('lightning', 'mlflow', 'datasets', 'torchmetrics') if m in sys.modules]; "
        "print('HEAVY', heavy); sys.exit(rc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
