"""Training the translation model (seq2seq with attention) with Lightning.

Cross-entropy over the target tokens (padding ignored), teacher forcing at the rate
``teacher_forcing`` (1.0: always the true previous word), AdamW, gradient-norm clipping,
early stopping on validation loss. Validation also decodes greedily and reports the exact
match rate (``val/exact``). ``train(...)`` is what the DVC stage wraps.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from pipeline.config import TrainerParams, TranslateTrainParams
from pipeline.data.store import load_prepared
from pipeline.data.tokenize import pad_batch
from pipeline.data.translate import BOS_ID, EOS_ID, PAD_ID
from pipeline.models.checkpoint import save_checkpoint
from pipeline.models.translate import Seq2Seq
from pipeline.training.common import build_trainer, check_finite


def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Pad source ids and [BOS] target [EOS] ids; the model reads target[:-1] and predicts target[1:]."""
    source, lengths = pad_batch([r["source_ids"] for r in rows], PAD_ID)
    target, _ = pad_batch([r["target_ids"] for r in rows], PAD_ID)
    return {"source": source, "lengths": lengths, "target": target}


class TranslateDataModule(L.LightningDataModule):
    def __init__(self, prepared_dir: Path, batch_size: int, seed: int, eval_batch_size: int = 256) -> None:
        super().__init__()
        self.prepared_dir, self.batch_size, self.seed, self.eval_batch_size = prepared_dir, batch_size, seed, eval_batch_size
        self.dataset = self.meta = None

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is None:
            dataset, _, self.meta = load_prepared(self.prepared_dir, "translate")
            self.dataset = dataset.select_columns(["source_ids", "target_ids"])

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.dataset["train"], batch_size=self.batch_size, shuffle=True, collate_fn=collate, generator=generator)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset["val"], batch_size=self.eval_batch_size, shuffle=False, collate_fn=collate)


class TranslateSystem(L.LightningModule):
    """Training around ``Seq2Seq``: loss, teacher forcing, greedy exact match on validation."""

    def __init__(self, model_args: dict[str, Any], lr: float, weight_decay: float = 0.0, teacher_forcing: float = 1.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = Seq2Seq(**model_args)
        self._exact = self._count = 0

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch, self.hparams.teacher_forcing)
        check_finite(loss.item(), f"epoch {self.current_epoch}, step {self.global_step}", "lower train.translate.lr or set grad_clip (e.g. 1.0)")
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=batch["source"].size(0))
        return loss

    def on_validation_epoch_start(self) -> None:
        self._exact = self._count = 0

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        size = batch["source"].size(0)
        self.log("val/loss", self._loss(batch, 1.0), on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        outputs = self.model.greedy(batch["source"], batch["lengths"], BOS_ID, EOS_ID, batch["target"].size(1) + 5)
        for output, target in zip(outputs, batch["target"].tolist()):
            reference = [t for t in target[1:] if t not in (PAD_ID, EOS_ID)]
            self._exact += int(output == reference)
        self._count += size

    def on_validation_epoch_end(self) -> None:
        self.log("val/exact", self._exact / max(self._count, 1), sync_dist=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def _loss(self, batch: dict[str, torch.Tensor], teacher_forcing: float) -> torch.Tensor:
        target = batch["target"]
        logits, _ = self.model(batch["source"], batch["lengths"], target[:, :-1], teacher_forcing)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), target[:, 1:].reshape(-1), ignore_index=PAD_ID)


def model_args_from(cfg: TranslateTrainParams, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_vocab": meta["source_vocab_size"],
        "target_vocab": meta["target_vocab_size"],
        "embedding_dim": cfg.embedding_dim,
        "hidden_size": cfg.hidden_size,
        "num_layers": cfg.num_layers,
        "dropout": cfg.dropout,
        "cell": cfg.cell,
        "backend": cfg.backend,
        "nonlinearity": cfg.nonlinearity,
        "attention": cfg.attention,
        "pad_id": PAD_ID,
    }


def train(
    cfg: TranslateTrainParams,
    trainer_cfg: TrainerParams,
    seed: int,
    prepared_dir: Path,
    out_dir: Path,
    work_dir: Path,
    logger: Any = None,
    resume_from: Path | None = None,
) -> dict[str, Any]:
    """Train, keep the best epoch (lowest val/loss), write out_dir/model.pt and both tokenizers."""
    import time

    if resume_from is None:
        shutil.rmtree(work_dir / "checkpoints", ignore_errors=True)
    L.seed_everything(seed, workers=True, verbose=False)
    data = TranslateDataModule(prepared_dir, cfg.batch_size, seed)
    data.setup()
    model_args = model_args_from(cfg, data.meta)
    system = TranslateSystem(model_args, lr=cfg.lr, weight_decay=cfg.weight_decay, teacher_forcing=cfg.teacher_forcing)
    trainer, checkpoint, history = build_trainer(trainer_cfg, cfg.max_epochs, cfg.patience, cfg.grad_clip, work_dir, logger)
    started = time.perf_counter()
    trainer.fit(system, datamodule=data, ckpt_path=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - started
    best = torch.load(checkpoint.best_model_path or checkpoint.last_model_path, map_location="cpu", weights_only=True)
    system.load_state_dict(best["state_dict"])
    rows = history.rows
    best_row = min(rows, key=lambda r: r.get("val/loss", float("inf"))) if rows else {}
    if trainer.is_global_zero:
        save_checkpoint(out_dir / "model.pt", "translate", model_args, system.model.state_dict(), extra={"best_epoch": best_row.get("epoch"), "seed": seed})
        for name in ("source", "target"):
            shutil.copy(prepared_dir / f"{name}_tokenizer.json", out_dir / f"{name}_tokenizer.json")
    return {
        "history": rows,
        "best_epoch": best_row.get("epoch"),
        "best_val_loss": best_row.get("val/loss"),
        "best_val_exact": best_row.get("val/exact"),
        "epochs": trainer.current_epoch,
        "seconds": round(seconds, 1),
        "model_args": model_args,
    }
