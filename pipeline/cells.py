"""Recurrent cells written from their equations, parameter-compatible with torch.nn.

This module is the teaching half of rnnlab: the Elman RNN, the LSTM and the GRU as the
lecture writes them, one time step at a time. Every module here has the same parameter
names, shapes and gate order as its torch.nn counterpart (``nn.RNN``/``nn.LSTM``/``nn.GRU``
and the ``*Cell`` classes), so a ``state_dict`` loads both ways and the two give the same
outputs and gradients (``tests/test_cells.py`` checks this to 1e-5).

``Recurrent`` is what the task models use: one class for every cell type and for both
backends, ``fused`` (torch.nn's layers, fast) and ``scratch`` (the loops below, readable).
Because it holds either implementation under the same attribute name, a checkpoint trained
with one backend loads into the other.

Equations (PyTorch's gate order, which the parameter layout follows):

    Elman:  h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)           (or relu)
    LSTM:   i, f, g, o = split(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
            c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
            h_t = sigmoid(o) * tanh(c_t)                                 (Hochreiter & Schmidhuber 1997)
    GRU:    r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
            z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
            n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
            h_t = (1 - z) * n + z * h_{t-1}                              (Cho et al. 2014)

Run ``pytest tests/test_cells.py`` to see them match torch.nn.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

CELLS = ("rnn", "lstm", "gru")
BACKENDS = ("fused", "scratch")
NONLINEARITIES = ("tanh", "relu")

# Rows of W_ih / W_hh per hidden unit: one pre-activation per gate.
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}

State = Tensor | tuple[Tensor, Tensor]


def check_choice(kind: str, value: str, allowed: tuple[str, ...]) -> None:
    """Raise a ValueError naming the valid choices when ``value`` is not one of them."""
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}: choose one of {', '.join(allowed)}")


# --------------------------------------------------------------------------- one step
# Each step takes the input projection W_ih x_t + b_ih already computed (for a whole
# sequence it is one matrix product outside the time loop) and applies the recurrence.


def elman_step(x_proj: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str) -> Tensor:
    """Elman (1990) step: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh). Shapes (B, H)."""
    pre = x_proj + F.linear(h, w_hh, b_hh)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_step(x_proj: Tensor, state: tuple[Tensor, Tensor], w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """LSTM step with input, forget, cell and output gates (PyTorch order i, f, g, o)."""
    h, c = state
    i, f, g, o = (x_proj + F.linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def gru_step(x_proj: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """GRU step (PyTorch order r, z, n); the reset gate scales W_hn h + b_hn, as in cuDNN."""
    x_r, x_z, x_n = x_proj.chunk(3, dim=-1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def _step(mode: str, x_proj: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str) -> State:
    if mode == "lstm":
        return lstm_step(x_proj, state, w_hh, b_hh)
    if mode == "gru":
        return gru_step(x_proj, state, w_hh, b_hh)
    return elman_step(x_proj, state, w_hh, b_hh, nonlinearity)


def _init_uniform(module: nn.Module, hidden_size: int) -> None:
    """torch.nn's initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for weight in module.parameters():
        nn.init.uniform_(weight, -bound, bound)


# --------------------------------------------------------------------------- cells
class _ScratchCell(nn.Module):
    """One step of a recurrent cell; parameters named like nn.RNNCell/LSTMCell/GRUCell."""

    mode = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh") -> None:
        super().__init__()
        check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        gates = _GATES[self.mode] * hidden_size
        self.input_size, self.hidden_size, self.nonlinearity = input_size, hidden_size, nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(gates)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(gates)) if bias else None
        _init_uniform(self, hidden_size)

    def forward(self, x: Tensor, hx: State | None = None) -> State:
        """x: (B, I); hx: (B, H) (LSTM: a pair). Returns the next state, same shapes."""
        if hx is None:
            zeros = x.new_zeros(x.size(0), self.hidden_size)
            hx = (zeros, zeros) if self.mode == "lstm" else zeros
        x_proj = F.linear(x, self.weight_ih, self.bias_ih)
        return _step(self.mode, x_proj, hx, self.weight_hh, self.bias_hh, self.nonlinearity)


