"""Translation: data, attention, greedy and beam search, evaluation, the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from pipeline.config import TranslatePrepareParams
from pipeline.data import DataError
from pipeline.data.translate import BOS_ID, EOS_ID, build, normalize, read_tsv_pairs
from pipeline.decoding import beam_search, greedy
from pipeline.evaluation.translate import scores
from pipeline.models.translate import Attention, Seq2Seq, select_state

SMALL = TranslatePrepareParams(max_digits=3, train_size=300, val_size=50, test_size=50)

# --- data -------------------------------------------------------------------------------


def test_number_pairs_are_disjoint_by_number_and_framed():
    dataset, tokenizers, meta = build(SMALL, 5)
    numbers = {split: set(dataset[split]["number"]) for split in ("train", "val", "test")}
    assert [len(numbers[s]) for s in ("train", "val", "test")] == [300, 50, 50]
    assert not (numbers["train"] & numbers["test"]) and not (numbers["train"] & numbers["val"]) and not (numbers["val"] & numbers["test"])
    row = dataset["test"][0]
    assert row["target_ids"][0] == BOS_ID and row["target_ids"][-1] == EOS_ID
    assert tokenizers["target"].decode(row["target_ids"][1:-1]) == normalize(tokenizers["target"], row["target"])
    from num2words import num2words

    assert row["source"] == num2words(row["number"], lang="en") and row["target"] == num2words(row["number"], lang="vi")
    assert meta["splits"]["train"]["pairs"] == 300 and meta["target_language"] == "vi"
    again, _, _ = build(SMALL, 5)
    assert again["test"]["number"] == dataset["test"]["number"]
    assert min(numbers["train"] | numbers["val"] | numbers["test"]) < 100  # small numbers are drawn too (digits uniform)


def test_too_many_numbers_for_the_digits_is_an_error():
    with pytest.raises(DataError, match="distinct numbers do not exist below 10\\^2"):
        build(TranslatePrepareParams(max_digits=2, train_size=90, val_size=10, test_size=10), 0)


def test_local_pairs_file_and_its_malformed_lines(tmp_path):
    good = tmp_path / "pairs.tsv"
    lines = [f"I see {i} cats.\tJe vois {i} chats.\tCC-BY 2.0 (France) Attribution: tatoeba.org #{i}" for i in range(60)]
    good.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    assert read_tsv_pairs(good)[0] == ("I see 0 cats.", "Je vois 0 chats.")
    dataset, tokenizers, meta = build(TranslatePrepareParams(source="local", path=str(good)), 1)
    assert sum(s["pairs"] for s in meta["splits"].values()) == 60 and set(dataset["test"]["number"]) == {-1}
    assert normalize(tokenizers["target"], "Je vois 3 chats.") == "je vois 3 chats ."
    bad = tmp_path / "bad.tsv"
    bad.write_text("Hello.\tBonjour.\nno tab on this line\nBye.\tAu revoir.\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tsv line 2: expected 'source<TAB>target\[<TAB>...\]', got 'no tab on this line'"):
        read_tsv_pairs(bad)
    half = tmp_path / "half.tsv"
    half.write_text("Hello.\t\n", encoding="utf-8")
    with pytest.raises(DataError, match="half.tsv line 1"):
        read_tsv_pairs(half)
    with pytest.raises(DataError, match="pair file not found"):
        read_tsv_pairs(tmp_path / "missing.tsv")


def test_long_pairs_are_dropped_and_counted(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"a b c {i}\tx y {i}\n" for i in range(40)) + "one two three four five six\tun\n", encoding="utf-8")
    _, _, meta = build(TranslatePrepareParams(source="local", path=str(path), max_length=4), 0)
    assert sum(s["dropped_too_long"] for s in meta["splits"].values()) == 1


# --- attention and decoding ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bahdanau", "luong"])
def test_attention_weights_sum_to_one_over_real_positions_and_are_zero_on_padding(kind):
    torch.manual_seed(0)
    attention = Attention(kind, query_size=6, key_size=8, attention_size=5)
    keys = torch.randn(3, 7, 8)
    mask = torch.arange(7)[None, :] < torch.tensor([7, 4, 1])[:, None]
    with torch.no_grad():
        context, weights = attention(torch.randn(3, 6), keys, mask)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    assert float(weights[~mask].abs().max()) == 0.0 and bool((weights[mask] > 0).all())
    torch.testing.assert_close(context, (weights.unsqueeze(-1) * keys).sum(1))
    assert torch.equal(weights[2], torch.tensor([1.0, 0, 0, 0, 0, 0, 0]))


def _model(attention: str = "bahdanau", cell: str = "gru", seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(12, 10, embedding_dim=8, hidden_size=8, dropout=0.0, cell=cell, attention=attention).eval()


def _beam(model: Seq2Seq, source: torch.Tensor, width: int, max_length: int = 12) -> list[int]:
    memory, state = model.encode(source, torch.tensor([source.size(1)]))

    def step(previous, state):
        rows = previous.size(0)
        logits, state, _ = model.step(previous, state, memory if rows == 1 else memory.select(torch.zeros(rows, dtype=torch.long)))
        return torch.log_softmax(logits, -1), state

    return beam_search(step, state, select_state, BOS_ID, EOS_ID, width, max_length)[0]


@pytest.mark.parametrize("attention,cell", [("bahdanau", "gru"), ("luong", "lstm"), ("none", "rnn")])
def test_beam_width_one_equals_greedy(attention, cell):
    model = _model(attention, cell)
    for seed in range(5):
        source = torch.randint(4, 12, (1, 6), generator=torch.Generator().manual_seed(seed))
        expected = model.greedy(source, torch.tensor([6]), BOS_ID, EOS_ID, 12)[0]
        assert _beam(model, source, 1) == expected


def test_decoding_stops_at_the_end_token_and_at_max_length():
    vocab = 6

    def scripted(sequence):
        """A fake model that emits ``sequence`` then [EOS], whatever it is fed."""

        def step(previous, state):
            position = state
            logits = torch.full((previous.size(0), vocab), -10.0)
            token = sequence[position] if position < len(sequence) else EOS_ID
            logits[:, token] = 0.0
            return torch.log_softmax(logits, -1), position + 1

        return step

    assert greedy(scripted([4, 5, 4]), 0, BOS_ID, EOS_ID, 1, 10) == [[4, 5, 4]]  # stops at [EOS], not included
    assert greedy(scripted([4] * 50), 0, BOS_ID, EOS_ID, 1, 7) == [[4] * 7]  # stops at max length
    assert beam_search(scripted([5, 4]), 0, lambda s, rows: s, BOS_ID, EOS_ID, 3, 10)[0] == [5, 4]
    assert beam_search(scripted([4] * 50), 0, lambda s, rows: s, BOS_ID, EOS_ID, 3, 5)[0] == [4] * 5


def test_beam_search_does_not_stop_on_unlikely_early_ends():
    """[EOS] has a little probability at every step: the wider beam collects such short outputs
    early but must go on to the likely full output (as greedy decoding does)."""
    sequence, vocab = [4, 5, 4, 5, 4], 6

    def step(previous, position):
        logits = torch.full((previous.size(0), vocab), -8.0)
        logits[:, EOS_ID] = -2.0  # always a small chance of ending
        logits[:, sequence[position] if position < len(sequence) else EOS_ID] = 0.0
        return torch.log_softmax(logits, -1), position + 1

    for width in (1, 3, 5):
        assert beam_search(step, 0, lambda s, rows: s, BOS_ID, EOS_ID, width, 20, alpha=0.0)[0] == sequence


def test_scores_of_a_perfect_and_a_partly_wrong_output():
    refs = ["hai mươi mốt", "một trăm lẻ năm", "bảy"]
    assert scores(refs, refs) == {"bleu": 100.0, "chrf": 100.0, "exact_match": 1.0}
    worse = scores(["hai mươi hai", "một trăm lẻ năm", "bảy"], refs)
    assert worse["exact_match"] == pytest.approx(2 / 3, abs=1e-4) and worse["bleu"] < 100 and worse["chrf"] < 100


# --- training, prediction, CLI ---------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_translate(tmp_path_factory):
    from pipeline.config import TrainerParams, TranslateTrainParams
    from pipeline.data.store import save_prepared
    from pipeline.training.translate import train

    base = tmp_path_factory.mktemp("translate")
    save_prepared(base / "prepared", *build(TranslatePrepareParams(max_digits=2, train_size=70, val_size=15, test_size=15), 3))
    cfg = TranslateTrainParams(embedding_dim=16, hidden_size=32, batch_size=16, lr=0.01, max_epochs=6, patience=6, dropout=0.0)
    result = train(cfg, TrainerParams(), 3, base / "prepared", base / "model", base / "work")
    return base, result


def test_training_writes_model_and_learns(trained_translate):
    base, result = trained_translate
    losses = [r["val/loss"] for r in result["history"]]
    assert losses[-1] < losses[0] * 0.7 and len(losses) == 6
    assert all(0.0 <= r["val/exact"] <= 1.0 for r in result["history"])
    for name in ("model.pt", "source_tokenizer.json", "target_tokenizer.json"):
        assert (base / "model" / name).is_file()


def test_translator_greedy_attention_and_errors(trained_translate):
    from pipeline.predict import Translator

    translator = Translator.from_dir(trained_translate[0] / "model")
    [greedy_result] = translator.translate(["twenty-one"], beam_width=1)
    assert greedy_result.source_tokens == ["twenty", "-", "one"]
    weights = torch.tensor(greedy_result.attention)
    assert weights.shape == (len(greedy_result.target_tokens) + 1, 3)  # one row per output token and [EOS]
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.size(0)))
    [beam_result] = translator.translate(["twenty-one"], beam_width=3)
    assert beam_result.attention is None and isinstance(beam_result.translation, str)
    with pytest.raises(ValueError, match="text 2 is empty"):
        translator.translate(["one", "  "])
    with pytest.raises(ValueError, match="beam width must be at least 1"):
        translator.translate(["one"], beam_width=0)


def test_cli_translate(trained_translate, capsys):
    from pipeline.cli import main

    model_dir = str(trained_translate[0] / "model")
    assert main(["translate", "--model-dir", model_dir, "seven", "forty-two"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 2 and lines[0].endswith("\tseven")
    assert main(["translate", "--model-dir", model_dir, "--json", "--beam", "1", "seven"]) == 0
    [payload] = json.loads(capsys.readouterr().out)
    assert payload["text"] == "seven" and isinstance(payload["translation"], str)
    assert main(["translate", "--model-dir", model_dir, ""]) == 2
    assert "empty" in capsys.readouterr().err
