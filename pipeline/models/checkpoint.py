"""Checkpoints: a state_dict plus the arguments that rebuild the network (no pickled modules).

``save_checkpoint`` writes ``{"format": 1, "task", "model_args", "state_dict", "extra"}``
with ``torch.save``; ``load_checkpoint`` reads it back with ``weights_only=True`` (no
arbitrary code runs on load) and says clearly what is wrong with a missing, truncated or
foreign file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted or not one of rnnlab's."""


def save_checkpoint(path: Path, task: str, model_args: dict[str, Any], state_dict: dict[str, torch.Tensor], extra: dict[str, Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "task": task,
        "model_args": model_args,
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "extra": extra or {},
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint behind


def load_checkpoint(path: Path, task: str) -> dict[str, Any]:
    """Load and check a checkpoint written by ``save_checkpoint`` for ``task``."""
    if not path.is_file():
        raise CheckpointError(f"no trained model at {path}: run `dvc repro train@{task}` first")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError ... on bad files
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc}); re-run `dvc repro train@{task}`") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "state_dict" not in payload:
        raise CheckpointError(f"{path} is not an rnnlab checkpoint (format {FORMAT}); re-run `dvc repro train@{task}`")
    if payload.get("task") != task:
        raise CheckpointError(f"{path} holds a {payload.get('task')!r} model, not a {task!r} model")
    return payload
