"""Which sentence model embeds a store's names, and how it runs: the packaged all-MiniLM-L6-v2,
a store's tuned copy beside the store file, and ONNX Runtime in place of torch.

A store can have its own tuned copy of the model (`term2id train embeddings`, in the training
module): the packaged model fine-tuned on that store's names, so that a term's names lie closer
together. It sits beside the store file (`hp.sqlite` -> `hp.embeddings/`) and counts only while
its manifest names the store's current release. Vectors are cached per model, under a key that
changes whenever the weights do.

The model runs in ONNX Runtime when it is installed (the `semantic` extra): the same weights in
float32, so the vectors are the ones sentence-transformers computes, about twice as fast on a
CPU, and torch is never loaded while mapping. The ONNX file is exported once per model, in a
child process (term2id.training.onnx_export), into `embedding-models/` beside the stores.

What the semantic source embeds (the store's names and definitions, and the terms being mapped)
goes through an int8 copy of that export (term2id.core.mapping.onnx_int8, made once per model
beside it): encoding is most of the source's time, and int8 about halves it. Top-1 and top-5 on
held-out HPO synonyms stayed within 0.8 points of float32 (docs/mapping.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from term2id.core.ontology.store import OntologyStore

if TYPE_CHECKING:
    from tokenizers import Encoding

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
# A store's tuned model: a sentence-transformers folder beside the store file, with a manifest.
TUNED_FOLDER_SUFFIX = ".embeddings"
TUNED_MANIFEST = "term2id-embeddings.json"
# Texts per ONNX Runtime call, sorted by their number of tokens so that little is padding (16, 64
# and 128 were slower on HPO's names and definitions, on 2 cores); the vectors are the same to
# the bit in any batch.
_ONNX_BATCH = 32
ONNX_FOLDER = "embedding-models"
INT8_SUFFIX = ".int8.onnx"
_EXPORT_TIMEOUT_S = 1800


@dataclass(frozen=True, slots=True)
class EmbeddingModel:
    """Which sentence model embeds a store's names, and the key its vectors are cached under."""

    key: str  # cache key: changes whenever the weights change
    path: str | None  # a sentence-transformers folder; None: the packaged all-MiniLM-L6-v2
    tuned_on: str | None = None  # "hp 2025-01-16" for a store-tuned model

    @property
    def description(self) -> str:
        return f"{MODEL_NAME} tuned on {self.tuned_on}" if self.tuned_on else MODEL_NAME


PACKAGED_MODEL = EmbeddingModel(MODEL_NAME, None)


def tuned_model_folder(store: OntologyStore) -> Path:
    """Where `store`'s tuned model lives: beside the store file (hp.sqlite -> hp.embeddings)."""
    return store.path.with_suffix(TUNED_FOLDER_SUFFIX)


def weights_digest(folder: Path) -> str:
    """A short digest of a model folder's weights (safetensors files), for cache keys."""
    digest = hashlib.sha256()
    files = sorted(folder.rglob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder}: no .safetensors weights")
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode())
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def tuned_cache_key(digest: str) -> str:
    """The key a tuned model's vectors are cached under, from its weights' digest."""
    return f"tuned:{digest}"


