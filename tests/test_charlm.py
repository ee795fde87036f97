"""Character language model: data, truncated BPTT, decoding, evaluation, generation."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch

from pipeline.config import CharLMPrepareParams, CharLMTrainParams, TrainerParams
from pipeline.data import DataError
from pipeline.data.charlm import UNK_ID, StreamWindows, build, char_tokenizer, encode, split_text
from pipeline.decoding import generate, sample_next
from pipeline.evaluation.charlm import compressor_bits_per_char, model_bits_per_char, unigram_bits_per_char
from pipeline.models.charlm import CharLM, detach_state

from .conftest import OTHER_CORPORA, synthetic_reviews, write_vader_sdist

# --- data -------------------------------------------------------------------------------


def test_vader_source_reads_all_four_corpora_shuffles_and_cuts_contiguously(vader_sdist):
    cfg = CharLMPrepareParams(val_fraction=0.1, test_fraction=0.1)
    dataset, tokenizer, meta = build(cfg, 7, vader_sdist)
    lines = [line for split in ("train", "val", "test") for line in dataset[split]["text"]]
    others = [line for corpus in OTHER_CORPORA.values() for line in corpus]
    assert set(others) <= set(lines) and len(lines) == 244 + len(others)
    numbered = [int(line.rsplit("number ", 1)[1].rstrip(".")) for line in lines if "number " in line]
    assert numbered != sorted(numbered)  # shuffled by sentence, not in file order
    again, _, _ = build(cfg, 7, vader_sdist)
    assert again["test"]["text"] == dataset["test"]["text"]  # seeded shuffle
    other_seed, _, _ = build(cfg, 8, vader_sdist)
    assert other_seed["test"]["text"] != dataset["test"]["text"]
    chars = {split: meta["splits"][split]["characters"] for split in ("train", "val", "test")}
    assert sum(chars.values()) == meta["characters"] == sum(len(line) + 1 for line in lines)
    assert 0.07 < chars["test"] / meta["characters"] < 0.13 and 0.07 < chars["val"] / meta["characters"] < 0.13
    assert split_text(dataset, "test") == "".join(line + "\n" for line in dataset["test"]["text"])
    assert tokenizer.get_vocab_size() == meta["vocab_size"]


def test_local_text_file_keeps_order_and_applies_the_unknown_character_rule(tmp_path):
    text = "~ the king ~\n" + "".join(f"line {i} of the play, said the king.\n" for i in range(200)) + "said the king ^\n"
    path = tmp_path / "play.txt"
    path.write_text(text, encoding="utf-8")
    cfg = CharLMPrepareParams(source="local", path=str(path), shuffle_lines=False, val_fraction=0.1, test_fraction=0.1, min_char_count=3)
    dataset, tokenizer, meta = build(cfg, 0, None)
    assert split_text(dataset, "train") + split_text(dataset, "val") + split_text(dataset, "test") == text  # order kept, nothing lost
    # '~' occurs twice in training (< min_char_count 3): rare, read as <unk> there too; '^' never occurs in training.
    assert meta["rare_characters"] == "~" and meta["splits"]["train"]["unk"] == 2 and meta["splits"]["test"]["unk"] == 1
    ids = encode(tokenizer, "said ~^").tolist()
    assert ids[-2:] == [UNK_ID, UNK_ID] and UNK_ID not in ids[:-2]
    assert tokenizer.get_vocab_size() == len(set(split_text(dataset, "train")) - {"~"}) + 1


def test_local_table_source_and_its_errors(tmp_path):
    csv = tmp_path / "lines.csv"
    csv.write_text("id,body\n" + "".join(f"{i},sentence number {i}\n" for i in range(50)), encoding="utf-8")
    cfg = CharLMPrepareParams(source="local", path=str(csv), text_column="body", min_char_count=1)
    dataset, _, meta = build(cfg, 1, None)
    assert meta["splits"]["train"]["lines"] + meta["splits"]["val"]["lines"] + meta["splits"]["test"]["lines"] == 50
    with pytest.raises(DataError, match=r"no column 'text'.*\['id', 'body'\].*text_column"):
        build(cfg.model_copy(update={"text_column": "text"}), 1, None)
    with pytest.raises(DataError, match="text file not found"):
        build(CharLMPrepareParams(source="local", path=str(tmp_path / "missing.txt")), 1, None)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"first line\nsecond line caf\xe9\n")
    with pytest.raises(DataError, match=r"latin.txt line 2: not UTF-8.*iconv"):
        build(CharLMPrepareParams(source="local", path=str(latin)), 1, None)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n")
    with pytest.raises(DataError, match="no text to train on"):
        build(CharLMPrepareParams(source="local", path=str(empty)), 1, None)
    short = tmp_path / "short.txt"
    short.write_text("just one line\n")
    with pytest.raises(DataError, match="too few to cut into train/val/test"):
        build(CharLMPrepareParams(source="local", path=str(short)), 1, None)


def test_hub_source_reads_a_local_folder_in_hub_layout(tmp_path):
    folder = tmp_path / "hub_like"
    folder.mkdir()
    (folder / "train.jsonl").write_text("".join(json.dumps({"text": f"row {i}\nsecond line {i}"}) + "\n" for i in range(40)))
    dataset, _, meta = build(CharLMPrepareParams(source="hub", path=str(folder), min_char_count=1), 3, None)
    assert sum(s["lines"] for s in meta["splits"].values()) == 80  # each row's two lines


def test_char_tokenizer_round_trips_whitespace_and_newlines(tmp_path):
    tokenizer = char_tokenizer("ab \n\t.")
    text = "ab  a\n\n\tb."
    ids = tokenizer.encode(text).ids
    assert len(ids) == len(text) and tokenizer.decode(ids) == text
    assert tokenizer.encode("aZb").ids[1] == UNK_ID
    tokenizer.save(str(tmp_path / "t.json"))
    from pipeline.data.tokenize import load_tokenizer

    assert load_tokenizer(tmp_path / "t.json").encode(text).ids == ids


def test_stream_windows_continue_row_by_row():
    ids = torch.arange(103)
    windows = StreamWindows(ids, rows=4, segment=7)
    inputs = torch.cat([x for x, _ in windows], dim=1)
    targets = torch.cat([y for _, y in windows], dim=1)
    assert len(windows) == math.ceil(25 / 7) and inputs.shape == (4, 25)
    assert torch.equal(inputs[1], torch.arange(25, 50)) and torch.equal(targets, inputs + 1)
    with pytest.raises(DataError, match="too short for 200 parallel rows"):
        StreamWindows(ids, rows=200, segment=7)


# --- decoding ---------------------------------------------------------------------------


def _model(vocab: int = 11, seed: int = 0) -> CharLM:
    torch.manual_seed(seed)
    return CharLM(vocab, embedding_dim=8, hidden_size=16, num_layers=2, dropout=0.0).eval()


def test_temperature_zero_and_near_zero_equal_argmax():
    logits = torch.randn(64, 11, generator=torch.Generator().manual_seed(0)) * 3
    argmax = logits.argmax(-1)
    assert torch.equal(sample_next(logits, 0.0), argmax)
    assert torch.equal(sample_next(logits, 1e-4, generator=torch.Generator().manual_seed(5)), argmax)
    assert torch.equal(sample_next(logits, 1.0, top_k=1, generator=torch.Generator().manual_seed(5)), argmax)
    model = _model()
    greedy = generate(model, [1, 2, 3], 40, temperature=0.0)
    assert generate(model, [1, 2, 3], 40, temperature=1e-4, seed=9) == greedy
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample_next(logits, -1.0)


def test_seeded_sampling_is_deterministic_and_respects_banned_and_top_k():
    model = _model()
    first = generate(model, [1, 2], 200, temperature=1.5, seed=3, banned=[0])
    assert first == generate(model, [1, 2], 200, temperature=1.5, seed=3, banned=[0])
    assert first != generate(model, [1, 2], 200, temperature=1.5, seed=4, banned=[0])
    assert 0 not in first and len(set(first)) > 3  # high temperature: many different ids, never the banned one
    logits = torch.randn(1, 11)
    allowed = set(logits.topk(3).indices[0].tolist())
    draws = {int(sample_next(logits, 5.0, top_k=3, generator=torch.Generator().manual_seed(s))) for s in range(50)}
    assert draws <= allowed
    with pytest.raises(ValueError, match="at least one token"):
        generate(model, [], 5)


def test_incremental_generation_matches_a_full_forward_pass():
    """Feeding tokens one at a time with the carried state gives the same logits as one pass."""
    model = _model()
    ids = torch.randint(1, 11, (1, 30), generator=torch.Generator().manual_seed(1))
    full, _ = model(ids)
    state, steps = None, []
    for t in range(30):
        logits, state = model(ids[:, t : t + 1], state)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


# --- training ---------------------------------------------------------------------------


def _key_stream(blocks: int, seed: int) -> str:
    """Blocks 'k--k': a random key letter, two dashes, the key again. Predicting the repeat needs the
    key read three characters earlier; with windows of 5 the key often lies in the previous window."""
    rng = random.Random(seed)
    return "".join(k + "--" + k for k in (rng.choice("abcd") for _ in range(blocks)))


def _train_on_stream(tmp_path, text: str, carry: bool) -> dict:
    import datasets

    from pipeline.data.store import save_prepared
    from pipeline.training.charlm import train

    prepared = tmp_path / f"prepared-{carry}"
    splits = datasets.DatasetDict({split: datasets.Dataset.from_dict({"text": [text]}) for split in ("train", "val", "test")})
    tokenizer = char_tokenizer("abcd-\n")
    save_prepared(prepared, splits, tokenizer, {"task": "charlm", "vocab_size": tokenizer.get_vocab_size(), "unk_id": UNK_ID, "path": "keys"})
    train_cfg = CharLMTrainParams(
        embedding_dim=8,
        hidden_size=32,
        num_layers=1,
        dropout=0.0,
        batch_size=8,
        bptt=5,
        windows_per_batch=10,
        lr=0.01,
        max_epochs=4,
        validations_per_epoch=1,
        patience=10,
        carry_state=carry,
    )
    return train(train_cfg, TrainerParams(), 0, prepared, tmp_path / f"model-{carry}", tmp_path / f"work-{carry}")


def test_truncated_bptt_carries_the_state_across_windows(tmp_path):
    text = _key_stream(1500, seed=0)
    carried = _train_on_stream(tmp_path, text, carry=True)["history"][-1]["train/loss"]
    reset = _train_on_stream(tmp_path, text, carry=False)["history"][-1]["train/loss"]
    floor = math.log(4) / 4  # only the fresh key (1 in 4 characters) is unpredictable
    # Without the carried state the repeats whose key fell in the previous window are guesses too.
    assert carried < reset - 0.08, (carried, reset)
    assert carried < floor + 0.12


def test_detach_state_cuts_the_graph():
    model = _model()
    _, state = model(torch.randint(1, 11, (2, 5)))
    detached = detach_state(state)
    assert all(not s.requires_grad for s in detached) and all(s.requires_grad for s in state)
    assert detach_state(None) is None


def test_train_writes_a_loadable_model_and_history(trained_charlm):
    from pipeline.predict import CharGenerator

    model_dir, result = trained_charlm
    assert (model_dir / "model.pt").is_file() and (model_dir / "tokenizer.json").is_file()
    assert len(result["history"]) == 6  # 3 epochs x 2 validations
    first, last = result["history"][0], result["history"][-1]
    assert last["val/bpc"] < first["val/bpc"] and last["epoch"] == 3.0
    assert result["characters_seen"] > 0 and result["best_val_bpc"] == pytest.approx(min(r["val/bpc"] for r in result["history"]))
    generator = CharGenerator.from_dir(model_dir)
    assert len(generator.generate("the ", 50, 0.8, seed=1).text) == 50


def test_nan_loss_stops_training_with_advice(prepared_charlm, tmp_path, monkeypatch):
    import pipeline.training.charlm as module

    monkeypatch.setattr(module.F, "cross_entropy", lambda *a, **k: torch.tensor(float("nan"), requires_grad=True))
    cfg = CharLMTrainParams(embedding_dim=4, hidden_size=8, num_layers=1, batch_size=2, bptt=8, max_epochs=1)
    with pytest.raises(FloatingPointError, match="lower train.charlm.lr"):
        module.train(cfg, TrainerParams(), 0, prepared_charlm, tmp_path / "m", tmp_path / "w")
    assert not (tmp_path / "m" / "model.pt").exists()


# --- evaluation and generation -----------------------------------------------------------


def test_model_bits_per_char_is_the_mean_cross_entropy_in_bits():
    model = _model()
    ids = torch.randint(1, 11, (401,), generator=torch.Generator().manual_seed(2))
    result = model_bits_per_char(model, ids, rows=1, segment=64)
    with torch.no_grad():
        logits, _ = model(ids[:-1].unsqueeze(0))
    expected = torch.nn.functional.cross_entropy(logits[0], ids[1:]).item()
    assert result["characters"] == 400
    assert result["bits_per_char"] == pytest.approx(expected / math.log(2), abs=1e-4)
    assert result["perplexity"] == pytest.approx(math.exp(expected), rel=1e-3)


def test_compressor_and_unigram_baselines():
    rng = random.Random(0)
    train = "".join(rng.choice("ab") for _ in range(20000))
    test = "".join(rng.choice("ab") for _ in range(5000))
    assert unigram_bits_per_char(train, test) == pytest.approx(1.0, abs=0.01)  # two equally likely characters
    bits = compressor_bits_per_char(train, test)
    assert 0.9 < bits["bz2"] < 2.0 and 0.9 < bits["xz"] < 2.0  # random bits: no compressor beats 1 bit per character
    repeated = compressor_bits_per_char(train, train[:5000])  # the test text is a copy of part of train
    assert repeated["xz"] < 0.1


def test_generator_prime_rules_and_errors(trained_charlm):
    from pipeline.predict import CharGenerator

    generator = CharGenerator.from_dir(trained_charlm[0])
    with_unknown = generator.generate("the ¤ film", 30, 0.0)
    assert with_unknown.unknown == "¤"
    ids, unknown = generator.encode_prime("the ¤ film")
    assert ids[4] == UNK_ID and unknown == "¤"
    same = generator.generate("the ¤ film", 30, 0.0)
    assert same.text == with_unknown.text  # the documented rule: read as <unk>, deterministically
    assert generator.generate("", 20, 0.5, seed=2).text == generator.generate("\n", 20, 0.5, seed=2).text  # empty prime: start of a line
    for bad, message in (({"length": 0}, "length must be at least 1"), ({"temperature": -0.5}, "temperature must be >= 0"), ({"top_k": 0}, "top-k")):
        args = {"prime": "the", "length": 5, "temperature": 1.0, "top_k": None, **bad}
        with pytest.raises(ValueError, match=message):
            generator.generate(**args)


def test_generator_rejects_a_sentiment_checkpoint(trained_sentiment):
    from pipeline.models.checkpoint import CheckpointError
    from pipeline.predict import CharGenerator

    with pytest.raises(CheckpointError, match="holds a 'sentiment' model, not a 'charlm' model"):
        CharGenerator.from_dir(trained_sentiment[0])


def test_cli_generate_is_reproducible_and_reports_unknown_characters(trained_charlm, capsys):
    from pipeline.cli import main

    args = ["generate", "--model-dir", str(trained_charlm[0]), "--prime", "the ¤", "--length", "40", "--seed", "5"]
    assert main(args) == 0
    first = capsys.readouterr()
    assert first.out.startswith("the ¤") and len(first.out.rstrip("\n")) >= 5
    assert "'¤' not in the model's vocabulary: read as <unk>" in first.err
    assert main(args) == 0
    assert capsys.readouterr().out == first.out
    assert main([*args, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["prime"] == "the ¤" and len(payload["text"]) == 40 and payload["unknown"] == "¤"
    assert main(["generate", "--model-dir", str(trained_charlm[0]), "--length", "0"]) == 2
    assert "length must be at least 1" in capsys.readouterr().err


def test_vader_fixture_sentences_are_all_in_the_prepared_text(prepared_charlm):
    from pipeline.data.store import load_prepared

    dataset, _, meta = load_prepared(prepared_charlm, "charlm")
    everything = "".join(split_text(dataset, s) for s in ("train", "val", "test"))
    for text, _ in synthetic_reviews(5):
        assert text in everything
    assert meta["task"] == "charlm"
    with pytest.raises(DataError, match="holds prepared 'charlm' data, not 'sentiment'"):
        load_prepared(prepared_charlm, "sentiment")


def test_write_vader_sdist_other_corpora_can_be_replaced(tmp_path):
    from pipeline.data.vader import CORPORA, read_snippets

    sdist = write_vader_sdist(tmp_path / "v.tar.gz", [("fine film", 2.0)], other={c: ["x y z"] for c in CORPORA[1:]})
    assert [s.text for s in read_snippets(sdist, CORPORA)] == ["fine film", "x y z", "x y z", "x y z"]
