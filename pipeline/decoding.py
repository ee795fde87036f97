"""Decoding: turning a model's next-token distribution into a sequence.

Shared by the tasks that generate (charlm now; translate and caption reuse it). A model
is seen through one function, ``step(ids, state) -> (logits, state)``: ids (B, T) in,
logits (B, T, V) for the token after each position, and the recurrent state to continue
from. Nothing here knows about characters or words.

- ``sample_next``: one token per row from the logits, with a temperature (0: the most
  likely token, argmax) and an optional top-k cut, drawn with a seeded ``torch.Generator``.
- ``generate``: feed a prime, then sample ``length`` tokens one at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

Step = Callable[[Tensor, Any], tuple[Tensor, Any]]


def sample_next(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, generator: torch.Generator | None = None, banned: Sequence[int] = ()
) -> Tensor:
    """Draw one token id per row of ``logits`` (B, V).

    temperature: divides the logits before the softmax; < 1 sharpens, > 1 flattens, 0 takes
        the argmax (no randomness).
    top_k: keep only the k most likely tokens before drawing.
    banned: ids that are never produced (for example ``<unk>`` or padding).
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    logits = logits.detach().float().clone()
    if banned:
        logits[:, list(banned)] = float("-inf")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


@torch.inference_mode()
def generate(
    step: Step,
    prime: Sequence[int],
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    banned: Sequence[int] = (),
) -> list[int]:
    """Read ``prime`` (at least one id), then sample ``length`` ids, each fed back as the next input.

    The same seed, prime and settings give the same ids (a private generator is used, not
    torch's global one).
    """
    if not prime:
        raise ValueError("the prime must hold at least one token")
    generator = torch.Generator().manual_seed(seed)
    logits, state = step(torch.tensor([list(prime)], dtype=torch.long), None)
    out: list[int] = []
    for _ in range(length):
        token = sample_next(logits[:, -1], temperature, top_k, generator, banned)
        out.append(int(token))
        logits, state = step(token.view(1, 1), state)
    return out