def tuned_model_of(store: OntologyStore) -> EmbeddingModel | None:
    """`store`'s tuned model, if it has one made for its current release; else None.

    A model tuned on an older release (the store was re-imported since) is ignored with a
    warning: its vectors would not match the names now in the store.
    """
    folder = tuned_model_folder(store)
    manifest_path = folder / TUNED_MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        release, store_name = manifest["release"], manifest["store"]
        digest = weights_digest(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: ignoring the tuned embedding model (%s)", folder, exc)
        return None
    if release != store.release or store_name != store.name:
        log.warning(
            "%s was tuned on %s %s, not on %s %s: using the packaged model "
            "(run `term2id train embeddings --ontology %s` again)",
            folder, store_name, release, store.name, store.release, store.name,
        )  # fmt: skip
        return None
    return EmbeddingModel(tuned_cache_key(digest), str(folder), f"{store_name} {release}")


class OnnxEncoder:
    """A sentence-transformers model (transformer, mean pooling, normalising) in ONNX Runtime.

    Tokenises with the model's own tokenizer.json (the `tokenizers` library), runs the exported
    transformer and pools as the model's Pooling module does: the vectors equal
    SentenceTransformer.encode's to float32 rounding.
    """

    def __init__(self, onnx_path: Path, model_folder: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        if not supports_onnx(model_folder):
            raise ValueError(f"{model_folder}: not a transformer + mean pooling model")
        config = _read_json(model_folder / "sentence_bert_config.json")
        tokens = _read_json(model_folder / "tokenizer_config.json")
        self.tokenizer = Tokenizer.from_file(str(model_folder / "tokenizer.json"))
        # Where sentence-transformers finds the length it cuts texts at: its own config, or (as
        # sentence-transformers 6 saves a model) the tokenizer's.
        longest = config.get("max_seq_length") or tokens.get("model_max_length") or 256
        self.tokenizer.enable_truncation(int(longest))
        pad = str(tokens.get("pad_token", "[PAD]"))
        self.pad_id = self.tokenizer.token_to_id(pad) or 0
        # Batches are padded in `inputs`, to their longest text (tokenizer.json may ask for a
        # fixed length: 128 tokens for all-MiniLM-L6-v2, mostly padding).
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = _cpu_count()
        options.inter_op_num_threads = 1
        # Threads that wait idle instead of spinning: mapping alternates the model with numpy's
        # matrix products, whose BLAS threads the spinning ones starved (HPO's external sets:
        # 5.3 s -> 4.5 s on 2 cores; embedding a store's names, back to back, 9 % slower).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.int8 = onnx_path.name.endswith(INT8_SUFFIX)  # its vectors are cached under their key
        self.normalize = any(
            str(m.get("type", "")).endswith("Normalize")
            for m in _read_json(model_folder / "modules.json", [])
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 0), dtype=np.float32)
        encoded = self.tokenizer.encode_batch(list(texts))
        # Batches of texts with the same number of tokens, or nearly: little is padding (sorting
        # by characters instead left a quarter more time on HPO's names and definitions).
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))
        for start in range(0, len(order), _ONNX_BATCH):
            at = order[start : start + _ONNX_BATCH]
            inputs = self.inputs([encoded[i] for i in at])
            hidden = self.session.run(None, inputs)[0]
            mask = inputs["attention_mask"]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            if self.normalize:
                pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[at] = pooled
        return out

    def inputs(self, encoded: Sequence[Encoding]) -> dict[str, np.ndarray]:
        """The model's inputs for a batch of tokenised texts, padded to the longest."""
        longest = max((len(e.ids) for e in encoded), default=0)
        ids = np.full((len(encoded), longest), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encoded), longest), dtype=np.int64)
        types = np.zeros((len(encoded), longest), dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = e.attention_mask
            types[row, : len(e.ids)] = e.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _read_json(path: Path, default: object = None):  # noqa: ANN202 - JSON of any shape
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {} if default is None else default


def _cpu_count() -> int:
    # A process told how many threads to use (Dask workers and batch schedulers set
    # OMP_NUM_THREADS) keeps to that, so that workers sharing a machine do not oversubscribe it.
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def supports_onnx(model_folder: Path) -> bool:
    """Whether OnnxEncoder reproduces the model: a transformer, mean pooling, maybe normalising."""
    modules = _read_json(model_folder / "modules.json", [])
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return False
    if modules[0].get("path"):
        return False  # the transformer in a subfolder: not the layout exported here
    pooling = _read_json(model_folder / str(modules[1].get("path", "")) / "config.json")
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v is True]
    # sentence-transformers 6 writes {"pooling_mode": "mean"}; earlier releases one flag a mode.
    mean = modes == ["pooling_mode_mean_tokens"] or (
        pooling.get("pooling_mode") == "mean" and pooling.get("include_prompt", True) is True
    )
    return mean and (model_folder / "tokenizer.json").is_file()


def export_onnx(model_folder: Path, out: Path) -> None:
    """Export the model's transformer to `out` in a child process (which may import torch)."""
    _run_child("term2id.training.onnx_export", [model_folder, out], out)


def quantize_onnx(onnx_path: Path, model_folder: Path, out: Path) -> None:
    """Write the int8 copy of an ONNX export to `out`, in a child process (see onnx_int8)."""
    _run_child("term2id.core.mapping.onnx_int8", [onnx_path, model_folder, out], out)


def _run_child(module: str, args: Sequence[Path], out: Path) -> None:
    """Run `python -m module args` that writes `out`; raise with its last line if it did not."""
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", module, *(str(a) for a in args)]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=_EXPORT_TIMEOUT_S, check=False
    )
    if done.returncode != 0 or not out.is_file():
        lines = (done.stderr or done.stdout or "no output").strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit status {done.returncode}")


def int8_path(onnx_path: Path) -> Path:
    """Where the int8 copy of an ONNX export lives: beside it."""
    return onnx_path.with_name(f"{onnx_path.stem}{INT8_SUFFIX}")


def int8_key(key: str) -> str:
    """The cache key of vectors made by the int8 copy of the model cached under `key`."""
    return f"{key}+int8"


def onnx_stamp(key: str, folder: Path) -> str:
    """A file name for a model's ONNX export that changes whenever its weights file does."""
    digest = hashlib.sha256(key.encode())
    for path in sorted(folder.rglob("*.safetensors")):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in key)
    return f"{safe}-{digest.hexdigest()[:12]}"
