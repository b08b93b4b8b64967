"""Export to GGUF: what a user gets for models llama.cpp can run, and for ones it cannot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from term2id.training.errors import ModelDirectoryError, UnsupportedArchitectureError
from term2id.training.gguf_export import export_lora_adapter, export_model


def _model_folder(path: Path, architecture: str, weights: str) -> Path:
    path.mkdir()
    config = {"architectures": [architecture], "model_type": "x", "hidden_size": 8,
              "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 16,
              "vocab_size": 10}  # fmt: skip
    (path / "config.json").write_text(json.dumps(config))
    (path / weights).write_bytes(b"\x80\x04not really a pickle")
    return path


def test_unsupported_architecture_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    model = _model_folder(tmp_path / "gpt2", "GPT2LMHeadModel", "model.safetensors")
    out = tmp_path / "out" / "model.gguf"
    with pytest.raises(UnsupportedArchitectureError, match="GPT2LMHeadModel.*LlamaForCausalLM"):
        export_model(model, out, "Q8_0")
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_pickled_weights_are_refused_with_the_reason(tmp_path: Path) -> None:
    model = _model_folder(tmp_path / "llama", "LlamaForCausalLM", "pytorch_model.bin")
    with pytest.raises(ModelDirectoryError, match=r"pickled \(pytorch_model.bin\).*safetensors"):
        export_model(model, tmp_path / "model.gguf")
    assert not (tmp_path / "model.gguf").exists()


def _adapter_folder(path: Path, *weights: str) -> Path:
    path.mkdir()
    config = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"]}
    (path / "adapter_config.json").write_text(json.dumps(config))
    for name in weights:
        (path / name).write_bytes(b"\x80\x04not really a pickle")
    return path


def test_a_pickled_adapter_beside_other_safetensors_is_refused_by_name(tmp_path: Path) -> None:
    # peft reads adapter_model.bin when adapter_model.safetensors is absent, whatever else is there.
    base = _model_folder(tmp_path / "llama", "LlamaForCausalLM", "model.safetensors")
    adapter = _adapter_folder(tmp_path / "adapter", "x.safetensors", "adapter_model.bin")
    with pytest.raises(ModelDirectoryError, match=r"pickled \(adapter_model.bin\)"):
        export_lora_adapter(adapter, base, tmp_path / "lora.gguf")
    from term2id.training.evaluate import evaluate_models

    with pytest.raises(ModelDirectoryError, match=r"pickled \(adapter_model.bin\)"):
        evaluate_models(base, adapter, [])
    assert not (tmp_path / "lora.gguf").exists()


def test_an_adapter_needs_the_exact_file_peft_reads(tmp_path: Path) -> None:
    base = _model_folder(tmp_path / "llama", "LlamaForCausalLM", "model.safetensors")
    adapter = _adapter_folder(tmp_path / "adapter", "x.safetensors")
    with pytest.raises(ModelDirectoryError, match="no adapter_model.safetensors in this folder"):
        export_lora_adapter(adapter, base, tmp_path / "lora.gguf")


def test_a_model_needs_model_safetensors_or_its_shard_index(tmp_path: Path) -> None:
    model = _model_folder(tmp_path / "llama", "LlamaForCausalLM", "other.safetensors")
    with pytest.raises(ModelDirectoryError, match="no model.safetensors in this folder"):
        export_model(model, tmp_path / "model.gguf")
    (model / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                   "b": "model-00002-of-00002.safetensors"}})
    )  # fmt: skip
    (model / "model-00001-of-00002.safetensors").write_bytes(b"")
    with pytest.raises(ModelDirectoryError, match="no model-00002-of-00002.safetensors"):
        export_model(model, tmp_path / "model.gguf")
    (model / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(ModelDirectoryError, match=r"pickled \(pytorch_model.bin\)"):
        export_model(model, tmp_path / "model.gguf")


def test_cli_eval_with_a_pickled_adapter_fails_in_one_line(tmp_path: Path) -> None:
    base = _model_folder(tmp_path / "llama", "LlamaForCausalLM", "model.safetensors")
    adapter = _adapter_folder(tmp_path / "adapter", "x.safetensors", "adapter_model.bin")
    data = tmp_path / "train.jsonl"
    data.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "term2id.cli", "train", "eval", "--model", str(base),
         "--adapter", str(adapter), "--data", str(data), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "adapter_model.bin" in result.stderr


def test_missing_model_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelDirectoryError, match="no such model folder"):
        export_model(tmp_path / "nowhere", tmp_path / "model.gguf")


def test_cli_export_of_an_unsupported_model_fails_with_one_line(tmp_path: Path) -> None:
    model = _model_folder(tmp_path / "gpt2", "GPT2LMHeadModel", "model.safetensors")
    out = tmp_path / "model.gguf"
    result = subprocess.run(
        [sys.executable, "-m", "term2id.cli", "train", "export", "--model", str(model),
         "--out", str(out), "--quant", "Q8_0"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "GPT2LMHeadModel" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def _answers(model_path: Path, tiny_model, pairs, lora: Path | None = None) -> list[str]:
    from term2id.core.llm import load_llama as Llama

    llm = Llama(
        model_path=str(model_path), lora_path=str(lora) if lora else None, n_ctx=256,
        verbose=False,
    )  # fmt: skip
    try:
        return [
            llm(tiny_model.prompt(term), max_tokens=16, temperature=0.0)["choices"][0][
                "text"
            ].strip()
            for term, _ in pairs
        ]
    finally:
        llm.close()


@pytest.mark.slow
def test_f16_export_answers_like_f32(tiny_model, tmp_path: Path) -> None:
    result = export_model(tiny_model.model_dir, tmp_path / "f16.gguf", "F16", {"note": "test"})
    assert result.size_bytes < tiny_model.model_gguf.stat().st_size
    pairs = tiny_model.pairs[:10]
    assert _answers(result.path, tiny_model, pairs) == [curie for _, curie in pairs]
    assert json.loads(result.manifest_path.read_text())["quantisation"] == "F16"


@pytest.mark.slow
def test_k_quant_falls_back_for_rows_it_cannot_pack(tiny_model, tmp_path: Path) -> None:
    result = export_model(tiny_model.model_dir, tmp_path / "q4.gguf", "Q4_K_M")
    assert result.fallback_tensors  # the tiny model's rows (128, 256) are not all multiples of 256
    assert _answers(result.path, tiny_model, tiny_model.pairs[:1])[0].startswith("HP:")


@pytest.mark.slow
def test_merged_adapter_export_knows_the_new_pairs(tiny_model, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from term2id.cli.app import app

    out = tmp_path / "merged.gguf"
    result = CliRunner().invoke(
        app,
        ["train", "export", "--model", str(tiny_model.model_dir), "--adapter",
         str(tiny_model.adapter_dir), "--merge", "--quant", "Q8_0", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    pairs = tiny_model.adapter_pairs[:5]
    assert _answers(out, tiny_model, pairs) == [curie for _, curie in pairs]
    manifest = json.loads(out.with_name("merged.gguf.json").read_text())
    assert manifest["ontology"] == "hp" and manifest["merged_adapter"]
    # The merged safetensors were scratch: only the export and its manifest are left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged.gguf", "merged.gguf.json"]


@pytest.mark.slow
def test_adapter_export_rejects_a_folder_that_is_not_an_adapter(tiny_model, tmp_path) -> None:
    with pytest.raises(ModelDirectoryError, match="not a peft adapter"):
        export_lora_adapter(tiny_model.model_dir, tiny_model.model_dir, tmp_path / "a.gguf")
    assert not (tmp_path / "a.gguf").exists()


def test_llama3_layout_exports_to_the_same_tokens_and_logits(tmp_path: Path) -> None:
    """Byte-level BPE tokenizer.json with Llama 3's split rule, and llama3 rope scaling."""
    import numpy as np
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from term2id.core.llm import load_llama as Llama

    split = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
             r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")  # fmt: skip
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])  # fmt: skip
    tokenizer.decoder = decoders.ByteLevel()
    texts = ["What is the HPO identifier for Seizure? HP:0001250",
             "Abnormality of the nervous system HP:0000707"] * 5  # fmt: skip
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<|begin_of_text|>", "<|eot_id|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    ))  # fmt: skip
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>"
    )
    folder = tmp_path / "llama3-like"
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 32},
    )  # fmt: skip
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # sharpen attention, so that a wrong rope shows in the logits
        for layer in model.model.layers:
            for projection in ("q_proj", "k_proj", "v_proj", "o_proj"):
                getattr(layer.self_attn, projection).weight.mul_(10)
        model.lm_head.weight.mul_(10)
    model.save_pretrained(folder)
    result = export_model(folder, tmp_path / "model.gguf", "F32")

    text = "What is the HPO identifier for Abnormality of the nervous system? HP:0000707"
    llm = Llama(model_path=str(result.path), n_ctx=128, logits_all=True, verbose=False)
    cpp_ids = llm.tokenize(text.encode(), add_bos=True)
    hf_ids = [fast.bos_token_id, *fast(text)["input_ids"]]
    assert cpp_ids == hf_ids
    llm.eval(cpp_ids)
    cpp_logits = np.array(llm.scores[: len(cpp_ids)])
    llm.close()
    with torch.no_grad():
        hf_logits = model(torch.tensor([hf_ids])).logits[0].numpy()
    assert np.abs(cpp_logits - hf_logits).max() < 0.05  # a wrong rope scaling differs by ~5
