"""MLflow tracking: where runs go, and a clear error when the server is down."""

from __future__ import annotations

import socket
import time

import pytest

from pipeline import tracking


def test_uri_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.resolve_tracking_uri(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert tracking.resolve_tracking_uri("sqlite:///runs.db", tmp_path) == f"sqlite:///{tmp_path.resolve()}/runs.db"
    assert tracking.resolve_tracking_uri("http://mlflow:5000", tmp_path) == "http://mlflow:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://team-server:5000")
    assert tracking.resolve_tracking_uri("sqlite:///runs.db", tmp_path) == "http://team-server:5000"


def test_unreachable_server_fails_fast_with_advice():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(tracking.TrackingError, match=rf"MLflow tracking server http://127.0.0.1:{port} is unreachable .*unset MLFLOW_TRACKING_URI"):
        tracking.check_reachable(f"http://127.0.0.1:{port}")
    assert time.monotonic() - start < 10  # not MLflow's minutes of retries


def test_tracked_run_logs_into_the_store(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("DVC_EXP_NAME", "brisk-fern")
    uri = tracking.resolve_tracking_uri(None, tmp_path)
    with tracking.tracked_run(uri, "rnnlab-test/sentiment", tracking.run_name("train", "gru"), tmp_path, {"rnnlab.stage": "train"}) as run:
        tracking.log_params({"train": {"sentiment": {"cell": "gru", "lr": 0.01, "path": None}}})
        tracking.log_metrics({"test": {"accuracy": 0.9}, "baseline_vader": "not applicable", "n_test": 10})
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("rnnlab-test/sentiment")
    assert experiment.tags[tracking.EXPERIMENT_KIND_TAG] == tracking.TRAINING_KIND
    assert experiment.artifact_location == (tmp_path / "mlartifacts" / "rnnlab-test-sentiment").resolve().as_uri()
    logged = client.get_run(run.info.run_id)
    assert logged.info.run_name == "train-gru-brisk-fern"
    assert logged.info.status == "FINISHED"
    assert logged.data.params == {"train.sentiment.cell": "gru", "train.sentiment.lr": "0.01", "train.sentiment.path": "null"}
    assert logged.data.metrics == {"test/accuracy": 0.9, "n_test": 10.0}
    assert "mlflow.source.git.commit" in logged.data.tags


def test_failed_stage_marks_the_run_failed(tmp_path):
    import mlflow

    uri = tracking.resolve_tracking_uri(None, tmp_path)
    with pytest.raises(FloatingPointError), tracking.tracked_run(uri, "rnnlab-test/x", "train-lstm", tmp_path) as run:
        raise FloatingPointError("nan")
    assert mlflow.MlflowClient(uri).get_run(run.info.run_id).info.status == "FAILED"


def test_directory_digest_changes_with_content(tmp_path):
    (tmp_path / "a.txt").write_text("one")
    first = tracking.directory_digest(tmp_path)
    assert first == tracking.directory_digest(tmp_path)
    (tmp_path / "a.txt").write_text("two")
    assert tracking.directory_digest(tmp_path) != first


def test_dataset_is_logged_as_run_input(tmp_path):
    import datasets
    import mlflow

    table = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1], "input_ids": [[2], [3]]})
    uri = tracking.resolve_tracking_uri(None, tmp_path)
    with tracking.tracked_run(uri, "rnnlab-test/data", "train-lstm", tmp_path) as run:
        tracking.log_dataset(table, "sentiment-train", tmp_path, "abc123", "training", targets="label")
    [logged] = mlflow.MlflowClient(uri).get_run(run.info.run_id).inputs.dataset_inputs
    assert (logged.dataset.name, logged.dataset.digest) == ("sentiment-train", "abc123")
    assert logged.tags[0].value == "training"
