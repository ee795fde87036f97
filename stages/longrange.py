"""DVC stages of the longrange task: why gated cells beat the Elman cell over long lags.

    python stages/longrange.py run --problem adding --length 100 --cell lstm \
        --out models/longrange/adding-100-lstm --metrics metrics/longrange/adding-100-lstm.json
    python stages/longrange.py exploding --plots plots/longrange/exploding --metrics metrics/longrange_exploding.json
    python stages/longrange.py report --runs metrics/longrange --plots plots/longrange --metrics metrics/longrange.json

``run`` (one entry of the DVC matrix) trains and tests one cell on one problem at one length
(the data is generated: training batches fresh from a seeded generator, fixed validation and
test sets); it also measures ||dL/dh_t|| at initialisation and after training. ``exploding``
trains an Elman cell with the hand-written BPTT with and without gradient clipping. ``report``
gathers every run into one table and the figures of the model card.
"""

import argparse
import json
import math
from pathlib import Path

import _common
from pipeline import plots, tracking

SOLVED = {"adding": "test MSE below 0.01", "copy": "test letter error below 0.05"}
SOLVED_BELOW = {"adding": 0.01, "copy": 0.05}
ERROR_NAMES = {"adding": "test MSE (log scale)", "copy": "test letter error rate"}


def entry_name(problem: str, length: int, cell: str) -> str:
    return f"{problem}-{length}-{cell}"


def run_entry(args: argparse.Namespace) -> None:
    params, root = _common.params(), _common.repo_root()
    cfg, prep = params.train.longrange, params.prepare.longrange
    from pipeline.training.longrange import train

    name = entry_name(args.problem, args.length, args.cell)
    uri = tracking.resolve_tracking_uri(params.mlflow.tracking_uri, root)
    tags = {"rnnlab.task": "longrange", "rnnlab.stage": "train", "rnnlab.cell": args.cell, "rnnlab.problem": args.problem, "rnnlab.length": str(args.length)}
    work_dir = root / ".rnnlab" / "lightning" / "longrange" / name
    with tracking.tracked_run(uri, f"{params.mlflow.experiment_prefix}/longrange", tracking.run_name("train", name), root, tags) as run:
        tracking.log_params({"seed": params.seed, "problem": args.problem, "length": args.length, "cell": args.cell})
        tracking.log_params({"train.longrange": cfg.model_dump(exclude={"problems", "lengths", "cells", "exploding"}), "prepare.longrange": prep.model_dump()})
        result = train(
            cfg, prep, params.trainer, params.seed, args.problem, args.length, args.cell, args.out, work_dir, tracking.lightning_logger(uri, run.info.run_id)
        )
        error, baseline = result["test"]["error"], result["baseline"]["error"]
        metrics = {
            "problem": args.problem,
            "length": args.length,
            "cell": args.cell,
            "test": result["test"],
            "baseline": result["baseline"],
            "solved": error < SOLVED_BELOW[args.problem],
            "steps": result["steps"],
            "seconds": result["seconds"],
        }
        args.metrics.parent.mkdir(parents=True, exist_ok=True)
        args.metrics.write_text(json.dumps(metrics, indent=2) + "\n")
        (args.out / "gradient_flow.json").write_text(json.dumps(result["flow"]) + "\n")
        (args.out / "history.json").write_text(json.dumps(result["history"]) + "\n")
        tracking.log_metrics({"test": result["test"], "baseline": result["baseline"], "steps": result["steps"], "seconds": result["seconds"]})
        flow = plots.gradient_flow(
            {args.cell: {"at initialisation": result["flow"]["init"], "after training": result["flow"]["trained"]}}, f"{name}: ||dL/dh_t||"
        )
        tracking.log_figure(flow, "figures/gradient_flow.png")
        curves = plots.training_curves([{"epoch": row["step"], **{k: v for k, v in row.items() if k != "step"}} for row in result["history"]], name)
        curves.axes[0].set_xlabel("optimizer step")
        curves.axes[1].set_xlabel("optimizer step")
        tracking.log_figure(curves, "figures/training_curves.png")
        print(f"{name}: test error {error:.4f} (baseline {baseline:.4f}) after {result['steps']} steps, {result['seconds']} s; run {run.info.run_id}")


