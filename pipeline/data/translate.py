"""Translation data (sequence to sequence): source sentences and their translations.

Sources (``prepare.translate.source`` in params.yaml):

- ``num2words`` (default, generated offline): English number words to another language's
  number words, spelt by the num2words package (``twenty-one thousand, three hundred and
  five`` -> ``hai mươi mốt nghìn ba trăm lẻ năm`` for Vietnamese). The number of digits is
  drawn uniformly from 1 to ``max_digits``, then the number uniformly among those with that
  many digits (so small numbers are not drowned by large ones); every number occurs once,
  so train, val and test are disjoint by number.
- ``local``: a tab-separated file of pairs, ``source<TAB>target[<TAB>anything else]`` a
  line (the Tatoeba / ManyThings layout); a line without a tab is an error naming it.
- ``hub``: a Hugging Face hub data set with ``source_column`` and ``target_column``, or a
  ``translation`` column of {language: text} dicts (WMT style; keys ``source_language`` /
  ``target_language``).

Pairs from a file or the hub are split train/val/test with a generator seeded from params.
Each side gets a word-level HF tokenizer (NFKC, optional lower-casing, words and punctuation
runs) fitted on the training pairs; targets are framed as ``[BOS] ... [EOS]``. Pairs longer
than ``max_length`` tokens on either side are dropped and counted in meta.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from pipeline.config import TranslatePrepareParams
from pipeline.data import DataError
from pipeline.data.store import load_table

PAD, UNK, BOS, EOS = "[PAD]", "[UNK]", "[BOS]", "[EOS]"
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


def word_tokenizer(texts: list[str], lowercase: bool, min_frequency: int) -> Tokenizer:
    """Word-level vocabulary with [PAD] [UNK] [BOS] [EOS] first; words rarer than min_frequency become [UNK]."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else []))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(min_frequency=min_frequency, special_tokens=[PAD, UNK, BOS, EOS], show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    assert [tokenizer.token_to_id(t) for t in (PAD, UNK, BOS, EOS)] == [PAD_ID, UNK_ID, BOS_ID, EOS_ID]
    return tokenizer


def normalize(tokenizer: Tokenizer, text: str) -> str:
    """The text as the tokenizer sees it, words joined by single spaces (no vocabulary lookup):
    the form references and outputs are compared in (exact match, BLEU)."""
    normalized = tokenizer.normalizer.normalize_str(text) if tokenizer.normalizer else text
    return " ".join(word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalized))


def number_pairs(cfg: TranslatePrepareParams, seed: int) -> list[tuple[str, str, int]]:
    """(source words, target words, number) for distinct random numbers, in random order."""
    from num2words import num2words

    need = cfg.train_size + cfg.val_size + cfg.test_size
    if need > 10**cfg.max_digits:
        raise DataError(f"{need} distinct numbers do not exist below 10^{cfg.max_digits}: lower the sizes or raise max_digits")
    rng = np.random.default_rng(seed)
    seen: dict[int, None] = {}
    while len(seen) < need:
        digits = rng.integers(1, cfg.max_digits + 1, size=need)
        low = np.where(digits == 1, 0, 10 ** (digits - 1))
        for number in rng.integers(low, 10**digits):
            seen.setdefault(int(number))
    numbers = list(seen)[:need]
    try:
        return [(num2words(n, lang=cfg.source_language), num2words(n, lang=cfg.target_language), n) for n in numbers]
    except NotImplementedError as exc:
        raise DataError(f"num2words cannot spell numbers in {cfg.source_language!r} or {cfg.target_language!r}: {exc}") from None


