"""DVC stage train@TASK: train a task's model with Lightning, log the run to MLflow.

python stages/train.py sentiment --data data/prepared/sentiment --out models/sentiment --plots plots/sentiment
"""

import argparse
import csv
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


def train_sentiment(args: argparse.Namespace) -> None:
    params, root = _common.params(), _common.repo_root()  # before the slow imports: a bad key fails at once

    from pipeline.data.sentiment import load_prepared
    from pipeline.training.sentiment import train

    cfg = params.train.sentiment
    work_dir = root / ".rnnlab" / "lightning" / "sentiment"  # Lightning's resumable checkpoints, outside DVC's outs
    if not _common.is_rank_zero():  # a DDP worker: it trains its shard; rank zero logs and writes
        train(cfg, params.trainer, params.seed, args.data, args.out, work_dir)
        return
    uri = tracking.resolve_tracking_uri(params.mlflow.tracking_uri, root)
    experiment = f"{params.mlflow.experiment_prefix}/sentiment"
    tags = {"rnnlab.task": "sentiment", "rnnlab.stage": "train", "rnnlab.cell": cfg.cell}
    with tracking.tracked_run(uri, experiment, tracking.run_name("train", cfg.cell), root, tags) as run:
        tracking.log_params({"seed": params.seed, "train.sentiment": cfg.model_dump(), "trainer": params.trainer.model_dump()})
        dataset, _, meta = load_prepared(args.data)
        digest = tracking.dvc_out_hash(root, args.data.as_posix()) or tracking.directory_digest(args.data)
        tracking.log_params({"data.path": meta["path"], "data.digest": digest, "data.vocab_size": meta["vocab_size"]})
        tracking.log_dataset(dataset["train"], "sentiment-train", args.data, digest, "training", targets="label")
        tracking.log_dataset(dataset["val"], "sentiment-val", args.data, digest, "validation", targets="label")

        result = train(
            cfg,
            params.trainer,
            params.seed,
            args.data,
            args.out,
            work_dir,
            logger=tracking.lightning_logger(uri, run.info.run_id),
        )
        summary = {k: result[k] for k in ("best_epoch", "best_val_loss", "epochs")}
        (args.out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        write_history(result["history"], args.plots / "history.csv")
        figure = plots.training_curves(result["history"], f"sentiment: {cfg.cell.upper()} ({cfg.backend})")
        tracking.log_figure(figure, "figures/training_curves.png", save_to=args.plots / "training_curves.png")
        tracking.log_metrics({"best_epoch": summary["best_epoch"], "best_val_loss": summary["best_val_loss"]})
        if params.mlflow.log_model:
            from pipeline.serving import log_sentiment_model

            log_sentiment_model(args.out)
        print(f"best epoch {summary['best_epoch']} of {summary['epochs']}: val/loss {summary['best_val_loss']:.4f}; run {run.info.run_id}")


TASKS = {"sentiment": train_sentiment}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--plots", type=Path, required=True)
    args = parser.parse_args()
    TASKS[args.task](args)


if __name__ == "__main__":
    _common.run(main)
