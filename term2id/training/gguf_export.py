"""Export Hugging Face Llama models and peft LoRA adapters as GGUF files for llama.cpp.

Written with the `gguf` package alone (no llama.cpp checkout needed); quantisation below F16 goes
through llama.cpp's own quantize function as llama-cpp-python exposes it. Weights are read from
safetensors only, through `model_files`.

Every file is written to a temporary name beside its destination and renamed at the end, so a
failed export never leaves a corrupt GGUF where llama.cpp would find it. A manifest (JSON) beside
each export says what went into it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from term2id import __version__
from term2id.core.files import atomic_path, file_sha256
from term2id.training.errors import (
    ModelDirectoryError,
    TrainingError,
    UnsupportedArchitectureError,
)
from term2id.training.model_files import (
    iter_safetensors,
    read_adapter_config,
    read_model_config,
    safetensors_files,
    sha256_of,
)

log = logging.getLogger(__name__)

SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM",)

# Output types: the first two are written directly, the others quantised by llama.cpp.
QUANT_TYPES = ("F32", "F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0")
_LLAMA_FTYPES = {
    "Q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "Q6_K": "LLAMA_FTYPE_MOSTLY_Q6_K",
    "Q5_K_M": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "Q4_K_M": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "Q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
}
_K_QUANT_BLOCK = 256  # K-quants pack rows in super-blocks of 256 values


@dataclass(frozen=True, slots=True)
class LlamaHyperParameters:
    """What a GGUF writer needs from a Llama `config.json`."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    context_length: int
    rms_norm_eps: float
    rope_theta: float
    rope_scaling: Mapping[str, Any] | None
    tie_word_embeddings: bool
    bos_token_id: int | None
    eos_token_id: int | None


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    kind: str  # "model" or "lora"
    quant: str
    size_bytes: int
    manifest_path: Path | None
    fallback_tensors: tuple[str, ...] = field(default=())  # tensors a K-quant could not pack


# -- a Llama config --------------------------------------------------------------------------


def check_architecture(model_dir: Path | str, config: Mapping[str, Any] | None = None) -> str:
    """The model's architecture name, or UnsupportedArchitectureError before anything is written."""
    config = config if config is not None else read_model_config(model_dir)
    architectures = config.get("architectures") or [config.get("model_type") or "unknown"]
    architecture = str(architectures[0])
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise UnsupportedArchitectureError(model_dir, architecture, SUPPORTED_ARCHITECTURES)
    return architecture


def llama_hyper_parameters(config: Mapping[str, Any]) -> LlamaHyperParameters:
    num_heads = int(config["num_attention_heads"])
    hidden = int(config["hidden_size"])
    # transformers 5 keeps rope theta and scaling under `rope_parameters`; 4.x at the top level.
    rope = dict(config.get("rope_parameters") or {})
    scaling = config.get("rope_scaling") or (
        rope if rope.get("rope_type", "default") not in ("default", None) else None
    )
    eos = config.get("eos_token_id")
    if isinstance(eos, list):  # Llama 3.1 lists several end tokens; llama.cpp takes one
        eos = eos[0]
    return LlamaHyperParameters(
        vocab_size=int(config["vocab_size"]),
        hidden_size=hidden,
        intermediate_size=int(config["intermediate_size"]),
        num_layers=int(config["num_hidden_layers"]),
        num_heads=num_heads,
        num_kv_heads=int(config.get("num_key_value_heads") or num_heads),
        head_dim=int(config.get("head_dim") or hidden // num_heads),
        context_length=int(config.get("max_position_embeddings", 2048)),
        rms_norm_eps=float(config.get("rms_norm_eps", 1e-6)),
        rope_theta=float(rope.get("rope_theta") or config.get("rope_theta") or 10000.0),
        rope_scaling=scaling,
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        bos_token_id=config.get("bos_token_id"),
        eos_token_id=eos,
    )


# -- Llama specifics -------------------------------------------------------------------------


def permute_qk(weights: Any, n_head: int) -> Any:
    """HF Llama stores rotary halves apart; llama.cpp wants them interleaved per head."""
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _tensor_name_map(num_layers: int) -> Any:
    import gguf

    return gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, num_layers)


