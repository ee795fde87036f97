"""DVC stage prepare@TASK: build, clean, split and tokenize a task's data set.

python stages/prepare.py sentiment --raw data/raw/vaderSentiment-3.3.2.tar.gz --out data/prepared/sentiment
python stages/prepare.py charlm --raw data/raw/vaderSentiment-3.3.2.tar.gz --out data/prepared/charlm
python stages/prepare.py translate --out data/prepared/translate
"""

import argparse
import json
from pathlib import Path

import _common


def prepare_sentiment(args: argparse.Namespace) -> None:
    import datasets

    from pipeline.data.sentiment import build
    from pipeline.data.store import save_prepared

    params = _common.params()
    datasets.disable_progress_bars()
    dataset, tokenizer, meta = build(params.prepare.sentiment, params.seed, args.raw)
    save_prepared(args.out, dataset, tokenizer, meta)
    print(json.dumps({k: meta[k] for k in ("classes", "vocab_size", "dropped_neutral", "dropped_duplicates")}))
    print({split: s["examples"] for split, s in meta["splits"].items()})


def prepare_charlm(args: argparse.Namespace) -> None:
    import datasets

    from pipeline.data.charlm import build
    from pipeline.data.store import save_prepared

    params = _common.params()
    datasets.disable_progress_bars()
    dataset, tokenizer, meta = build(params.prepare.charlm, params.seed, args.raw)
    save_prepared(args.out, dataset, tokenizer, meta)
    print(json.dumps({k: meta[k] for k in ("characters", "vocab_size", "rare_characters")}, ensure_ascii=False))
    print({split: (s["characters"], s["unk"]) for split, s in meta["splits"].items()}, "(characters, <unk>)")


def prepare_translate(args: argparse.Namespace) -> None:
    import datasets

    from pipeline.data.store import save_prepared
    from pipeline.data.translate import build

    params = _common.params()
    datasets.disable_progress_bars()
    dataset, tokenizers, meta = build(params.prepare.translate, params.seed)
    save_prepared(args.out, dataset, tokenizers, meta)
    print(json.dumps({k: meta[k] for k in ("path", "source_vocab_size", "target_vocab_size")}, ensure_ascii=False))
    print({split: (s["pairs"], s["dropped_too_long"]) for split, s in meta["splits"].items()}, "(pairs, dropped as too long)")


TASKS = {"sentiment": prepare_sentiment, "charlm": prepare_charlm, "translate": prepare_translate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--raw", type=Path, help="raw input (the vaderSentiment sdist, for the default sentiment and charlm data)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    TASKS[args.task](args)


if __name__ == "__main__":
    _common.run(main)
