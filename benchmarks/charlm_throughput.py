"""Training throughput of the character language model: the pipeline's Lightning training
(CharLMSystem: manual optimization, truncated BPTT, the Trainer from build_trainer with its
callbacks and an MLflow logger) against a bare PyTorch loop over the same model, the same
batches, the same optimizer, schedule and clipping.

    python benchmarks/charlm_throughput.py                # params.yaml's train.charlm, 4 rounds of 25 batches
    python benchmarks/charlm_throughput.py --batches 40 --rounds 6

Both sides read the prepared training text (data/prepared/charlm, else random characters
of the same vocabulary size), skip their first batch (warm-up) and time the rest, from the
start of the second batch to the end of the last, so start-up costs (imports, Trainer
set-up) are left out and everything between batches (data loading, hooks, logging) is in.
Rounds alternate bare / pipeline; the ratio of the medians is printed. Figures:
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.config import TrainerParams, load_params  # noqa: E402
from pipeline.data.charlm import StreamWindows, encode, split_text  # noqa: E402
from pipeline.models.charlm import CharLM, detach_state  # noqa: E402
from pipeline.training.charlm import cosine_factor  # noqa: E402

warnings.filterwarnings("ignore")


def training_stream(prepared: Path, vocab_size: int = 110, length: int = 2_000_000) -> tuple[torch.Tensor, int]:
    if (prepared / "meta.json").is_file():
        from pipeline.data.store import load_prepared

        dataset, tokenizer, meta = load_prepared(prepared, "charlm")
        return encode(tokenizer, split_text(dataset, "train")), meta["vocab_size"]
    return torch.randint(1, vocab_size, (length,), generator=torch.Generator().manual_seed(0)), vocab_size


def bare_loop(cfg, model_args: dict, batches: StreamWindows, n: int, total_steps: int) -> float:
    """Characters per second of a plain PyTorch TBPTT loop (batches 1..n-1 timed)."""
    torch.manual_seed(0)
    model = CharLM(**model_args).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_factor(step, total_steps, cfg.min_lr_ratio)) if total_steps else None
    state, chars, start = None, 0, 0.0
    for index in range(n):
        if index == 1:
            start, chars = time.perf_counter(), 0
        inputs, targets = batches[index]
        for s in range(0, inputs.size(1), cfg.bptt):
            x, y = inputs[:, s : s + cfg.bptt], targets[:, s : s + cfg.bptt]
            logits, state = model(x, state)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
            loss.item()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            if schedule is not None:
                schedule.step()
            state = detach_state(state)
            chars += y.numel()
    return chars / (time.perf_counter() - start)


def pipeline_loop(cfg, model_args: dict, batches: StreamWindows, n: int, total_steps: int, work: Path) -> float:
    """Characters per second of the pipeline's training (same batches 1..n-1 timed)."""
    import lightning as L
    from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import MLFlowLogger
    from torch.utils.data import DataLoader

    from pipeline.training.charlm import CharLMSystem
    from pipeline.training.common import build_trainer

    class Clock(Callback):
        def __init__(self) -> None:
            self.start, self.end, self.chars = 0.0, 0.0, 0

        def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
            if batch_idx == 1:
                self.start = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            if batch_idx >= 1:
                self.chars += batch[1].numel()
                self.end = time.perf_counter()

    torch.manual_seed(0)
    system = CharLMSystem(
        model_args, lr=cfg.lr, weight_decay=cfg.weight_decay, bptt=cfg.bptt, grad_clip=cfg.grad_clip, total_steps=total_steps, min_lr_ratio=cfg.min_lr_ratio
    )
    logger = MLFlowLogger(experiment_name="benchmark", tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
    trainer, _, _ = build_trainer(TrainerParams(), 1, cfg.patience, 0.0, work, logger, limit_train_batches=n, limit_val_batches=0)
    # No validation here, so early stopping and best-checkpointing (which act at validations) have nothing to watch.
    trainer.callbacks[:] = [c for c in trainer.callbacks if not isinstance(c, (EarlyStopping, ModelCheckpoint))]
    clock = Clock()
    trainer.callbacks.append(clock)
    L.seed_everything(0, verbose=False)
    trainer.fit(system, train_dataloaders=DataLoader(batches, batch_size=None, shuffle=False))
    return clock.chars / (clock.end - clock.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/charlm"))
    parser.add_argument("--batches", type=int, default=25, help="Lightning batches per run (the first is warm-up)")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    cfg = load_params(args.params).train.charlm
    torch.use_deterministic_algorithms(True)  # what trainer.deterministic sets, for both sides
    ids, vocab_size = training_stream(args.prepared)
    from pipeline.training.charlm import model_args_from

    model_args = model_args_from(cfg, {"vocab_size": vocab_size})
    batches = StreamWindows(ids, cfg.batch_size, cfg.bptt * cfg.windows_per_batch)
    n = min(args.batches, len(batches))
    total_steps = math.ceil(batches.columns / cfg.bptt) * cfg.max_epochs if cfg.lr_schedule == "cosine" else 0  # as training does
    print(
        f"{cfg.num_layers}-layer {cfg.cell} {cfg.hidden_size} ({cfg.backend}), batch {cfg.batch_size} x bptt {cfg.bptt} x {cfg.windows_per_batch} windows, "
        f"{n - 1} timed batches, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    bare, piped = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            # Alternate which side goes first: the machine's state (allocator, clocks) drifts within a round.
            work = Path(tmp) / f"round{round_}"
            runs = [("bare", lambda: bare_loop(cfg, model_args, batches, n, total_steps))]
            runs.append(("pipeline", lambda: pipeline_loop(cfg, model_args, batches, n, total_steps, work)))  # noqa: B023 (called at once)
            result = {name: fn() for name, fn in (runs if round_ % 2 == 0 else runs[::-1])}
            bare.append(result["bare"])
            piped.append(result["pipeline"])
            print(f"round {round_ + 1}: bare {bare[-1]:,.0f} chars/s, pipeline {piped[-1]:,.0f} chars/s, ratio {piped[-1] / bare[-1]:.3f}", flush=True)
    b, p = statistics.median(bare), statistics.median(piped)
    print(f"median: bare {b:,.0f} chars/s, pipeline {p:,.0f} chars/s, pipeline/bare {p / b:.3f}")


if __name__ == "__main__":
    main()
