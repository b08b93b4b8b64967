"""The tiny-model path: the whole training chain, end to end, on a CPU in about a minute.

A Llama-architecture model of under a million parameters, with a sentencepiece tokenizer trained
here, learns ~50 "What is the HPO identifier for X?" -> " HP:nnnnnnn" pairs by heart; it is
saved as safetensors, exported to GGUF (F32, and Q8_0 through llama.cpp's quantizer), and a LoRA
adapter trained on top of it (old pairs plus a few new ones) is exported as a GGUF LoRA. Both are
loaded with llama-cpp-python, whose greedy answers must equal the ones transformers gives.

It proves every link of the chain on the machine at hand, and it is the model the local-model
candidate source is tested with (pairs.tsv says what it knows).
"""

from __future__ import annotations

import csv
import io
import logging
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from term2id.core.llm import ontology_display_name, render_prompt
from term2id.core.ontology import OntologyStore
from term2id.core.progress import Progress
from term2id.training.errors import TrainingError
from term2id.training.gguf_export import export_lora_adapter, export_model
from term2id.training.model_files import write_training_info

log = logging.getLogger(__name__)

VOCAB_SIZE = 600
MAX_NEW_TOKENS = 16
ADAPTER_NEW_PAIRS = 10
_CANDIDATE_POOL = 1500  # the most popular terms: tokenizer text, and where the pairs come from
_UNK, _BOS, _EOS = 0, 1, 2


@dataclass(frozen=True, slots=True)
class TinyModelResult:
    out_dir: Path
    model_dir: Path  # Hugging Face folder (safetensors, config.json, tokenizer.model)
    adapter_dir: Path  # peft adapter folder
    model_gguf: Path  # F32
    model_q8_gguf: Path
    adapter_gguf: Path
    pairs: tuple[tuple[str, str], ...]  # (prompt term, expected curie) the base model knows
    adapter_pairs: tuple[tuple[str, str], ...]  # pairs only the adapter knows
    prompt_template: str  # e.g. "What is the HPO identifier for {term}?"
    transformers_accuracy: float
    llama_cpp_accuracy: float
    q8_llama_cpp_accuracy: float
    transformers_agrees_with_llama_cpp: bool  # same answer for every pair, right or wrong
    base_accuracy_on_adapter_pairs: float  # before the adapter (near 0)
    peft_accuracy: float  # adapter, on old + new pairs, through peft
    adapter_llama_cpp_accuracy: float  # adapter, on old + new pairs, through llama.cpp
    peft_agrees_with_llama_cpp: bool
    parameters: int
    training_steps: int
    adapter_training_steps: int
    stage_seconds: tuple[tuple[str, float], ...] = field(default=())
    sizes: tuple[tuple[str, int], ...] = field(default=())

    def prompt(self, term: str) -> str:
        return self.prompt_template.format(term=term)


