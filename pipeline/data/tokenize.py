"""Vocabularies with Hugging Face ``tokenizers`` (word level now; the character level joins it).

A vocabulary is fitted on the training split only, saved as one JSON file beside the
prepared data set, and loaded back by training, evaluation and prediction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from pipeline.data import DataError

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1  # the special tokens come first, in this order


def train_word_tokenizer(texts: Iterable[str], min_frequency: int, max_vocab: int, lowercase: bool, max_length: int) -> Tokenizer:
    """Word-level vocabulary: Unicode-normalised (NFKC), optionally lower-cased words and
    punctuation runs (``\\w+|[^\\w\\s]+``); words seen fewer than min_frequency times map to [UNK]."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(vocab_size=max_vocab, min_frequency=min_frequency, special_tokens=[PAD, UNK], show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.enable_truncation(max_length)
    assert tokenizer.token_to_id(PAD) == PAD_ID and tokenizer.token_to_id(UNK) == UNK_ID
    return tokenizer


def load_tokenizer(path: Path) -> Tokenizer:
    """Load a vocabulary saved by ``Tokenizer.save``, with a clear error when it is missing or broken."""
    if not path.is_file():
        raise DataError(f"vocabulary file not found: {path}")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on malformed JSON
        raise DataError(f"{path} is not a valid tokenizer file ({exc}); re-run the prepare stage") from None


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists into (B, T) int64 ids and (B,) lengths (an empty list counts as
    one pad step, so every length is >= 1 as packing requires)."""
    lengths = torch.tensor([max(len(ids), 1) for ids in sequences])
    padded = torch.full((len(sequences), int(lengths.max())), pad_id, dtype=torch.long)
    for i, ids in enumerate(sequences):
        padded[i, : len(ids)] = torch.as_tensor(list(ids), dtype=torch.long)
    return padded, lengths
