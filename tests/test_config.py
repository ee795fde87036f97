"""params.yaml validation: mistakes stop a stage with a message naming the key."""

from __future__ import annotations

import copy

import pytest
import yaml

from pipeline.config import ConfigError, load_params, parse_params

from .conftest import REPO


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_repository_params_are_valid(raw):
    params = load_params(REPO / "params.yaml")
    assert params.train.sentiment.cell in ("rnn", "lstm", "gru")
    assert params.model_dump()["prepare"]["sentiment"] == raw["prepare"]["sentiment"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["train"]["sentiment"].update(hiden_size=64), "unknown key 'train.sentiment.hiden_size'"),
        (lambda p: p["train"]["sentiment"].update(lr=-1), "'train.sentiment.lr' = -1: Input should be greater than 0"),
        (lambda p: p["train"]["sentiment"].update(cell="transformer"), "'train.sentiment.cell' = 'transformer': Input should be 'rnn', 'lstm' or 'gru'"),
        (lambda p: p["train"]["sentiment"].update(batch_size="many"), "'train.sentiment.batch_size' = 'many'"),
        (lambda p: p["prepare"]["sentiment"].update(source="local", path=None), "source 'local' needs 'path'"),
        (lambda p: p["prepare"]["sentiment"].update(val_fraction=0.5, test_fraction=0.5), "val_fraction + test_fraction"),
        (lambda p: p.pop("seed"), "missing key 'seed'"),
        (lambda p: p.update(tranier={}), "unknown key 'tranier'"),
    ],
)
def test_bad_params_name_the_key(raw, edit, message):
    bad = copy.deepcopy(raw)
    edit(bad)
    with pytest.raises(ConfigError) as info:
        parse_params(bad, "params.yaml")
    assert message in str(info.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="parameters file not found"):
        load_params(tmp_path / "params.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_params(listing)
