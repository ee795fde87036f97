"""Reading source tables and writing prepared data sets: what every task's data module shares.

``load_table`` reads a local csv/tsv/json/jsonl/parquet file or a Hugging Face hub id as a
``datasets.Dataset``; ``save_prepared``/``load_prepared`` write and read the prepare stage's
output folder: ``dataset/`` (``DatasetDict.save_to_disk``), ``tokenizer.json`` and ``meta.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.data import DataError
from pipeline.data.tokenize import load_tokenizer

LOCAL_FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def load_table(source: str, path: str, hub_config: str | None, hub_split: str, key: str) -> Any:
    """A local file (``source == "local"``) or a hub id as a ``datasets.Dataset``.

    ``key`` names the params entry that holds ``path`` (``prepare.sentiment.path``), for the messages.
    """
    import datasets  # here: callers that never read a table need not import it

    if source == "local":
        file = Path(path)
        if not file.is_file():
            raise DataError(f"data file not found: {file} (set {key} to an existing file)")
        builder = LOCAL_FORMATS.get(file.suffix.lower())
        if builder is None:
            raise DataError(f"{file}: unsupported file type {file.suffix!r}; use one of {', '.join(LOCAL_FORMATS)}")
        kwargs = {"delimiter": "\t"} if file.suffix.lower() == ".tsv" else {}
        try:
            return datasets.load_dataset(builder, data_files=str(file), split="train", **kwargs)
        except Exception as exc:  # pyarrow and pandas raise many kinds on malformed files
            raise DataError(f"{file} could not be read as {file.suffix} ({type(exc).__name__}: {exc})") from None
    try:
        return datasets.load_dataset(path, name=hub_config, split=hub_split)
    except Exception as exc:
        raise DataError(
            f"could not load hub data set {path!r} (config {hub_config!r}, split {hub_split!r}): "
            f"{type(exc).__name__}: {exc}. Check the id, config and split, and that HF_HUB_OFFLINE is not set if it must be downloaded."
        ) from None


def save_prepared(out_dir: Path, dataset: Any, tokenizer: Any, meta: dict) -> None:
    """Write dataset/, tokenizer.json (or, for a {name: tokenizer} dict, NAME_tokenizer.json each) and meta.json into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dataset.save_to_disk(str(out_dir / "dataset"))
    if isinstance(tokenizer, dict):
        meta = {**meta, "tokenizers": sorted(tokenizer)}
        for name, one in tokenizer.items():
            one.save(str(out_dir / f"{name}_tokenizer.json"))
    else:
        tokenizer.save(str(out_dir / "tokenizer.json"))
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_prepared(prepared_dir: Path, task: str) -> tuple[Any, Any, dict]:
    """Load what ``save_prepared`` wrote for ``task``: (DatasetDict, tokenizer or {name: tokenizer}, meta)."""
    import datasets

    meta_path = prepared_dir / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"no prepared data in {prepared_dir} (meta.json missing): run `dvc repro prepare@{task}` first")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("task") != task:
        raise DataError(f"{prepared_dir} holds prepared {meta.get('task')!r} data, not {task!r} data")
    dataset = datasets.load_from_disk(str(prepared_dir / "dataset"))
    if "tokenizers" in meta:
        return dataset, {name: load_tokenizer(prepared_dir / f"{name}_tokenizer.json") for name in meta["tokenizers"]}, meta
    return dataset, load_tokenizer(prepared_dir / "tokenizer.json"), meta
