"""The long-range models: one recurrent layer read to the end, a linear readout of its last state.

Adding problem: the readout is the predicted sum. Copy task: the readout holds one row of
logits per letter to recall (many-to-one: the whole answer is read from the last state).

``gate_init="chrono"`` (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?")
sets the gate biases so that each unit starts with a memory time scale drawn between 1 and
``max_lag`` steps: LSTM forget-gate bias log(U(1, max_lag - 1)) and input-gate bias its
negative; GRU update-gate bias log(U(1, max_lag - 1)). With torch's default initialisation
every gate starts near 0.5, so the cell forgets half of its state each step, and a cue 100
steps back reaches the loss multiplied by ~0.5^100: on the copy task the gated cells then sit at
the baseline for thousands of steps (docs/RESULTS.md). The Elman cell has no gate to set.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pipeline.cells import Recurrent
from pipeline.data.longrange import PROBLEMS, input_size, output_size

# The matrix's cell names: (cell, nonlinearity) of pipeline.cells.Recurrent
CELL_VARIANTS = {"rnn": ("rnn", "tanh"), "rnn_relu": ("rnn", "relu"), "lstm": ("lstm", "tanh"), "gru": ("gru", "tanh")}
GATE_INITS = ("default", "chrono")


def chrono_init(layer: nn.Module, cell: str, max_lag: int, generator: torch.Generator | None = None) -> None:
    """Chrono initialisation of a one-layer torch.nn / pipeline.cells LSTM or GRU (gate order: LSTM
    i, f, g, o; GRU r, z, n). The Elman cell is left as it is."""
    if cell == "rnn":
        return
    hidden = layer.hidden_size
    bias = torch.log(1 + torch.rand(hidden, generator=generator) * max(max_lag - 2, 0))
    with torch.no_grad():
        layer.bias_ih_l0.zero_()
        layer.bias_hh_l0.zero_()
        layer.bias_hh_l0[hidden : 2 * hidden] = bias  # LSTM forget gate / GRU update gate: keep the state
        if cell == "lstm":
            layer.bias_hh_l0[:hidden] = -bias  # input gate: write less while remembering more


class LongRangeModel(nn.Module):
    """Args: problem (``adding`` or ``copy``); cell: ``rnn`` (tanh), ``rnn_relu``, ``lstm``, ``gru``;
    hidden_size; backend (see ``Recurrent``); symbols and alphabet (copy task); gate_init
    (``default`` or ``chrono``) with max_lag, the longest lag chrono initialisation plans for."""

    def __init__(
        self,
        problem: str,
        cell: str = "lstm",
        hidden_size: int = 64,
        backend: str = "fused",
        symbols: int = 3,
        alphabet: int = 8,
        gate_init: str = "default",
        max_lag: int = 100,
    ) -> None:
        super().__init__()
        if problem not in PROBLEMS:
            raise ValueError(f"unknown problem {problem!r}: choose one of {', '.join(PROBLEMS)}")
        if cell not in CELL_VARIANTS:
            raise ValueError(f"unknown cell {cell!r}: choose one of {', '.join(CELL_VARIANTS)}")
        if gate_init not in GATE_INITS:
            raise ValueError(f"unknown gate_init {gate_init!r}: choose one of {', '.join(GATE_INITS)}")
        self.problem, self.symbols, self.alphabet = problem, symbols, alphabet
        base, nonlinearity = CELL_VARIANTS[cell]
        self.rnn = Recurrent(base, input_size(problem, alphabet), hidden_size, nonlinearity=nonlinearity, backend=backend)
        self.head = nn.Linear(hidden_size, output_size(problem, alphabet) * (symbols if problem == "copy" else 1))
        if gate_init == "chrono":
            chrono_init(self.rnn.rnn, base, max_lag)

    def readout(self, outputs: Tensor) -> Tensor:
        """Per-step outputs (B, T, H) -> predictions: (B,) sums, or (B, symbols, alphabet) logits."""
        last = self.head(outputs[:, -1])
        if self.problem == "adding":
            return last.squeeze(-1)
        return last.reshape(-1, self.symbols, self.alphabet)

    def forward(self, x: Tensor) -> Tensor:
        return self.readout(self.rnn(x)[0])
