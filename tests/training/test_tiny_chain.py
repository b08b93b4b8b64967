"""The whole training chain on the tiny model: train, export to GGUF, answer through llama.cpp."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_llama_cpp_returns_the_memorised_ids_as_transformers_does(tiny_model) -> None:
    assert len(tiny_model.pairs) == 50
    assert tiny_model.llama_cpp_accuracy >= 0.9
    assert tiny_model.llama_cpp_accuracy == tiny_model.transformers_accuracy
    assert tiny_model.transformers_agrees_with_llama_cpp
    assert tiny_model.q8_llama_cpp_accuracy >= 0.9


def test_a_curator_can_ask_the_gguf_model_directly(tiny_model) -> None:
    from term2id.core.llm import load_llama as Llama

    llm = Llama(model_path=str(tiny_model.model_q8_gguf), n_ctx=256, verbose=False)
    term, curie = tiny_model.pairs[0]
    answer = llm(tiny_model.prompt(term), max_tokens=16, temperature=0.0)["choices"][0]["text"]
    llm.close()
    assert answer.strip() == curie


def test_the_adapter_teaches_new_pairs_without_erasing_old_ones(tiny_model) -> None:
    from term2id.core.llm import load_llama as Llama

    assert tiny_model.base_accuracy_on_adapter_pairs <= 0.2
    assert tiny_model.adapter_llama_cpp_accuracy >= 0.9
    assert tiny_model.peft_agrees_with_llama_cpp
    term, curie = tiny_model.adapter_pairs[0]
    prompt = tiny_model.prompt(term)
    answers = {}
    for lora in (None, tiny_model.adapter_gguf):
        llm = Llama(
            model_path=str(tiny_model.model_gguf),
            lora_path=str(lora) if lora else None,
            n_ctx=256,
            verbose=False,
        )
        answers[lora] = llm(prompt, max_tokens=16, temperature=0.0)["choices"][0]["text"].strip()
        llm.close()
    assert answers[tiny_model.adapter_gguf] == curie
    assert answers[None] != curie


def test_files_a_colleague_needs_are_written(tiny_model) -> None:
    from term2id.training.tiny import read_pairs

    out = tiny_model.out_dir
    assert read_pairs(out / "pairs.tsv") == list(tiny_model.pairs)
    assert read_pairs(out / "adapter-pairs.tsv") == list(tiny_model.adapter_pairs)
    header = (out / "pairs.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "term\texpected_curie"
    manifest = json.loads((out / "adapter.gguf.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "lora"
    assert manifest["ontology"] == "hp"
    assert manifest["prompt_template"] == tiny_model.prompt_template
    assert len(manifest["base_model_sha256"]) == 64
    model_manifest = json.loads((out / "model-q8_0.gguf.json").read_text(encoding="utf-8"))
    assert model_manifest["quantisation"] == "Q8_0"
    assert model_manifest["release"]


def test_gguf_metadata_marks_the_adapter_as_a_lora(tiny_model) -> None:
    import gguf

    reader = gguf.GGUFReader(str(tiny_model.adapter_gguf))
    fields = {
        name: field.contents()
        for name, field in reader.fields.items()
        if name.startswith(("general.", "adapter."))
    }
    assert fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora"
    assert fields["general.architecture"] == "llama"
    names = {t.name for t in reader.tensors}
    assert "blk.0.attn_q.weight.lora_a" in names and "blk.0.attn_q.weight.lora_b" in names
