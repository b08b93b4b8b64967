"""How records become tokens: the chat template when the base model has one, plain text if not."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from term2id.training.trainer import PromptTokenizer

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>"
    "\n\n{{ m['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def _hf_tokenizer(folder: Path, chat_template: str | None) -> Path:
    """A small byte-level BPE tokenizer, in the file layout of Llama 3's."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    special = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )  # fmt: skip
    tokenizer.train_from_iterator(
        ["What is the HPO identifier for Seizure? HP:0001250"] * 5, trainer
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>"
    )
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(folder)
    return folder


def test_chat_template_wraps_the_prompt_and_the_loss_sees_only_the_answer(tmp_path: Path) -> None:
    tokenizer = PromptTokenizer(_hf_tokenizer(tmp_path / "tok", CHAT_TEMPLATE))
    assert tokenizer.chat_template
    ids, start = tokenizer.record_ids("What is the HPO identifier for Seizure?", " HP:0001250")
    prompt = tokenizer._hf.decode(ids[:start])
    assert prompt.startswith("<|begin_of_text|><|start_header_id|>user")
    assert prompt.count("<|begin_of_text|>") == 1
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert tokenizer._hf.decode(ids[start:]) == "HP:0001250<|eot_id|>"


def test_no_chat_template_falls_back_to_the_plain_prompt_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _hf_tokenizer(tmp_path / "tok", None)
    with caplog.at_level(logging.WARNING, logger="term2id.training.trainer"):
        tokenizer = PromptTokenizer(folder)
    assert not tokenizer.chat_template
    assert "no chat template" in caplog.text
    ids, start = tokenizer.record_ids("What is the HPO identifier for Seizure?", " HP:0001250")
    assert tokenizer.decode(ids[:start]) == "What is the HPO identifier for Seizure?"
    assert tokenizer.decode(ids[start:]) == " HP:0001250"
    assert ids[-1] == tokenizer.eos_id
