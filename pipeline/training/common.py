"""Trainer set-up shared by every task: callbacks, the per-epoch history, the Trainer itself."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from pipeline.config import TrainerParams


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()  # Lightning's "try our cloud logger" tip


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_DropAdverts())


class History(Callback):
    """Collects the epoch-level metrics (``train/loss``, ``val/acc`` ...) after each epoch,
    for the DVC plot file and the training-curve figure."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Validation has run by now, so callback_metrics holds both train/* and val/*.
        row = {"epoch": trainer.current_epoch + 1}
        row.update({k: float(v) for k, v in sorted(trainer.callback_metrics.items()) if k.startswith(("train/", "val/"))})
        self.rows.append(row)


def check_finite(loss: float, where: str, hint: str) -> None:
    """Stop training with a clear message when the loss is NaN or infinite."""
    if not math.isfinite(loss):
        raise FloatingPointError(f"training loss is {loss} at {where}: {hint}")


def build_trainer(
    cfg: TrainerParams,
    max_epochs: int,
    patience: int,
    grad_clip: float,
    work_dir: Path,
    logger: Any = None,
    monitor: str = "val/loss",
    stop_below: float | None = None,
    **overrides: Any,
) -> tuple[L.Trainer, ModelCheckpoint, History]:
    """A Trainer with early stopping on ``monitor``, best-checkpointing into work_dir/checkpoints
    (outside DVC's outs: DVC deletes outs before a stage runs) and the History callback.
    ``stop_below``: also stop as soon as ``monitor`` falls below it (a task counted as solved).
    ``overrides`` go to ``L.Trainer`` as they are (``val_check_interval`` ...)."""
    checkpoint = ModelCheckpoint(dirpath=work_dir / "checkpoints", filename="best", monitor=monitor, mode="min", save_last=True)
    history = History()
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=cfg.strategy,
        precision=cfg.precision,
        deterministic=cfg.deterministic,
        max_epochs=max_epochs,
        gradient_clip_val=grad_clip or None,  # clip the global gradient norm; 0 disables
        callbacks=[EarlyStopping(monitor=monitor, mode="min", patience=patience, check_finite=True, stopping_threshold=stop_below), checkpoint, history],
        logger=logger if logger is not None else False,
        default_root_dir=work_dir,
        enable_progress_bar=cfg.enable_progress_bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=10,
        **overrides,
    )
    return trainer, checkpoint, history
