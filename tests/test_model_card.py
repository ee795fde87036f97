"""The model card: Hugging Face format (YAML metadata, then sections) from metrics files."""

from __future__ import annotations

import yaml

from pipeline.config import load_params
from pipeline.model_card import render

from .conftest import REPO

META = {
    "source": "vader",
    "path": "VADER movie-review snippets",
    "classes": ["negative", "positive"],
    "vocab_size": 8000,
    "dropped_neutral": 562,
    "dropped_duplicates": 2,
    "neutral_band": 0.5,
    "seed": 2026,
    "splits": {s: {"examples": n} for s, n in (("train", 8000), ("val", 1000), ("test", 1000))},
}
METRICS = {"test": {"accuracy": 0.8123, "f1_macro": 0.8101}, "n_test": 1000, "baseline_vader": {"accuracy": 0.6345, "f1_macro": 0.6158}}


def test_card_has_metadata_and_sections():
    params = load_params(REPO / "params.yaml").model_dump()
    card = render(
        params,
        {"sentiment": METRICS},
        {"sentiment": META},
        {"sentiment": {"best_epoch": 4, "epochs": 7, "best_val_loss": 0.45}},
        {"torch": "2.13.0", "lightning": "2.6.6"},
        "abc123",
    )
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    [entry] = meta["model-index"]
    values = {m["type"]: m["value"] for r in entry["results"] for m in r["metrics"]}
    assert values == {"accuracy": 0.8123, "f1": 0.8101}
    assert meta["license"] == "mit" and meta["library_name"] == "pytorch"
    for heading in ("## Model details", "## Sentiment classification (many-to-one)", "## Intended uses and limitations", "## How to reproduce"):
        assert heading in body
    assert "| this model | 0.8123 | 0.8101 |" in body
    assert "| VADER lexicon (rule-based, compound score >= 0 is positive) | 0.6345 | 0.6158 |" in body
    assert "kept epoch 4 of 7" in body and "`abc123`" in body


def test_card_without_tasks_still_renders():
    params = load_params(REPO / "params.yaml").model_dump()
    card = render(params, {}, {}, {}, {"torch": "2.13.0", "lightning": "2.6.6"}, "abc123")
    assert card.startswith("---\n") and "## Model details" in card and "## Sentiment" not in card


CHARLM_META = {
    "source": "local",
    "path": "/data/plays.txt",
    "shuffle_lines": False,
    "vocab_size": 70,
    "min_char_count": 5,
    "rare_characters": "&/",
    "characters": 1000,
    "seed": 2026,
    "splits": {s: {"characters": n, "unk": u, "lines": 10} for s, n, u in (("train", 900, 3), ("val", 50, 0), ("test", 50, 1))},
}
CHARLM_METRICS = {
    "test": {"loss": 1.5, "bits_per_char": 2.1641, "perplexity": 4.4817, "characters": 49},
    "baselines": {"bz2": 2.4, "xz": 2.5, "unigram": 4.4},
    "test_characters": 50,
}


def test_charlm_section_shows_compressors_samples_and_the_unknown_rule():
    params = load_params(REPO / "params.yaml").model_dump()
    samples = [{"temperature": t, "top_k": None, "seed": 0, "prime": "ROMEO.\n", "text": f"text at {t}"} for t in (0.5, 1.0)]
    card = render(
        params,
        {"charlm": CHARLM_METRICS},
        {"charlm": CHARLM_META},
        {"charlm": {"best_epoch": 1.75, "best_val_bpc": 2.2, "characters_seen": 123456, "seconds": 90.0}},
        {"torch": "2.13.0", "lightning": "2.6.6"},
        "abc123",
        {"charlm": {"samples": samples}},
    )
    _, front, body = card.split("---\n", 2)
    [entry] = yaml.safe_load(front)["model-index"]
    assert {m["type"]: m["value"] for r in entry["results"] for m in r["metrics"]} == {"bits_per_character": 2.1641, "perplexity": 4.4817}
    assert "## Character-level language model" in body and "## Sentiment" not in body
    assert "| this model | 2.1641 | 4.48 |" in body and "| bz2 -9, given the training text | 2.4000 |" in body
    assert "lines kept in their order" in body and "(`& /`)" in body and "1 of the test characters" in body
    assert "```text\nROMEO.\ntext at 0.5\n```" in body and "Temperature 1.0 (seed 0)" in body
    assert "123,456 characters read, 1.5 minutes" in body and "after 1.75 epochs" in body


