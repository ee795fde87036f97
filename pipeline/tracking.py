"""MLflow: the one place that opens runs and logs params, metrics, figures, data sets and models.

Defaults (see docs/TRACKING.md): a SQLite store ``<repo>/mlflow.db`` and artifacts under
``<repo>/mlartifacts/``, where ``<repo>`` is DVC_ROOT when DVC runs the stage (also for
``dvc exp run --temp`` and queued experiments, which run in a copy of the repository), so
every run lands in the same store. ``MLFLOW_TRACKING_URI`` overrides both, for example a
team's ``mlflow server``; params.yaml's ``mlflow.tracking_uri`` sits between the two.

One experiment per task (``rnnlab/sentiment``), one run per stage execution, named
``<stage>-<cell>[-<dvc experiment>]``. Only rank zero logs (the callers check).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ENV_URI = "MLFLOW_TRACKING_URI"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"  # opens the UI's "Model training" view, not "GenAI"


class TrackingError(RuntimeError):
    """The tracking server cannot be reached, or the store cannot be opened."""


def resolve_tracking_uri(configured: str | None, root: Path) -> str:
    """MLFLOW_TRACKING_URI, else params' ``mlflow.tracking_uri``, else sqlite:///<root>/mlflow.db."""
    uri = os.environ.get(ENV_URI) or configured
    if not uri:
        return f"sqlite:///{(root / 'mlflow.db').resolve()}"
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        # A relative SQLite path is taken from the repository root, never the stage's cwd.
        return f"sqlite:///{(root / uri.removeprefix('sqlite:///')).resolve()}"
    return uri


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast, with advice, when an HTTP tracking server does not answer its health check.

    MLflow's own client retries for minutes before it gives up; a stage should not.
    """
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        problem = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        problem = str(getattr(exc, "reason", exc))
    raise TrackingError(
        f"MLflow tracking server {uri} is unreachable ({problem}). Start it (`mlflow server --host 127.0.0.1 --port 5000`), "
        f"or unset {ENV_URI} / mlflow.tracking_uri to use the local SQLite store."
    )


CODE_PATHS = ("pipeline", "stages", "params.yaml", "dvc.yaml", "pyproject.toml")


def git_commit(root: Path) -> str | None:
    """HEAD's commit, with '-dirty' when the code or params differ from it; None outside git.

    Only CODE_PATHS count: `dvc repro` itself rewrites dvc.lock and the metrics while it runs.
    """
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        status = ["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS]
        dirty = subprocess.run(status, cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}, the shape MLflow's params take."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def directory_digest(path: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in sorted order (first 16 hex digits)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def dvc_out_hash(root: Path, out_path: str) -> str | None:
    """The md5 that dvc.lock records for an output path (what `dvc data status` compares), if any."""
    import yaml

    lock = root / "dvc.lock"
    if not lock.is_file():
        return None
    stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
    for stage in stages.values():
        for out in stage.get("outs", []):
            if out.get("path") == out_path:
                return out.get("md5")
    return None


@contextmanager
def tracked_run(uri: str, experiment: str, run_name: str, root: Path, tags: Mapping[str, str] | None = None) -> Iterator[Any]:
    """Open an MLflow run in ``experiment`` (created on first use) and yield it.

    The run ends FINISHED on success and FAILED when the body raises, so a crashed stage is
    visible as such in the UI.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    check_reachable(uri)
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:
        found = mlflow.get_experiment_by_name(experiment)
        if found is None:
            location = None
            if uri.startswith("sqlite:") or uri.startswith("file:"):
                # Artifacts beside the store, by absolute path: MLflow's default is relative to
                # the cwd, which for `dvc exp run --temp` is a throw-away copy.
                location = (root / "mlartifacts" / experiment.replace("/", "-")).resolve().as_uri()
            experiment_id = mlflow.create_experiment(experiment, artifact_location=location, tags={EXPERIMENT_KIND_TAG: TRAINING_KIND})
        else:
            experiment_id = found.experiment_id
            if found.tags.get(EXPERIMENT_KIND_TAG) != TRAINING_KIND:
                mlflow.MlflowClient().set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, TRAINING_KIND)
    except mlflow.exceptions.MlflowException as exc:
        raise TrackingError(f"could not open MLflow experiment {experiment!r} at {uri}: {exc}") from None
    all_tags = {"mlflow.source.git.commit": git_commit(root) or "unknown", **(tags or {})}
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=all_tags) as run:
        yield run


def run_name(stage: str, detail: str) -> str:
    """``train-lstm``, plus the DVC experiment's name when DVC runs one (``train-lstm-cubic-bell``)."""
    exp = os.environ.get("DVC_EXP_NAME")
    return f"{stage}-{detail}" + (f"-{exp}" if exp else "")


def log_params(params: Mapping[str, Any]) -> None:
    import mlflow

    mlflow.log_params({k: ("null" if v is None else v) for k, v in flatten(params).items()})


def log_metrics(metrics: Mapping[str, Any], prefix: str = "") -> None:
    """Log every number of a (nested) metrics mapping; keys joined with '/'."""
    import mlflow

    flat = {k.replace(".", "/"): float(v) for k, v in flatten(metrics, prefix).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    mlflow.log_metrics(flat)


def log_figure(figure: Any, artifact_file: str, save_to: Path | None = None) -> None:
    """Log a matplotlib figure to the active run, and also save it to ``save_to`` (a DVC out)."""
    import mlflow

    if save_to is not None:
        save_to.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(save_to, dpi=110)
    mlflow.log_figure(figure, artifact_file)


def log_artifact(path: Path, artifact_path: str | None = None) -> None:
    import mlflow

    mlflow.log_artifact(str(path), artifact_path)


def log_dataset(dataset: Any, name: str, source_dir: Path, digest: str, context: str, targets: str | None = None) -> None:
    """Record a Hugging Face data set as the run's input (the UI's "Datasets used")."""
    import mlflow

    with warnings.catch_warnings():
        # MLflow's hint that int columns cannot hold NaN (ours never do), and its note that a
        # file:// URI matches two registered source types (both local-artifact sources).
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        source = source_dir.resolve().as_uri()
        mlflow.log_input(mlflow.data.from_huggingface(dataset, name=name, digest=digest, targets=targets, source=source), context=context)


def lightning_logger(uri: str, run_id: str) -> Any:
    """Lightning's MLFlowLogger bound to an already open run (per-epoch curves land in it)."""
    from lightning.pytorch.loggers import MLFlowLogger

    return MLFlowLogger(tracking_uri=uri, run_id=run_id, log_model=False)
