"""`dvc repro` end to end on a tiny profile, in a copy of the repository (marked slow).

The copy gets a miniature vaderSentiment archive in place of the real download
(`dvc commit fetch_vader` records it), tiny model sizes, and its own MLflow store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, synthetic_reviews, write_vader_sdist

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("project")
    for name in ("pipeline", "stages"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    (root / ".dvc").mkdir()
    shutil.copy(REPO / ".dvc" / "config", root / ".dvc" / "config")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["prepare"]["sentiment"].update(min_frequency=1, val_fraction=0.2, test_fraction=0.2)
    params["train"]["sentiment"].update(embedding_dim=16, hidden_size=16, batch_size=16, lr=0.01, max_epochs=3, dropout=0.1)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_vader_sdist(root / "data" / "raw" / "vaderSentiment-3.3.2.tar.gz", synthetic_reviews(200))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "DVC_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}", DVC_NO_ANALYTICS="1", HF_HOME=str(root / ".cache" / "hf"))
    _run(["git", "init", "-q"], root, env)
    _run([sys.executable, "-m", "dvc", "commit", "-f", "fetch_vader"], root, env)  # the archive stands in for the download
    out = _run([sys.executable, "-m", "dvc", "repro"], root, env)
    return root, {"env": env, "log": out}


def test_repro_writes_metrics_plots_card_and_model(project):
    root, info = project
    assert "Running stage 'fetch_vader'" not in info["log"]
    metrics = json.loads((root / "metrics" / "sentiment.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.8 and metrics["n_test"] == 40
    assert set(metrics["baseline_vader"]) == {"accuracy", "f1_macro"}
    for path in (
        "plots/sentiment/train/history.csv",
        "plots/sentiment/train/training_curves.png",
        "plots/sentiment/eval/predictions.csv",
        "plots/sentiment/eval/confusion_matrix.png",
        "models/sentiment/model.pt",
        "models/sentiment/tokenizer.json",
    ):
        assert (root / path).is_file(), path
    card = (root / "reports" / "model_card.md").read_text()
    assert f"| this model | {metrics['test']['accuracy']:.4f} |" in card


def test_runs_are_in_mlflow_with_a_servable_model(project):
    import mlflow
    import pandas as pd

    root, _ = project
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("rnnlab/sentiment")
    runs = {r.data.tags["rnnlab.stage"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"train", "evaluate"}
    assert all(r.info.status == "FINISHED" for r in runs.values())
    train = runs["train"]
    assert train.data.params["train.sentiment.cell"] == "lstm"
    assert "data.digest" in train.data.params
    assert len(client.get_metric_history(train.info.run_id, "val/loss")) == 3  # one point per epoch
    assert runs["evaluate"].data.metrics["test/accuracy"] >= 0.8
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model(f"runs:/{train.info.run_id}/model")
    answer = model.predict(pd.DataFrame({"text": ["a wonderful brilliant film", "a dull boring film"]}))
    assert list(answer["label"]) == ["positive", "negative"]


def test_second_repro_is_a_no_op_and_predict_works(project):
    root, info = project
    out = _run([sys.executable, "-m", "dvc", "repro"], root, info["env"])
    assert "Data and pipelines are up to date" in out
    answer = _run([sys.executable, "-m", "pipeline.cli", "predict", "sentiment", "a charming smart film"], root, info["env"])
    assert answer.split("\t")[0] == "positive"
