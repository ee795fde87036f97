"""Generated long-range-dependency problems: the adding problem and the copy (memory) task.

Adding problem (Hochreiter & Schmidhuber 1997; the variant of Le et al. 2015 and Arjovsky et
al. 2016): each step has two inputs, a value drawn from U(0, 1) and a marker; exactly two
steps are marked, one in the first half and one in the second, and the target is the sum of
their two values. The answer depends on a step up to ``length`` steps back. Always
predicting the mean sum (1.0) scores MSE = Var(u1 + u2) = 2/12 = 0.1667: that is the
trivial baseline, and a model below ~0.01 has solved the problem.

Copy (memory) task (after Hochreiter & Schmidhuber 1997 and Arjovsky et al. 2016), in the
many-to-one form: ``symbols`` letters drawn from an alphabet of ``alphabet`` are shown
(one-hot), then ``length`` blank steps; after the last one the model must give back every
letter, in order (one classification per letter, read from the last state). A memoryless
model can only guess: error rate 1 - 1/alphabet, cross-entropy ln(alphabet) per letter.

Training batches are drawn fresh from a seeded generator (the usual protocol for these
problems: the model never sees a training sequence twice); the validation and test sets are
fixed draws from their own seeds. With continuous values (adding) no test sequence can occur
in training; for copy, ``alphabet ** symbols`` (32,768 by default) possible sequences make a
repeat rare and memorising one useless.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pipeline.cells import check_choice

PROBLEMS = ("adding", "copy")
SPLIT_OFFSETS = {"train": 0, "val": 1, "test": 2}  # each split draws from seed * 10 + offset


def adding_batch(generator: torch.Generator, batch: int, length: int) -> tuple[Tensor, Tensor]:
    """Inputs (B, length, 2): [value, marker]; targets (B,): the sum of the two marked values."""
    if length < 2:
        raise ValueError(f"the adding problem needs a length of at least 2, got {length}")
    values = torch.rand(batch, length, generator=generator)
    first = torch.randint(0, length // 2, (batch,), generator=generator)
    second = torch.randint(length // 2, length, (batch,), generator=generator)
    markers = torch.zeros(batch, length)
    rows = torch.arange(batch)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], -1), (values * markers).sum(1)


def copy_batch(generator: torch.Generator, batch: int, length: int, symbols: int, alphabet: int) -> tuple[Tensor, Tensor]:
    """Inputs (B, symbols + length, alphabet + 1) one-hot (0: blank, 1..alphabet: letters);
    targets (B, symbols): the letters to recall, as 0..alphabet-1."""
    if length < 1 or symbols < 1 or alphabet < 2:
        raise ValueError(f"the copy task needs length >= 1, symbols >= 1 and alphabet >= 2, got {length}, {symbols}, {alphabet}")
    letters = torch.randint(0, alphabet, (batch, symbols), generator=generator)
    ids = torch.zeros(batch, symbols + length, dtype=torch.long)
    ids[:, :symbols] = letters + 1
    return torch.nn.functional.one_hot(ids, alphabet + 1).float(), letters


def make_batch(problem: str, generator: torch.Generator, batch: int, length: int, symbols: int = 3, alphabet: int = 8) -> tuple[Tensor, Tensor]:
    check_choice("problem", problem, PROBLEMS)
    if problem == "adding":
        return adding_batch(generator, batch, length)
    return copy_batch(generator, batch, length, symbols, alphabet)


def split_generator(seed: int, split: str) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 10 + SPLIT_OFFSETS[split])


def input_size(problem: str, alphabet: int) -> int:
    return 2 if problem == "adding" else alphabet + 1


def output_size(problem: str, alphabet: int) -> int:
    return 1 if problem == "adding" else alphabet


def baseline(problem: str, targets: Tensor, alphabet: int) -> dict[str, float]:
    """The trivial baseline's scores on these targets: adding, always predict 1.0 (the mean sum);
    copy, a memoryless guess (expected error 1 - 1/alphabet, cross-entropy ln(alphabet))."""
    if problem == "adding":
        mse = float((targets - 1.0).pow(2).mean())
        return {"mse": mse, "error": mse}
    return {"error": 1.0 - 1.0 / alphabet, "cross_entropy": math.log(alphabet)}
