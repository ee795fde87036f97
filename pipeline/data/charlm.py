"""Character-level language-model data: one long text, cut into train/val/test.

Sources (``prepare.charlm.source`` in params.yaml):

- ``vader`` (default, offline once fetched): the ~24,000 human-written English sentences of
  the vaderSentiment source distribution (movie reviews, Amazon reviews, tweets, newspaper
  editorials; ~2.4 million characters), one sentence a line.
- ``local``: a ``.txt`` file, read whole as UTF-8 (a novel, a play, Tiny Shakespeare), or a
  csv/tsv/json/jsonl/parquet file whose ``text_column`` rows become lines.
- ``hub``: a Hugging Face hub data set id; its ``text_column`` rows become lines.

The text is a list of lines (``\\r\\n`` read as ``\\n``). With ``shuffle_lines`` (the default,
right for independent sentences) the lines are shuffled with a generator seeded from params;
running text keeps its order (``shuffle_lines: false``). Then the lines are cut
contiguously, at line boundaries, into train / val / test (the test text is the last
``test_fraction`` of the characters), each line ending in ``\\n``.

Unknown-character rule: the vocabulary holds every character seen at least
``min_char_count`` times in the training text, plus ``<unk>`` (id 0). Rarer characters, and
characters that never occur in training, are read as ``<unk>`` everywhere (training,
evaluation, a generation prime), so the model learns how likely "some rare character" is
instead of never having seen one; ``<unk>`` is never generated. meta.json lists the
characters that became ``<unk>`` and how often ``<unk>`` occurs in each split.

Output folder (``pipeline.data.store.save_prepared``): ``dataset/`` (a DatasetDict with one
``text`` row per line in each split), ``tokenizer.json`` (a character-level Hugging Face
tokenizer) and ``meta.json``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

from pipeline.config import CharLMPrepareParams
from pipeline.data import DataError
from pipeline.data.store import load_table
from pipeline.data.vader import CORPORA, read_snippets

UNK = "<unk>"
UNK_ID = 0
TEXT_SUFFIXES = (".txt", ".text", ".md")
VADER_DESCRIPTION = "the sentences of the vaderSentiment 3.3.2 source distribution (movie reviews, Amazon reviews, tweets, NYT editorials)"


def char_tokenizer(chars: Iterable[str]) -> Tokenizer:
    """A Hugging Face tokenizer with one token per character (whitespace and newlines included);
    characters outside ``chars`` encode as ``<unk>`` (id 0); decoding concatenates."""
    vocab = {UNK: UNK_ID}
    for char in chars:
        vocab.setdefault(char, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every character alone
    tokenizer.decoder = decoders.Fuse()
    return tokenizer


def encode(tokenizer: Tokenizer, text: str) -> torch.Tensor:
    """The int64 ids of every character of ``text`` (one id per character)."""
    return torch.tensor(tokenizer.encode(text).ids, dtype=torch.long)


def split_text(dataset: Any, split: str) -> str:
    """A split's text: its lines, each ended by a newline."""
    return "".join(line + "\n" for line in dataset[split]["text"])


def _read_lines(cfg: CharLMPrepareParams, raw_sdist: Path | None) -> tuple[list[str], str]:
    if cfg.source == "vader":
        if raw_sdist is None:
            raise DataError("source 'vader' needs the vaderSentiment source distribution (stages/prepare.py --raw)")
        return [s.text for s in read_snippets(raw_sdist, CORPORA)], VADER_DESCRIPTION
    if cfg.source == "local" and Path(cfg.path).suffix.lower() in TEXT_SUFFIXES:
        path = Path(cfg.path)
        if not path.is_file():
            raise DataError(f"text file not found: {path} (set prepare.charlm.path to an existing file)")
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise DataError(f"{path} line {line}: not UTF-8 ({exc.reason} at byte {exc.start}); convert it, e.g. `iconv -f latin1 -t utf-8`") from None
        return text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), str(path)
    table = load_table(cfg.source, cfg.path, cfg.hub_config, cfg.hub_split, "prepare.charlm.path")
    if cfg.text_column not in table.column_names:
        raise DataError(f"{cfg.path} has no column {cfg.text_column!r}; its columns are {table.column_names}. Set prepare.charlm.text_column.")
    lines = []
    for number, value in enumerate(table[cfg.text_column], start=1):
        if value is not None and not isinstance(value, str):
            raise DataError(f"{cfg.path} row {number}: column {cfg.text_column!r} holds {type(value).__name__}, not text")
        lines += (value or "").replace("\r\n", "\n").split("\n")
    return lines, cfg.path


