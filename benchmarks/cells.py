"""Throughput of the recurrent layers: torch.nn's fused layers against the cells written from
the equations (pipeline/cells.py), forward + backward, on the machine at hand.

    python benchmarks/cells.py                       # defaults: batch 64, 50 steps, input 128, hidden 256
    python benchmarks/cells.py --hidden 128 --repeats 5

Prints tokens per second (batch x steps per second) for each cell and backend, and the
scratch/fused ratio measured in the same run. Figures: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from pipeline.cells import CELLS, Recurrent


def tokens_per_second(layer: Recurrent, x: torch.Tensor, lengths: torch.Tensor, repeats: int) -> float:
    for _ in range(2):  # warm-up: allocator and kernels
        layer(x, lengths)[0].sum().backward()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out, _ = layer(x, lengths)
        out.sum().backward()
        times.append(time.perf_counter() - start)
    return x.size(0) * x.size(1) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--input", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.steps, args.input)
    lengths = torch.randint(args.steps // 2, args.steps + 1, (args.batch,))
    lengths[0] = args.steps
    print(f"batch {args.batch}, steps {args.steps}, input {args.input}, hidden {args.hidden}, threads {args.threads}, torch {torch.__version__}")
    print(f"{'cell':6} {'fused tok/s':>12} {'scratch tok/s':>14} {'scratch/fused':>14}")
    for cell in CELLS:
        fused = Recurrent(cell, args.input, args.hidden, backend="fused")
        scratch = Recurrent(cell, args.input, args.hidden, backend="scratch")
        scratch.load_state_dict(fused.state_dict())
        f = tokens_per_second(fused, x, lengths, args.repeats)
        s = tokens_per_second(scratch, x, lengths, args.repeats)
        print(f"{cell:6} {f:12,.0f} {s:14,.0f} {s / f:14.2f}")


if __name__ == "__main__":
    main()
