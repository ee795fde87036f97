"""The cells written from the equations against torch.nn: outputs, final states and
gradients within 1e-5, for every cell, 1-2 layers, one or two directions, variable lengths."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from pipeline.cells import ElmanCell, GRUCell, LSTMCell, Recurrent, ScratchGRU, ScratchLSTM, ScratchRNN

LAYERS = {
    "rnn_tanh": (nn.RNN, ScratchRNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNN, ScratchRNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, ScratchLSTM, {}),
    "gru": (nn.GRU, ScratchGRU, {}),
}


def _states(state):
    return state if isinstance(state, tuple) else (state,)


def _max_diff(a, b) -> float:
    return max(float((x - y).detach().abs().max()) for x, y in zip(a, b))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_scratch_layer_matches_torch(kind, num_layers, bidirectional, dtype):
    torch.manual_seed(0)
    fused_cls, scratch_cls, extra = LAYERS[kind]
    fused = fused_cls(5, 6, num_layers=num_layers, bidirectional=bidirectional, batch_first=True, **extra).to(dtype)
    scratch = scratch_cls(5, 6, num_layers=num_layers, bidirectional=bidirectional, batch_first=True, **extra).to(dtype)
    assert [n for n, _ in scratch.named_parameters()] == [n for n, _ in fused.named_parameters()]
    scratch.load_state_dict(fused.state_dict())

    x = torch.randn(4, 7, 5, dtype=dtype)
    lengths = torch.tensor([7, 2, 5, 1])
    x_f, x_s = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_f, state_f = fused(pack_padded_sequence(x_f, lengths, batch_first=True, enforce_sorted=False))
    out_f, _ = pad_packed_sequence(out_f, batch_first=True)
    out_s, state_s = scratch(x_s, lengths=lengths)

    assert out_s.shape == out_f.shape == (4, 7, 6 * (2 if bidirectional else 1))
    assert _max_diff([out_s], [out_f]) < 1e-5
    assert _max_diff(_states(state_s), _states(state_f)) < 1e-5
    assert float(out_s[1, 2:].detach().abs().max()) == 0.0  # nothing past a sequence's length

    weights = torch.randn_like(out_f)  # a loss that touches every output and the final states
    loss_f = (out_f * weights).sum() + sum(s.sum() for s in _states(state_f))
    loss_s = (out_s * weights).sum() + sum(s.sum() for s in _states(state_s))
    loss_f.backward()
    loss_s.backward()
    assert _max_diff([x_s.grad], [x_f.grad]) < 1e-5
    grads_f = dict(fused.named_parameters())
    for name, param in scratch.named_parameters():
        assert torch.allclose(param.grad, grads_f[name].grad, atol=1e-5, rtol=0), name


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_state_dict_loads_both_ways_and_initial_state(kind):
    torch.manual_seed(1)
    fused_cls, scratch_cls, extra = LAYERS[kind]
    scratch = scratch_cls(3, 4, num_layers=2, bidirectional=True, **extra).double()  # seq-first, like torch's default
    fused = fused_cls(3, 4, num_layers=2, bidirectional=True, **extra).double()
    fused.load_state_dict(scratch.state_dict())
    x = torch.randn(6, 2, 3, dtype=torch.float64)  # (T, B, I)
    h0 = torch.randn(4, 2, 4, dtype=torch.float64)
    hx = (h0, torch.randn_like(h0)) if kind == "lstm" else h0
    out_s, state_s = scratch(x, hx)
    out_f, state_f = fused(x, hx)
    assert _max_diff([out_s], [out_f]) < 1e-10
    assert _max_diff(_states(state_s), _states(state_f)) < 1e-10


@pytest.mark.parametrize(
    ("ours", "theirs", "kwargs"), [(ElmanCell, nn.RNNCell, {"nonlinearity": "relu"}), (LSTMCell, nn.LSTMCell, {}), (GRUCell, nn.GRUCell, {})]
)
def test_single_cells_match_torch(ours, theirs, kwargs):
    torch.manual_seed(2)
    ref = theirs(5, 3, **kwargs).double()
    cell = ours(5, 3, **kwargs).double()
    cell.load_state_dict(ref.state_dict())
    x = torch.randn(4, 5, dtype=torch.float64)
    h = torch.randn(4, 3, dtype=torch.float64)
    state = (h, torch.randn_like(h)) if ours is LSTMCell else h
    assert _max_diff(_states(cell(x, state)), _states(ref(x, state))) < 1e-12


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recurrent_backends_agree_and_share_checkpoints(cell):
    torch.manual_seed(3)
    fused = Recurrent(cell, 4, 5, num_layers=2, bidirectional=True, backend="fused")
    scratch = Recurrent(cell, 4, 5, num_layers=2, bidirectional=True, backend="scratch")
    scratch.load_state_dict(fused.state_dict())  # same keys: rnn.weight_ih_l0, ...
    x, lengths = torch.randn(3, 6, 4), torch.tensor([6, 3, 1])
    out_f, state_f = fused(x, lengths)
    out_s, state_s = scratch(x, lengths)
    assert out_f.shape == (3, 6, 10)
    assert _max_diff([out_s], [out_f]) < 1e-5
    assert _max_diff(_states(state_s), _states(state_f)) < 1e-5


def test_unknown_choices_name_the_valid_ones():
    with pytest.raises(ValueError, match="unknown cell 'transformer': choose one of rnn, lstm, gru"):
        Recurrent("transformer", 3, 3)
    with pytest.raises(ValueError, match="unknown backend 'cuda'"):
        Recurrent("lstm", 3, 3, backend="cuda")
    with pytest.raises(ValueError, match="unknown nonlinearity 'sigmoid'"):
        ScratchRNN(3, 3, nonlinearity="sigmoid")