def gguf_tensor_name(hf_name: str, name_map: Any) -> str:
    mapped = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
    if mapped is None:
        raise TrainingError(f"tensor {hf_name!r} has no llama.cpp counterpart; cannot export it")
    return mapped


def _llama3_rope_factors(hp: LlamaHyperParameters) -> Any | None:
    """Llama 3.1's long-context rope scaling, as llama.cpp's converter computes it."""
    import numpy as np

    scaling = hp.rope_scaling or {}
    if str(scaling.get("rope_type", scaling.get("type", ""))).lower() != "llama3":
        return None
    dim = hp.head_dim
    freqs = 1.0 / (hp.rope_theta ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    factor = float(scaling.get("factor", 8.0))
    low = float(scaling.get("low_freq_factor", 1.0))
    high = float(scaling.get("high_freq_factor", 4.0))
    old_context = float(scaling.get("original_max_position_embeddings", 8192))
    low_wavelen, high_wavelen = old_context / low, old_context / high
    factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old_context / wavelen - low) / (high - low)
            factors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(factors, dtype=np.float32)


def _add_tokenizer(writer: Any, model_dir: Path, hp: LlamaHyperParameters) -> None:
    """Sentencepiece (tokenizer.model) or byte-level BPE (tokenizer.json, Llama 3)."""
    import gguf
    from gguf.vocab import BpeVocab, SentencePieceVocab, SpecialVocab

    if (model_dir / "tokenizer.model").is_file():
        vocab: Any = SentencePieceVocab(model_dir)
        load_merges = False
    elif (model_dir / "tokenizer.json").is_file():
        try:
            vocab = BpeVocab(model_dir)
        except (FileNotFoundError, ValueError) as exc:
            raise ModelDirectoryError(
                model_dir, f"tokenizer.json is not a byte-level BPE tokenizer ({exc})"
            ) from exc
        load_merges = True
    else:
        raise ModelDirectoryError(model_dir, "no tokenizer (tokenizer.model or tokenizer.json)")
    tokens, scores, types = [], [], []
    for text, score, token_type in vocab.all_tokens():
        tokens.append(text)
        scores.append(score)
        types.append(token_type)
    # A model may have more embedding rows than tokens: pad as llama.cpp's converter does.
    for index in range(len(tokens), hp.vocab_size):
        tokens.append(f"[PAD{index}]".encode())
        scores.append(-1000.0)
        types.append(gguf.TokenType.UNUSED)
    writer.add_tokenizer_model(vocab.tokenizer_model)
    if vocab.tokenizer_model == "gpt2":
        writer.add_tokenizer_pre("llama-bpe")
    else:
        writer.add_add_space_prefix(_sentencepiece_adds_dummy_prefix(model_dir / "tokenizer.model"))
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    special = SpecialVocab(model_dir, load_merges=load_merges, n_vocab=len(tokens))
    special.add_to_gguf(writer, quiet=True)
    if not special.special_token_ids:
        # A bare sentencepiece model (the tiny test model): ids from config.json.
        if hp.bos_token_id is not None:
            writer.add_bos_token_id(int(hp.bos_token_id))
        if hp.eos_token_id is not None:
            writer.add_eos_token_id(int(hp.eos_token_id))
        writer.add_unk_token_id(0)
        writer.add_add_bos_token(True)
        writer.add_add_eos_token(False)


def _sentencepiece_adds_dummy_prefix(path: Path) -> bool:
    from sentencepiece import SentencePieceProcessor

    # Read from behaviour rather than the model proto (which would need protobuf).
    pieces = SentencePieceProcessor(model_file=str(path)).encode("a", out_type=str)
    return bool(pieces) and pieces[0].startswith("\u2581")


