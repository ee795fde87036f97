"""Translation evaluation: greedy decoding and beam search on the test split, scored with
sacrebleu (corpus BLEU and chrF) and the exact-match rate.

References and outputs are compared in the tokenizer's normal form (NFKC, lower-cased if
the vocabulary is, words and punctuation separated by single spaces:
``pipeline.data.translate.normalize``), so spacing and case conventions do not count;
sacrebleu then applies its standard 13a tokenization to both sides.
"""

from __future__ import annotations

from typing import Any

import sacrebleu
import torch

from pipeline.data.tokenize import pad_batch
from pipeline.data.translate import BOS_ID, EOS_ID, PAD_ID, normalize


def scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu, 0-100) and the exact-match rate (0-1)."""
    return {
        "bleu": round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 2),
        "chrf": round(sacrebleu.corpus_chrf(hypotheses, [references]).score, 2),
        "exact_match": round(sum(h == r for h, r in zip(hypotheses, references)) / max(len(references), 1), 4),
    }


def greedy_outputs(translator: Any, source_ids: list[list[int]], batch_size: int, max_length: int) -> list[str]:
    """Batched greedy decoding of already tokenized sources."""
    outputs = []
    for start in range(0, len(source_ids), batch_size):
        source, lengths = pad_batch(source_ids[start : start + batch_size], PAD_ID)
        with torch.inference_mode():
            ids = translator.model.greedy(source, lengths, BOS_ID, EOS_ID, max_length)
        outputs += [translator.target_tokenizer.decode(x) for x in ids]
    return outputs


def evaluate(translator: Any, test: Any, batch_size: int, beam_width: int, alpha: float, max_length: int) -> dict[str, Any]:
    """Scores for greedy and beam search on the test split, and the decoded outputs."""
    references = [normalize(translator.target_tokenizer, t) for t in test["target"]]
    greedy = greedy_outputs(translator, test["source_ids"], batch_size, max_length)
    beam = [t.translation for t in translator.translate(test["source"], beam_width, alpha, max_length)]
    return {
        "metrics": {"greedy": scores(greedy, references), "beam": scores(beam, references), "n_test": len(references), "beam_width": beam_width},
        "rows": [{"source": s, "reference": r, "greedy": g, "beam": b} for s, r, g, b in zip(test["source"], references, greedy, beam)],
    }
