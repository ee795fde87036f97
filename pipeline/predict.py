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


@dataclass(frozen=True)
class Translation:
    text: str
    translation: str
    source_tokens: list[str]
    target_tokens: list[str]
    attention: list[list[float]] | None  # (target tokens + [EOS]) x source tokens, greedy decoding only


class Translator:
    """A trained translation model with its two vocabularies, in eval mode."""

    def __init__(self, model, source_tokenizer, target_tokenizer) -> None:
        self.model, self.source_tokenizer, self.target_tokenizer = model.eval(), source_tokenizer, target_tokenizer

    @classmethod
    def from_dir(cls, model_dir: Path) -> Translator:
        """Load model.pt, source_tokenizer.json and target_tokenizer.json as the train stage writes them."""
        from pipeline.models.translate import Seq2Seq

        payload = load_checkpoint(model_dir / "model.pt", "translate")
        model = Seq2Seq(**payload["model_args"])
        try:
            model.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise ValueError(f"{model_dir / 'model.pt'}: weights do not fit the saved model arguments ({exc})") from None
        return cls(model, load_tokenizer(model_dir / "source_tokenizer.json"), load_tokenizer(model_dir / "target_tokenizer.json"))

    @torch.inference_mode()
    def translate(self, texts: Sequence[str], beam_width: int = 1, alpha: float = 1.0, max_length: int = 60) -> list[Translation]:
        """Translate each text: greedy decoding (beam_width 1, with the attention weights) or beam search."""
        from pipeline.data.translate import BOS_ID, EOS_ID
        from pipeline.decoding import beam_search, greedy
        from pipeline.models.translate import select_state

        if isinstance(texts, str):
            texts = [texts]
        if beam_width < 1:
            raise ValueError(f"beam width must be at least 1, got {beam_width}")
        results = []
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f'text {i + 1} is empty: give a sentence to translate, for example "four hundred and twenty-one"')
            encoding = self.source_tokenizer.encode(text)
            source = torch.tensor([encoding.ids])
            memory, state = self.model.encode(source, torch.tensor([len(encoding.ids)]))
            weights: list[list[float]] = []
            if beam_width == 1:

                def greedy_step(previous, state, memory=memory, weights=weights):
                    logits, state, w = self.model.step(previous, state, memory)
                    if w is not None:
                        weights.append(w[0].tolist())
                    return logits, state

                output = greedy(greedy_step, state, BOS_ID, EOS_ID, 1, max_length)[0]
            else:

                def beam_step(previous, state, memory=memory):
                    rows = previous.size(0)  # the beams all read the one source
                    logits, state, _ = self.model.step(previous, state, memory if rows == 1 else memory.select(torch.zeros(rows, dtype=torch.long)))
                    return torch.log_softmax(logits, dim=-1), state

                output, _ = beam_search(beam_step, state, select_state, BOS_ID, EOS_ID, beam_width, max_length, alpha)
            target_tokens = [self.target_tokenizer.id_to_token(t) for t in output]
            results.append(
                Translation(text, self.target_tokenizer.decode(output), encoding.tokens, target_tokens, weights if beam_width == 1 and weights else None)
            )
        return results