def _add_hyper_parameters(writer: Any, hp: LlamaHyperParameters, name: str) -> None:
    writer.add_name(name)
    writer.add_context_length(hp.context_length)
    writer.add_embedding_length(hp.hidden_size)
    writer.add_block_count(hp.num_layers)
    writer.add_feed_forward_length(hp.intermediate_size)
    writer.add_head_count(hp.num_heads)
    writer.add_head_count_kv(hp.num_kv_heads)
    writer.add_layer_norm_rms_eps(hp.rms_norm_eps)
    writer.add_rope_freq_base(hp.rope_theta)
    writer.add_rope_dimension_count(hp.head_dim)
    if hp.head_dim != hp.hidden_size // hp.num_heads:
        writer.add_key_length(hp.head_dim)
        writer.add_value_length(hp.head_dim)
    writer.add_vocab_size(hp.vocab_size)


# -- temp + rename ---------------------------------------------------------------------------


@contextmanager
def _scratch_path(beside: Path, suffix: str) -> Iterator[Path]:
    """A temporary file beside `beside`, always removed afterwards."""
    beside.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{beside.name}.", suffix=suffix, dir=beside.parent)
    os.close(handle)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


@contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Collect what native code writes to file descriptor 2 (llama.cpp logs there)."""
    lines: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read().decode("utf-8", "replace").splitlines())


def write_manifest(export_path: Path, fields: Mapping[str, Any]) -> Path:
    """`<export>.json` beside the export: what went into it, so a curator can tell models apart."""
    manifest = {
        "file": export_path.name,
        "sha256": file_sha256(export_path),
        "size_bytes": export_path.stat().st_size,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "term2id_version": __version__,
        **fields,
    }
    path = export_path.with_name(export_path.name + ".json")
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return path


# -- full models -----------------------------------------------------------------------------


def export_model(
    model_dir: Path | str,
    destination: Path | str,
    quant: str = "F16",
    manifest: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Write the Llama model in `model_dir` (safetensors) as one GGUF file of type `quant`."""
    model_dir, destination = Path(model_dir), Path(destination)
    quant = quant.upper()
    if quant not in QUANT_TYPES:
        raise TrainingError(
            f"unknown quantisation {quant!r}; choose one of {', '.join(QUANT_TYPES)}"
        )
    config = read_model_config(model_dir)
    architecture = check_architecture(model_dir, config)
    files = safetensors_files(model_dir)
    hp = llama_hyper_parameters(config)
    fallbacks: tuple[str, ...] = ()
    if quant in ("F32", "F16"):
        with atomic_path(destination) as temporary:
            _write_llama_gguf(model_dir, files, hp, temporary, quant)
    else:
        with (
            _scratch_path(destination, ".f32") as unquantised,
            atomic_path(destination) as temporary,
        ):
            # Quantise from F32 so no precision is lost twice; from F16 above 2B parameters,
            # where an F32 intermediate would need 4 bytes per weight of scratch disk.
            parameters = sum(math.prod(shape) for _, shape in _safetensors_shapes(files))
            intermediate = "F32" if parameters < 2_000_000_000 else "F16"
            _write_llama_gguf(model_dir, files, hp, unquantised, intermediate)
            fallbacks = _k_quant_fallbacks(hp) if "_K" in quant else ()
            for tensor in fallbacks:
                log.info("%s: %s rows are not a multiple of %d; llama.cpp uses a fallback type",
                         quant, tensor, _K_QUANT_BLOCK)  # fmt: skip
            quantize_gguf(unquantised, temporary, quant)
    manifest_path = None
    if manifest is not None:
        manifest_path = write_manifest(
            destination,
            {
                "kind": "model",
                "architecture": architecture,
                "quantisation": quant,
                "source_model": str(model_dir.resolve()),
                "source_model_sha256": sha256_of(files),
                **manifest,
            },
        )
    return ExportResult(
        destination, "model", quant, destination.stat().st_size, manifest_path, fallbacks
    )


