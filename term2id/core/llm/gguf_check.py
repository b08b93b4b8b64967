"""Check a GGUF model (and adapter) before llama.cpp sees it.

llama.cpp aborts, crashes or prints a C-level message for many bad files; a curator should instead
read one line saying what is wrong with which file. Everything here reads only the header.

Why our own header reader rather than `gguf.GGUFReader`: GGUFReader memory-maps the file and
builds a numpy view for every array element of every field: on a header with a 128k-token
vocabulary (the size of Llama 3's) it took 11.9 s here before one key could be read, this reader
0.08 s, because it skips the arrays it does not need and reads only the header and tensor table.
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from term2id.core.errors import InputFileError

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)

# Architectures llama.cpp (as bundled with llama-cpp-python 0.3.x) knows, by general.architecture.
# The `gguf` package's list is used as well when it is installed (it tracks llama.cpp's).
KNOWN_ARCHITECTURES = frozenset(
    [
        "llama",
        "llama4",
        "deci",
        "falcon",
        "falcon-h1",
        "grok",
        "gpt2",
        "gptj",
        "gptneox",
        "mpt",
        "baichuan",
        "starcoder",
        "refact",
        "bert",
        "nomic-bert",
        "nomic-bert-moe",
        "neo-bert",
        "jina-bert-v2",
        "jina-bert-v3",
        "bloom",
        "stablelm",
        "qwen",
        "qwen2",
        "qwen2moe",
        "qwen2vl",
        "qwen3",
        "qwen3moe",
        "qwen3next",
        "phi2",
        "phi3",
        "phimoe",
        "plamo",
        "plamo2",
        "codeshell",
        "orion",
        "internlm2",
        "minicpm",
        "minicpm3",
        "gemma",
        "gemma2",
        "gemma3",
        "gemma3n",
        "gemma-embedding",
        "starcoder2",
        "mamba",
        "mamba2",
        "xverse",
        "command-r",
        "cohere2",
        "dbrx",
        "olmo",
        "olmo2",
        "olmoe",
        "openelm",
        "arctic",
        "deepseek",
        "deepseek2",
        "chatglm",
        "glm4",
        "glm4moe",
        "bitnet",
        "t5",
        "t5encoder",
        "jais",
        "nemotron",
        "nemotron_h",
        "exaone",
        "exaone4",
        "rwkv6",
        "rwkv6qwen2",
        "rwkv7",
        "arwkv7",
        "granite",
        "granitemoe",
        "granitehybrid",
        "chameleon",
        "wavtokenizer-dec",
        "plm",
        "bailingmoe",
        "dots1",
        "arcee",
        "ernie4_5",
        "ernie4_5-moe",
        "hunyuan-moe",
        "hunyuan-dense",
        "smollm3",
        "gpt-oss",
        "lfm2",
        "lfm2moe",
        "dream",
        "smallthinker",
        "llada",
        "llada-moe",
        "seed_oss",
        "grovemoe",
        "apertus",
        "minimax-m2",
        "cogvlm",
        "mistral3",
        "afmoe",
    ]
)

_SCALAR_FORMATS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
# Arrays of arrays are legal GGUF but no model uses more than a level or two; a crafted header
# nesting thousands deep would otherwise exhaust Python's recursion limit.
MAX_ARRAY_NESTING = 8


class NestingTooDeep(ValueError):
    """A GGUF header whose arrays nest deeper than MAX_ARRAY_NESTING."""


class ModelFileError(InputFileError):
    """A model or adapter file that llama.cpp would refuse, crash on, or not have memory for."""


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """What the header of a GGUF file says."""

    path: Path
    size_bytes: int
    version: int
    architecture: str
    file_type: str  # general.type: "model" (also when absent) or "adapter"
    name: str | None
    # tensor name -> dimensions in ggml order (ne[0] is the row length)
    tensors: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # scalar metadata (numbers, strings, booleans); arrays are skipped
    metadata: dict[str, object] = field(default_factory=dict)

    def get_int(self, key: str) -> int | None:
        value = self.metadata.get(f"{self.architecture}.{key}")
        return int(value) if isinstance(value, int | float) else None


@dataclass(frozen=True, slots=True)
class CheckedModel:
    base: GGUFInfo
    adapter: GGUFInfo | None
    needed_bytes: int  # estimated resident memory to load and run with the given context size


def known_architectures() -> frozenset[str]:
    try:
        from gguf.constants import MODEL_ARCH_NAMES  # optional: pure Python, tracks llama.cpp
    except ImportError:
        return KNOWN_ARCHITECTURES
    return KNOWN_ARCHITECTURES | frozenset(MODEL_ARCH_NAMES.values())


def read_gguf_header(path: Path | str) -> GGUFInfo:
    """Parse the header and tensor table of a GGUF file; ModelFileError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "no such model file")
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            return _read(handle, path, size)
    except NestingTooDeep as exc:
        raise ModelFileError(path, f"corrupt GGUF header ({exc})") from exc
    except (struct.error, UnicodeDecodeError, EOFError, OverflowError, MemoryError) as exc:
        raise ModelFileError(path, f"truncated or corrupt GGUF file ({exc})") from exc
    except OSError as exc:
        raise ModelFileError(path, f"cannot be read ({exc.strerror or exc})") from exc


