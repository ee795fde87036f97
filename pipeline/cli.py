"""The ``rnnlab`` command: use trained models from the shell.

    rnnlab predict sentiment "A wonderful, moving film." ["another sentence" ...]
    rnnlab predict sentiment --json "..."        # machine-readable output
    rnnlab generate --prime "The movie was " --length 300 --temperature 0.8 [--top-k 10] [--seed 1]
    rnnlab translate "four hundred and twenty-one" ["seven thousand and five" ...] [--beam 5]

Only torch and tokenizers are imported on this path (no Lightning, no MLflow), so the
command answers in about the time ``import torch`` takes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TASKS = ("sentiment",)  # tasks `predict` classifies with; `generate` uses charlm


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


def _generate(args: argparse.Namespace) -> int:
    from pipeline.data import DataError
    from pipeline.models.checkpoint import CheckpointError
    from pipeline.predict import CharGenerator

    model_dir = args.model_dir or Path("models") / "charlm"
    try:
        generator = CharGenerator.from_dir(model_dir)
        generation = generator.generate(args.prime, args.length, args.temperature, args.top_k, args.seed)
    except (CheckpointError, DataError, ValueError) as exc:
        print(f"rnnlab: error: {exc}", file=sys.stderr)
        return 2
    if generation.unknown:
        print(f"rnnlab: note: {generation.unknown!r} not in the model's vocabulary: read as <unk>", file=sys.stderr)
    if args.json:
        print(json.dumps({"prime": generation.prime, "text": generation.text, "unknown": generation.unknown}, ensure_ascii=False, indent=2))
    else:
        print(generation.prime + generation.text)
    return 0


def _translate(args: argparse.Namespace) -> int:
    from pipeline.data import DataError
    from pipeline.models.checkpoint import CheckpointError
    from pipeline.predict import Translator

    model_dir = args.model_dir or Path("models") / "translate"
    try:
        translations = Translator.from_dir(model_dir).translate(args.text, args.beam, args.length_penalty, args.max_length)
    except (CheckpointError, DataError, ValueError) as exc:
        print(f"rnnlab: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{"text": t.text, "translation": t.translation} for t in translations], ensure_ascii=False, indent=2))
    else:
        for t in translations:
            print(f"{t.translation}\t{t.text}")
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
    generate = commands.add_parser("generate", help="generate text with the character language model")
    generate.add_argument("--prime", default="", help="text to continue (default: start a new line)")
    generate.add_argument("--length", type=int, default=300, help="characters to generate (default 300)")
    generate.add_argument("--temperature", type=float, default=0.8, help="< 1 safer, > 1 wilder, 0 always the most likely character (default 0.8)")
    generate.add_argument("--top-k", type=int, default=None, help="sample only among the k most likely characters")
    generate.add_argument("--seed", type=int, default=0, help="the same seed gives the same text (default 0)")
    generate.add_argument("--model-dir", type=Path, help="folder with model.pt and tokenizer.json (default: models/charlm)")
    generate.add_argument("--json", action="store_true", help="print JSON (prime, text, unknown characters)")
    generate.set_defaults(handler=_generate)
    translate = commands.add_parser("translate", help="translate with the seq2seq model")
    translate.add_argument("text", nargs="+", help="one or more sentences (quote each)")
    translate.add_argument("--beam", type=int, default=5, help="beam width (1: greedy decoding; default 5)")
    translate.add_argument("--length-penalty", type=float, default=1.0, help="GNMT length-penalty alpha (default 1.0)")
    translate.add_argument("--max-length", type=int, default=60, help="output tokens before stopping (default 60)")
    translate.add_argument("--model-dir", type=Path, help="folder with model.pt and the two tokenizers (default: models/translate)")
    translate.add_argument("--json", action="store_true", help="print JSON instead of tab-separated lines")
    translate.set_defaults(handler=_translate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
