"""LoRA / QLoRA fine-tuning of a local causal language model on prompt/completion records.

transformers' Trainer runs the loop: checkpoints, resume, seeds, a progress bar, and several
GPUs under `accelerate launch` with no change here. peft adds the LoRA adapter; with
`model.load_in_4bit` the base model is loaded in 4-bit NF4 through bitsandbytes (QLoRA, CUDA
only). The loss covers the completion and the end-of-sequence token only, not the prompt.

The prompt is wrapped in the base model's chat template when its tokenizer has one (an instruct
model expects it); otherwise the plain prompt is used, and the log says so. Weights are read
from safetensors only.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from term2id.core.curation import TrainingRecord, read_jsonl
from term2id.training.config import RunConfig, require
from term2id.training.errors import (
    EmptyDatasetError,
    ModelDirectoryError,
    OutOfMemoryError,
    TrainingError,
)
from term2id.training.model_files import (
    read_model_config,
    safetensors_files,
    sha256_of,
    write_training_info,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    adapter_dir: Path
    steps: int
    train_loss: float | None
    records: int
    dropped_too_long: int
    chat_template: bool
    resumed_from: str | None


# -- model folder checks ---------------------------------------------------------------------


def check_causal_lm(model_dir: Path | str) -> dict[str, Any]:
    """The model's config, if the folder holds a causal language model in safetensors."""
    model_dir = Path(model_dir)
    config = read_model_config(model_dir)
    architectures = config.get("architectures") or []
    if not any(str(a).endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        raise ModelDirectoryError(
            model_dir,
            f"not a causal language model (architectures: {', '.join(map(str, architectures)) or 'none'})",
        )
    safetensors_files(model_dir)
    return config


# -- tokenizers ------------------------------------------------------------------------------


class PromptTokenizer:
    """The few things training and evaluation need from a tokenizer, for HF or sentencepiece.

    A bare sentencepiece model (tokenizer.model, as the tiny test model has) is used directly;
    anything else goes through transformers' AutoTokenizer.
    """

    def __init__(self, model_dir: Path | str, use_chat_template: bool = True) -> None:
        model_dir = Path(model_dir)
        self._sp = None
        self._hf = None
        has_hf_files = (model_dir / "tokenizer_config.json").is_file() or (
            model_dir / "tokenizer.json"
        ).is_file()
        if not has_hf_files and (model_dir / "tokenizer.model").is_file():
            import sentencepiece

            self._sp = sentencepiece.SentencePieceProcessor(
                model_file=str(model_dir / "tokenizer.model")
            )
            self.bos_id, self.eos_id = self._sp.bos_id(), self._sp.eos_id()
            self.pad_id = max(self._sp.pad_id(), self._sp.unk_id(), 0)
        elif has_hf_files:
            from transformers import AutoTokenizer

            self._hf = AutoTokenizer.from_pretrained(model_dir)
            self.bos_id = self._hf.bos_token_id
            self.eos_id = self._hf.eos_token_id
            self.pad_id = (
                self._hf.pad_token_id if self._hf.pad_token_id is not None else self.eos_id
            )
        else:
            raise ModelDirectoryError(model_dir, "no tokenizer files in the model folder")
        self.chat_template = bool(
            use_chat_template and self._hf is not None and self._hf.chat_template
        )
        if not self.chat_template:
            log.warning("%s: no chat template is used; prompts are given as plain text", model_dir)

    def prompt_ids(self, prompt: str) -> list[int]:
        if self._sp is not None:
            return [self.bos_id, *self._sp.encode(prompt)]
        if self.chat_template:
            # Render to text, then tokenise: the template already holds the BOS token.
            text = self._hf.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
            )
            return list(self._hf(text, add_special_tokens=False)["input_ids"])
        return list(self._hf(prompt)["input_ids"])

    def record_ids(self, prompt: str, completion: str) -> tuple[list[int], int]:
        """Token ids of prompt + completion + EOS, and where the completion starts."""
        prompt_ids = self.prompt_ids(prompt)
        answer = completion.strip() if self.chat_template else completion
        if self._sp is not None:
            full = [self.bos_id, *self._sp.encode(prompt + completion)]
        elif self.chat_template:
            full = prompt_ids + self._hf(answer, add_special_tokens=False)["input_ids"]
        else:
            full = list(self._hf(prompt + completion)["input_ids"])
        if full[: len(prompt_ids)] != prompt_ids:  # the joint text split differently
            full = prompt_ids + self.encode_plain(answer)
        return [*full, self.eos_id], len(prompt_ids)

    def encode_plain(self, text: str) -> list[int]:
        if self._sp is not None:
            return list(self._sp.encode(text))
        return list(self._hf(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        ids = [i for i in ids if i != self.eos_id]
        if self._sp is not None:
            return self._sp.decode(ids)
        return self._hf.decode(ids, skip_special_tokens=True)


def load_records(path: Path | str, tasks: Sequence[str] = ()) -> list[TrainingRecord]:
    records = [r for r in read_jsonl(path) if not tasks or r.task in tasks]
    if not records:
        raise EmptyDatasetError(path, f"no records for tasks {', '.join(tasks)}" if tasks else "")
    return records


class _Examples:
    """A map-style dataset of tokenised records (what Trainer's DataLoader iterates)."""

    def __init__(self, rows: list[dict[str, list[int]]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.rows[index]


def tokenise(
    records: Sequence[TrainingRecord], tokenizer: PromptTokenizer, max_length: int
) -> tuple[_Examples, int]:
    rows, dropped = [], 0
    for record in records:
        ids, start = tokenizer.record_ids(record.prompt, record.completion)
        if len(ids) > max_length:
            dropped += 1
            continue
        rows.append({"input_ids": ids, "labels": [-100] * start + ids[start:]})
    if dropped:
        log.warning("%d records longer than data.max_length=%d were left out", dropped, max_length)
    return _Examples(rows), dropped


def _collate(pad_id: int):  # noqa: ANN202 - returns a closure for the DataLoader
    def collate(rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.tensor(row["input_ids"])
            labels[i, :n] = torch.tensor(row["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    return collate


def load_base_model(model_dir: Path | str, load_in_4bit: bool = False, dtype: str = "auto") -> Any:
    """The base model from safetensors; in 4-bit NF4 (bitsandbytes) for QLoRA on CUDA."""
    import torch
    from transformers import AutoModelForCausalLM

    check_causal_lm(model_dir)
    kwargs: dict[str, Any] = {"use_safetensors": True}
    if load_in_4bit:
        if not torch.cuda.is_available():
            raise TrainingError(
                "model.load_in_4bit needs a CUDA GPU (bitsandbytes); set it to false on this machine"
            )
        try:
            from transformers import BitsAndBytesConfig
        except ImportError as exc:  # pragma: no cover - transformers always has it
            raise TrainingError("4-bit loading needs bitsandbytes (the `gpu` extra)") from exc
        compute = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    else:
        kwargs["dtype"] = dtype if dtype == "auto" else getattr(torch, dtype)
    try:
        return AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelDirectoryError(model_dir, f"cannot be loaded as a causal LM ({exc})") from exc


def run_training(config: RunConfig, where: Path | str = "config") -> TrainingOutcome:
    """Train a LoRA adapter as `config` says; the adapter lands in <output_dir>/adapter."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import Trainer, TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    config = require(config, where)
    base = Path(config.model.base_model)
    check_causal_lm(base)
    records = load_records(config.data.train_file, config.data.tasks)
    set_seed(config.training.seed)
    tokenizer = PromptTokenizer(base, config.model.use_chat_template)
    examples, dropped = tokenise(records, tokenizer, config.data.max_length)
    if len(examples) == 0:
        raise EmptyDatasetError(
            config.data.train_file,
            f"every record is longer than data.max_length={config.data.max_length}",
        )
    model = load_base_model(base, config.model.load_in_4bit, config.model.dtype)
    if config.model.load_in_4bit:
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.training.gradient_checkpointing
        )
    lora = LoraConfig(
        r=config.adapter.r,
        lora_alpha=config.adapter.alpha,
        lora_dropout=config.adapter.dropout,
        target_modules=list(config.adapter.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    output_dir = Path(config.training.output_dir)
    cuda = torch.cuda.is_available()
    arguments = TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=config.training.epochs,
        max_steps=config.training.max_steps,
        learning_rate=config.training.learning_rate,
        per_device_train_batch_size=config.training.batch_size,
        gradient_accumulation_steps=config.training.gradient_accumulation_steps,
        # transformers 5 reads a warmup_steps below 1 as a fraction of the run.
        warmup_steps=config.training.warmup_ratio,
        logging_steps=config.training.logging_steps,
        save_steps=config.training.save_steps,
        save_total_limit=config.training.save_total_limit,
        seed=config.training.seed,
        data_seed=config.training.seed,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        gradient_checkpointing=config.training.gradient_checkpointing,
        remove_unused_columns=False,
        report_to=[],
    )
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=examples,
        data_collator=_collate(tokenizer.pad_id),
    )
    resume = None
    if config.training.resume and output_dir.is_dir():
        resume = get_last_checkpoint(str(output_dir))
        if resume:
            # The adapter weights in safetensors; optimizer and rng state the Trainer reads with
            # torch.load(weights_only=True), which the pyproject's torch/transformers floors assure.
            safetensors_files(resume, "adapter")
            log.info("resuming from %s", resume)
    try:
        result = trainer.train(resume_from_checkpoint=resume)
    except torch.cuda.OutOfMemoryError as exc:
        raise OutOfMemoryError(
            config.training.batch_size, config.data.max_length, config.model.load_in_4bit
        ) from exc
    adapter_dir = output_dir / "adapter"
    if trainer.is_world_process_zero():
        model.save_pretrained(adapter_dir, safe_serialization=True)
        first = records[0]
        # `term2id train data` writes the ontology's release beside the JSONL.
        summary = Path(config.data.train_file).with_name("dataset.json")
        release = None
        if summary.is_file():
            with contextlib.suppress(ValueError, OSError):
                release = json.loads(summary.read_text(encoding="utf-8")).get("release")
        write_training_info(
            adapter_dir,
            {
                "base_model": str(base),
                "base_model_sha256": sha256_of(safetensors_files(base)),
                "tasks": sorted({r.task for r in records}),
                "prompt_template": "chat template of the base model"
                if tokenizer.chat_template
                else "plain prompt",
                "example_prompt": first.prompt,
                "ontology": first.ontology,
                "release": release,
                "records": len(examples),
                "config": config.as_dict(),
            },
        )
    return TrainingOutcome(
        adapter_dir=adapter_dir,
        steps=int(result.global_step),
        train_loss=float(result.training_loss) if result.training_loss is not None else None,
        records=len(examples),
        dropped_too_long=dropped,
        chat_template=tokenizer.chat_template,
        resumed_from=resume,
    )
