"""Using a trained model: load it from its folder and classify text (torch + tokenizers only).

This is the CLI's prediction path, and the MLflow model's, so it imports neither Lightning
nor MLflow: ``rnnlab predict`` starts in about as long as ``import torch`` takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pipeline.data.tokenize import load_tokenizer, pad_batch
from pipeline.models.checkpoint import load_checkpoint
from pipeline.models.sentiment import SentimentClassifier


@dataclass(frozen=True)
class Prediction:
    text: str
    label: str
    probability: float  # of the predicted label
    probabilities: dict[str, float]


class SentimentPredictor:
    """A trained sentiment model with its vocabulary, in eval mode."""

    def __init__(self, model: SentimentClassifier, tokenizer, classes: list[str]) -> None:
        self.model, self.tokenizer, self.classes = model.eval(), tokenizer, classes

    @classmethod
    def from_files(cls, checkpoint: Path, tokenizer: Path) -> SentimentPredictor:
        payload = load_checkpoint(checkpoint, "sentiment")
        model = SentimentClassifier(**payload["model_args"])
        try:
            model.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise ValueError(f"{checkpoint}: weights do not fit the saved model arguments ({exc})") from None
        return cls(model, load_tokenizer(tokenizer), payload["extra"]["classes"])

    @classmethod
    def from_dir(cls, model_dir: Path) -> SentimentPredictor:
        """Load model.pt and tokenizer.json as the train stage writes them."""
        return cls.from_files(model_dir / "model.pt", model_dir / "tokenizer.json")

    @torch.inference_mode()
    def probabilities_from_ids(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        """Class probabilities (B, C) for already tokenized texts."""
        padded, lengths = pad_batch(batch)
        return torch.softmax(self.model(padded, lengths), dim=-1).numpy()

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Classify each text; an empty or blank text is an error (there is nothing to classify)."""
        if isinstance(texts, str):
            texts = [texts]
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f'text {i + 1} is empty: give a sentence to classify, for example "A wonderful, moving film."')
        ids = [enc.ids for enc in self.tokenizer.encode_batch(list(texts))]
        if any(not x for x in ids):
            raise ValueError("a text has no tokens after normalisation: give a sentence with words in it")
        probs = self.probabilities_from_ids(ids)
        out = []
        for text, p in zip(texts, probs):
            k = int(p.argmax())
            out.append(Prediction(text, self.classes[k], float(p[k]), {c: float(v) for c, v in zip(self.classes, p)}))
        return out


@dataclass(frozen=True)
class Generation:
    prime: str
    text: str  # the generated characters (the prime not repeated)
    unknown: str  # characters of the prime outside the vocabulary, read as <unk>


class CharGenerator:
    """A trained character language model with its vocabulary, in eval mode.

    Unknown-character rule (see ``pipeline.data.charlm``): a prime character outside the
    vocabulary is read as ``<unk>``, the id the model learned for rare characters, and
    reported in ``Generation.unknown``; ``<unk>`` itself is never generated. An empty prime
    starts the text as at the beginning of a line (the model reads one newline first).
    """

    def __init__(self, model, tokenizer, unk_id: int) -> None:
        self.model, self.tokenizer, self.unk_id = model.eval(), tokenizer, unk_id
        self.vocab = tokenizer.get_vocab()

    @classmethod
    def from_files(cls, checkpoint: Path, tokenizer: Path) -> CharGenerator:
        from pipeline.models.charlm import CharLM

        payload = load_checkpoint(checkpoint, "charlm")
        model = CharLM(**payload["model_args"])
        try:
            model.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise ValueError(f"{checkpoint}: weights do not fit the saved model arguments ({exc})") from None
        return cls(model, load_tokenizer(tokenizer), payload["extra"].get("unk_id", 0))

    @classmethod
    def from_dir(cls, model_dir: Path) -> CharGenerator:
        """Load model.pt and tokenizer.json as the train stage writes them."""
        return cls.from_files(model_dir / "model.pt", model_dir / "tokenizer.json")

    def encode_prime(self, prime: str) -> tuple[list[int], str]:
        """The prime's ids (``<unk>`` for unknown characters) and the unknown characters, in order of appearance."""
        if not isinstance(prime, str):
            raise ValueError(f"the prime must be text, got {type(prime).__name__}")
        ids = self.tokenizer.encode(prime or "\n").ids
        unknown = "".join(dict.fromkeys(c for c in prime if c not in self.vocab))
        return ids, unknown

    def generate(self, prime: str, length: int, temperature: float = 0.8, top_k: int | None = None, seed: int = 0) -> Generation:
        """Continue ``prime`` by ``length`` characters; the same seed gives the same text."""
        from pipeline.decoding import generate

        if length < 1:
            raise ValueError(f"length must be at least 1 character, got {length}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0: always the most likely character), got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top-k must be at least 1, got {top_k}")
        ids, unknown = self.encode_prime(prime)
        out = generate(self.model, ids, length, temperature, top_k, seed, banned=[self.unk_id])
        return Generation(prime, self.tokenizer.decode(out), unknown)
