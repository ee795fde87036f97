"""Training the character language model with truncated backpropagation through time.

Lightning 2 has no built-in truncated BPTT, so this module optimises by hand
(``automatic_optimization = False``): a Lightning batch is a segment of
``windows_per_batch * bptt`` characters of every parallel stream; the segment is cut into
windows of ``bptt`` characters, and for each window the model runs forward from the state
the previous window left, the loss is back-propagated through that window only
(``manual_backward``), the gradient norm is clipped (``clip_gradients``) and the optimizer
steps. Then the state is detached: its values go on to the next window (and the next
batch), its graph does not. ``carry_state: false`` starts every window from zeros instead,
to show what the carried state is worth.

``train(...)`` is the callable the DVC stage wraps (``stages/train.py charlm``).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from pipeline.config import CharLMTrainParams, TrainerParams
from pipeline.data.charlm import StreamWindows, encode, split_text
from pipeline.data.store import load_prepared
from pipeline.models.charlm import CharLM, detach_state
from pipeline.models.checkpoint import save_checkpoint
from pipeline.training.common import build_trainer, check_finite

LN2 = math.log(2)


class CharLMDataModule(L.LightningDataModule):
    """The prepared text as id streams, served as consecutive segments (``StreamWindows``).

    Under DDP each rank trains on its own contiguous share of the training text (a
    distributed sampler would deal segments round-robin and break each row's continuity).
    """

    def __init__(self, prepared_dir: Path, batch_size: int, bptt: int, windows_per_batch: int, val_batch_size: int) -> None:
        super().__init__()
        self.prepared_dir, self.batch_size, self.val_batch_size = prepared_dir, batch_size, val_batch_size
        self.segment = bptt * windows_per_batch
        self.streams: dict[str, torch.Tensor] | None = None
        self.meta: dict[str, Any] | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.streams is None:
            dataset, tokenizer, self.meta = load_prepared(self.prepared_dir, "charlm")
            self.streams = {split: encode(tokenizer, split_text(dataset, split)) for split in ("train", "val")}

    def _train_share(self) -> torch.Tensor:
        ids = self.streams["train"]
        trainer = getattr(self, "trainer", None)
        if trainer is None or trainer.world_size == 1:
            return ids
        share = len(ids) // trainer.world_size
        return ids[trainer.global_rank * share : (trainer.global_rank + 1) * share]

    def train_dataloader(self) -> DataLoader:
        return DataLoader(StreamWindows(self._train_share(), self.batch_size, self.segment), batch_size=None, shuffle=False)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(StreamWindows(self.streams["val"], self.val_batch_size, self.segment), batch_size=None, shuffle=False)


def cosine_factor(step: int, total: int, min_ratio: float) -> float:
    """Learning-rate multiplier: 1 at step 0, falling along a half cosine to min_ratio at ``total``."""
    progress = min(step / max(total, 1), 1.0)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class CharLMSystem(L.LightningModule):
    """Truncated-BPTT training of ``CharLM``; logs cross-entropy (nats) and bits per character.

    Args:
        model_args: keyword arguments of CharLM (saved in the checkpoint).
        lr, weight_decay: AdamW.
        bptt: characters per window (the gradient's reach back in time).
        grad_clip: global gradient-norm clip per window (0: none).
        carry_state: carry the (detached) state from window to window; False resets it to zeros.
        total_steps: optimizer steps of the whole run, for the cosine schedule (0: constant rate).
        min_lr_ratio: the cosine schedule's final fraction of lr.
    """

    def __init__(
        self,
        model_args: dict[str, Any],
        lr: float,
        weight_decay: float = 0.0,
        bptt: int = 128,
        grad_clip: float = 1.0,
        carry_state: bool = True,
        total_steps: int = 0,
        min_lr_ratio: float = 0.1,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.model = CharLM(**model_args)
        self._state = self._val_state = None
        self._train_sum = self._train_count = 0.0
        self._val_sum = self._val_count = 0.0
        self.characters_seen = 0
        self.history: list[dict[str, float]] = []  # one row per validation

    def forward(self, ids: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        return self.model(ids, state)

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        if not self.hparams.total_steps:
            return optimizer
        total, ratio = self.hparams.total_steps, self.hparams.min_lr_ratio
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_factor(step, total, ratio))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_train_epoch_start(self) -> None:
        self._state = None  # every row starts its text again

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        inputs, targets = batch
        optimizer, schedule = self.optimizers(), self.lr_schedulers()
        bptt, clip = self.hparams.bptt, self.hparams.grad_clip
        state = self._state
        for start in range(0, inputs.size(1), bptt):
            x, y = inputs[:, start : start + bptt], targets[:, start : start + bptt]
            logits, state = self.model(x, state if self.hparams.carry_state else None)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
            value = loss.item()
            check_finite(value, f"epoch {self.current_epoch}, batch {batch_idx}, window {start // bptt}", "lower train.charlm.lr or set grad_clip (e.g. 1.0)")
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            if clip:
                self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")
            optimizer.step()
            if schedule is not None:
                schedule.step()
            state = detach_state(state)  # values forward, no graph: the gradient stops at this window's start
            self._train_sum += value * y.numel()
            self._train_count += y.numel()
            self.characters_seen += y.numel()
        self._state = state
        self.log("train/bpc", value / LN2, on_step=True, on_epoch=False, prog_bar=True)
        self.log("lr", optimizer.param_groups[0]["lr"], on_step=True, on_epoch=False)

    def on_validation_epoch_start(self) -> None:
        self._val_state, self._val_sum, self._val_count = None, 0.0, 0.0

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        inputs, targets = batch  # state carried over the whole validation text, row by row
        logits, self._val_state = self.model(inputs, self._val_state)
        self._val_sum += F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum").item()
        self._val_count += targets.numel()

    def on_validation_epoch_end(self) -> None:
        loss = self._val_sum / max(self._val_count, 1)
        self.log("val/loss", loss, sync_dist=True)
        self.log("val/bpc", loss / LN2, sync_dist=True, prog_bar=True)
        row = {"epoch": round(self.current_epoch + self._epoch_progress(), 4), "characters": self.characters_seen, "val/loss": loss, "val/bpc": loss / LN2}
        if self._train_count:  # mean over the windows since the previous validation
            train_loss = self._train_sum / self._train_count
            row.update({"train/loss": train_loss, "train/bpc": train_loss / LN2})
            self.log("train/loss_mean", train_loss)
        self._train_sum = self._train_count = 0.0
        if not self.trainer.sanity_checking:
            self.history.append(row)

    def _epoch_progress(self) -> float:
        total = self.trainer.num_training_batches
        done = self.trainer.fit_loop.epoch_loop.batch_progress.current.completed
        return min(done / total, 1.0) if total and total != float("inf") else 0.0


def model_args_from(cfg: CharLMTrainParams, meta: dict[str, Any]) -> dict[str, Any]:
    """CharLM's arguments from the training params and the prepared data's meta."""
    return {
        "vocab_size": meta["vocab_size"],
        "embedding_dim": cfg.embedding_dim,
        "hidden_size": cfg.hidden_size,
        "num_layers": cfg.num_layers,
        "dropout": cfg.dropout,
        "cell": cfg.cell,
        "backend": cfg.backend,
        "nonlinearity": cfg.nonlinearity,
    }


def train(
    cfg: CharLMTrainParams,
    trainer_cfg: TrainerParams,
    seed: int,
    prepared_dir: Path,
    out_dir: Path,
    work_dir: Path,
    logger: Any = None,
    resume_from: Path | None = None,
) -> dict[str, Any]:
    """Train, keep the checkpoint with the lowest validation loss, write out_dir/model.pt and tokenizer.json.

    Returns:
        {"history": one row per validation, "best_epoch", "best_val_loss", "best_val_bpc",
         "epochs", "characters_seen", "seconds", "model_args"}.
    """
    import time

    if resume_from is None:
        shutil.rmtree(work_dir / "checkpoints", ignore_errors=True)
    L.seed_everything(seed, workers=True, verbose=False)
    data = CharLMDataModule(prepared_dir, cfg.batch_size, cfg.bptt, cfg.windows_per_batch, cfg.val_batch_size)
    data.setup()
    model_args = model_args_from(cfg, data.meta)
    windows_per_epoch = -(-((len(data.streams["train"]) - 1) // cfg.batch_size) // cfg.bptt)
    total_steps = windows_per_epoch * cfg.max_epochs if cfg.lr_schedule == "cosine" else 0
    system = CharLMSystem(
        model_args,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        bptt=cfg.bptt,
        grad_clip=cfg.grad_clip,
        carry_state=cfg.carry_state,
        total_steps=total_steps,
        min_lr_ratio=cfg.min_lr_ratio,
    )
    overrides = {"val_check_interval": 1.0 / cfg.validations_per_epoch} if cfg.validations_per_epoch > 1 else {}
    trainer, checkpoint, _ = build_trainer(
        trainer_cfg,
        cfg.max_epochs,
        cfg.patience,
        0.0,  # manual optimization clips inside training_step
        work_dir,
        logger,
        use_distributed_sampler=False,
        **overrides,
    )
    started = time.perf_counter()
    trainer.fit(system, datamodule=data, ckpt_path=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - started

    best_path = checkpoint.best_model_path or checkpoint.last_model_path
    best = torch.load(best_path, map_location="cpu", weights_only=True)
    system.load_state_dict(best["state_dict"])
    rows = system.history
    best_row = min(rows, key=lambda r: r["val/loss"]) if rows else {}
    if trainer.is_global_zero:
        save_checkpoint(
            out_dir / "model.pt",
            "charlm",
            model_args,
            system.model.state_dict(),
            extra={"best_epoch": best_row.get("epoch"), "seed": seed, "unk_id": data.meta["unk_id"]},
        )
        shutil.copy(prepared_dir / "tokenizer.json", out_dir / "tokenizer.json")
    return {
        "history": rows,
        "best_epoch": best_row.get("epoch"),
        "best_val_loss": best_row.get("val/loss"),
        "best_val_bpc": best_row.get("val/bpc"),
        "epochs": trainer.current_epoch,
        "characters_seen": system.characters_seen,
        "seconds": round(seconds, 1),
        "model_args": model_args,
    }
