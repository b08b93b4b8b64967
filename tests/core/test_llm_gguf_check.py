"""Model files are checked before llama.cpp sees them: every refusal is one clear line."""

from __future__ import annotations

import struct
from pathlib import Path

import gguf
import numpy as np
import pytest

from term2id.core.errors import InputFileError
from term2id.core.llm.gguf_check import (
    MAX_ARRAY_NESTING,
    ModelFileError,
    check_model_files,
    read_gguf_header,
)


def write_gguf(
    path: Path,
    architecture: str,
    tensors: dict[str, tuple[int, ...]],
    adapter: bool = False,
    context_length: int = 256,
) -> Path:
    """A small but well-formed GGUF file (zeros for weights); shapes in numpy (row-major) order."""
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_block_count(1)
    writer.add_context_length(context_length)
    writer.add_embedding_length(64)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    if adapter:
        writer.add_string("general.type", "adapter")
        writer.add_string("adapter.type", "lora")
        writer.add_float32("adapter.lora.alpha", 16.0)
    writer.add_token_list([f"t{i}" for i in range(100)])
    for name, shape in tensors.items():
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


BASE_TENSORS = {"token_embd.weight": (100, 64), "blk.0.attn_q.weight": (64, 64)}


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "base.gguf", "llama", BASE_TENSORS)


def test_header_of_a_model_is_read(base: Path) -> None:
    info = read_gguf_header(base)
    assert info.architecture == "llama"
    assert info.file_type == "model"
    # ggml order: the row length first
    assert info.tensors["blk.0.attn_q.weight"] == (64, 64)
    assert info.tensors["token_embd.weight"] == (64, 100)
    assert info.get_int("context_length") == 256