def _k_quant_fallbacks(hp: LlamaHyperParameters) -> tuple[str, ...]:
    """Tensors whose row size a K-quant cannot pack in 256-value super-blocks."""
    names = []
    if hp.hidden_size % _K_QUANT_BLOCK:
        names.append(f"every tensor with rows of embedding_length ({hp.hidden_size})")
    if hp.intermediate_size % _K_QUANT_BLOCK:
        names.append(f"ffn_down (rows of {hp.intermediate_size})")
    return tuple(names)


def _write_llama_gguf(
    model_dir: Path, files: list[Path], hp: LlamaHyperParameters, path: Path, quant: str
) -> None:
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    _add_hyper_parameters(writer, hp, model_dir.name)
    file_type = gguf.LlamaFileType.ALL_F32 if quant == "F32" else gguf.LlamaFileType.MOSTLY_F16
    writer.add_file_type(file_type)
    _add_tokenizer(writer, model_dir, hp)
    name_map = _tensor_name_map(hp.num_layers)
    # Streamed: tensor descriptions first, then the data one tensor at a time, so an 8B model
    # never sits in memory whole (GGUFWriter.add_tensor would keep every array until the end).
    plan: list[tuple[str, str, tuple[int, ...], Any]] = []
    for hf_name, shape in _safetensors_shapes(files):
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue
        # Norms and other vectors stay F32: llama.cpp expects them so.
        dtype = np.float16 if quant == "F16" and len(shape) > 1 else np.float32
        plan.append((hf_name, gguf_tensor_name(hf_name, name_map), shape, np.dtype(dtype)))
    factors = _llama3_rope_factors(hp)
    if factors is not None:
        rope_name = gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight"
        writer.add_tensor_info(rope_name, factors.shape, factors.dtype, factors.nbytes)
    for _, name, shape, dtype in plan:
        writer.add_tensor_info(name, shape, dtype, int(np.prod(shape)) * dtype.itemsize)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    if factors is not None:
        writer.write_tensor_data(factors)
    arrays = iter_safetensors(files)
    for hf_name, _, _, dtype in plan:
        name, array = next(arrays)
        while name != hf_name:  # skipped tensors (rotary inv_freq)
            name, array = next(arrays)
        if hf_name.endswith("q_proj.weight"):
            array = permute_qk(array, hp.num_heads)
        elif hf_name.endswith("k_proj.weight"):
            array = permute_qk(array, hp.num_kv_heads)
        writer.write_tensor_data(np.ascontiguousarray(array, dtype=dtype))
    writer.close()


def _safetensors_shapes(files: list[Path]) -> Iterator[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every tensor, in the order iter_safetensors yields them, unread."""
    from safetensors import safe_open

    for path in files:
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                yield name, tuple(handle.get_slice(name).get_shape())


def quantize_gguf(source: Path, destination: Path, quant: str) -> None:
    """Quantise a GGUF file with llama.cpp's own quantizer (through llama-cpp-python)."""
    try:
        import llama_cpp
    except ImportError as exc:  # the `llm` extra
        raise TrainingError(
            f"quantising to {quant} needs llama-cpp-python (pip install 'term2id[llm]')"
        ) from exc
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, _LLAMA_FTYPES[quant])
    params.nthread = os.cpu_count() or 1
    with _captured_stderr() as messages:
        status = llama_cpp.llama_model_quantize(
            str(source).encode(), str(destination).encode(), params
        )
    for message in messages:
        # Per-tensor fallbacks (rows a K-quant cannot pack) are worth a user's notice.
        if "fallback" in message.lower() or "error" in message.lower():
            log.warning("llama.cpp quantize: %s", message.strip())
        else:
            log.debug("llama.cpp quantize: %s", message.strip())
    if status != 0:
        raise TrainingError(
            f"{source}: llama.cpp could not quantise it to {quant} (status {status})"
        )


# -- LoRA adapters ---------------------------------------------------------------------------


