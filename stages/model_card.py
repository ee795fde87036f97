"""DVC stage model_card: write reports/model_card.md from params, metrics and data statistics.

python stages/model_card.py --metrics metrics --data data/prepared --models models --plots plots --out reports/model_card.md
"""

import argparse
import json
from importlib.metadata import version
from pathlib import Path

import _common
from pipeline import tracking
from pipeline.model_card import SECTIONS, render


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def extras(task: str, args: argparse.Namespace) -> dict:
    """What a task's section shows beyond its metrics file: charlm's samples; the longrange
    matrix's runs (steps, seconds) and the exploding-gradient run."""
    if task == "longrange":
        runs = [read_json(path) for path in sorted((args.metrics / "longrange").glob("*.json"))]
        return {"runs": runs, "exploding": read_json(args.metrics / "longrange_exploding.json")}
    return {"samples": read_json(args.plots / task / "eval" / "samples.json")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--plots", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    params, root = _common.params(), _common.repo_root()
    tasks = [t for t in SECTIONS if (args.metrics / f"{t}.json").is_file()]
    card = render(
        params.model_dump(),
        metrics={t: read_json(args.metrics / f"{t}.json") for t in tasks},
        metas={t: read_json(args.data / t / "meta.json") for t in tasks},
        summaries={t: read_json(args.models / t / "train_summary.json") for t in tasks},
        extras={t: extras(t, args) for t in tasks},
        versions={"torch": version("torch"), "lightning": version("lightning")},
        commit=tracking.git_commit(root) or "unknown",
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(card, encoding="utf-8")
    uri = tracking.resolve_tracking_uri(params.mlflow.tracking_uri, root)
    with tracking.tracked_run(
        uri, f"{params.mlflow.experiment_prefix}/model_card", tracking.run_name("model_card", "all"), root, {"rnnlab.stage": "model_card"}
    ):
        tracking.log_artifact(args.out)
    print(f"wrote {args.out} ({', '.join(tasks) or 'no task has metrics yet'})")


if __name__ == "__main__":
    _common.run(main)
