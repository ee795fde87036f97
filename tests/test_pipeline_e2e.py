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
    params["prepare"]["charlm"].update(val_fraction=0.1, test_fraction=0.1, min_char_count=2)
    params["train"]["charlm"].update(embedding_dim=8, hidden_size=32, num_layers=1, batch_size=4, bptt=16, lr=0.01, max_epochs=2, val_batch_size=2)
    params["evaluate"]["charlm"].update(batch_size=2, sample_length=60)
    params["prepare"]["translate"].update(max_digits=2, train_size=70, val_size=15, test_size=15)
    params["train"]["translate"].update(embedding_dim=16, hidden_size=16, batch_size=16, lr=0.01, max_epochs=2)
    params["evaluate"]["translate"].update(beam_width=2, heatmaps=1)
    params["prepare"]["longrange"].update(val_size=64, test_size=64)
    params["train"]["longrange"].update(lengths=[6], cells=["rnn", "lstm"], hidden_size=16, max_steps=60, val_every=20, flow_batch=8)
    params["train"]["longrange"]["exploding"].update(steps=30)
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
    charlm = json.loads((root / "metrics" / "charlm.json").read_text())
    assert set(charlm["baselines"]) == {"bz2", "xz", "unigram"}
    assert charlm["test"]["bits_per_char"] < charlm["baselines"]["unigram"]  # context helps even a tiny model
    samples = json.loads((root / "plots" / "charlm" / "eval" / "samples.json").read_text())
    assert [s["temperature"] for s in samples] == [0.5, 0.8, 1.0] and all(len(s["text"]) == 60 for s in samples)
    assert f"| this model | {charlm['test']['bits_per_char']:.4f} |" in card
    assert samples[1]["prime"] + samples[1]["text"] in card
    for path in ("plots/charlm/train/history.csv", "plots/charlm/train/training_curves.png", "models/charlm/model.pt"):
        assert (root / path).is_file(), path
    translate = json.loads((root / "metrics" / "translate.json").read_text())
    assert set(translate["greedy"]) == set(translate["beam"]) == {"bleu", "chrf", "exact_match"} and translate["n_test"] == 15
    assert (root / "plots" / "translate" / "eval" / "attention_0.png").is_file()
    assert (root / "plots" / "translate" / "eval" / "translations.csv").read_text(encoding="utf-8").startswith("source,reference,greedy,beam")
    assert f"| greedy | {translate['greedy']['exact_match']:.4f} |" in card
    longrange = json.loads((root / "metrics" / "longrange.json").read_text())
    assert set(longrange["error"]) == {"adding", "copy"} and set(longrange["error"]["adding"]) == {"rnn", "lstm"}
    assert set(longrange["error"]["copy"]["lstm"]) == {"6"} and longrange["baseline"]["copy"] == 0.875
    for path in (
        "plots/longrange/report/error_vs_length.png",
        "plots/longrange/report/gradient_flow_adding.png",
        "plots/longrange/report/results.csv",
        "plots/longrange/exploding/exploding_gradients.png",
        "models/longrange/copy-6-lstm/model.pt",
        "models/longrange/adding-6-rnn/gradient_flow.json",
    ):
        assert (root / path).is_file(), path
    assert "## Long-range dependencies: why gated cells beat the Elman cell" in card
    assert f"{longrange['error']['adding']['lstm']['6']:.4f}" in card and "![exploding gradients]" in card


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

    experiment = client.get_experiment_by_name("rnnlab/charlm")
    runs = {r.data.tags["rnnlab.stage"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"train", "evaluate"} and all(r.info.status == "FINISHED" for r in runs.values())
    assert "test/bits_per_char" in runs["evaluate"].data.metrics and "baselines/bz2" in runs["evaluate"].data.metrics
    assert len(client.get_metric_history(runs["train"].info.run_id, "val/bpc")) == 8  # 2 epochs x 4 validations
    generator = mlflow.pyfunc.load_model(f"runs:/{runs['train'].info.run_id}/model")
    primes = pd.DataFrame({"prime": ["the film ", "a "]})
    first = generator.predict(primes, params={"length": 30, "temperature": 0.8, "seed": 3})
    assert [len(t) for t in first["text"]] == [30, 30]
    assert first.equals(generator.predict(primes, params={"length": 30, "temperature": 0.8, "seed": 3}))

    experiment = client.get_experiment_by_name("rnnlab/translate")
    runs = {r.data.tags["rnnlab.stage"]: r for r in client.search_runs([experiment.experiment_id])}
    assert all(r.info.status == "FINISHED" for r in runs.values()) and "beam/bleu" in runs["evaluate"].data.metrics
    translator = mlflow.pyfunc.load_model(f"runs:/{runs['train'].info.run_id}/model")
    answer = translator.predict(pd.DataFrame({"text": ["seven", "forty-two"]}), params={"beam_width": 2})
    assert len(answer["translation"]) == 2 and all(isinstance(t, str) for t in answer["translation"])

    experiment = client.get_experiment_by_name("rnnlab/longrange")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["rnnlab.stage"] for r in runs) == ["exploding", "report"] + ["train"] * 4
    assert all(r.info.status == "FINISHED" for r in runs)
    trained = [r for r in runs if r.data.tags["rnnlab.stage"] == "train"]
    assert all("test/error" in r.data.metrics and "baseline/error" in r.data.metrics for r in trained)
    assert {r.data.params["cell"] for r in trained} == {"rnn", "lstm"}
    validations = [len(client.get_metric_history(r.info.run_id, "val/error")) for r in trained]
    assert max(validations) == 3 and min(validations) >= 1  # every 20 of 60 steps, fewer if solved early


def test_second_repro_is_a_no_op_and_predict_works(project):
    root, info = project
    out = _run([sys.executable, "-m", "dvc", "repro"], root, info["env"])
    assert "Data and pipelines are up to date" in out
    answer = _run([sys.executable, "-m", "pipeline.cli", "predict", "sentiment", "a charming smart film"], root, info["env"])
    assert answer.split("\t")[0] == "positive"
    text = _run([sys.executable, "-m", "pipeline.cli", "generate", "--prime", "the ", "--length", "25", "--seed", "1"], root, info["env"])
    assert text.startswith("the ") and len(text.rstrip("\n")) == 29
    translation = _run([sys.executable, "-m", "pipeline.cli", "translate", "--json", "forty-two"], root, info["env"])
    assert json.loads(translation)[0]["text"] == "forty-two"
