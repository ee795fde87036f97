"""DVC stage train@TASK: train a task's model with Lightning, log the run to MLflow.

python stages/train.py TASK --data data/prepared/TASK --out models/TASK --plots plots/TASK/train
"""

import argparse
import csv
import importlib
import json
from pathlib import Path

import _common
from pipeline import plots, tracking


def write_history(rows: list[dict], path: Path) -> None:
    """Per-epoch metrics as CSV (the DVC plot file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = sorted({k for row in rows for k in row}, key=lambda k: (k != "epoch", k))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


# Per task: the column MLflow records as the data set's target (None: the text is its own target).
TASKS = {"sentiment": "label", "charlm": None, "translate": "target"}
SUMMARY_KEYS = ("best_epoch", "best_val_loss", "best_val_bpc", "best_val_exact", "epochs", "characters_seen", "seconds")


def train_task(task: str, args: argparse.Namespace) -> None:
    params, root = _common.params(), _common.repo_root()  # before the slow imports: a bad key fails at once

    from pipeline.data.store import load_prepared

    train = importlib.import_module(f"pipeline.training.{task}").train
    cfg = getattr(params.train, task)
    work_dir = root / ".rnnlab" / "lightning" / task  # Lightning's resumable checkpoints, outside DVC's outs
    if not _common.is_rank_zero():  # a DDP worker: it trains its shard; rank zero logs and writes
        train(cfg, params.trainer, params.seed, args.data, args.out, work_dir)
        return
    uri = tracking.resolve_tracking_uri(params.mlflow.tracking_uri, root)
    experiment = f"{params.mlflow.experiment_prefix}/{task}"
    tags = {"rnnlab.task": task, "rnnlab.stage": "train", "rnnlab.cell": cfg.cell}
    with tracking.tracked_run(uri, experiment, tracking.run_name("train", cfg.cell), root, tags) as run:
        tracking.log_params({"seed": params.seed, f"train.{task}": cfg.model_dump(), "trainer": params.trainer.model_dump()})
        dataset, _, meta = load_prepared(args.data, task)
        # The lock of the checkout the stage runs in: for `dvc exp run --temp` that is the experiment's copy,
        # whose prepare stage may have written other data than DVC_ROOT's lock records.
        digest = tracking.dvc_out_hash(Path.cwd(), args.data.as_posix()) or tracking.directory_digest(args.data)
        tracking.log_params({"data.path": meta["path"], "data.digest": digest, "data.vocab_size": meta["vocab_size"]})
        tracking.log_dataset(dataset["train"], f"{task}-train", args.data, digest, "training", targets=TASKS[task])
        tracking.log_dataset(dataset["val"], f"{task}-val", args.data, digest, "validation", targets=TASKS[task])

        result = train(cfg, params.trainer, params.seed, args.data, args.out, work_dir, logger=tracking.lightning_logger(uri, run.info.run_id))
        summary = {k: result[k] for k in SUMMARY_KEYS if k in result}
        (args.out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        write_history(result["history"], args.plots / "history.csv")
        figure = plots.training_curves(result["history"], f"{task}: {cfg.cell.upper()} ({cfg.backend})")
        tracking.log_figure(figure, "figures/training_curves.png", save_to=args.plots / "training_curves.png")
        tracking.log_metrics({k: v for k, v in summary.items() if v is not None})
        if params.mlflow.log_model:
            from pipeline.serving import log_model

            log_model(task, args.out)
        print(f"best epoch {summary['best_epoch']} of {summary['epochs']}: val/loss {summary['best_val_loss']:.4f}; run {run.info.run_id}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--plots", type=Path, required=True)
    args = parser.parse_args()
    train_task(args.task, args)


if __name__ == "__main__":
    _common.run(main)
