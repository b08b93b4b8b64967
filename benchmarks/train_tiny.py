"""Benchmark the tiny-model chain: wall time per stage, file sizes, answer speed.

Trains the tiny Llama model on 50 HPO pairs (embedded HPO), exports it to GGUF (F32, Q8_0) and a
LoRA adapter, and prints the stage times, sizes, accuracies, and the time per greedy answer
through transformers (the peer, measured in the same run) and through llama.cpp.

    .venv/bin/python benchmarks/train_tiny.py [--out DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from term2id.core.ontology.catalog import StoreCatalog
from term2id.training.tiny import build_tiny_model


def _per_answer_seconds(answer, prompts: list[str]) -> float:
    started = time.perf_counter()
    for prompt in prompts:
        answer(prompt)
    return (time.perf_counter() - started) / len(prompts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="term2id-tiny-"))
    data_dir = Path(tempfile.mkdtemp(prefix="term2id-bench-data-"))

    started = time.perf_counter()
    store = StoreCatalog(data_dir).open("hp")
    store_seconds = time.perf_counter() - started
    result = build_tiny_model(out, store, n_pairs=50, seed=args.seed)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"embedded HPO store built in {store_seconds:.1f} s (not part of the chain)")
    print(f"model: {result.parameters:,} parameters; base {result.training_steps} steps, "
          f"adapter {result.adapter_training_steps} steps")  # fmt: skip
    print("stage                              seconds")
    for stage, seconds in result.stage_seconds:
        print(f"  {stage:<32} {seconds:7.2f}")
    print(f"  {'total':<32} {sum(s for _, s in result.stage_seconds):7.2f}")
    sizes = dict(result.sizes)
    for name, size in result.sizes:
        ratio = size / sizes["model.safetensors"]
        print(f"size {name:<20} {size:>10,} bytes  ({ratio:.2f}x safetensors)")

    # Speed of one greedy answer: transformers (peer) vs llama.cpp, same prompts, same run.
    import sentencepiece
    import torch
    from llama_cpp import Llama
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    prompts = [result.prompt(term) for term, _ in result.pairs]
    sp = sentencepiece.SentencePieceProcessor(model_file=str(result.model_dir / "tokenizer.model"))
    model = AutoModelForCausalLM.from_pretrained(result.model_dir, use_safetensors=True).eval()

    def transformers_answer(prompt: str) -> None:
        ids = torch.tensor([[1, *sp.encode(prompt)]])
        with torch.no_grad():
            model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=16,
                           do_sample=False, eos_token_id=2, pad_token_id=0)  # fmt: skip

    peer = _per_answer_seconds(transformers_answer, prompts)
    print(f"per answer: transformers {peer * 1000:.1f} ms (peer)")
    for label, path, lora in (("llama.cpp F32", result.model_gguf, None),
                              ("llama.cpp Q8_0", result.model_q8_gguf, None),
                              ("llama.cpp F32 + LoRA", result.model_gguf, result.adapter_gguf)):  # fmt: skip
        llm = Llama(model_path=str(path), lora_path=str(lora) if lora else None, n_ctx=256,
                    n_threads=2, verbose=False)  # fmt: skip
        seconds = _per_answer_seconds(
            lambda p, llm=llm: llm(p, max_tokens=16, temperature=0.0), prompts
        )
        llm.close()
        print(
            f"per answer: {label:<22} {seconds * 1000:.1f} ms  ({peer / seconds:.1f}x faster than transformers)"
        )
    print(f"transformers accuracy {result.transformers_accuracy:.2f}; "
          f"llama.cpp F32 {result.llama_cpp_accuracy:.2f}, Q8_0 {result.q8_llama_cpp_accuracy:.2f}; "
          f"agree: {result.transformers_agrees_with_llama_cpp}")  # fmt: skip
    print(f"adapter: base on new pairs {result.base_accuracy_on_adapter_pairs:.2f}; peft "
          f"{result.peft_accuracy:.2f}, llama.cpp {result.adapter_llama_cpp_accuracy:.2f} "
          f"on old+new; agree: {result.peft_agrees_with_llama_cpp}")  # fmt: skip
    print(f"files in {out}")


if __name__ == "__main__":
    main()
