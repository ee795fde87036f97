"""Typed parameters: every section of params.yaml as a pydantic model.

A stage calls ``load_params(path)`` and gets a ``Params`` object; an unknown key, a value
of the wrong type or out of range stops it with a ``ConfigError`` that names the key
(``train.sentiment.lr``), what was given and what is allowed. Nothing here reads files
other than the one it is handed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.cells import BACKENDS, CELLS, NONLINEARITIES

Cell = Literal[CELLS]
Backend = Literal[BACKENDS]
Nonlinearity = Literal[NONLINEARITIES]


class ConfigError(ValueError):
    """params.yaml is missing, unreadable, or holds a key or value that is not allowed."""


class _Section(BaseModel):
    # extra="forbid": a misspelt key (``hiden_size``) is an error, never silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class MLflowParams(_Section):
    tracking_uri: str | None = None
    experiment_prefix: str = Field("rnnlab", min_length=1)
    log_model: bool = True


class TrainerParams(_Section):
    accelerator: Literal["cpu", "gpu", "cuda", "mps", "auto"] = "cpu"
    devices: int | Literal["auto"] = 1
    num_nodes: int = Field(1, ge=1)
    strategy: str = "auto"
    precision: Literal["32-true", "16-mixed", "bf16-mixed", "64-true"] = "32-true"
    deterministic: bool = True
    enable_progress_bar: bool = False


class SentimentPrepareParams(_Section):
    source: Literal["vader", "local", "hub"] = "vader"
    path: str | None = None
    hub_config: str | None = None
    hub_split: str = "train"
    text_column: str = "text"
    label_column: str = "label"
    neutral_band: float = Field(0.5, ge=0.0, lt=4.0)
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    lowercase: bool = True
    min_frequency: int = Field(2, ge=1)
    max_vocab: int = Field(30000, ge=10)
    max_length: int = Field(64, ge=1)

    @model_validator(mode="after")
    def _check(self) -> SentimentPrepareParams:
        if self.source in ("local", "hub") and not self.path:
            raise ValueError(f"source {self.source!r} needs 'path' (a local file, or a hub dataset id)")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must leave data to train on (sum < 1)")
        return self


class SentimentTrainParams(_Section):
    cell: Cell = "lstm"
    backend: Backend = "fused"
    nonlinearity: Nonlinearity = "tanh"
    embedding_dim: int = Field(128, ge=1)
    hidden_size: int = Field(128, ge=1)
    num_layers: int = Field(1, ge=1)
    bidirectional: bool = True
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    pooling: Literal["last", "mean", "max", "meanmax"] = "meanmax"
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    max_epochs: int = Field(10, ge=1)
    patience: int = Field(3, ge=1)
    grad_clip: float = Field(1.0, ge=0.0)


class SentimentEvaluateParams(_Section):
    batch_size: int = Field(256, ge=1)


class CharLMPrepareParams(_Section):
    source: Literal["vader", "local", "hub"] = "vader"
    path: str | None = None  # local: a .txt file (read whole) or csv/tsv/json/jsonl/parquet (text_column); hub: a data set id
    hub_config: str | None = None
    hub_split: str = "train"
    text_column: str = "text"
    shuffle_lines: bool = True  # independent sentences (vader): shuffle; running text (a novel, a play): keep the order
    val_fraction: float = Field(0.05, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.05, gt=0.0, lt=1.0)
    min_char_count: int = Field(5, ge=1)  # characters seen fewer times in train become <unk>

    @model_validator(mode="after")
    def _check(self) -> CharLMPrepareParams:
        if self.source in ("local", "hub") and not self.path:
            raise ValueError(f"source {self.source!r} needs 'path' (a local file, or a hub dataset id)")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must leave text to train on (sum < 1)")
        return self


class CharLMTrainParams(_Section):
    cell: Cell = "lstm"
    backend: Backend = "fused"
    nonlinearity: Nonlinearity = "tanh"
    embedding_dim: int = Field(64, ge=1)
    hidden_size: int = Field(256, ge=1)
    num_layers: int = Field(2, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    batch_size: int = Field(32, ge=1)  # parallel streams (rows) the training text is cut into
    bptt: int = Field(64, ge=1)  # characters per truncated-BPTT window
    windows_per_batch: int = Field(4, ge=1)  # windows per Lightning batch; one optimizer step per window
    lr: float = Field(3e-3, gt=0.0)
    lr_schedule: Literal["constant", "cosine"] = "constant"
    min_lr_ratio: float = Field(0.1, ge=0.0, le=1.0)  # cosine decays to lr * min_lr_ratio
    weight_decay: float = Field(0.0, ge=0.0)
    max_epochs: int = Field(2, ge=1)
    patience: int = Field(4, ge=1)  # validations without a lower val/loss before stopping
    validations_per_epoch: int = Field(4, ge=1)  # points on the learning curve
    grad_clip: float = Field(1.0, ge=0.0)
    carry_state: bool = True  # False: every window starts from zeros (what truncated BPTT's carried state is worth)
    val_batch_size: int = Field(32, ge=1)  # streams the validation text is cut into


class CharLMEvaluateParams(_Section):
    batch_size: int = Field(32, ge=1)  # streams the test text is cut into (state carried along each)
    prime: str = "The movie was "
    sample_length: int = Field(400, ge=1)
    temperatures: list[float] = Field(default_factory=lambda: [0.5, 0.8, 1.0], min_length=1)
    top_k: int | None = Field(None, ge=1)
    sample_seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> CharLMEvaluateParams:
        if any(t < 0 for t in self.temperatures):
            raise ValueError("temperatures must be >= 0 (0 means always the most likely character)")
        return self


class TranslatePrepareParams(_Section):
    source: Literal["num2words", "local", "hub"] = "num2words"
    path: str | None = None  # local: a tab-separated pair file; hub: a data set id
    hub_config: str | None = None
    hub_split: str = "train"
    source_column: str = "source"
    target_column: str = "target"
    source_language: str = "en"
    target_language: str = "vi"
    max_digits: int = Field(9, ge=1, le=12)  # num2words: numbers below 10**max_digits
    train_size: int = Field(20000, ge=1)  # num2words: distinct numbers per split
    val_size: int = Field(1000, ge=1)
    test_size: int = Field(2000, ge=1)
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)  # local / hub pairs
    test_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    lowercase: bool = True
    min_frequency: int = Field(1, ge=1)
    max_length: int = Field(40, ge=1)  # tokens per side; longer pairs are dropped and counted

    @model_validator(mode="after")
    def _check(self) -> TranslatePrepareParams:
        if self.source in ("local", "hub") and not self.path:
            raise ValueError(f"source {self.source!r} needs 'path' (a tab-separated pair file, or a hub dataset id)")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must leave pairs to train on (sum < 1)")
        return self


class TranslateTrainParams(_Section):
    cell: Cell = "gru"
    backend: Backend = "fused"
    nonlinearity: Nonlinearity = "tanh"
    attention: Literal["bahdanau", "luong", "none"] = "bahdanau"
    embedding_dim: int = Field(64, ge=1)
    hidden_size: int = Field(128, ge=1)  # encoder units per direction; the decoder has 2x
    num_layers: int = Field(1, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    teacher_forcing: float = Field(1.0, ge=0.0, le=1.0)  # chance of feeding the true previous word (else the model's own)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    max_epochs: int = Field(3, ge=1)
    patience: int = Field(2, ge=1)
    grad_clip: float = Field(1.0, ge=0.0)


class TranslateEvaluateParams(_Section):
    batch_size: int = Field(256, ge=1)
    beam_width: int = Field(5, ge=1)
    length_penalty: float = Field(1.0, ge=0.0)  # GNMT's alpha: score / ((5 + length) / 6) ** alpha
    max_length: int = Field(60, ge=1)  # output tokens before decoding stops without [EOS]
    heatmaps: int = Field(3, ge=0)  # test sentences whose attention weights are drawn


class LongRangePrepareParams(_Section):
    symbols: int = Field(3, ge=1)  # copy task: letters to recall
    alphabet: int = Field(8, ge=2)  # copy task: letters to draw from
    val_size: int = Field(1000, ge=1)  # fixed validation sequences (training batches are drawn fresh)
    test_size: int = Field(2000, ge=1)


class ExplodingParams(_Section):
    """The exploding-gradient demonstration: an Elman cell trained with the hand-written BPTT."""

    length: int = Field(100, ge=2)  # adding problem
    hidden_size: int = Field(32, ge=1)
    nonlinearity: Nonlinearity = "relu"
    recurrent_scale: float = Field(1.0, gt=0.0)  # W_hh = scale x identity (the IRNN of Le et al. 2015)
    lr: float = Field(0.01, gt=0.0)  # plain SGD, so that the step is the gradient
    steps: int = Field(150, ge=1)
    batch_size: int = Field(32, ge=1)
    clip: float = Field(1.0, gt=0.0)  # the clipped run's max gradient norm


class LongRangeTrainParams(_Section):
    # The DVC matrix (dvc.yaml reads these lists): one stage per problem x length x cell.
    problems: list[Literal["adding", "copy"]] = Field(default_factory=lambda: ["adding", "copy"], min_length=1)
    lengths: list[int] = Field(default_factory=lambda: [10, 50, 100], min_length=1)
    cells: list[Literal["rnn", "rnn_relu", "lstm", "gru"]] = Field(default_factory=lambda: ["rnn", "rnn_relu", "lstm", "gru"], min_length=1)
    backend: Backend = "fused"
    gate_init: Literal["default", "chrono"] = "chrono"  # chrono: gate biases set for lags up to the sequence length (pipeline/models/longrange.py)
    hidden_size: int = Field(64, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0.0)
    max_steps: int = Field(3000, ge=1)  # optimizer steps, each on a fresh batch
    val_every: int = Field(100, ge=1)  # steps between validations (points on the curve, chances to stop)
    solved_mse: float = Field(0.002, gt=0.0)  # adding: stop once val MSE is below this
    solved_error: float = Field(0.02, gt=0.0)  # copy: stop once the val symbol error rate is below this
    grad_clip: float = Field(1.0, ge=0.0)
    flow_batch: int = Field(64, ge=1)  # test sequences the gradient-flow curve averages over
    exploding: ExplodingParams = ExplodingParams()

    @model_validator(mode="after")
    def _check(self) -> LongRangeTrainParams:
        if min(self.lengths) < 2:
            raise ValueError("lengths must be at least 2 (the adding problem marks one step in each half)")
        return self


class PrepareParams(_Section):
    sentiment: SentimentPrepareParams
    charlm: CharLMPrepareParams = CharLMPrepareParams()
    translate: TranslatePrepareParams = TranslatePrepareParams()
    longrange: LongRangePrepareParams = LongRangePrepareParams()


class TrainParams(_Section):
    sentiment: SentimentTrainParams
    charlm: CharLMTrainParams = CharLMTrainParams()
    translate: TranslateTrainParams = TranslateTrainParams()
    longrange: LongRangeTrainParams = LongRangeTrainParams()


class EvaluateParams(_Section):
    sentiment: SentimentEvaluateParams = SentimentEvaluateParams()
    charlm: CharLMEvaluateParams = CharLMEvaluateParams()
    translate: TranslateEvaluateParams = TranslateEvaluateParams()


class Params(_Section):
    """All of params.yaml."""

    seed: int = Field(ge=0)
    mlflow: MLflowParams = MLflowParams()
    trainer: TrainerParams = TrainerParams()
    prepare: PrepareParams
    train: TrainParams
    evaluate: EvaluateParams = EvaluateParams()


def _describe(error: dict[str, Any], source: str) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{source}: unknown key '{key}': remove it or fix its spelling"
    if kind == "missing":
        return f"{source}: missing key '{key}'"
    message = error["msg"].removeprefix("Value error, ")
    return f"{source}: '{key}' = {error.get('input')!r}: {message}"


def parse_params(raw: Any, source: str = "params") -> Params:
    """Validate an already-parsed mapping; raise ConfigError naming every bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (seed, prepare, train, ...), got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(error, source) for error in exc.errors()]
        raise ConfigError("invalid parameters:\n  " + "\n  ".join(lines)) from None


def load_params(path: str | Path) -> Params:
    """Read and validate a params.yaml file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"parameters file not found: {path} (run from the repository root, where params.yaml is)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_params(raw, source=str(path))
