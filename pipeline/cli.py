"""The ``rnnlab`` command: use trained models from the shell.

    rnnlab predict sentiment "A wonderful, moving film." ["another sentence" ...]
    rnnlab predict sentiment --json "..."        # machine-readable output

Only torch and tokenizers are imported on this path (no Lightning, no MLflow), so the
command answers in about the time ``import torch`` takes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TASKS = ("sentiment",)


def _predict(args: argparse.Namespace) -> int:
    from pipeline.data import DataError
    from pipeline.models.checkpoint import CheckpointError
    from pipeline.predict import SentimentPredictor

    model_dir = args.model_dir or Path("models") / args.task
    try:
        predictor = SentimentPredictor.from_dir(model_dir)
        predictions = predictor.predict(args.text)
    except (CheckpointError, DataError, ValueError) as exc:
        print(f"rnnlab: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                [{"text": p.text, "label": p.label, "probability": round(p.probability, 4), "probabilities": p.probabilities} for p in predictions], indent=2
            )
        )
    else:
        for p in predictions:
            print(f"{p.label}\t{p.probability:.3f}\t{p.text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnlab", description="Use the models that `dvc repro` trained.")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="classify text with a trained model")
    predict.add_argument("task", choices=TASKS)
    predict.add_argument("text", nargs="+", help="one or more texts (quote each)")
    predict.add_argument("--model-dir", type=Path, help="folder with model.pt and tokenizer.json (default: models/TASK)")
    predict.add_argument("--json", action="store_true", help="print JSON instead of tab-separated lines")
    predict.set_defaults(handler=_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
