"""Training the sentiment classifier with Lightning.

``train(...)`` is the callable the DVC stage wraps (``stages/train.py sentiment``); tests
call it directly with a shrunk configuration.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from pipeline.config import SentimentTrainParams, TrainerParams
from pipeline.data.store import load_prepared
from pipeline.data.tokenize import pad_batch
from pipeline.models.checkpoint import save_checkpoint
from pipeline.models.sentiment import SentimentClassifier
from pipeline.training.common import build_trainer, check_finite


def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Pad a list of {"input_ids", "label"} rows into (B, T) ids, (B,) lengths and (B,) labels."""
    ids, lengths = pad_batch([r["input_ids"] for r in rows])
    return {"input_ids": ids, "lengths": lengths, "labels": torch.tensor([r["label"] for r in rows])}


class SentimentDataModule(L.LightningDataModule):
    """Loads the prepared data set (no tokenizing here: prepare did that) and batches it."""

    def __init__(self, prepared_dir: Path, batch_size: int, seed: int, eval_batch_size: int = 256) -> None:
        super().__init__()
        self.prepared_dir, self.batch_size, self.seed, self.eval_batch_size = prepared_dir, batch_size, seed, eval_batch_size
        self.dataset = self.meta = None

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is None:
            dataset, _, self.meta = load_prepared(self.prepared_dir, "sentiment")
            self.dataset = dataset.select_columns(["input_ids", "label"])

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)  # the shuffling order comes from params' seed
        size = self.batch_size if shuffle else self.eval_batch_size
        return DataLoader(self.dataset[split], batch_size=size, shuffle=shuffle, collate_fn=collate, generator=generator)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


class SentimentSystem(L.LightningModule):
    """The training system around ``SentimentClassifier``: loss, metrics, optimizer.

    Args:
        model_args: keyword arguments of SentimentClassifier (saved in the checkpoint).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
    """

    def __init__(self, model_args: dict[str, Any], lr: float, weight_decay: float = 0.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = SentimentClassifier(**model_args)
        metrics = MetricCollection(
            {
                "acc": MulticlassAccuracy(model_args["num_classes"], average="micro"),
                "f1": MulticlassF1Score(model_args["num_classes"], average="macro"),
            }
        )
        self.train_metrics, self.val_metrics, self.test_metrics = (metrics.clone(prefix=f"{s}/") for s in ("train", "val", "test"))

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids, lengths)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def _step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        logits = self(batch["input_ids"], batch["lengths"])
        loss = F.cross_entropy(logits, batch["labels"])
        if stage == "train":
            check_finite(
                loss.item(), f"epoch {self.current_epoch}, step {self.global_step}", "lower train.sentiment.lr or raise grad_clip's strength (smaller value)"
            )
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(logits, batch["labels"])
        size = batch["labels"].size(0)
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, batch_size=size, prog_bar=stage == "val", sync_dist=True)  # mean over DDP ranks
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=size)
        return loss


def model_args_from(cfg: SentimentTrainParams, meta: dict[str, Any]) -> dict[str, Any]:
    """SentimentClassifier's arguments from the training params and the prepared data's meta."""
    return {
        "vocab_size": meta["vocab_size"],
        "num_classes": len(meta["classes"]),
        "embedding_dim": cfg.embedding_dim,
        "hidden_size": cfg.hidden_size,
        "num_layers": cfg.num_layers,
        "bidirectional": cfg.bidirectional,
        "dropout": cfg.dropout,
        "cell": cfg.cell,
        "backend": cfg.backend,
        "nonlinearity": cfg.nonlinearity,
        "pooling": cfg.pooling,
        "pad_id": meta["pad_id"],
    }


def train(
    cfg: SentimentTrainParams,
    trainer_cfg: TrainerParams,
    seed: int,
    prepared_dir: Path,
    out_dir: Path,
    work_dir: Path,
    logger: Any = None,
    resume_from: Path | None = None,
) -> dict[str, Any]:
    """Train, keep the best epoch (lowest val/loss) and write out_dir/model.pt and tokenizer.json.

    Args:
        cfg: train.sentiment params.
        trainer_cfg: the shared trainer params.
        seed: params' seed (weights, dropout and batch order derive from it).
        prepared_dir: output of the prepare stage.
        out_dir: where the rebuildable checkpoint goes (a DVC out).
        work_dir: Lightning's checkpoints (full training state, to resume from); not a DVC out.
        logger: a Lightning logger (MLflow) or None.
        resume_from: a Lightning checkpoint in work_dir to continue from.

    Returns:
        {"history": per-epoch rows, "best_epoch", "best_val_loss", "epochs", "model_args", "classes"}.
    """
    if resume_from is None:
        shutil.rmtree(work_dir / "checkpoints", ignore_errors=True)  # a fresh run: no stale "best" from the last one
    L.seed_everything(seed, workers=True, verbose=False)
    data = SentimentDataModule(prepared_dir, cfg.batch_size, seed)
    data.setup()
    model_args = model_args_from(cfg, data.meta)
    system = SentimentSystem(model_args, lr=cfg.lr, weight_decay=cfg.weight_decay)
    trainer, checkpoint, history = build_trainer(trainer_cfg, cfg.max_epochs, cfg.patience, cfg.grad_clip, work_dir, logger)
    trainer.fit(system, datamodule=data, ckpt_path=str(resume_from) if resume_from else None)

    best_path = checkpoint.best_model_path or checkpoint.last_model_path
    best = torch.load(best_path, map_location="cpu", weights_only=True)
    system.load_state_dict(best["state_dict"])
    rows = history.rows
    best_epoch = min(rows, key=lambda r: r.get("val/loss", float("inf")))["epoch"] if rows else 0
    if trainer.is_global_zero:
        save_checkpoint(
            out_dir / "model.pt",
            "sentiment",
            model_args,
            system.model.state_dict(),
            extra={"classes": data.meta["classes"], "best_epoch": best_epoch, "seed": seed},
        )
        shutil.copy(prepared_dir / "tokenizer.json", out_dir / "tokenizer.json")
    return {
        "history": rows,
        "best_epoch": best_epoch,
        "best_val_loss": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        "epochs": trainer.current_epoch,
        "model_args": model_args,
        "classes": data.meta["classes"],
    }
