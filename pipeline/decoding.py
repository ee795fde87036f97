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


@torch.inference_mode()
def greedy(step: Callable[[Tensor, Any], tuple[Tensor, Any]], state: Any, bos_id: int, eos_id: int, batch_size: int, max_length: int) -> list[list[int]]:
    """Most likely token at every step, for a batch: ``step(previous (B,), state) -> (scores (B, V), state)``.

    Each row stops at its first ``eos_id`` (not included in the output) or after ``max_length`` tokens.
    """
    previous = torch.full((batch_size,), bos_id, dtype=torch.long)
    outputs: list[list[int]] = [[] for _ in range(batch_size)]
    done = torch.zeros(batch_size, dtype=torch.bool)
    for _ in range(max_length):
        scores, state = step(previous, state)
        previous = scores.argmax(-1)
        for row in (~done).nonzero().flatten().tolist():
            if int(previous[row]) == eos_id:
                done[row] = True
            else:
                outputs[row].append(int(previous[row]))
        if bool(done.all()):
            break
    return outputs


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's length normalisation (Wu et al. 2016): ((5 + length) / 6) ** alpha; alpha 0 turns it off."""
    return ((5 + length) / 6) ** alpha


@torch.inference_mode()
def beam_search(
    step: Callable[[Tensor, Any], tuple[Tensor, Any]],
    state: Any,
    reorder: Callable[[Any, Tensor], Any],
    bos_id: int,
    eos_id: int,
    beam_width: int,
    max_length: int,
    alpha: float = 1.0,
) -> tuple[list[int], float]:
    """Beam search for one source: keep the ``beam_width`` best partial outputs by summed log
    probability. When ``eos_id`` is among the ``beam_width`` best continuations, that output
    is finished, scored by its log probability divided by ``length_penalty(length, alpha)``
    (length counts [EOS]). Stops once ``beam_width`` outputs have finished and either the
    single best continuation is [EOS] or no live beam can beat them any more, or after
    ``max_length`` tokens (the unfinished beams then count as outputs).

    ``step(previous (k,), state) -> (log-probabilities (k, V), state)``; ``reorder(state,
    rows)`` picks state rows (the beams continue from different parents). ``state`` starts
    with one row. Returns the best output (without [BOS]/[EOS]) and its normalised score.
    With beam_width 1 this is greedy decoding.
    """
    tokens = torch.full((1, 1), bos_id, dtype=torch.long)
    scores = torch.zeros(1)
    finished: list[tuple[float, list[int]]] = []
    for _ in range(max_length):
        log_probs, state = step(tokens[:, -1], state)
        vocab = log_probs.size(-1)
        candidates = (scores.unsqueeze(1) + log_probs.float()).view(-1)
        top_scores, top_index = candidates.topk(min(2 * beam_width, candidates.numel()))
        keep_rows, keep_tokens, keep_scores = [], [], []
        for rank, (score, index) in enumerate(zip(top_scores.tolist(), top_index.tolist())):
            row, token = divmod(index, vocab)
            if token == eos_id:
                if rank < beam_width:  # an end among the best beam_width continuations finishes an output
                    finished.append((score / length_penalty(tokens.size(1), alpha), tokens[row, 1:].tolist()))
            elif len(keep_rows) < beam_width:
                keep_rows.append(row)
                keep_tokens.append(token)
                keep_scores.append(score)
        finished = sorted(finished, key=lambda f: f[0], reverse=True)[:beam_width]
        if not keep_rows:
            break
        if len(finished) >= beam_width:
            if int(top_index[0]) % vocab == eos_id:  # the single best continuation ends: as greedy decoding would
                break
            if max(keep_scores) / length_penalty(tokens.size(1) + 1, alpha) <= finished[-1][0]:
                break  # the best live beam, scored as if it ended next, no longer beats the kept outputs
        rows = torch.tensor(keep_rows)
        tokens = torch.cat([tokens.index_select(0, rows), torch.tensor(keep_tokens).unsqueeze(1)], dim=1)
        scores = torch.tensor(keep_scores)
        state = reorder(state, rows)
    else:  # max_length reached: the unfinished beams are outputs too
        finished += [(s / length_penalty(tokens.size(1) - 1, alpha), tokens[i, 1:].tolist()) for i, s in enumerate(scores.tolist())]
    best_score, best = max(finished, key=lambda f: f[0])
    return best, best_score