def read_tsv_pairs(path: Path) -> list[tuple[str, str]]:
    """Pairs from ``source<TAB>target[<TAB>...]`` lines; blank lines are skipped, a line without both texts is an error."""
    if not path.is_file():
        raise DataError(f"pair file not found: {path} (set prepare.translate.path to an existing file)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise DataError(f"{path} line {number}: expected 'source<TAB>target[<TAB>...]', got {line[:80]!r}")
        pairs.append((fields[0].strip(), fields[1].strip()))
    if not pairs:
        raise DataError(f"{path}: no sentence pairs")
    return pairs


def _hub_pairs(cfg: TranslatePrepareParams) -> list[tuple[str, str]]:
    table = load_table("hub", cfg.path, cfg.hub_config, cfg.hub_split, "prepare.translate.path")
    if "translation" in table.column_names and cfg.source_column not in table.column_names:
        rows = table["translation"]
        try:
            return [(r[cfg.source_language], r[cfg.target_language]) for r in rows]
        except (KeyError, TypeError):
            raise DataError(f"{cfg.path}: its 'translation' column has no {cfg.source_language!r}/{cfg.target_language!r} keys") from None
    missing = [c for c in (cfg.source_column, cfg.target_column) if c not in table.column_names]
    if missing:
        raise DataError(f"{cfg.path} has no column {', '.join(map(repr, missing))}; its columns are {table.column_names}. Set source_column / target_column.")
    return list(zip(table[cfg.source_column], table[cfg.target_column], strict=True))


def build(cfg: TranslatePrepareParams, seed: int) -> tuple[Any, dict[str, Tokenizer], dict]:
    """Build the DatasetDict (source, target, number, source_ids, target_ids), the two tokenizers and meta."""
    import datasets

    if cfg.source == "num2words":
        generated = number_pairs(cfg, seed)
        rows = [(s, t, n) for s, t, n in generated]
        cut = {"train": (0, cfg.train_size), "val": (cfg.train_size, cfg.train_size + cfg.val_size)}
        cut["test"] = (cut["val"][1], cut["val"][1] + cfg.test_size)
        where = f"num2words {cfg.source_language} -> {cfg.target_language}, up to {cfg.max_digits} digits"
    else:
        pairs = read_tsv_pairs(Path(cfg.path)) if cfg.source == "local" else _hub_pairs(cfg)
        order = np.random.default_rng(seed).permutation(len(pairs))
        rows = [(pairs[i][0], pairs[i][1], -1) for i in order]
        n_test, n_val = round(len(rows) * cfg.test_fraction), round(len(rows) * cfg.val_fraction)
        if min(n_test, n_val, len(rows) - n_test - n_val) < 1:
            raise DataError(f"{len(rows)} pairs are too few to split into train/val/test")
        cut = {"test": (0, n_test), "val": (n_test, n_test + n_val), "train": (n_test + n_val, len(rows))}
        where = cfg.path
    train_rows = rows[cut["train"][0] : cut["train"][1]]
    tokenizers = {
        "source": word_tokenizer([r[0] for r in train_rows], cfg.lowercase, cfg.min_frequency),
        "target": word_tokenizer([r[1] for r in train_rows], cfg.lowercase, cfg.min_frequency),
    }
    features = datasets.Features(
        {
            "source": datasets.Value("string"),
            "target": datasets.Value("string"),
            "number": datasets.Value("int64"),
            "source_ids": datasets.Sequence(datasets.Value("int32")),
            "target_ids": datasets.Sequence(datasets.Value("int32")),
        }
    )
    splits, stats = {}, {}
    for split in ("train", "val", "test"):
        part = rows[cut[split][0] : cut[split][1]]
        src = [e.ids for e in tokenizers["source"].encode_batch([r[0] for r in part])]
        tgt = [[BOS_ID, *e.ids, EOS_ID] for e in tokenizers["target"].encode_batch([r[1] for r in part])]
        keep = [i for i in range(len(part)) if 0 < len(src[i]) <= cfg.max_length and len(tgt[i]) - 2 <= cfg.max_length]
        columns = {
            "source": [part[i][0] for i in keep],
            "target": [part[i][1] for i in keep],
            "number": [part[i][2] for i in keep],
            "source_ids": [src[i] for i in keep],
            "target_ids": [tgt[i] for i in keep],
        }
        splits[split] = datasets.Dataset.from_dict(columns, features=features)
        stats[split] = {
            "pairs": len(keep),
            "dropped_too_long": len(part) - len(keep),
            "max_source_tokens": max((len(s) for s in columns["source_ids"]), default=0),
            "max_target_tokens": max((len(t) - 2 for t in columns["target_ids"]), default=0),
        }
        if not keep:
            raise DataError(f"the {split} split is empty after dropping pairs longer than max_length {cfg.max_length}")
    meta = {
        "task": "translate",
        "source": cfg.source,
        "path": where,
        "source_language": cfg.source_language,
        "target_language": cfg.target_language,
        "source_vocab_size": tokenizers["source"].get_vocab_size(),
        "target_vocab_size": tokenizers["target"].get_vocab_size(),
        "vocab_size": tokenizers["target"].get_vocab_size(),
        "splits": stats,
        "seed": seed,
    }
    return datasets.DatasetDict(splits), tokenizers, meta