class ElmanCell(_ScratchCell):
    """Elman RNN cell, a drop-in for ``nn.RNNCell``."""

    mode = "rnn"


class LSTMCell(_ScratchCell):
    """LSTM cell, a drop-in for ``nn.LSTMCell``."""

    mode = "lstm"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias)


class GRUCell(_ScratchCell):
    """GRU cell, a drop-in for ``nn.GRUCell``."""

    mode = "gru"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias)


# --------------------------------------------------------------------------- layers
class _ScratchRNNBase(nn.Module):
    """Multi-layer, optionally bidirectional recurrent layer run as an explicit time loop.

    Same constructor, parameter names (``weight_ih_l{k}[_reverse]`` ...) and outputs as
    torch.nn's layers. Variable-length batches are handled by a mask: past a sequence's
    length its state is held and its output is zero, which is exactly what torch.nn
    computes on a ``PackedSequence``; the reverse direction starts at each sequence's last
    real step for the same reason.
    """

    mode = "rnn"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.nonlinearity, self.bias, self.batch_first = nonlinearity, bias, batch_first
        self.dropout, self.bidirectional = dropout, bidirectional
        directions = 2 if bidirectional else 1
        gates = _GATES[self.mode] * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                self.register_parameter(f"weight_ih_l{layer}{suffix}", nn.Parameter(torch.empty(gates, layer_input)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}", nn.Parameter(torch.empty(gates, hidden_size)))
                if bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}", nn.Parameter(torch.empty(gates)))
                    self.register_parameter(f"bias_hh_l{layer}{suffix}", nn.Parameter(torch.empty(gates)))
        _init_uniform(self, hidden_size)

    def _params(self, layer: int, suffix: str) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        get = lambda name: getattr(self, f"{name}_l{layer}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _run_direction(self, x: Tensor, state: State, mask: Tensor | None, layer: int, reverse: bool) -> tuple[Tensor, State]:
        """One layer, one direction over x (B, T, I). Returns outputs (B, T, H) and the final state."""
        w_ih, w_hh, b_ih, b_hh = self._params(layer, "_reverse" if reverse else "")
        x_proj = F.linear(x, w_ih, b_ih)  # (B, T, G*H): every time step's input term at once
        steps = range(x.size(1) - 1, -1, -1) if reverse else range(x.size(1))
        outputs: list[Tensor] = [x.new_empty(0)] * x.size(1)
        for t in steps:
            new = _step(self.mode, x_proj[:, t], state, w_hh, b_hh, self.nonlinearity)
            if mask is not None:  # hold the state of sequences that have ended
                keep = mask[:, t, None]
                if self.mode == "lstm":
                    new = (torch.where(keep, new[0], state[0]), torch.where(keep, new[1], state[1]))
                else:
                    new = torch.where(keep, new, state)
            state = new
            h = state[0] if self.mode == "lstm" else state
            outputs[t] = h if mask is None else h * mask[:, t, None]
        return torch.stack(outputs, dim=1), state

    def forward(self, input: Tensor | PackedSequence, hx: State | None = None, lengths: Tensor | None = None) -> tuple[Tensor | PackedSequence, State]:
        """Run the layers over a sequence.

        Args:
            input: (T, B, I), or (B, T, I) when batch_first, or a PackedSequence.
            hx: initial state (L*D, B, H), for the LSTM a pair (h_0, c_0); zeros if None.
            lengths: (B,) valid steps per sequence of a padded input; None means all T.

        Returns:
            The outputs (same layout as the input; zero past each length) and the final
            state (L*D, B, H), or for the LSTM the pair (h_n, c_n), like torch.nn.
        """
        packed = isinstance(input, PackedSequence)
        if packed:
            input, lengths = pad_packed_sequence(input, batch_first=True)
        elif not self.batch_first:
            input = input.transpose(0, 1)
        batch, steps, _ = input.shape  # (B, T, I) from here on
        mask = None
        if lengths is not None:
            mask = torch.arange(steps, device=input.device)[None, :] < lengths.to(input.device)[:, None]  # (B, T)
        directions = 2 if self.bidirectional else 1
        if hx is None:
            zeros = input.new_zeros(self.num_layers * directions, batch, self.hidden_size)
            hx = (zeros, zeros) if self.mode == "lstm" else zeros
        h_n, c_n = [], []
        layer_input = input
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                state = (hx[0][k], hx[1][k]) if self.mode == "lstm" else hx[k]
                out, state = self._run_direction(layer_input, state, mask, layer, reverse=direction == 1)
                outs.append(out)
                if self.mode == "lstm":
                    h_n.append(state[0])
                    c_n.append(state[1])
                else:
                    h_n.append(state)
            layer_input = torch.cat(outs, dim=-1) if directions == 2 else outs[0]  # (B, T, D*H)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        final: State = (torch.stack(h_n), torch.stack(c_n)) if self.mode == "lstm" else torch.stack(h_n)
        output: Tensor | PackedSequence = layer_input
        if packed:
            output = pack_padded_sequence(output, lengths, batch_first=True, enforce_sorted=False)
        elif not self.batch_first:
            output = output.transpose(0, 1)
        return output, final


class ScratchRNN(_ScratchRNNBase):
    """Elman RNN layer from the equations, a drop-in for ``nn.RNN``."""

    mode = "rnn"


class _GatedScratch(_ScratchRNNBase):
    """Constructor of the gated layers, in nn.LSTM/nn.GRU's positional order (no nonlinearity:
    the gates' sigmoid and tanh are fixed by their equations)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, "tanh", bias, batch_first, dropout, bidirectional)


class ScratchLSTM(_GatedScratch):
    """LSTM layer from the equations, a drop-in for ``nn.LSTM`` (no ``proj_size``)."""

    mode = "lstm"


class ScratchGRU(_GatedScratch):
    """GRU layer from the equations, a drop-in for ``nn.GRU``."""

    mode = "gru"


_FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
_SCRATCH = {"rnn": ScratchRNN, "lstm": ScratchLSTM, "gru": ScratchGRU}


class Recurrent(nn.Module):
    """The recurrent layers every task model uses: any cell, either backend, batch-first.

    Args:
        cell: ``rnn`` (Elman), ``lstm`` or ``gru``.
        input_size: features per time step.
        hidden_size: units per direction.
        num_layers: stacked layers.
        bidirectional: also run right to left and concatenate.
        dropout: dropout between stacked layers (as torch.nn applies it).
        nonlinearity: ``tanh`` or ``relu``; only the Elman cell uses it.
        backend: ``fused`` (torch.nn) or ``scratch`` (this module's loops).
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        nonlinearity: str = "tanh",
        backend: str = "fused",
    ) -> None:
        super().__init__()
        check_choice("cell", cell, CELLS)
        check_choice("backend", backend, BACKENDS)
        check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        self.cell, self.backend = cell, backend
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.num_directions = 2 if bidirectional else 1
        kwargs = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=True, dropout=dropout)
        if cell == "rnn":
            kwargs["nonlinearity"] = nonlinearity
        layer_cls = (_FUSED if backend == "fused" else _SCRATCH)[cell]
        self.rnn = layer_cls(input_size, hidden_size, **kwargs)

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.num_directions

    def forward(self, x: Tensor, lengths: Tensor | None = None, hx: State | None = None) -> tuple[Tensor, State]:
        """x: (B, T, I); lengths: (B,) >= 1 or None. Returns (B, T, D*H) outputs, zero past
        each length, and the final state (L*D, B, H) (LSTM: a pair)."""
        if lengths is None:
            return self.rnn(x, hx)
        if self.backend == "scratch":
            return self.rnn(x, hx, lengths=lengths)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return out, state
