"""Training for the long-range problems: fresh seeded batches, Lightning, stop once solved.

One run = one problem x one length x one cell. Each optimizer step draws a fresh batch; the
model is validated every ``val_every`` steps on a fixed set and training stops at
``max_steps`` or as soon as the validation error is below the "solved" threshold. The test
error, the trivial baseline's and the gradient flow (||dL/dh_t|| at initialisation and after
training) come with the result.
"""

from __future__ import annotations

import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

from pipeline import bptt
from pipeline.config import LongRangePrepareParams, LongRangeTrainParams, TrainerParams
from pipeline.data import longrange as data
from pipeline.models.checkpoint import save_checkpoint
from pipeline.models.longrange import LongRangeModel
from pipeline.training.common import build_trainer, check_finite


class FreshBatches(IterableDataset):
    """``steps`` batches drawn from a generator seeded once: the same sequence of batches every run."""

    def __init__(self, problem: str, length: int, batch_size: int, steps: int, seed: int, symbols: int, alphabet: int) -> None:
        self.problem, self.length, self.batch_size, self.steps = problem, length, batch_size, steps
        self.seed, self.symbols, self.alphabet = seed, symbols, alphabet

    def __iter__(self):
        generator = data.split_generator(self.seed, "train")
        for _ in range(self.steps):
            yield data.make_batch(self.problem, generator, self.batch_size, self.length, self.symbols, self.alphabet)

    def __len__(self) -> int:
        return self.steps


def loss_and_error(problem: str, predictions: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Adding: MSE (the error is the MSE too). Copy: cross-entropy over the recalled letters, and
    the fraction of letters recalled wrong."""
    if problem == "adding":
        loss = F.mse_loss(predictions, targets)
        return loss, loss.detach()
    loss = F.cross_entropy(predictions.reshape(-1, predictions.size(-1)), targets.reshape(-1))
    return loss, (predictions.argmax(-1) != targets).float().mean()


def fixed_split(problem: str, length: int, split: str, size: int, seed: int, prep: LongRangePrepareParams) -> tuple[Tensor, Tensor]:
    return data.make_batch(problem, data.split_generator(seed, split), size, length, prep.symbols, prep.alphabet)


class LongRangeSystem(L.LightningModule):
    def __init__(self, model_args: dict[str, Any], lr: float, problem: str) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = LongRangeModel(**model_args)
        self.problem, self.lr = problem, lr
        self.history: list[dict[str, float]] = []  # one row per validation
        self._train_sum, self._train_count = 0.0, 0

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        loss, _ = loss_and_error(self.problem, self.model(x), y)
        value = float(loss.detach())
        check_finite(value, f"step {self.global_step}", "lower train.longrange.lr or set train.longrange.grad_clip")
        self._train_sum, self._train_count = self._train_sum + value, self._train_count + 1
        self.log("train/loss", loss, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        loss, error = loss_and_error(self.problem, self.model(x), y)
        self.log("val/loss", loss)
        self.log("val/error", error)
        if not self.trainer.sanity_checking:
            row = {"step": self.global_step, "val/loss": float(loss), "val/error": float(error)}
            if self._train_count:
                row["train/loss"] = self._train_sum / self._train_count
            self._train_sum, self._train_count = 0.0, 0
            self.history.append(row)


def _flow(model: LongRangeModel, problem: str, x: Tensor, y: Tensor) -> list[float]:
    """||dL/dh_t|| for t = 1..T, the loss of the test batch x at the model's current weights."""
    model.zero_grad()
    flow = bptt.gradient_flow(model.rnn, model.readout, x, lambda predictions: loss_and_error(problem, predictions, y)[0])
    model.zero_grad()
    return [float(v) for v in flow]


def train(
    cfg: LongRangeTrainParams,
    prep: LongRangePrepareParams,
    trainer_cfg: TrainerParams,
    seed: int,
    problem: str,
    length: int,
    cell: str,
    out_dir: Path,
    work_dir: Path,
    logger: Any = None,
) -> dict[str, Any]:
    """Train one model, write out_dir/model.pt; return the history, test scores, baseline and flows."""
    shutil.rmtree(work_dir / "checkpoints", ignore_errors=True)
    L.seed_everything(seed, workers=True, verbose=False)
    model_args = {
        "problem": problem,
        "cell": cell,
        "hidden_size": cfg.hidden_size,
        "backend": cfg.backend,
        "symbols": prep.symbols,
        "alphabet": prep.alphabet,
        "gate_init": cfg.gate_init,
        "max_lag": length + (prep.symbols if problem == "copy" else 0),
    }
    system = LongRangeSystem(model_args, cfg.lr, problem)
    val = fixed_split(problem, length, "val", prep.val_size, seed, prep)
    test_x, test_y = fixed_split(problem, length, "test", prep.test_size, seed, prep)
    flow_x, flow_y = test_x[: cfg.flow_batch], test_y[: cfg.flow_batch]
    flow_init = _flow(system.model, problem, flow_x, flow_y)

    train_batches = DataLoader(FreshBatches(problem, length, cfg.batch_size, cfg.max_steps, seed, prep.symbols, prep.alphabet), batch_size=None)
    val_batches = DataLoader(TensorDataset(*val), batch_size=len(val[0]))
    trainer, checkpoint, _ = build_trainer(
        trainer_cfg,
        1,
        patience=cfg.max_steps,  # no patience-based stop: the budget or "solved" ends a run
        grad_clip=cfg.grad_clip,
        work_dir=work_dir,
        logger=logger,
        monitor="val/error",
        stop_below=cfg.solved_mse if problem == "adding" else cfg.solved_error,
        val_check_interval=min(cfg.val_every, cfg.max_steps),
        use_distributed_sampler=False,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        # Lightning's caveat about __len__ and several loader workers: the batches are drawn in this process.
        warnings.filterwarnings("ignore", message=r"Your `IterableDataset` has `__len__` defined")
        trainer.fit(system, train_dataloaders=train_batches, val_dataloaders=val_batches)
    seconds = time.perf_counter() - started

    best_path = checkpoint.best_model_path or checkpoint.last_model_path
    system.load_state_dict(torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"])
    system.eval()
    with torch.no_grad():
        test_loss, test_error = loss_and_error(problem, system.model(test_x), test_y)
    system.train()
    flow_trained = _flow(system.model, problem, flow_x, flow_y)
    rows = system.history
    best = min(rows, key=lambda r: r["val/error"]) if rows else {}
    save_checkpoint(out_dir / "model.pt", "longrange", model_args, system.model.state_dict(), extra={"seed": seed, "length": length})
    return {
        "history": rows,
        "test": {"loss": float(test_loss), "error": float(test_error)},
        "baseline": data.baseline(problem, test_y, prep.alphabet),
        "steps": int(trainer.global_step),
        "best_step": best.get("step"),
        "seconds": round(seconds, 1),
        "flow": {"init": flow_init, "trained": flow_trained},
        "model_args": model_args,
    }
