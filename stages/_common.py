"""What every stage script shares: environment, repository root, params, clean errors.

A stage is run by DVC from the repository root (or from a copy of it, for
``dvc exp run --temp``); DVC_ROOT names the real root, where the MLflow store lives.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

# Offline by default: without these, every local `load_dataset` asks the hub first (3 s
# timeout each). A hub source in params.yaml needs HF_HUB_OFFLINE=0 in the environment.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", os.environ["HF_HUB_OFFLINE"])
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# Lightning 2.6 on torch 2.13 warns about its own use of a torch API; nothing a user can act on.
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")

# This checkout's `pipeline` first: in `dvc exp run --temp` that is the experiment's copy, not
# the editable install of the main checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.config import ConfigError, Params, load_params  # noqa: E402
from pipeline.data import DataError  # noqa: E402
from pipeline.models.checkpoint import CheckpointError  # noqa: E402
from pipeline.tracking import TrackingError  # noqa: E402

PARAMS_FILE = "params.yaml"
EXPECTED = (ConfigError, DataError, CheckpointError, TrackingError, FloatingPointError, FileNotFoundError)


def repo_root() -> Path:
    """DVC_ROOT when DVC runs the stage, else the current directory."""
    return Path(os.environ.get("DVC_ROOT") or Path.cwd()).resolve()


def is_rank_zero() -> bool:
    """False in the worker processes that Lightning's DDP starts by re-running the stage's
    command (it sets LOCAL_RANK and NODE_RANK); only rank zero logs and writes outputs."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def params() -> Params:
    return load_params(PARAMS_FILE)


def run(main: Callable[[], None]) -> None:
    """Run a stage's main(); print expected failures as one clear line instead of a traceback."""
    try:
        main()
    except EXPECTED as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
