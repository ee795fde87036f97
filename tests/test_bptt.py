"""Hand-written BPTT (pipeline/bptt.py) against autograd, in float64, for random sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pipeline import bptt
from pipeline.cells import Recurrent


def _problem(seed: int, loss: str, nonlinearity: str = "tanh"):
    g = torch.Generator().manual_seed(seed)
    batch, steps, inputs, hidden, outputs = (int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in ((1, 5), (2, 13), (1, 6), (2, 9), (1, 5)))
    params = bptt.init_elman(inputs, hidden, outputs, generator=g)
    x = torch.randn(batch, steps, inputs, generator=g, dtype=torch.float64)
    mask = torch.rand(batch, steps, generator=g) < 0.6
    mask[:, -1] = True
    if loss == "mse":
        target = torch.randn(batch, steps, outputs, generator=g, dtype=torch.float64)
    else:
        target = torch.randint(0, outputs, (batch, steps), generator=g)
    if nonlinearity == "relu":  # keep pre-activations away from the kink at 0
        params["bias_ih_l0"] += 0.3
    return params, x, target, mask


def _autograd_loss(params, x, target, mask, loss, nonlinearity, h0=None, start=0, end=None):
    """The same network with torch.nn.RNN + autograd; losses of steps start..end-1 only."""
    inputs, hidden = params["weight_ih_l0"].shape[1], params["weight_hh_l0"].shape[0]
    rnn = nn.RNN(inputs, hidden, nonlinearity=nonlinearity, batch_first=True, dtype=torch.float64)
    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    out, _ = torch.func.functional_call(rnn, {k: v for k, v in leaves.items() if k.endswith("l0")}, (x, h0))
    y = out @ leaves["weight_hy"].T + leaves["bias_y"]
    end = x.shape[1] if end is None else end
    window = torch.zeros_like(mask)
    window[:, start:end] = mask[:, start:end]
    if loss == "mse":
        per_step = (y - target).pow(2).mean(-1)
    else:
        per_step = nn.functional.cross_entropy(y.transpose(1, 2), target, reduction="none")
    return (per_step * window).sum() / x.shape[0], leaves


@pytest.mark.parametrize("loss", bptt.LOSSES)
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("seed", range(4))
def test_full_bptt_equals_autograd(seed, loss, nonlinearity):
    params, x, target, mask = _problem(seed, loss, nonlinearity)
    value, grads, grad_h = bptt.elman_bptt(params, x, target, mask, loss, nonlinearity)
    reference, leaves = _autograd_loss(params, x, target, mask, loss, nonlinearity)
    reference.backward()
    assert abs(float(value) - float(reference.detach())) < 1e-10
    for name in bptt.PARAM_NAMES:
        torch.testing.assert_close(grads[name], leaves[name].grad, atol=1e-6, rtol=0)
    assert grad_h.shape == (x.shape[0], x.shape[1] + 1, params["weight_hh_l0"].shape[0])


def test_grad_of_initial_state_equals_autograd():
    params, x, target, mask = _problem(7, "mse")
    h0 = torch.randn(x.shape[0], params["weight_hh_l0"].shape[0], dtype=torch.float64, requires_grad=True)
    _, _, grad_h = bptt.elman_bptt(params, x, target, mask, "mse", h0=h0.detach())
    reference, _ = _autograd_loss(params, x, target, mask, "mse", "tanh", h0=h0.unsqueeze(0))
    reference.backward()
    torch.testing.assert_close(grad_h[:, 0], h0.grad, atol=1e-6, rtol=0)


def _autograd_truncated(params, x, target, mask, loss, k1, k2):
    """BPTT(k1, k2) by autograd: for each block of k1 losses, rerun the last k2 steps from a
    detached state and backpropagate; gradients accumulate over the blocks."""
    total, summed = 0.0, {name: torch.zeros_like(p) for name, p in params.items()}
    steps = x.shape[1]
    inputs, hidden = params["weight_ih_l0"].shape[1], params["weight_hh_l0"].shape[0]
    rnn = nn.RNN(inputs, hidden, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        states, _ = torch.func.functional_call(rnn, {k: v for k, v in params.items() if k.endswith("l0")}, (x,))
    for first in range(0, steps, k1):
        end = min(first + k1, steps)
        begin = max(0, end - k2)
        h0 = None if begin == 0 else states[:, begin - 1].unsqueeze(0).clone()  # a constant: the truncation
        value, leaves = _autograd_loss(params, x[:, begin:end], target[:, begin:end], mask[:, begin:end], loss, "tanh", h0=h0, start=first - begin)
        value.backward()
        total += float(value.detach())
        for name in summed:
            summed[name] += leaves[name].grad
    return total, summed


@pytest.mark.parametrize("loss", bptt.LOSSES)
@pytest.mark.parametrize(("k1", "k2"), [(1, 1), (2, 3), (3, 3), (2, 5), (4, 100)])
def test_truncated_bptt_equals_autograd(k1, k2, loss):
    for seed in range(3):
        params, x, target, mask = _problem(10 + seed, loss)
        value, grads = bptt.elman_truncated_bptt(params, x, target, k1, k2, mask, loss)
        reference, reference_grads = _autograd_truncated(params, x, target, mask, loss, k1, k2)
        assert abs(float(value) - reference) < 1e-10
        for name in bptt.PARAM_NAMES:
            torch.testing.assert_close(grads[name], reference_grads[name], atol=1e-6, rtol=0)


def test_truncation_to_the_whole_sequence_is_full_bptt():
    params, x, target, mask = _problem(3, "mse")
    _, full, _ = bptt.elman_bptt(params, x, target, mask)
    steps = x.shape[1]
    _, truncated = bptt.elman_truncated_bptt(params, x, target, steps, steps, mask)
    for name in bptt.PARAM_NAMES:
        torch.testing.assert_close(truncated[name], full[name], atol=1e-12, rtol=0)


def test_truncated_bptt_rejects_k1_above_k2():
    params, x, target, mask = _problem(0, "mse")
    with pytest.raises(ValueError, match="k1 <= k2"):
        bptt.elman_truncated_bptt(params, x, target, 3, 2, mask)


def test_clip_grad_norm_equals_torch():
    params, x, target, mask = _problem(5, "mse")
    _, grads, _ = bptt.elman_bptt(params, x, target, mask)
    clipped, norm = bptt.clip_grad_norm(grads, 0.01)
    holders = [nn.Parameter(torch.zeros_like(g)) for g in grads.values()]
    for holder, g in zip(holders, grads.values()):
        holder.grad = g.clone()
    reference = torch.nn.utils.clip_grad_norm_(holders, 0.01)
    assert norm > 0.01 and abs(norm - float(reference)) < 1e-9
    for got, holder in zip(clipped.values(), holders):
        torch.testing.assert_close(got, holder.grad, atol=1e-12, rtol=0)
    unchanged, _ = bptt.clip_grad_norm(grads, 1e9)
    torch.testing.assert_close(unchanged["weight_hh_l0"], grads["weight_hh_l0"])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("backend", ["fused", "scratch"])
def test_gradient_flow_matches_the_hand_bptt_and_autograd(cell, backend):
    torch.manual_seed(0)
    layer = Recurrent(cell, 3, 6, backend=backend).double()
    head = nn.Linear(6, 1).double()
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    target = torch.randn(4, 1, dtype=torch.float64)
    loss_of = lambda y: nn.functional.mse_loss(y[:, -1], target)
    flow = bptt.gradient_flow(layer, head, x, loss_of)
    assert flow.shape == (9,)
    # The last state's gradient is the head's weight times dL/dy, for every cell.
    y = head(layer(x)[0])[:, -1].detach()
    expected = (2 * (y - target) / 4 * head.weight.detach()).norm(dim=-1).mean()
    assert abs(float(flow[-1] - expected)) < 1e-10
    if cell == "rnn":  # every step against the hand-written BPTT
        params = {name: p.detach() for name, p in layer.rnn.named_parameters()}
        params.update(weight_hy=head.weight.detach(), bias_y=head.bias.detach())
        mask = torch.zeros(4, 9, dtype=torch.bool)
        mask[:, -1] = True
        full_target = target.unsqueeze(1).expand(4, 9, 1)
        _, _, grad_h = bptt.elman_bptt(params, x, full_target, mask)
        torch.testing.assert_close(flow, grad_h[:, 1:].norm(dim=-1).mean(0), atol=1e-10, rtol=0)


def test_elman_gradient_vanishes_where_an_open_forget_gate_keeps_it():
    """The lecture's claim over 100 steps: the tanh Elman cell's dL/dh_t shrinks geometrically
    going back; an LSTM whose forget gate is open (bias 4: f ~ 0.98) carries it. (At torch's
    initialisation the LSTM's forget gate is ~0.5 and its gradient vanishes too: training opens it.)"""
    torch.manual_seed(0)
    x = torch.randn(16, 100, 2)
    rnn, lstm, head = Recurrent("rnn", 2, 64), Recurrent("lstm", 2, 64), nn.Linear(64, 1)
    with torch.no_grad():
        lstm.rnn.bias_hh_l0[64:128] += 4.0  # gate order i, f, g, o
    loss_of = lambda y: y[:, -1].pow(2).mean()
    rnn_flow, lstm_flow = bptt.gradient_flow(rnn, head, x, loss_of), bptt.gradient_flow(lstm, head, x, loss_of)
    assert float(rnn_flow[0] / rnn_flow[-1]) < 1e-8
    assert float(lstm_flow[0] / lstm_flow[-1]) > 1e-3