def _cut(lines: list[str], val_fraction: float, test_fraction: float) -> dict[str, list[str]]:
    """Cut lines contiguously into train/val/test by character count, at line boundaries."""
    ends = np.cumsum([len(line) + 1 for line in lines])
    total = int(ends[-1]) if len(ends) else 0
    train_end = int(np.searchsorted(ends, total * (1 - val_fraction - test_fraction))) + 1
    val_end = int(np.searchsorted(ends, total * (1 - test_fraction))) + 1
    parts = {"train": lines[:train_end], "val": lines[train_end:val_end], "test": lines[val_end:]}
    if min(len(p) for p in parts.values()) == 0:
        raise DataError(
            f"{len(lines)} lines ({total} characters) are too few to cut into train/val/test with fractions {val_fraction}/{test_fraction}: "
            "give more text (the cuts fall at line ends)"
        )
    return parts


def build(cfg: CharLMPrepareParams, seed: int, raw_sdist: Path | None) -> tuple[Any, Tokenizer, dict]:
    """Read, order and cut the text, fit the character vocabulary on train; return (DatasetDict, tokenizer, meta)."""
    import datasets

    lines, where = _read_lines(cfg, raw_sdist)
    while lines and not lines[-1]:
        lines.pop()  # a final newline is not an empty last line
    if not "".join(lines).strip():
        raise DataError(f"{where}: no text to train on")
    if cfg.shuffle_lines:
        lines = [lines[i] for i in np.random.default_rng(seed).permutation(len(lines))]
    parts = _cut(lines, cfg.val_fraction, cfg.test_fraction)

    counts = Counter("".join(line + "\n" for line in parts["train"]))
    kept = sorted(c for c, n in counts.items() if n >= cfg.min_char_count)
    rare = sorted(c for c, n in counts.items() if n < cfg.min_char_count)
    tokenizer = char_tokenizer(kept)
    known = set(kept)
    stats = {}
    for split, split_lines in parts.items():
        text = "".join(line + "\n" for line in split_lines)
        unknown = Counter(c for c in text if c not in known)
        stats[split] = {
            "lines": len(split_lines),
            "characters": len(text),
            "unk": sum(unknown.values()),
            "unk_fraction": round(sum(unknown.values()) / max(len(text), 1), 6),
        }
    dataset = datasets.DatasetDict({split: datasets.Dataset.from_dict({"text": split_lines}) for split, split_lines in parts.items()})
    meta = {
        "task": "charlm",
        "source": cfg.source,
        "path": where,
        "shuffle_lines": cfg.shuffle_lines,
        "vocab_size": tokenizer.get_vocab_size(),
        "unk_id": UNK_ID,
        "min_char_count": cfg.min_char_count,
        "rare_characters": "".join(rare),  # in train fewer than min_char_count times: read as <unk>
        "characters": sum(s["characters"] for s in stats.values()),
        "splits": stats,
        "seed": seed,
    }
    return dataset, tokenizer, meta


class StreamWindows(torch.utils.data.Dataset):
    """A token stream cut into ``rows`` parallel streams and served in consecutive column
    segments: item i is (inputs, targets), each (rows, <= segment), targets shifted by one.

    Row r holds the r-th contiguous piece of the stream, so item i+1 continues item i row by
    row: a recurrent state carried from one item to the next keeps reading the same text
    (the truncated-BPTT set-up of char-rnn). Iterate in order (no shuffling).
    """

    def __init__(self, ids: torch.Tensor, rows: int, segment: int) -> None:
        columns = (len(ids) - 1) // rows
        if columns < 1:
            raise DataError(f"a stream of {len(ids)} characters is too short for {rows} parallel rows: use fewer rows (batch_size) or more text")
        self.inputs = ids[: rows * columns].view(rows, columns)
        self.targets = ids[1 : rows * columns + 1].view(rows, columns)
        self.segment, self.columns = segment, columns

    def __len__(self) -> int:
        return -(-self.columns // self.segment)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        cols = slice(index * self.segment, (index + 1) * self.segment)
        return self.inputs[:, cols], self.targets[:, cols]
