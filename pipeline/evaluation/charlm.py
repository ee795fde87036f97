"""Character language-model evaluation: bits per character on the test text, beside what
general-purpose compressors and a memoryless model achieve on the same characters.

- Model: the mean cross-entropy of each test character given everything before it in its
  row (the test text is cut into ``rows`` contiguous streams, the state carried along each),
  in bits (``/ ln 2``); perplexity per character is ``2 ** bpc``.
- bz2 and xz: the compressor's cost of the test text *given* the training text, in bits per
  test character: ``8 * (len(compress(train + test)) - len(compress(train))) / len(test)``.
  That is the compressor's counterpart of a model trained on train and scored on test.
- Unigram: every character drawn from the training text's character frequencies (add-one
  smoothed), no context at all: the floor any model with memory should beat.
"""

from __future__ import annotations

import bz2
import lzma
import math
from collections import Counter
from typing import Any

import torch
import torch.nn.functional as F

from pipeline.data.charlm import StreamWindows

LN2 = math.log(2)


@torch.inference_mode()
def model_bits_per_char(model: torch.nn.Module, ids: torch.Tensor, rows: int = 32, segment: int = 512) -> dict[str, float]:
    """Test loss of ``model`` on the id stream: {"loss" (nats), "bits_per_char", "perplexity", "characters"}."""
    model.eval()
    total, count, state = 0.0, 0, None
    for inputs, targets in StreamWindows(ids, rows, segment):
        logits, state = model(inputs, state)
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum").item()
        count += targets.numel()
    loss = total / count
    return {"loss": round(loss, 5), "bits_per_char": round(loss / LN2, 4), "perplexity": round(math.exp(loss), 4), "characters": count}


def compressor_bits_per_char(train: str, test: str) -> dict[str, float]:
    """bz2 (level 9) and xz (preset 9) bits per test character, given the training text."""
    compressors = {"bz2": lambda b: bz2.compress(b, 9), "xz": lambda b: lzma.compress(b, preset=9)}
    a, b = train.encode("utf-8"), test.encode("utf-8")
    return {name: round(8 * (len(f(a + b)) - len(f(a))) / len(test), 4) for name, f in compressors.items()}


def unigram_bits_per_char(train: str, test: str) -> float:
    """Cross-entropy of the test characters under the training text's character frequencies (add-one)."""
    counts = Counter(train)
    alphabet = set(counts) | set(test)
    total = len(train) + len(alphabet)
    test_counts = Counter(test)
    bits = -sum(n * math.log2((counts.get(c, 0) + 1) / total) for c, n in test_counts.items())
    return round(bits / len(test), 4)


def samples(generator: Any, prime: str, length: int, temperatures: list[float], top_k: int | None, seed: int) -> list[dict[str, Any]]:
    """One generated continuation of ``prime`` per temperature (same seed for each)."""
    out = []
    for temperature in temperatures:
        generation = generator.generate(prime, length, temperature, top_k, seed)
        out.append({"temperature": temperature, "top_k": top_k, "seed": seed, "prime": prime, "text": generation.text})
    return out