def test_translate_section_reports_greedy_beam_and_the_attention_kind():
    params = load_params(REPO / "params.yaml").model_dump()
    meta = {
        "source": "num2words",
        "path": "num2words en -> vi, up to 6 digits",
        "source_language": "en",
        "target_language": "vi",
        "source_vocab_size": 37,
        "target_vocab_size": 21,
        "seed": 2026,
        "splits": {s: {"pairs": n, "dropped_too_long": 0} for s, n in (("train", 20000), ("val", 1000), ("test", 2000))},
    }
    metrics = {
        "greedy": {"bleu": 98.1, "chrf": 99.0, "exact_match": 0.97},
        "beam": {"bleu": 98.5, "chrf": 99.2, "exact_match": 0.975},
        "n_test": 2000,
        "beam_width": 5,
        "attention": "luong",
        "length_penalty": 1.0,
    }
    card = render(
        params,
        {"translate": metrics},
        {"translate": meta},
        {"translate": {"best_epoch": 7, "epochs": 8, "best_val_exact": 0.96}},
        {"torch": "t", "lightning": "l"},
        "c",
    )
    _, front, body = card.split("---\n", 2)
    [entry] = yaml.safe_load(front)["model-index"]
    assert {m["type"]: m["value"] for r in entry["results"] for m in r["metrics"]} == {"bleu": 98.5, "chrf": 99.2, "exact_match": 0.975}
    assert "multiplicative (Luong, general) attention" in body and "disjoint by number" in body
    assert "| greedy | 0.9700 | 98.10 | 99.00 |" in body and "| beam search (width 5, length penalty 1.0) | 0.9750 | 98.50 | 99.20 |" in body
    assert "attention_0.png" in body and "kept epoch 7 of 8 (validation exact match 0.9600)" in body


def _longrange_metrics() -> dict:
    error = {
        "adding": {"rnn": {"10": 0.0017, "100": 0.1687}, "lstm": {"10": 0.002, "100": 0.0015}},
        "copy": {"rnn": {"10": 0.2063, "100": 0.6333}, "lstm": {"10": 0.0153, "100": 0.0212}},
    }
    solved = {p: {c: {n: v < (0.01 if p == "adding" else 0.05) for n, v in per.items()} for c, per in cells.items()} for p, cells in error.items()}
    return {
        "error": error,
        "baseline": {"adding": 0.1708, "copy": 0.875},  # the report's: the largest over the lengths
        "solved": solved,
        "solved_means": {"adding": "test MSE below 0.01", "copy": "test letter error below 0.05"},
    }


def test_longrange_section_tables_every_cell_and_length_with_the_baseline():
    params = load_params(REPO / "params.yaml").model_dump()
    runs = [
        {"problem": "adding", "cell": "lstm", "length": 100, "steps": 1200, "seconds": 21.0, "baseline": {"error": 0.1692}},
        {"problem": "copy", "cell": "rnn", "length": 10, "steps": 3000, "seconds": 39.0},
    ]
    exploding = {
        "length": 100,
        "first_grad_norm": 6966.7,
        "unclipped": {"steps": 2, "diverged": True, "max_grad_norm": 6966.7},
        "clipped": {"steps": 150, "diverged": False, "final_loss": 0.1918, "max_grad_norm": 8187.0},
    }
    card = render(
        params,
        {"longrange": _longrange_metrics()},
        {"longrange": {}},
        {},
        {"torch": "2.13.0", "lightning": "2.6.6"},
        "abc",
        {"longrange": {"runs": runs, "exploding": exploding}},
    )
    _, front, body = card.split("---\n", 2)
    [entry] = yaml.safe_load(front)["model-index"]
    values = {(r["dataset"]["name"], m["name"]): m["value"] for r in entry["results"] for m in r["metrics"]}
    assert values[("adding problem, length 100", "adding, length 100, LSTM: test MSE")] == 0.0015
    assert values[("copy problem, length 100", "copy, length 100, Elman (tanh): test letter error")] == 0.6333
    assert "## Long-range dependencies: why gated cells beat the Elman cell" in body
    assert "| problem | cell | length 10 | length 100 |" in body
    assert "| adding | LSTM | **0.0020** | **0.0015** (1,200 steps) |" in body  # bold: solved
    assert "| adding | Elman (tanh) | **0.0017** | 0.1687 |" in body
    assert "| copy | Elman (tanh) | 0.2063 (3,000 steps) | 0.6333 |" in body
    assert "| copy | trivial baseline | 0.8750 | 0.8750 |" in body
    assert "| adding | trivial baseline | 0.1708 | 0.1692 |" in body  # length 100's own test set
    assert "without clipping the loss stops being finite after 2 steps" in body and "stays finite for all 150 steps" in body
    assert "1.0 minutes of training in all" in body
    for figure in ("report/error_vs_length.png", "report/gradient_flow_adding.png", "report/gradient_flow_copy.png", "exploding/exploding_gradients.png"):
        assert f"(../plots/longrange/{figure})" in body
