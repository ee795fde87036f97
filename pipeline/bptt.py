"""Backpropagation through time written by hand for the Elman RNN, and gradient-flow measurement.

The network (one layer, batch-first, the parameter names of ``torch.nn.RNN``)::

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        pre-activation
    h_t = f(a_t)                                       f = tanh or relu
    y_t = W_hy h_t + b_y                               readout (``weight_hy``, ``bias_y``)

and a loss ``L = sum_t l_t(y_t)`` over the steps that have a target (``mask``). BPTT runs the
chain rule backwards in time, with ``delta_t = dL/da_t``::

    dL/dh_t = W_hy^T dl_t/dy_t + W_hh^T delta_{t+1}     (the second term carries the past's share)
    delta_t = dL/dh_t * f'(a_t)                         tanh: 1 - h_t^2;  relu: [a_t > 0]
    dL/dW_hh = sum_t delta_t^T h_{t-1}      dL/dW_ih = sum_t delta_t^T x_t
    dL/db_hh = dL/db_ih = sum_t delta_t     dL/dW_hy = sum_t (dl_t/dy_t)^T h_t

The factor ``W_hh^T diag(f'(a_t))`` applied once per step back is why the Elman cell's
gradient vanishes (its norm below 1) or explodes (above 1) geometrically with distance:
``elman_bptt`` returns ``||dL/dh_t||`` for every t to show it.

Truncated BPTT(k1, k2) (Williams & Peng 1990): run forward; every k1 steps, backpropagate the
losses of those k1 steps through the last k2 steps only (k2 >= k1), and accumulate. k1 = k2 = T
is full BPTT; k1 = k2 = k is the split-into-windows scheme the charlm task trains with.

``gradient_flow`` measures ``||dL/dh_t||`` with autograd for every cell of ``pipeline.cells``
(Elman tanh/relu, LSTM, GRU), for the figures of the longrange task.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from pipeline.cells import _step, check_choice

PARAM_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hy", "bias_y")
LOSSES = ("mse", "cross_entropy")


def init_elman(input_size: int, hidden_size: int, output_size: int, generator: torch.Generator | None = None, dtype=torch.float64) -> dict[str, Tensor]:
    """Parameters drawn as torch.nn.RNN and nn.Linear draw theirs: U(-1/sqrt(H), 1/sqrt(H))."""
    k = 1.0 / math.sqrt(hidden_size)
    shapes = {
        "weight_ih_l0": (hidden_size, input_size),
        "weight_hh_l0": (hidden_size, hidden_size),
        "bias_ih_l0": (hidden_size,),
        "bias_hh_l0": (hidden_size,),
        "weight_hy": (output_size, hidden_size),
        "bias_y": (output_size,),
    }
    return {name: (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) * k for name, shape in shapes.items()}


def _activate(a: Tensor, nonlinearity: str) -> Tensor:
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)


def _derivative(a: Tensor, h: Tensor, nonlinearity: str) -> Tensor:
    return 1.0 - h * h if nonlinearity == "tanh" else (a > 0).to(a.dtype)


def elman_forward(params: dict[str, Tensor], x: Tensor, h0: Tensor | None = None, nonlinearity: str = "tanh") -> tuple[Tensor, Tensor, Tensor]:
    """Run the network over x (B, T, I). Returns pre-activations a (B, T, H), states h (B, T+1, H)
    with h[:, 0] = h0, and outputs y (B, T, O)."""
    check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
    batch, steps, _ = x.shape
    hidden = params["weight_hh_l0"].shape[0]
    h = torch.zeros(batch, hidden, dtype=x.dtype) if h0 is None else h0
    x_proj = x @ params["weight_ih_l0"].T + params["bias_ih_l0"] + params["bias_hh_l0"]  # every step's input part at once
    pre, states = [], [h]
    for t in range(steps):
        a = x_proj[:, t] + h @ params["weight_hh_l0"].T
        h = _activate(a, nonlinearity)
        pre.append(a)
        states.append(h)
    a_all, h_all = torch.stack(pre, 1), torch.stack(states, 1)
    return a_all, h_all, h_all[:, 1:] @ params["weight_hy"].T + params["bias_y"]


def loss_and_output_grad(y: Tensor, target: Tensor, mask: Tensor, loss: str) -> tuple[Tensor, Tensor]:
    """The summed loss over masked steps, divided by the batch size, and dL/dy (B, T, O).

    mse: target (B, T, O), l_t = ||y_t - target_t||^2 / O (torch's ``mse_loss`` of one step);
    cross_entropy: target (B, T) class ids, l_t = -log softmax(y_t)[target_t]."""
    check_choice("loss", loss, LOSSES)
    batch = y.shape[0]
    weight = mask.to(y.dtype).unsqueeze(-1) / batch
    if loss == "mse":
        diff = y - target
        return (diff.pow(2).mean(-1, keepdim=True) * weight).sum(), 2.0 * diff / y.shape[-1] * weight
    log_probs = torch.log_softmax(y, -1)
    one_hot = torch.nn.functional.one_hot(target.clamp(min=0), y.shape[-1]).to(y.dtype)
    return -(log_probs * one_hot * weight).sum(), (log_probs.exp() - one_hot) * weight


def elman_backward(
    params: dict[str, Tensor],
    x: Tensor,
    pre: Tensor,
    states: Tensor,
    grad_y: Tensor,
    nonlinearity: str = "tanh",
    start: int = 0,
    grad_h_end: Tensor | None = None,
) -> tuple[dict[str, Tensor], Tensor]:
    """BPTT over steps start..T-1 of one forward pass, from dL/dy (B, T, O).

    Stops at ``start``: the state h_{start} (states[:, start]) is treated as a constant, which is what
    truncation does. ``grad_h_end`` is a gradient arriving at the last state from later steps.
    Returns the parameter gradients and dL/dh_t (B, T+1, H) (zero before ``start``)."""
    w_hh, w_hy = params["weight_hh_l0"], params["weight_hy"]
    batch, steps, _ = x.shape
    grads = {name: torch.zeros_like(p) for name, p in params.items()}
    grad_h = torch.zeros_like(states)
    carried = torch.zeros_like(states[:, 0]) if grad_h_end is None else grad_h_end  # W_hh^T delta_{t+1}
    for t in range(steps - 1, start - 1, -1):
        h_t = states[:, t + 1]
        dh = grad_y[:, t] @ w_hy + carried
        grad_h[:, t + 1] = dh
        delta = dh * _derivative(pre[:, t], h_t, nonlinearity)
        grads["weight_hy"] += grad_y[:, t].T @ h_t
        grads["bias_y"] += grad_y[:, t].sum(0)
        grads["weight_ih_l0"] += delta.T @ x[:, t]
        grads["weight_hh_l0"] += delta.T @ states[:, t]
        grads["bias_ih_l0"] += delta.sum(0)
        carried = delta @ w_hh
    grads["bias_hh_l0"] = grads["bias_ih_l0"].clone()
    grad_h[:, start] = carried
    return grads, grad_h


def elman_bptt(
    params: dict[str, Tensor],
    x: Tensor,
    target: Tensor,
    mask: Tensor | None = None,
    loss: str = "mse",
    nonlinearity: str = "tanh",
    h0: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor], Tensor]:
    """Full BPTT: the loss, every parameter's gradient, and dL/dh_t for t = 0..T (B, T+1, H)."""
    mask = torch.ones(x.shape[:2], dtype=torch.bool) if mask is None else mask
    pre, states, y = elman_forward(params, x, h0, nonlinearity)
    value, grad_y = loss_and_output_grad(y, target, mask, loss)
    grads, grad_h = elman_backward(params, x, pre, states, grad_y, nonlinearity)
    return value, grads, grad_h


def elman_truncated_bptt(
    params: dict[str, Tensor],
    x: Tensor,
    target: Tensor,
    k1: int,
    k2: int,
    mask: Tensor | None = None,
    loss: str = "mse",
    nonlinearity: str = "tanh",
    h0: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """BPTT(k1, k2): after every k1 steps (and at the end), the losses of those steps are
    backpropagated through at most the last k2 steps. Returns the total loss and the summed
    gradients (what one optimizer step on the accumulated gradients would use)."""
    if not 1 <= k1 <= k2:
        raise ValueError(f"truncated BPTT needs 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    mask = torch.ones(x.shape[:2], dtype=torch.bool) if mask is None else mask
    pre, states, y = elman_forward(params, x, h0, nonlinearity)
    steps = x.shape[1]
    total = torch.zeros((), dtype=x.dtype)
    grads = {name: torch.zeros_like(p) for name, p in params.items()}
    for first in range(0, steps, k1):
        end = min(first + k1, steps)  # this update takes the losses of steps first..end-1
        step_mask = torch.zeros_like(mask)
        step_mask[:, first:end] = mask[:, first:end]
        value, grad_y = loss_and_output_grad(y[:, :end], target[:, :end], step_mask[:, :end], loss)
        part, _ = elman_backward(params, x[:, :end], pre[:, :end], states[:, : end + 1], grad_y, nonlinearity, start=max(0, end - k2))
        total = total + value
        for name in grads:
            grads[name] += part[name]
    return total, grads


def grad_norm(grads: dict[str, Tensor]) -> float:
    """The norm of all gradients together, as one vector."""
    return math.sqrt(sum(float(g.pow(2).sum()) for g in grads.values()))


def clip_grad_norm(grads: dict[str, Tensor], max_norm: float) -> tuple[dict[str, Tensor], float]:
    """Scale every gradient by min(1, max_norm / ||g||) with ||g|| the norm of all of them
    together (what torch.nn.utils.clip_grad_norm_ does). Returns the clipped gradients and ||g||."""
    total = grad_norm(grads)
    scale = min(1.0, max_norm / (total + 1e-6))
    return {name: g * scale for name, g in grads.items()}, total


def gradient_flow(
    layer: nn.Module,
    head: Callable[[Tensor], Tensor],
    x: Tensor,
    loss_of: Callable[[Tensor], Tensor],
) -> Tensor:
    """||dL/dh_t|| for every step t = 1..T, averaged over the batch, with autograd.

    ``layer`` is a one-layer torch.nn.RNN/LSTM/GRU, a pipeline.cells Scratch* layer or a
    ``Recurrent`` holding one (batch-first, unidirectional); its weights are stepped through pipeline.cells' step functions so that each
    h_t is a node of the graph whose gradient can be read. ``head`` maps the outputs (B, T, H) to
    predictions and ``loss_of`` the predictions to a scalar loss."""
    layer = layer.rnn if hasattr(layer, "rnn") else layer  # a pipeline.cells.Recurrent: its layer
    mode = {"RNN_TANH": "rnn", "RNN_RELU": "rnn", "LSTM": "lstm", "GRU": "gru"}.get(layer.mode, layer.mode)
    nonlinearity = getattr(layer, "nonlinearity", "tanh")
    if layer.num_layers != 1 or layer.bidirectional:
        raise ValueError("gradient_flow measures one unidirectional layer")
    w_ih, w_hh = layer.weight_ih_l0, layer.weight_hh_l0
    b_ih, b_hh = getattr(layer, "bias_ih_l0", None), getattr(layer, "bias_hh_l0", None)
    x_proj = x @ w_ih.T + (b_ih if b_ih is not None else 0)
    batch, hidden = x.shape[0], w_hh.shape[1]
    zeros = x.new_zeros(batch, hidden)
    state = (zeros, zeros) if mode == "lstm" else zeros
    outputs = []
    for t in range(x.shape[1]):
        state = _step(mode, x_proj[:, t], state, w_hh, b_hh, nonlinearity)
        h = state[0] if mode == "lstm" else state
        h.retain_grad()
        outputs.append(h)
    loss = loss_of(head(torch.stack(outputs, 1)))
    loss.backward()
    return torch.stack([h.grad.norm(dim=-1).mean() for h in outputs]).detach()


def sgd_train(
    params: dict[str, Tensor],
    batches: Callable[[], tuple[Tensor, Tensor, Tensor]],
    steps: int,
    lr: float,
    clip: float | None = None,
    loss: str = "mse",
    nonlinearity: str = "tanh",
) -> dict[str, list[float]]:
    """Plain SGD on the Elman network with the hand-written BPTT, optionally clipping the gradient
    norm to ``clip``. ``batches()`` gives (x, target, mask). Stops early once the loss or the
    gradient is no longer finite (what an exploding gradient does to an unclipped run).

    Returns {"loss": [...], "grad_norm": [...]} per step, the norm measured before clipping."""
    params = {name: p.clone() for name, p in params.items()}
    history: dict[str, list[float]] = {"loss": [], "grad_norm": []}
    for _ in range(steps):
        x, target, mask = batches()
        value, grads, _ = elman_bptt(params, x, target, mask, loss, nonlinearity)
        norm = grad_norm(grads)
        if clip is not None:
            grads, _ = clip_grad_norm(grads, clip)
        history["loss"].append(float(value))
        history["grad_norm"].append(norm)
        if not (math.isfinite(float(value)) and math.isfinite(norm)):
            break
        for name in params:
            params[name] = params[name] - lr * grads[name]
    return history