def exploding(args: argparse.Namespace) -> None:
    params, root = _common.params(), _common.repo_root()
    cfg = params.train.longrange.exploding
    import torch

    from pipeline import bptt
    from pipeline.data.longrange import adding_batch, split_generator

    generator = torch.Generator().manual_seed(params.seed)
    weights = bptt.init_elman(2, cfg.hidden_size, 1, generator=generator, dtype=torch.float32)
    weights["weight_hh_l0"] = cfg.recurrent_scale * torch.eye(cfg.hidden_size)  # the IRNN of Le et al. (2015)

    def batches_from(seed_generator: torch.Generator):
        def draw():
            x, sums = adding_batch(seed_generator, cfg.batch_size, cfg.length)
            target = torch.zeros(cfg.batch_size, cfg.length, 1)
            target[:, -1, 0] = sums
            mask = torch.zeros(cfg.batch_size, cfg.length, dtype=torch.bool)
            mask[:, -1] = True
            return x, target, mask

        return draw

    runs = {}
    for label, clip in (("no clipping", None), (f"clipped to norm {cfg.clip:g}", cfg.clip)):
        runs[label] = bptt.sgd_train(weights, batches_from(split_generator(params.seed, "train")), cfg.steps, cfg.lr, clip, "mse", cfg.nonlinearity)
    runs = {label: {key: [v if math.isfinite(v) else None for v in values] for key, values in run.items()} for label, run in runs.items()}
    unclipped, clipped = runs.values()
    finite = lambda values: [v for v in values if v is not None]  # noqa: E731
    metrics = {
        "length": cfg.length,
        "first_grad_norm": unclipped["grad_norm"][0],
        "unclipped": {
            "steps": len(unclipped["loss"]),  # fewer than the budget: the loss or the gradient stopped being finite
            "diverged": len(unclipped["loss"]) < cfg.steps or None in unclipped["loss"],
            "max_grad_norm": max(finite(unclipped["grad_norm"]), default=None),
        },
        "clipped": {
            "steps": len(clipped["loss"]),
            "diverged": len(clipped["loss"]) < cfg.steps or None in clipped["loss"],
            "final_loss": sum(finite(clipped["loss"][-20:])) / max(len(finite(clipped["loss"][-20:])), 1),
            "max_grad_norm": max(finite(clipped["grad_norm"]), default=None),
        },
    }
    uri = tracking.resolve_tracking_uri(params.mlflow.tracking_uri, root)
    tags = {"rnnlab.task": "longrange", "rnnlab.stage": "exploding", "rnnlab.cell": "rnn"}
    with tracking.tracked_run(uri, f"{params.mlflow.experiment_prefix}/longrange", tracking.run_name("exploding", "rnn"), root, tags) as run:
        tracking.log_params({"seed": params.seed, "train.longrange.exploding": cfg.model_dump()})
        args.metrics.parent.mkdir(parents=True, exist_ok=True)
        args.metrics.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
        args.plots.mkdir(parents=True, exist_ok=True)
        (args.plots / "runs.json").write_text(json.dumps(runs, allow_nan=False) + "\n")
        title = f"Elman {cfg.nonlinearity} (W_hh = {cfg.recurrent_scale:g} I), adding problem of length {cfg.length}, SGD lr {cfg.lr:g}"
        figure = plots.exploding_gradients(runs, cfg.clip, title)
        tracking.log_figure(figure, "figures/exploding_gradients.png", save_to=args.plots / "exploding_gradients.png")
        tracking.log_metrics(metrics)
        print(f"first gradient norm {metrics['first_grad_norm']:.3g}; unclipped: {metrics['unclipped']}; clipped: {metrics['clipped']}; run {run.info.run_id}")


