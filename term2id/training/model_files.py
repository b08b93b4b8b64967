"""A model or adapter folder as term2id reads and writes it: its config, its safetensors weights,
their hash, and the training info saved beside them.

Weights are read from safetensors only: pickled checkpoints (.bin, .pt) can run code when loaded,
so they are refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from term2id.core.files import atomic_path
from term2id.training.errors import ModelDirectoryError

PICKLED_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
# The Trainer's own state beside a checkpoint, which no from_pretrained reads.
_TRAINER_STATE = re.compile(
    r"training_args\.bin|(optimizer|scheduler|scaler)\.pt|rng_state(_\d+)?\.pth"
)
ADAPTER_WEIGHTS = "adapter_model.safetensors"  # what peft's from_pretrained reads
MODEL_WEIGHTS = "model.safetensors"  # what transformers' from_pretrained reads ...
MODEL_WEIGHTS_INDEX = "model.safetensors.index.json"  # ... or, for a sharded model, this


def read_model_config(model_dir: Path | str) -> dict[str, Any]:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelDirectoryError(model_dir, "no such model folder")
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise ModelDirectoryError(
            model_dir, "not a Hugging Face model folder (no config.json in it)"
        )
    try:
        return json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirectoryError(config_path, f"not valid JSON ({exc})") from exc


def read_adapter_config(adapter_dir: Path | str) -> dict[str, Any]:
    adapter_dir = Path(adapter_dir)
    path = adapter_dir / "adapter_config.json"
    if not adapter_dir.is_dir():
        raise ModelDirectoryError(adapter_dir, "no such adapter folder")
    if not path.is_file():
        raise ModelDirectoryError(adapter_dir, "not a peft adapter (no adapter_config.json)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirectoryError(path, f"not valid JSON ({exc})") from exc


def safetensors_files(model_dir: Path | str, what: str = "model") -> list[Path]:
    """The safetensors files the loader of `what` reads, which must all be there.

    A peft adapter: adapter_model.safetensors. A model: model.safetensors, or the shards named by
    model.safetensors.index.json. A pickled weight file anywhere in the folder is refused by
    name, since a loader might pick it instead (peft reads adapter_model.bin when its
    safetensors file is missing), and unpickling can run arbitrary code.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelDirectoryError(model_dir, f"no such {what} folder")
    pickled = sorted(
        p.name
        for p in model_dir.iterdir()
        if p.suffix in PICKLED_WEIGHT_SUFFIXES and not _TRAINER_STATE.fullmatch(p.name)
    )
    if pickled:
        raise ModelDirectoryError(
            model_dir,
            f"the {what} weights are pickled ({', '.join(pickled[:3])}); term2id reads only "
            "safetensors, because loading a pickle can run arbitrary code. Remove them, or "
            "convert them with the tool that made them (save_pretrained(..., safe_serialization=True))",
        )
    if what == "adapter":
        files = [model_dir / ADAPTER_WEIGHTS]
    elif (model_dir / MODEL_WEIGHTS).is_file() or not (model_dir / MODEL_WEIGHTS_INDEX).is_file():
        files = [model_dir / MODEL_WEIGHTS]
    else:
        files = _shards_of(model_dir / MODEL_WEIGHTS_INDEX)
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise ModelDirectoryError(
            model_dir, f"no {missing[0]} in this folder (the {what} weights, in safetensors)"
        )
    return files


def _shards_of(index: Path) -> list[Path]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelDirectoryError(index, f"not a safetensors index ({exc})") from exc
    if not names or any(Path(n).name != n or not n.endswith(".safetensors") for n in names):
        raise ModelDirectoryError(
            index, "its weight_map must name .safetensors files in this folder"
        )
    return [index.parent / n for n in names]


def iter_safetensors(files: list[Path]) -> Iterator[tuple[str, Any]]:
    """(name, float32 numpy array) for each tensor, one at a time (bf16 goes through torch)."""
    from safetensors import safe_open

    for path in files:
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                yield name, handle.get_tensor(name).float().numpy()


def sha256_of(paths: list[Path]) -> str:
    """One hash over several files (in the given order), e.g. a model's weight shards."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


TRAINING_INFO = "term2id-training.json"


def write_training_info(folder: Path | str, fields: Mapping[str, Any]) -> Path:
    """What a model or adapter folder was trained on; export copies it into the manifest."""
    path = Path(folder) / TRAINING_INFO
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(dict(fields), indent=2, ensure_ascii=False) + "\n")
    return path


def read_manifest_fields(folder: Path | str) -> dict[str, Any]:
    """The training info saved beside a model or adapter (empty for a foreign model)."""
    path = Path(folder) / TRAINING_INFO
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelDirectoryError(path, f"not valid JSON ({exc})") from exc
