"""Training configuration and the trainer's checks on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from term2id.core.curation.training_records import TrainingRecord, write_jsonl
from term2id.training.config import load_config, require
from term2id.training.errors import ConfigError, EmptyDatasetError, ModelDirectoryError


def test_yaml_values_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(
        "model:\n  base_model: models/llama\n  load_in_4bit: true\n"
        "data: {train_file: data/train.jsonl}\n"
        "adapter: {r: 4, target_modules: [q_proj, v_proj]}\n"
        "training: {batch_size: 2}\n"
    )
    config = load_config(path, ["training.batch_size=8", "training.learning_rate=1e-4"])
    assert config.model.base_model == str(tmp_path / "models" / "llama")  # relative to the file
    assert config.model.load_in_4bit is True
    assert config.adapter.r == 4 and config.adapter.target_modules == ("q_proj", "v_proj")
    assert config.training.batch_size == 8 and config.training.learning_rate == 1e-4


def test_unknown_key_names_the_valid_ones(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("training:\n  batchsize: 8\n")
    with pytest.raises(
        ConfigError,
        match=r"run.yaml:2: unknown key 'training.batchsize'; valid keys: .*training.batch_size",
    ):
        load_config(path)
    with pytest.raises(ConfigError, match="unknown section 'trainer'; sections: model, data"):
        load_config(None, ["trainer.epochs=2"])
    with pytest.raises(ConfigError, match="training.batch_size must be a whole number"):
        load_config(None, ["training.batch_size=eight"])
    with pytest.raises(ConfigError, match="is not section.key=value"):
        load_config(None, ["epochs"])


def test_broken_yaml_and_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  base_model: [unclosed\n")
    with pytest.raises(ConfigError, match=r"run.yaml:\d+: not valid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="model.base_model is not set"):
        require(load_config(None), "run.yaml")


def _train_file(path: Path, records: int = 2) -> Path:
    rows = [TrainingRecord(f"What is the HPO identifier for t{i}?", " HP:0000001", "term2id",
                           "hp", f"t{i}", "HP:0000001") for i in range(records)]  # fmt: skip
    write_jsonl(rows, path)
    return path


def test_trainer_refuses_a_missing_or_non_causal_model(tmp_path: Path) -> None:
    from term2id.training.trainer import run_training

    train = _train_file(tmp_path / "train.jsonl")
    config = load_config(
        None, [f"model.base_model={tmp_path / 'nowhere'}", f"data.train_file={train}"]
    )
    with pytest.raises(ModelDirectoryError, match="nowhere: no such model folder"):
        run_training(config)
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    (bert / "model.safetensors").write_bytes(b"")
    config = load_config(None, [f"model.base_model={bert}", f"data.train_file={train}"])
    with pytest.raises(ModelDirectoryError, match="not a causal language model .*BertModel"):
        run_training(config)


@pytest.mark.slow
def test_trainer_refuses_an_empty_dataset(tiny_model, tmp_path: Path) -> None:
    from term2id.training.trainer import run_training

    empty = tmp_path / "train.jsonl"
    empty.write_text("\n")
    config = load_config(
        None, [f"model.base_model={tiny_model.model_dir}", f"data.train_file={empty}"]
    )
    with pytest.raises(EmptyDatasetError, match="train.jsonl: the dataset is empty"):
        run_training(config)