def test_a_file_that_is_not_gguf_is_refused_with_its_name(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("this is a text file, not a model\n")
    with pytest.raises(ModelFileError) as caught:
        check_model_files(fake)
    assert str(fake) in str(caught.value)
    assert "not a GGUF model file" in str(caught.value)
    assert isinstance(caught.value, InputFileError)  # the CLI exits with the input-file code


def test_a_pytorch_checkpoint_gets_a_hint(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"PK\x03\x04" + b"\0" * 64)
    with pytest.raises(ModelFileError, match="convert_hf_to_gguf"):
        check_model_files(checkpoint)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such model file"):
        check_model_files(tmp_path / "absent.gguf")


def test_a_truncated_gguf_is_reported_not_crashed_on(base: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(base.read_bytes()[:200])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        check_model_files(cut)


def test_an_unknown_architecture_is_refused_before_loading(tmp_path: Path) -> None:
    odd = write_gguf(tmp_path / "odd.gguf", "nonsense", BASE_TENSORS)
    with pytest.raises(ModelFileError, match="architecture 'nonsense' is not one llama.cpp knows"):
        check_model_files(odd)


def test_an_adapter_for_another_architecture_is_explained(base: Path, tmp_path: Path) -> None:
    adapter = write_gguf(
        tmp_path / "qwen-adapter.gguf",
        "qwen2",
        {"blk.0.attn_q.weight.lora_a": (8, 64), "blk.0.attn_q.weight.lora_b": (64, 8)},
        adapter=True,
    )
    with pytest.raises(ModelFileError) as caught:
        check_model_files(base, adapter)
    message = str(caught.value)
    assert "qwen2" in message and "llama" in message
    assert "only fits the base model it was trained on" in message


def test_an_adapter_with_tensors_of_another_base_is_explained(base: Path, tmp_path: Path) -> None:
    # Same architecture, but made for a model with a hidden size of 128, not 64.
    adapter = write_gguf(
        tmp_path / "wide-adapter.gguf",
        "llama",
        {"blk.0.attn_q.weight.lora_a": (8, 128), "blk.0.attn_q.weight.lora_b": (128, 8)},
        adapter=True,
    )
    with pytest.raises(ModelFileError, match="tensors were made for a different base model"):
        check_model_files(base, adapter)


def test_an_adapter_for_tensors_the_base_lacks_is_explained(base: Path, tmp_path: Path) -> None:
    adapter = write_gguf(
        tmp_path / "deeper-adapter.gguf",
        "llama",
        {"blk.7.attn_q.weight.lora_a": (8, 64), "blk.7.attn_q.weight.lora_b": (64, 8)},
        adapter=True,
    )
    with pytest.raises(ModelFileError, match="does not have"):
        check_model_files(base, adapter)


def test_a_fitting_adapter_passes(base: Path, tmp_path: Path) -> None:
    adapter = write_gguf(
        tmp_path / "adapter.gguf",
        "llama",
        {"blk.0.attn_q.weight.lora_a": (8, 64), "blk.0.attn_q.weight.lora_b": (64, 8)},
        adapter=True,
    )
    checked = check_model_files(base, adapter)
    assert checked.adapter is not None and checked.adapter.file_type == "adapter"
    assert checked.needed_bytes > base.stat().st_size


def test_a_model_given_as_adapter_and_an_adapter_given_as_model(base: Path, tmp_path: Path) -> None:
    adapter = write_gguf(
        tmp_path / "adapter.gguf",
        "llama",
        {"blk.0.attn_q.weight.lora_a": (8, 64), "blk.0.attn_q.weight.lora_b": (64, 8)},
        adapter=True,
    )
    with pytest.raises(ModelFileError, match="this is a LoRA adapter, not a model"):
        check_model_files(adapter)
    other = write_gguf(tmp_path / "other.gguf", "llama", BASE_TENSORS)
    with pytest.raises(ModelFileError, match="not a LoRA adapter"):
        check_model_files(base, other)


def test_too_little_memory_says_how_much_is_needed(base: Path) -> None:
    checked = check_model_files(base)
    with pytest.raises(ModelFileError) as caught:
        check_model_files(base, available_memory=checked.needed_bytes - 1)
    message = str(caught.value)
    assert "needs about" in message and "of memory" in message and "is free" in message
    assert check_model_files(base, available_memory=checked.needed_bytes).needed_bytes == (
        checked.needed_bytes
    )


def _gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def _header_with_nested_arrays(depth: int) -> bytes:
    """A GGUF header with one key: arrays of arrays `depth` deep, innermost empty uint8."""
    array, uint8 = 9, 0
    value = b"".join(struct.pack("<IQ", array, 1) for _ in range(depth - 1))
    value += struct.pack("<IQ", uint8, 0)
    arch = _gguf_string("general.architecture") + struct.pack("<I", 8) + _gguf_string("llama")
    nested = _gguf_string("odd.nested") + struct.pack("<I", array) + value
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 2) + arch + nested


def test_deeply_nested_arrays_are_refused_in_one_line(tmp_path: Path) -> None:
    crafted = tmp_path / "nested.gguf"
    crafted.write_bytes(_header_with_nested_arrays(100_000))  # past Python's recursion limit
    with pytest.raises(ModelFileError) as caught:
        read_gguf_header(crafted)
    message = str(caught.value)
    assert message.startswith(f"{crafted}: corrupt GGUF header")
    assert f"nested more than {MAX_ARRAY_NESTING} deep" in message and "\n" not in message
    # nesting within the bound is legal GGUF and is read
    legal = tmp_path / "legal.gguf"
    legal.write_bytes(_header_with_nested_arrays(MAX_ARRAY_NESTING))
    assert read_gguf_header(legal).architecture == "llama"


def test_an_array_longer_than_the_file_is_truncation_not_a_silent_seek(tmp_path: Path) -> None:
    # A float array claiming 2**40 elements: seeking past the end succeeds silently; the
    # header must still be called truncated rather than read as if the rest were there.
    arch = _gguf_string("general.architecture") + struct.pack("<I", 8) + _gguf_string("llama")
    scores = _gguf_string("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 1 << 40)
    crafted = tmp_path / "long.gguf"
    crafted.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 2) + arch + scores)
    with pytest.raises(ModelFileError, match="truncated or corrupt GGUF file"):
        read_gguf_header(crafted)
