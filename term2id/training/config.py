"""Training configuration: dataclasses split by concern, read from YAML, overridden by --set.

    model:    {base_model: models/Llama-3.1-8B-Instruct, load_in_4bit: true}
    data:     {train_file: data/train.jsonl, max_length: 256}
    adapter:  {r: 16, alpha: 32}
    training: {output_dir: runs/hpo, epochs: 3, batch_size: 8}

`--set training.batch_size=4` overrides one value (parsed as YAML, so 4, 2e-4, true, [a, b] work).
A key that does not exist is an error naming the valid ones; relative paths in the file are
relative to the file's folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from term2id.training.errors import ConfigError

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True, slots=True)
class ModelConfig:
    base_model: str = ""  # a local Hugging Face folder (safetensors)
    load_in_4bit: bool = False  # QLoRA: bitsandbytes NF4, CUDA only
    dtype: str = "auto"  # auto, float32, bfloat16, float16
    use_chat_template: bool = True  # when the tokenizer has one; else a plain prompt format


@dataclass(frozen=True, slots=True)
class DataConfig:
    train_file: str = ""  # JSONL of prompt/completion records (`term2id train data`)
    eval_file: str = ""  # optional: withheld records, evaluated at the end
    tasks: tuple[str, ...] = ()  # only these tasks (empty: all in the file)
    max_length: int = 256  # tokens; longer records are dropped with a warning


@dataclass(frozen=True, slots=True)
class AdapterConfig:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = LORA_TARGETS


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    output_dir: str = "runs/adapter"
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs
    learning_rate: float = 2e-4
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    warmup_ratio: float = 0.03
    seed: int = 0
    logging_steps: int = 10
    save_steps: int = 200
    save_total_limit: int = 2
    resume: bool = True  # continue from the last checkpoint in output_dir, if any
    gradient_checkpointing: bool = False


@dataclass(frozen=True, slots=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_SECTIONS = {f.name: f.type for f in fields(RunConfig)}
_PATH_KEYS = {("model", "base_model"), ("data", "train_file"), ("data", "eval_file"),
              ("training", "output_dir")}  # fmt: skip


def _section_class(name: str) -> type:
    return {"model": ModelConfig, "data": DataConfig, "adapter": AdapterConfig,
            "training": TrainingConfig}[name]  # fmt: skip


def valid_keys() -> list[str]:
    return [f"{section}.{f.name}" for section in _SECTIONS for f in fields(_section_class(section))]


def _coerce(key: str, value: Any, annotation: Any, where: Path | str) -> Any:
    target = annotation
    origin = typing.get_origin(target)
    if origin is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, Sequence):
            raise ConfigError(where, f"{key} must be a list, not {value!r}")
        return tuple(str(item) for item in items)
    if origin in (typing.Union, types.UnionType):
        target = next(a for a in typing.get_args(target) if a is not type(None))
    if target is bool:
        if not isinstance(value, bool):
            raise ConfigError(where, f"{key} must be true or false, not {value!r}")
        return value
    if target is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(where, f"{key} must be a whole number, not {value!r}")
        return value
    if target is float:
        if isinstance(value, str):  # YAML reads 1e-4 (no dot) as text
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(where, f"{key} must be a number, not {value!r}")
        return float(value)
    if value is None:
        return ""
    return str(value)


def _apply(
    config: RunConfig, section: str, key: str, value: Any, where: Path | str, base: Path | None
) -> RunConfig:
    full_key = f"{section}.{key}"
    if section not in _SECTIONS:
        raise ConfigError(where, f"unknown section {section!r}; sections: {', '.join(_SECTIONS)}")
    cls = _section_class(section)
    known = {f.name: f for f in fields(cls)}
    if key not in known:
        raise ConfigError(
            where,
            f"unknown key {full_key!r}; valid keys: "
            + ", ".join(k for k in valid_keys() if k.startswith(section + ".")),
        )
    coerced = _coerce(full_key, value, typing.get_type_hints(cls)[key], where)
    if (section, key) in _PATH_KEYS and coerced and base is not None:
        coerced = str((base / Path(coerced).expanduser()).resolve())
    return replace(config, **{section: replace(getattr(config, section), **{key: coerced})})


def load_config(path: Path | str | None, overrides: Sequence[str] = ()) -> RunConfig:
    """Read a YAML file (or defaults when None), then apply `section.key=value` overrides."""
    config = RunConfig()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(path, "no such configuration file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise ConfigError(
                path, f"not valid YAML ({getattr(exc, 'problem', exc)})", line
            ) from exc
        if not isinstance(data, Mapping):
            raise ConfigError(path, "expected sections model, data, adapter, training")
        lines = _key_lines(path)
        for section, values in data.items():
            where = _Where(path, lines.get((str(section), None)))
            if not isinstance(values, Mapping):
                if section not in _SECTIONS:
                    raise ConfigError(
                        where.path,
                        f"unknown section {section!r}; sections: {', '.join(_SECTIONS)}",
                        where.line,
                    )
                raise ConfigError(
                    where.path, f"section {section!r} must hold key: value pairs", where.line
                )
            for key, value in values.items():
                line = lines.get((str(section), str(key)))
                try:
                    config = _apply(config, str(section), str(key), value, path, path.parent)
                except ConfigError as exc:
                    raise ConfigError(path, exc.reason, line) from None
    for override in overrides:
        name, sep, text = override.partition("=")
        section, dot, key = name.strip().partition(".")
        if not sep or not dot:
            raise ConfigError("--set", f"{override!r} is not section.key=value")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        config = _apply(config, section, key, value, f"--set {name.strip()}", Path.cwd())
    return config


@dataclass(frozen=True, slots=True)
class _Where:
    path: Path
    line: int | None


def _key_lines(path: Path) -> dict[tuple[str, str | None], int]:
    """(section, key) -> 1-based line in the YAML file, for messages that point at the key."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return {}
    lines: dict[tuple[str, str | None], int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for section_node, values_node in root.value:
        section = str(section_node.value)
        lines[(section, None)] = section_node.start_mark.line + 1
        if isinstance(values_node, yaml.MappingNode):
            for key_node, _ in values_node.value:
                lines[(section, str(key_node.value))] = key_node.start_mark.line + 1
    return lines


def require(config: RunConfig, where: Path | str) -> RunConfig:
    """Check the values a run cannot go without."""
    if not config.model.base_model:
        raise ConfigError(where, "model.base_model is not set (a local Hugging Face model folder)")
    if not config.data.train_file:
        raise ConfigError(where, "data.train_file is not set (JSONL from `term2id train data`)")
    for key, value in (("training.batch_size", config.training.batch_size),
                       ("adapter.r", config.adapter.r), ("data.max_length", config.data.max_length)):  # fmt: skip
        if value < 1:
            raise ConfigError(where, f"{key} must be at least 1, not {value}")
    return config