def _read(handle: BinaryIO, path: Path, size: int) -> GGUFInfo:
    magic = handle.read(4)
    if magic != GGUF_MAGIC:
        hint = ""
        if magic[:2] == b"PK" or path.suffix in {".safetensors", ".bin", ".pt", ".pth"}:
            hint = " (a PyTorch/safetensors checkpoint? convert it with llama.cpp's convert_hf_to_gguf.py)"
        raise ModelFileError(path, f"not a GGUF model file (starts with {magic!r}){hint}")
    version = _unpack(handle, "<I")
    if version not in SUPPORTED_VERSIONS:
        if version > 0xFFFF:
            reason = "a big-endian GGUF file; llama.cpp on this machine reads little-endian only"
        else:
            reason = f"GGUF version {version}; llama.cpp here reads versions 2 and 3"
        raise ModelFileError(path, reason)
    tensor_count = _unpack(handle, "<Q")
    kv_count = _unpack(handle, "<Q")
    if tensor_count > 10_000_000 or kv_count > 10_000_000:
        raise ModelFileError(path, "corrupt GGUF header (implausible tensor or key count)")
    metadata: dict[str, object] = {}
    for _ in range(kv_count):
        key = _read_string(handle)
        value_type = _unpack(handle, "<I")
        value = _read_value(handle, value_type)
        if value is not _SKIPPED:
            metadata[key] = value
    tensors: dict[str, tuple[int, ...]] = {}
    for _ in range(tensor_count):
        name = _read_string(handle)
        n_dims = _unpack(handle, "<I")
        if n_dims > 8:
            raise ModelFileError(path, f"corrupt tensor table (tensor {name!r} has {n_dims} dims)")
        dims = struct.unpack(f"<{n_dims}Q", _read_exact(handle, 8 * n_dims))
        handle.read(12)  # ggml type (uint32) and data offset (uint64)
        tensors[name] = tuple(dims)
    architecture = metadata.get("general.architecture")
    if not isinstance(architecture, str) or not architecture:
        raise ModelFileError(
            path, "GGUF file without general.architecture: not a model llama.cpp can load"
        )
    file_type = metadata.get("general.type")
    return GGUFInfo(
        path=path,
        size_bytes=size,
        version=version,
        architecture=architecture,
        file_type=file_type if isinstance(file_type, str) and file_type else "model",
        name=metadata.get("general.name")
        if isinstance(metadata.get("general.name"), str)
        else None,
        tensors=tensors,
        metadata=metadata,
    )


_SKIPPED = object()


def _read_exact(handle: BinaryIO, n: int) -> bytes:
    data = handle.read(n)
    if len(data) != n:
        raise EOFError("unexpected end of file")
    return data


def _unpack(handle: BinaryIO, fmt: str) -> int:
    return struct.unpack(fmt, _read_exact(handle, struct.calcsize(fmt)))[0]


def _read_string(handle: BinaryIO) -> str:
    length = _unpack(handle, "<Q")
    if length > 1 << 30:
        raise EOFError(f"implausible string length {length}")
    return _read_exact(handle, length).decode("utf-8")


def _skip(handle: BinaryIO, n: int) -> None:
    """Seek n bytes forward; a seek past the end would succeed silently, so refuse it here."""
    position = handle.tell() + n
    if position > os.fstat(handle.fileno()).st_size:
        raise EOFError("unexpected end of file")
    handle.seek(position)