class _Stages:
    """Wall time of each stage, reported as it goes."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0
        self.seconds: list[tuple[str, float]] = []
        self._started = time.perf_counter()

    def finish(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds.append((name, now - self._started))
        self._started = now
        self.done += 1
        self.progress.update(self.done, self.total, name)


def build_tiny_model(
    out_dir: Path | str,
    store: OntologyStore,
    n_pairs: int = 50,
    seed: int = 0,
    progress: Progress | None = None,
) -> TinyModelResult:
    """Train, export and check the tiny model in `out_dir`; see the module docstring."""
    import warnings

    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stages = _Stages(progress or Progress(), 9)
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    # Matrices this small gain nothing from threads, and lose a lot when the cores are shared.
    torch.set_num_threads(1)
    try:
        return _build(out_dir, store, n_pairs, seed, stages)
    finally:
        torch.set_num_threads(threads)


def _build(
    out_dir: Path, store: OntologyStore, n_pairs: int, seed: int, stages: _Stages
) -> TinyModelResult:
    import torch

    display = ontology_display_name(store.prefixes[0] if store.prefixes else store.name)
    template = render_prompt("term2id", 0, ontology=display, term="{term}")
    pool = _popular_terms(store, _CANDIDATE_POOL)
    if len(pool) < n_pairs + ADAPTER_NEW_PAIRS:
        raise TrainingError(
            f"store {store.name!r} has {len(pool)} usable terms; the tiny model needs "
            f"{n_pairs + ADAPTER_NEW_PAIRS}"
        )
    chosen = random.Random(seed).sample(pool[: max(200, 4 * n_pairs)], n_pairs + ADAPTER_NEW_PAIRS)
    pairs, new_pairs = chosen[:n_pairs], chosen[n_pairs:]
    _write_pairs(out_dir / "pairs.tsv", pairs)
    _write_pairs(out_dir / "adapter-pairs.tsv", new_pairs)

    tokenizer_path = out_dir / "tokenizer.model"
    sp = _train_tokenizer(tokenizer_path, [template.format(term=t) + f" {c}" for t, c in pool])
    stages.finish("tokenizer")

    model = _new_model(sp.vocab_size(), seed)
    parameters = sum(p.numel() for p in model.parameters())
    batch = _batch(sp, template, pairs)
    steps = _train(model, batch, model.parameters(), lr=4e-3, max_steps=600, seed=seed)
    stages.finish("train base model")

    model_dir = out_dir / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model.save_pretrained(model_dir)
    # transformers does not write sentencepiece files: keep ours with the weights.
    shutil.copy2(tokenizer_path, model_dir / "tokenizer.model")
    hf_answers = _generate_transformers(model, sp, template, pairs)
    base_on_new = _accuracy(_generate_transformers(model, sp, template, new_pairs), new_pairs)
    stages.finish("save + transformers answers")

    manifest = {
        "tasks": ["term2id"],
        "prompt_template": template,
        "ontology": store.name,
        "release": store.release,
        "pairs": len(pairs),
        "seed": seed,
    }
    write_training_info(model_dir, manifest)
    model_gguf = out_dir / "model.gguf"
    q8_gguf = out_dir / "model-q8_0.gguf"
    export_model(model_dir, model_gguf, "F32", manifest)
    stages.finish("export GGUF F32")
    export_model(model_dir, q8_gguf, "Q8_0", manifest)
    stages.finish("quantize Q8_0")

    llama_answers = _generate_llama_cpp(model_gguf, None, template, pairs, seed)
    q8_answers = _generate_llama_cpp(q8_gguf, None, template, pairs, seed)
    stages.finish("llama.cpp answers")

    # The adapter learns new pairs; trained on those alone it would erase the old ones (DESIGN).
    from peft import LoraConfig, get_peft_model

    mixed = pairs + new_pairs
    lora = LoraConfig(
        r=8, lora_alpha=16, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )  # fmt: skip
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, lora)
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    adapter_steps = _train(
        peft_model, _batch(sp, template, mixed), trainable, lr=1e-2, max_steps=600, seed=seed
    )
    adapter_dir = out_dir / "adapter"
    if adapter_dir.exists():
        shutil.rmtree(adapter_dir)
    peft_model.save_pretrained(adapter_dir)
    write_training_info(adapter_dir, manifest | {"pairs": len(mixed)})
    peft_answers = _generate_transformers(peft_model, sp, template, mixed)
    stages.finish("train LoRA adapter")

    adapter_gguf = out_dir / "adapter.gguf"
    export_lora_adapter(adapter_dir, model_dir, adapter_gguf, manifest | {"pairs": len(mixed)})
    adapter_llama = _generate_llama_cpp(model_gguf, adapter_gguf, template, mixed, seed)
    stages.finish("export LoRA + llama.cpp answers")

    return TinyModelResult(
        out_dir=out_dir,
        model_dir=model_dir,
        adapter_dir=adapter_dir,
        model_gguf=model_gguf,
        model_q8_gguf=q8_gguf,
        adapter_gguf=adapter_gguf,
        pairs=tuple(pairs),
        adapter_pairs=tuple(new_pairs),
        prompt_template=template,
        transformers_accuracy=_accuracy(hf_answers, pairs),
        llama_cpp_accuracy=_accuracy(llama_answers, pairs),
        q8_llama_cpp_accuracy=_accuracy(q8_answers, pairs),
        transformers_agrees_with_llama_cpp=hf_answers == llama_answers,
        base_accuracy_on_adapter_pairs=base_on_new,
        peft_accuracy=_accuracy(peft_answers, mixed),
        adapter_llama_cpp_accuracy=_accuracy(adapter_llama, mixed),
        peft_agrees_with_llama_cpp=peft_answers == adapter_llama,
        parameters=parameters,
        training_steps=steps,
        adapter_training_steps=adapter_steps,
        stage_seconds=tuple(stages.seconds),
        sizes=tuple(
            (p.name, p.stat().st_size)
            for p in (model_gguf, q8_gguf, adapter_gguf, model_dir / "model.safetensors")
        ),
    )


# -- data ------------------------------------------------------------------------------------


def _popular_terms(store: OntologyStore, limit: int) -> list[tuple[str, str]]:
    """(label, curie) of the most popular live terms, one per label, in a stable order."""
    terms = [t for t in store.terms(include_obsolete=False) if t.label.strip()]
    terms.sort(key=lambda t: (-(t.popularity or 0), t.curie))
    seen: set[str] = set()
    chosen = []
    for term in terms:
        key = term.label.strip().lower()
        if key in seen:
            continue
        seen.add(key)
        chosen.append((term.label.strip(), term.curie))
        if len(chosen) >= limit:
            break
    return chosen


def _write_pairs(path: Path, pairs: Sequence[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["term", "expected_curie"])
        writer.writerows(pairs)


def read_pairs(path: Path | str) -> list[tuple[str, str]]:
    """The (term, expected_curie) rows of a pairs.tsv written by the tiny path."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [(row["term"], row["expected_curie"]) for row in rows]


