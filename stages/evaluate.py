"""DVC stage evaluate@TASK: score the trained model and its baseline on the test split.

    python stages/evaluate.py TASK --data data/prepared/TASK --model models/TASK \
        --metrics metrics/TASK.json --plots plots/TASK/eval
"""

import argparse
import csv
import json
from pathlib import Path

import _common
from pipeline import plots, tracking


def evaluate_sentiment(args: argparse.Namespace) -> None:
    from pipeline.data.store import load_prepared
    from pipeline.evaluation.sentiment import evaluate
    from pipeline.predict import SentimentPredictor

    params, root = _common.params(), _common.repo_root()
    predictor = SentimentPredictor.from_dir(args.model)
    dataset, _, meta = load_prepared(args.data, "sentiment")
    uri = tracking.resolve_tracking_uri(params.mlflow.tracking_uri, root)
    cell = params.train.sentiment.cell
    tags = {"rnnlab.task": "sentiment", "rnnlab.stage": "evaluate", "rnnlab.cell": cell}
    with tracking.tracked_run(uri, f"{params.mlflow.experiment_prefix}/sentiment", tracking.run_name("evaluate", cell), root, tags) as run:
        tracking.log_params(
            {"seed": params.seed, "train.sentiment": params.train.sentiment.model_dump(), "evaluate.sentiment": params.evaluate.sentiment.model_dump()}
        )
        result = evaluate(predictor, dataset["test"], params.evaluate.sentiment.batch_size)
        metrics = result["metrics"]
        args.metrics.parent.mkdir(parents=True, exist_ok=True)
        args.metrics.write_text(json.dumps(metrics, indent=2) + "\n")
        args.plots.mkdir(parents=True, exist_ok=True)
        with (args.plots / "predictions.csv").open("w", newline="") as f:  # DVC's confusion-matrix plot
            writer = csv.writer(f)
            writer.writerow(["actual", "predicted"])
            writer.writerows((meta["classes"][t], meta["classes"][p]) for t, p in zip(result["y_true"], result["y_pred"]))
        figure = plots.confusion_matrix(result["confusion"], meta["classes"], f"sentiment test split: {cell.upper()}")
        tracking.log_figure(figure, "figures/confusion_matrix.png", save_to=args.plots / "confusion_matrix.png")
        tracking.log_metrics(metrics)
        tracking.log_artifact(args.metrics)
        vader = metrics["baseline_vader"]
        baseline = f"VADER {vader['accuracy']:.4f}" if isinstance(vader, dict) else "VADER n/a"
        print(f"test accuracy {metrics['test']['accuracy']:.4f}, macro-F1 {metrics['test']['f1_macro']:.4f} ({baseline}); run {run.info.run_id}")