def export_lora_adapter(
    adapter_dir: Path | str,
    base_model_dir: Path | str,
    destination: Path | str,
    manifest: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Write a peft LoRA adapter as a GGUF LoRA file for `Llama(..., lora_path=...)`."""
    import gguf
    import numpy as np

    adapter_dir, base_model_dir, destination = (
        Path(adapter_dir), Path(base_model_dir), Path(destination)
    )  # fmt: skip
    base_config = read_model_config(base_model_dir)
    architecture = check_architecture(base_model_dir, base_config)
    hp = llama_hyper_parameters(base_config)
    adapter_config = read_adapter_config(adapter_dir)
    files = safetensors_files(adapter_dir, "adapter")
    if adapter_config.get("peft_type", "LORA") != "LORA":
        raise TrainingError(
            f"{adapter_dir}: only LoRA adapters can be exported, not {adapter_config['peft_type']}"
        )
    if adapter_config.get("use_dora"):
        raise TrainingError(f"{adapter_dir}: DoRA adapters have no GGUF form; merge them (--merge)")
    rank = int(adapter_config["r"])
    alpha = float(adapter_config.get("lora_alpha", rank))
    if adapter_config.get("use_rslora"):
        alpha *= math.sqrt(rank)  # llama.cpp scales by alpha / r; rsLoRA by alpha / sqrt(r)
    if adapter_config.get("rank_pattern") or adapter_config.get("alpha_pattern"):
        raise TrainingError(
            f"{adapter_dir}: per-module ranks or alphas cannot be written as one GGUF LoRA; merge it"
        )
    name_map = _tensor_name_map(hp.num_layers)
    tensors: list[tuple[str, Any]] = []
    for hf_name, array in iter_safetensors(files):
        module, _, kind = hf_name.rpartition(".lora_")
        if kind not in ("A.weight", "B.weight"):
            raise TrainingError(
                f"{adapter_dir}: tensor {hf_name!r} is not a LoRA A/B matrix "
                "(embeddings or modules_to_save cannot go into a GGUF LoRA); merge the adapter"
            )
        base_name = module.removeprefix("base_model.model.") + ".weight"
        if kind == "B.weight":
            if base_name.endswith("q_proj.weight"):
                array = permute_qk(array, hp.num_heads)
            elif base_name.endswith("k_proj.weight"):
                array = permute_qk(array, hp.num_kv_heads)
        suffix = ".lora_a" if kind == "A.weight" else ".lora_b"
        tensors.append((gguf_tensor_name(base_name, name_map) + suffix, array))
    if not tensors:
        raise TrainingError(f"{adapter_dir}: the adapter holds no LoRA tensors")
    with atomic_path(destination) as temporary:
        writer = gguf.GGUFWriter(str(temporary), "llama")
        writer.add_type("adapter")
        writer.add_string("adapter.type", "lora")
        writer.add_float32("adapter.lora.alpha", alpha)
        writer.add_name(adapter_dir.name)
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        for name, array in tensors:
            writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    manifest_path = None
    if manifest is not None:
        manifest_path = write_manifest(
            destination,
            {
                "kind": "lora",
                "architecture": architecture,
                "lora_rank": rank,
                "lora_alpha": alpha,
                "base_model": str(base_model_dir.resolve()),
                "base_model_sha256": sha256_of(safetensors_files(base_model_dir)),
                "adapter_sha256": sha256_of(files),
                **manifest,
            },
        )
    return ExportResult(destination, "lora", "F32", destination.stat().st_size, manifest_path)


def merge_adapter(model_dir: Path | str, adapter_dir: Path | str, out_dir: Path | str) -> Path:
    """Fold a LoRA adapter into its base model and save the result (safetensors) in out_dir."""
    import shutil

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    check_architecture(model_dir)
    safetensors_files(model_dir)
    safetensors_files(Path(adapter_dir), "adapter")
    base = AutoModelForCausalLM.from_pretrained(model_dir, use_safetensors=True, dtype="auto")
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(out_dir)
    # Tokenizer files travel with the weights (save_pretrained does not write tokenizer.model).
    for name in ("tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "generation_config.json"):  # fmt: skip
        if (model_dir / name).is_file() and not (out_dir / name).is_file():
            shutil.copy2(model_dir / name, out_dir / name)
    return out_dir
