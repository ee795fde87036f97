"""The long-range task: generated problems, the model and its gate initialisation, training, the stages."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
import yaml

from pipeline.config import LongRangePrepareParams, LongRangeTrainParams, TrainerParams
from pipeline.data import longrange as data
from pipeline.models.checkpoint import load_checkpoint
from pipeline.models.longrange import LongRangeModel

from .conftest import REPO


def test_adding_batch_marks_one_step_in_each_half_and_sums_them():
    x, y = data.adding_batch(torch.Generator().manual_seed(0), 256, 20)
    assert x.shape == (256, 20, 2) and y.shape == (256,)
    markers = x[..., 1]
    assert torch.equal(markers.sum(1), torch.full((256,), 2.0))
    assert torch.equal(markers[:, :10].sum(1), torch.ones(256)) and torch.equal(markers[:, 10:].sum(1), torch.ones(256))
    torch.testing.assert_close(y, (x[..., 0] * markers).sum(1))
    assert 0.0 <= float(x[..., 0].min()) and float(x[..., 0].max()) < 1.0


def test_adding_baseline_is_the_variance_of_two_uniforms():
    _, y = data.adding_batch(torch.Generator().manual_seed(1), 20_000, 10)
    assert abs(data.baseline("adding", y, 8)["mse"] - 1 / 6) < 0.005


def test_copy_batch_shows_the_letters_then_blanks():
    x, y = data.copy_batch(torch.Generator().manual_seed(0), 32, 7, symbols=3, alphabet=5)
    assert x.shape == (32, 10, 6) and y.shape == (32, 3)
    assert torch.equal(x.sum(-1), torch.ones(32, 10))  # one-hot
    assert torch.equal(x[:, :3].argmax(-1) - 1, y)  # letters are ids 1..alphabet
    assert torch.all(x[:, 3:, 0] == 1)  # then blanks only
    assert data.baseline("copy", y, 5) == {"error": 0.8, "cross_entropy": pytest.approx(math.log(5))}


def test_batches_are_seeded_and_splits_differ():
    first = data.make_batch("copy", data.split_generator(3, "train"), 8, 5)
    again = data.make_batch("copy", data.split_generator(3, "train"), 8, 5)
    test = data.make_batch("copy", data.split_generator(3, "test"), 8, 5)
    assert torch.equal(first[0], again[0]) and not torch.equal(first[0], test[0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: data.adding_batch(torch.Generator(), 4, 1), "needs a length of at least 2"),
        (lambda: data.make_batch("sorting", torch.Generator(), 4, 5), "sorting"),
        (lambda: LongRangeModel("adding", cell="elman"), "unknown cell 'elman': choose one of rnn, rnn_relu, lstm, gru"),
        (lambda: LongRangeModel("adding", gate_init="zeros"), "unknown gate_init 'zeros': choose one of default, chrono"),
    ],
)
def test_bad_choices_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(("problem", "shape"), [("adding", (4,)), ("copy", (4, 3, 8))])
@pytest.mark.parametrize("cell", ["rnn", "rnn_relu", "lstm", "gru"])
def test_model_output_shapes_and_backends_agree(problem, shape, cell):
    torch.manual_seed(0)
    x, _ = data.make_batch(problem, torch.Generator().manual_seed(0), 4, 6)
    fused = LongRangeModel(problem, cell, hidden_size=8, gate_init="chrono", max_lag=6)
    scratch = LongRangeModel(problem, cell, hidden_size=8, backend="scratch")
    scratch.load_state_dict(fused.state_dict())
    assert fused(x).shape == shape
    torch.testing.assert_close(scratch(x), fused(x), atol=1e-5, rtol=1e-5)


def test_chrono_init_sets_long_memories():
    torch.manual_seed(0)
    lstm = LongRangeModel("adding", "lstm", hidden_size=16, gate_init="chrono", max_lag=100).rnn.rnn
    forget, write = lstm.bias_hh_l0.detach()[16:32], lstm.bias_hh_l0.detach()[:16]
    assert float(forget.min()) >= 0.0 and float(forget.max()) <= math.log(99) + 1e-6 and float(forget.max()) > 2.0
    torch.testing.assert_close(write, -forget)
    assert float(lstm.bias_ih_l0.detach().abs().max()) == 0.0
    gru = LongRangeModel("adding", "gru", hidden_size=16, gate_init="chrono", max_lag=100).rnn.rnn
    assert float(gru.bias_hh_l0.detach()[16:32].max()) > 2.0  # update gate z: keep the state
    default = LongRangeModel("adding", "lstm", hidden_size=16).rnn.rnn
    assert float(default.bias_hh_l0.detach()[16:32].abs().max()) <= 0.25  # torch's U(-1/sqrt(H), 1/sqrt(H))


def _tiny(**overrides) -> LongRangeTrainParams:
    values = {"hidden_size": 16, "batch_size": 32, "lr": 0.01, "max_steps": 300, "val_every": 50, "flow_batch": 8} | overrides
    return LongRangeTrainParams(**values)


PREP = LongRangePrepareParams(symbols=2, alphabet=4, val_size=200, test_size=300)


def test_lstm_learns_the_short_adding_problem_and_writes_a_checkpoint(tmp_path):
    from pipeline.training.longrange import train

    result = train(_tiny(), PREP, TrainerParams(), 7, "adding", 6, "lstm", tmp_path / "model", tmp_path / "work")
    assert result["baseline"]["mse"] > 0.12
    assert result["test"]["error"] < 0.05  # far below the trivial 0.167
    assert len(result["flow"]["init"]) == len(result["flow"]["trained"]) == 6
    assert all(v > 0 for v in result["flow"]["trained"])
    assert result["history"] and result["history"][0]["step"] == 50 and result["steps"] <= 300
    payload = load_checkpoint(tmp_path / "model" / "model.pt", "longrange")
    model = LongRangeModel(**payload["model_args"])
    model.load_state_dict(payload["state_dict"])
    x, y = data.make_batch("adding", data.split_generator(7, "test"), PREP.test_size, 6)
    with torch.no_grad():
        assert abs(float(torch.nn.functional.mse_loss(model(x), y)) - result["test"]["error"]) < 1e-6


def test_training_is_reproducible_and_stops_once_solved(tmp_path):
    from pipeline.training.longrange import train

    cfg = _tiny(max_steps=400, solved_error=0.5)  # an easy bar: the copy task of length 3 passes it early
    first = train(cfg, PREP, TrainerParams(), 3, "copy", 3, "gru", tmp_path / "a", tmp_path / "wa")
    second = train(cfg, PREP, TrainerParams(), 3, "copy", 3, "gru", tmp_path / "b", tmp_path / "wb")
    assert first["test"] == second["test"] and first["history"] == second["history"]
    assert first["steps"] < 400 and first["history"][-1]["val/error"] < 0.5
    assert first["baseline"]["error"] == 0.75


def test_params_reject_a_length_below_two_and_unknown_cells():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="lengths must be at least 2"):
        LongRangeTrainParams(lengths=[1, 10])
    with pytest.raises(ValidationError, match="'rnn', 'rnn_relu', 'lstm' or 'gru'"):
        LongRangeTrainParams(cells=["elman"])


def _stage(args: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "stages" / "longrange.py"), *args], cwd=cwd, capture_output=True, text=True)


def test_report_names_a_missing_run(tmp_path):
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    (tmp_path / "runs").mkdir()
    result = _stage(["report", "--runs", "runs", "--models", "models", "--plots", "plots", "--metrics", "m.json"], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "error: runs/adding-10-rnn.json is missing: run `dvc repro longrange`" in result.stderr
    assert not (tmp_path / "m.json").exists()


def test_exploding_stage_shows_clipping_saves_the_run(tmp_path):
    """The default demonstration, shortened: the unclipped IRNN's loss stops being finite, the clipped one trains."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"]["longrange"]["exploding"].update(steps=40)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = _stage(["exploding", "--plots", "plots", "--metrics", "m.json"], tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["unclipped"]["diverged"] and metrics["unclipped"]["steps"] < 40
    assert not metrics["clipped"]["diverged"] and metrics["clipped"]["steps"] == 40
    assert metrics["first_grad_norm"] > 10 * params["train"]["longrange"]["exploding"]["clip"]
    runs = json.loads((tmp_path / "plots" / "runs.json").read_text())
    assert None in runs["no clipping"]["loss"] + runs["no clipping"]["grad_norm"]
    assert (tmp_path / "plots" / "exploding_gradients.png").is_file()
