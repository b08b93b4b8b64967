"""Fine-tuning the tiny model with the real trainer, then evaluating before and after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from term2id.core.curation.training_records import TrainingRecord, write_jsonl
from term2id.training.config import load_config


def _dataset(tiny_model, folder: Path) -> Path:
    records = [
        TrainingRecord(tiny_model.prompt(term), f" {curie}", "term2id", "hp", term, curie,
                       "train", curie, None, i % 2)
        for i, (term, curie) in enumerate(tiny_model.adapter_pairs)
    ]  # fmt: skip
    path = folder / "train.jsonl"
    write_jsonl(records, path)
    (folder / "dataset.json").write_text(json.dumps({"release": "test-release"}))
    return path


def _config(tiny_model, train: Path, out: Path, steps: int, extra: tuple[str, ...] = ()):
    return load_config(
        None,
        [f"model.base_model={tiny_model.model_dir}", f"data.train_file={train}",
         f"training.output_dir={out}", f"training.max_steps={steps}", "training.batch_size=10",
         "training.learning_rate=0.01", "training.save_steps=20", "training.logging_steps=20",
         "adapter.r=8", "adapter.alpha=16", "adapter.dropout=0.0", *extra],
    )  # fmt: skip


@pytest.mark.slow
def test_run_trains_an_adapter_that_eval_scores_above_the_base(tiny_model, tmp_path: Path) -> None:
    from term2id.training.evaluate import evaluate_models, write_report
    from term2id.training.trainer import run_training

    train = _dataset(tiny_model, tmp_path)
    outcome = run_training(_config(tiny_model, train, tmp_path / "run", 40))
    assert outcome.steps == 40 and not outcome.chat_template
    info = json.loads((outcome.adapter_dir / "term2id-training.json").read_text())
    assert info["release"] == "test-release" and info["tasks"] == ["term2id"]

    cells = evaluate_models(tiny_model.model_dir, outcome.adapter_dir, [train])
    overall = {c.model: c.accuracy for c in cells if c.popularity_bin is None}
    assert overall["base"] <= 0.2
    assert overall["adapter"] >= 0.6
    paths = write_report(cells, tmp_path / "eval")
    assert paths["png"].stat().st_size > 1000
    assert "adapter\ttrain\tterm2id\tall" in paths["tsv"].read_text()

    # Asking for more steps continues from the last checkpoint instead of starting over.
    again = run_training(_config(tiny_model, train, tmp_path / "run", 45))
    assert again.resumed_from is not None and again.resumed_from.endswith("checkpoint-40")
    assert again.steps == 45


@pytest.mark.slow
def test_4bit_without_cuda_says_what_to_change(tiny_model, tmp_path: Path) -> None:
    import torch

    from term2id.training.errors import TrainingError
    from term2id.training.trainer import run_training

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: 4-bit loading is possible here")
    config = _config(tiny_model, _dataset(tiny_model, tmp_path), tmp_path / "run", 5,
                     ("model.load_in_4bit=true",))  # fmt: skip
    with pytest.raises(TrainingError, match="load_in_4bit needs a CUDA GPU"):
        run_training(config)


@pytest.mark.gpu
@pytest.mark.slow
def test_qlora_on_cuda_trains_and_exports(cuda_device: str, tiny_model, tmp_path: Path) -> None:
    # `make test` installs the gpu extra wherever nvidia-smi finds a GPU: missing, it is an error.
    import bitsandbytes  # noqa: F401

    from term2id.training.gguf_export import export_lora_adapter
    from term2id.training.trainer import run_training

    config = _config(tiny_model, _dataset(tiny_model, tmp_path), tmp_path / "run", 60,
                     ("model.load_in_4bit=true",))  # fmt: skip
    outcome = run_training(config)
    assert outcome.steps == 60
    result = export_lora_adapter(outcome.adapter_dir, tiny_model.model_dir, tmp_path / "a.gguf")
    assert result.size_bytes > 0
