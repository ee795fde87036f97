"""The stage scripts: a mistake stops them with one clear line and exit status 1."""

from __future__ import annotations

import subprocess
import sys

import yaml

from .conftest import REPO


def _stage(args: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "stages" / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True)


def test_unknown_params_key_stops_the_stage(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"]["sentiment"]["hiden_size"] = 64
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = _stage(["train.py", "sentiment", "--data", "d", "--out", "m", "--plots", "p"], tmp_path)
    assert result.returncode == 1
    assert "error: invalid parameters:\n  params.yaml: unknown key 'train.sentiment.hiden_size'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m").exists() and not (tmp_path / "mlflow.db").exists()


def test_missing_raw_data_stops_prepare(tmp_path):
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    result = _stage(["prepare.py", "sentiment", "--raw", "data/raw/none.tar.gz", "--out", "out"], tmp_path)
    assert result.returncode == 1
    assert "vaderSentiment source distribution not found: data/raw/none.tar.gz (run `dvc repro fetch_vader`)" in result.stderr
    assert not (tmp_path / "out").exists()


def test_missing_model_stops_evaluate(tmp_path, prepared_sentiment):
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    args = ["evaluate.py", "sentiment", "--data", str(prepared_sentiment), "--model", "models/sentiment", "--metrics", "m.json", "--plots", "p"]
    result = _stage(args, tmp_path)
    assert result.returncode == 1
    assert "no trained model at models/sentiment/model.pt: run `dvc repro train@sentiment` first" in result.stderr