def evaluate_charlm(args: argparse.Namespace) -> None:
    from pipeline.data.charlm import encode, split_text
    from pipeline.data.store import load_prepared
    from pipeline.evaluation.charlm import compressor_bits_per_char, model_bits_per_char, samples, unigram_bits_per_char
    from pipeline.predict import CharGenerator

    params, root = _common.params(), _common.repo_root()
    cfg, cell = params.evaluate.charlm, params.train.charlm.cell
    generator = CharGenerator.from_dir(args.model)
    dataset, tokenizer, meta = load_prepared(args.data, "charlm")
    train_text, test_text = split_text(dataset, "train"), split_text(dataset, "test")
    uri = tracking.resolve_tracking_uri(params.mlflow.tracking_uri, root)
    tags = {"rnnlab.task": "charlm", "rnnlab.stage": "evaluate", "rnnlab.cell": cell}
    with tracking.tracked_run(uri, f"{params.mlflow.experiment_prefix}/charlm", tracking.run_name("evaluate", cell), root, tags) as run:
        tracking.log_params({"seed": params.seed, "train.charlm": params.train.charlm.model_dump(), "evaluate.charlm": cfg.model_dump()})
        test = model_bits_per_char(generator.model, encode(tokenizer, test_text), rows=cfg.batch_size)
        metrics = {
            "test": test,
            "baselines": {**compressor_bits_per_char(train_text, test_text), "unigram": unigram_bits_per_char(train_text, test_text)},
            "test_characters": len(test_text),
            "test_unk_fraction": meta["splits"]["test"]["unk_fraction"],
        }
        args.metrics.parent.mkdir(parents=True, exist_ok=True)
        args.metrics.write_text(json.dumps(metrics, indent=2) + "\n")
        generated = samples(generator, cfg.prime, cfg.sample_length, cfg.temperatures, cfg.top_k, cfg.sample_seed)
        args.plots.mkdir(parents=True, exist_ok=True)
        (args.plots / "samples.json").write_text(json.dumps(generated, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tracking.log_metrics(metrics)
        tracking.log_artifact(args.metrics)
        tracking.log_artifact(args.plots / "samples.json")
        base = metrics["baselines"]
        print(f"test {test['bits_per_char']:.4f} bits/char (bz2 {base['bz2']:.4f}, xz {base['xz']:.4f}, unigram {base['unigram']:.4f}); run {run.info.run_id}")
        for sample in generated:
            print(f"--- temperature {sample['temperature']}: {sample['prime']}{sample['text'][:200]!r}")


def evaluate_translate(args: argparse.Namespace) -> None:
    from pipeline.data.store import load_prepared
    from pipeline.evaluation.translate import evaluate
    from pipeline.predict import Translator

    params, root = _common.params(), _common.repo_root()
    cfg, train_cfg = params.evaluate.translate, params.train.translate
    translator = Translator.from_dir(args.model)
    dataset, _, meta = load_prepared(args.data, "translate")
    uri = tracking.resolve_tracking_uri(params.mlflow.tracking_uri, root)
    tags = {"rnnlab.task": "translate", "rnnlab.stage": "evaluate", "rnnlab.cell": train_cfg.cell}
    with tracking.tracked_run(uri, f"{params.mlflow.experiment_prefix}/translate", tracking.run_name("evaluate", train_cfg.cell), root, tags) as run:
        tracking.log_params({"seed": params.seed, "train.translate": train_cfg.model_dump(), "evaluate.translate": cfg.model_dump()})
        result = evaluate(translator, dataset["test"], cfg.batch_size, cfg.beam_width, cfg.length_penalty, cfg.max_length)
        metrics = {**result["metrics"], "attention": train_cfg.attention, "length_penalty": cfg.length_penalty}
        args.metrics.parent.mkdir(parents=True, exist_ok=True)
        args.metrics.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
        args.plots.mkdir(parents=True, exist_ok=True)
        with (args.plots / "translations.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["source", "reference", "greedy", "beam"])
            writer.writeheader()
            writer.writerows(result["rows"])
        tracking.log_metrics({k: v for k, v in metrics.items() if k in ("greedy", "beam")})
        tracking.log_artifact(args.metrics)
        tracking.log_artifact(args.plots / "translations.csv")
        if train_cfg.attention != "none":
            examples = translator.translate(dataset["test"]["source"][: cfg.heatmaps], 1, cfg.length_penalty, cfg.max_length)
            for index, example in enumerate(examples):
                title = f"{train_cfg.attention} attention (greedy)"
                figure = plots.attention_heatmap(example.attention, example.source_tokens, example.target_tokens + ["[EOS]"], title)
                tracking.log_figure(figure, f"figures/attention_{index}.png", save_to=args.plots / f"attention_{index}.png")
        greedy, beam = metrics["greedy"], metrics["beam"]
        print(
            f"test exact match greedy {greedy['exact_match']:.4f} / beam {beam['exact_match']:.4f}, BLEU {greedy['bleu']:.2f} / {beam['bleu']:.2f}, "
            f"chrF {greedy['chrf']:.2f} / {beam['chrf']:.2f}; run {run.info.run_id}"
        )


TASKS = {"sentiment": evaluate_sentiment, "charlm": evaluate_charlm, "translate": evaluate_translate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--plots", type=Path, required=True)
    args = parser.parse_args()
    TASKS[args.task](args)


if __name__ == "__main__":
    _common.run(main)