def _read_value(handle: BinaryIO, value_type: int, depth: int = 0) -> object:
    if value_type in _SCALAR_FORMATS:
        return _unpack(handle, _SCALAR_FORMATS[value_type])
    if value_type == _STRING:
        return _read_string(handle)
    if value_type == _ARRAY:
        if depth >= MAX_ARRAY_NESTING:
            raise NestingTooDeep(f"arrays nested more than {MAX_ARRAY_NESTING} deep")
        element_type = _unpack(handle, "<I")
        count = _unpack(handle, "<Q")
        if element_type in _SCALAR_FORMATS:
            # Numeric arrays (token scores, types) are skipped with one seek.
            _skip(handle, count * struct.calcsize(_SCALAR_FORMATS[element_type]))
        elif element_type == _STRING:
            for _ in range(count):
                _skip(handle, _unpack(handle, "<Q"))
        else:
            for _ in range(count):
                _read_value(handle, element_type, depth + 1)
        return _SKIPPED
    raise EOFError(f"unknown GGUF value type {value_type}")


def available_memory_bytes() -> int:
    """Memory the system can give us now without swapping."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        return int(pages * os.sysconf("SC_PAGE_SIZE"))


def estimate_memory_bytes(base: GGUFInfo, adapter: GGUFInfo | None, n_ctx: int) -> int:
    """Weights (memory-mapped, but all touched at inference) + KV cache (f16) + some working room."""
    layers = base.get_int("block_count") or 0
    embedding = base.get_int("embedding_length") or 0
    heads = base.get_int("attention.head_count") or 1
    kv_heads = base.get_int("attention.head_count_kv") or heads
    kv_width = embedding * kv_heads // max(heads, 1)
    kv_cache = 2 * layers * n_ctx * kv_width * 2
    working = 64 * 1024 * 1024 + base.size_bytes // 20
    return base.size_bytes + (adapter.size_bytes if adapter else 0) + kv_cache + working


def _gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


def check_model_files(
    model_path: Path | str,
    adapter_path: Path | str | None = None,
    n_ctx: int = 2048,
    available_memory: int | None = None,
) -> CheckedModel:
    """Raise ModelFileError for any file llama.cpp would refuse; otherwise describe the pair.

    `available_memory` (bytes) overrides the system's figure, e.g. to leave room for other jobs.
    """
    base = read_gguf_header(model_path)
    if base.file_type == "adapter":
        raise ModelFileError(
            base.path,
            "this is a LoRA adapter, not a model: give it as the adapter and pass the base model it was trained on as the model",
        )
    known = known_architectures()
    if base.architecture not in known:
        raise ModelFileError(
            base.path,
            f"architecture {base.architecture!r} is not one llama.cpp knows (known: llama, qwen2, "
            "mistral3, gemma3, phi3, ... ); convert the model with a llama.cpp that supports it",
        )
    adapter = None
    if adapter_path is not None:
        adapter = read_gguf_header(adapter_path)
        _check_adapter(base, adapter)
    needed = estimate_memory_bytes(base, adapter, n_ctx)
    available = available_memory_bytes() if available_memory is None else available_memory
    if needed > available:
        raise ModelFileError(
            base.path,
            f"needs about {_gib(needed)} of memory to run (weights {_gib(base.size_bytes)}, "
            f"context {n_ctx} tokens) but only {_gib(available)} is free; close other programs, "
            "use a smaller quantization (e.g. Q4_K_M) or a smaller context",
        )
    return CheckedModel(base=base, adapter=adapter, needed_bytes=needed)


def _check_adapter(base: GGUFInfo, adapter: GGUFInfo) -> None:
    if adapter.file_type != "adapter":
        raise ModelFileError(
            adapter.path,
            f"not a LoRA adapter (general.type is {adapter.file_type!r}); export the adapter "
            "with `term2id train export` or llama.cpp's convert_lora_to_gguf.py",
        )
    if adapter.architecture != base.architecture:
        raise ModelFileError(
            adapter.path,
            f"adapter made for a {adapter.architecture!r} model, but {base.path.name} is "
            f"{base.architecture!r}; llama.cpp refuses it: an adapter only fits the base model it was trained on",
        )
    for name, a_dims in adapter.tensors.items():
        if not name.endswith(".lora_a"):
            continue
        target = name[: -len(".lora_a")]
        b_dims = adapter.tensors.get(target + ".lora_b")
        base_dims = base.tensors.get(target)
        if base_dims is None:
            raise ModelFileError(
                adapter.path,
                f"adapter tensor {name!r} modifies {target!r}, which {base.path.name} does not "
                "have; llama.cpp refuses it: the adapter was made for a different base model",
            )
        if b_dims is None or a_dims[0] != base_dims[0] or b_dims[-1] != base_dims[-1]:
            raise ModelFileError(
                adapter.path,
                f"adapter tensor {target!r} has shape {a_dims[0]}x{b_dims[-1] if b_dims else '?'} "
                f"but the base model's is {base_dims[0]}x{base_dims[-1]}; llama.cpp refuses it: "
                "its tensors were made for a different base model",
            )