def _train_tokenizer(path: Path, sentences: list[str]) -> Any:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=VOCAB_SIZE,
        model_type="bpe",
        split_digits=True,  # ids are read digit by digit: no merged digit runs to memorise
        byte_fallback=True,  # any label can be written, whatever its characters
        character_coverage=1.0,
        unk_id=_UNK,
        bos_id=_BOS,
        eos_id=_EOS,
        pad_id=-1,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())
    return spm.SentencePieceProcessor(model_file=str(path))


def _batch(sp: Any, template: str, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Right-padded input ids, attention mask, and labels on the answer and EOS only."""
    import torch

    rows = []
    for term, curie in pairs:
        prompt = [_BOS, *sp.encode(template.format(term=term))]
        full = [_BOS, *sp.encode(template.format(term=term) + f" {curie}"), _EOS]
        if full[: len(prompt)] != prompt:
            raise TrainingError(f"the tokenizer splits the prompt for {term!r} differently alone")
        rows.append((full, len(prompt)))
    width = max(len(full) for full, _ in rows)
    input_ids = torch.full((len(rows), width), _UNK, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (full, prompt_length) in enumerate(rows):
        input_ids[i, : len(full)] = torch.tensor(full)
        mask[i, : len(full)] = 1
        labels[i, prompt_length : len(full)] = torch.tensor(full[prompt_length:])
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


# -- model -----------------------------------------------------------------------------------


def _new_model(vocab_size: int, seed: int) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        bos_token_id=_BOS,
        eos_token_id=_EOS,
        pad_token_id=_UNK,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def _train(
    model: Any, batch: dict[str, Any], parameters: Any, lr: float, max_steps: int, seed: int
) -> int:
    """Full-batch AdamW until every answer token is the model's top choice, plus a margin.

    When the argmax at every answer position is the right token, greedy generation returns the
    answer exactly, so this is a cheap exact test of memorisation.
    """
    import torch

    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.0)
    model.train()
    labels = batch["labels"]
    answer_positions = labels[:, 1:] != -100
    margin, step = None, 0
    for step in range(1, max_steps + 1):  # noqa: B007 - the count is returned
        output = model(**batch)
        output.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if margin is None and step % 10 == 0:
            with torch.no_grad():
                predicted = output.logits[:, :-1].argmax(-1)
                if bool((predicted == labels[:, 1:])[answer_positions].all()):
                    margin = step + 20  # a little more, so Q8_0 agrees too
        if margin is not None and step >= margin:
            break
    model.eval()
    log.info("trained %d steps, final loss %.4f", step, float(output.loss.detach()))
    return step


def _generate_transformers(
    model: Any, sp: Any, template: str, pairs: Sequence[tuple[str, str]]
) -> list[str]:
    import torch

    answers = []
    with torch.no_grad():
        for term, _ in pairs:
            ids = torch.tensor([[_BOS, *sp.encode(template.format(term=term))]])
            output = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=MAX_NEW_TOKENS,
                do_sample=False,
                eos_token_id=_EOS,
                pad_token_id=_UNK,
            )
            answers.append(sp.decode(output[0, ids.shape[1] :].tolist()).strip())
    return answers


def _generate_llama_cpp(
    model_path: Path,
    lora_path: Path | None,
    template: str,
    pairs: Sequence[tuple[str, str]],
    seed: int,
) -> list[str]:
    from term2id.core.llm import load_llama

    llm = load_llama(
        model_path=str(model_path),
        lora_path=str(lora_path) if lora_path else None,
        n_ctx=256,
        n_threads=2,
        seed=seed,
        verbose=False,
    )
    try:
        answers = []
        for term, _ in pairs:
            output = llm(template.format(term=term), max_tokens=MAX_NEW_TOKENS, temperature=0.0)
            answers.append(output["choices"][0]["text"].strip())
        return answers
    finally:
        llm.close()


def _accuracy(answers: Sequence[str], pairs: Sequence[tuple[str, str]]) -> float:
    if not pairs:
        return 0.0
    return sum(a == c for a, (_, c) in zip(answers, pairs, strict=True)) / len(pairs)