def report(args: argparse.Namespace) -> None:
    params, root = _common.params(), _common.repo_root()
    cfg = params.train.longrange
    entries = []
    for problem in cfg.problems:
        for length in cfg.lengths:
            for cell in cfg.cells:
                path = args.runs / f"{entry_name(problem, length, cell)}.json"
                if not path.is_file():
                    raise FileNotFoundError(f"{path} is missing: run `dvc repro longrange` (one stage per problem x length x cell)")
                entries.append(json.loads(path.read_text()))
    table: dict = {}
    for entry in entries:
        table.setdefault(entry["problem"], {}).setdefault(entry["cell"], {})[str(entry["length"])] = entry["test"]["error"]
    baselines = {problem: max(e["baseline"]["error"] for e in entries if e["problem"] == problem) for problem in table}
    solved = {p: {c: {length: v < SOLVED_BELOW[p] for length, v in per_length.items()} for c, per_length in cells.items()} for p, cells in table.items()}
    metrics = {"error": table, "baseline": baselines, "solved": solved, "solved_means": {p: SOLVED[p] for p in table}}
    args.metrics.write_text(json.dumps(metrics, indent=2) + "\n")

    args.plots.mkdir(parents=True, exist_ok=True)
    with (args.plots / "results.csv").open("w") as f:  # the DVC plot: error against length per cell
        f.write("problem,cell,length,error,baseline,solved,steps,seconds\n")
        for e in entries:
            f.write(
                f"{e['problem']},{e['cell']},{e['length']},{e['test']['error']:.6g},{e['baseline']['error']:.6g},{e['solved']},{e['steps']},{e['seconds']}\n"
            )
    uri = tracking.resolve_tracking_uri(params.mlflow.tracking_uri, root)
    tags = {"rnnlab.task": "longrange", "rnnlab.stage": "report", "rnnlab.cell": "all"}
    with tracking.tracked_run(uri, f"{params.mlflow.experiment_prefix}/longrange", tracking.run_name("report", "all"), root, tags) as run:
        tracking.log_params({"seed": params.seed, "train.longrange": cfg.model_dump(exclude={"exploding"})})
        title = "test error against length (training budget: " + f"{cfg.max_steps} steps of {cfg.batch_size} sequences, hidden {cfg.hidden_size})"
        figure = plots.error_vs_length(table, baselines, ERROR_NAMES, title)
        tracking.log_figure(figure, "figures/error_vs_length.png", save_to=args.plots / "error_vs_length.png")
        for problem in table:
            longest = max(cfg.lengths)
            curves = {}
            for cell in cfg.cells:
                flow = json.loads((args.models / entry_name(problem, longest, cell) / "gradient_flow.json").read_text())
                curves[cell] = {"at initialisation": flow["init"], "after training": flow["trained"]}
            figure = plots.gradient_flow(curves, f"{problem}, length {longest}: ||dL/dh_t|| of the loss at the last step, test batch")
            tracking.log_figure(figure, f"figures/gradient_flow_{problem}.png", save_to=args.plots / f"gradient_flow_{problem}.png")
        tracking.log_artifact(args.metrics)
        tracking.log_artifact(args.plots / "results.csv")
        for problem, cells in table.items():
            print(
                problem,
                {cell: {length: round(v, 4) for length, v in per_length.items()} for cell, per_length in cells.items()},
                f"baseline {baselines[problem]:.4f}",
            )
        print(f"run {run.info.run_id}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("run", help="train and test one cell on one problem at one length")
    one.add_argument("--problem", required=True, choices=["adding", "copy"])
    one.add_argument("--length", type=int, required=True)
    one.add_argument("--cell", required=True, choices=["rnn", "rnn_relu", "lstm", "gru"])
    one.add_argument("--out", type=Path, required=True)
    one.add_argument("--metrics", type=Path, required=True)
    explode = commands.add_parser("exploding", help="an Elman cell trained with and without gradient clipping")
    explode.add_argument("--plots", type=Path, required=True)
    explode.add_argument("--metrics", type=Path, required=True)
    gather = commands.add_parser("report", help="one table and the figures from every run")
    gather.add_argument("--runs", type=Path, required=True)
    gather.add_argument("--models", type=Path, required=True)
    gather.add_argument("--plots", type=Path, required=True)
    gather.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()
    {"run": run_entry, "exploding": exploding, "report": report}[args.command](args)


if __name__ == "__main__":
    _common.run(main)
