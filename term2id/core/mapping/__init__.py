"""A term in, verified and ranked candidates out: the sources (exact, fuzzy, semantic, curated,
the local model), verification, ranking, the Mapper, its configuration and the batch loop.

The names below are its public face (the GUI and the CLI import only these); each is loaded on
first use, so that importing one does not load the libraries of all (the window must appear
before the mapper's libraries are loaded).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from term2id.core.mapping.batch import prepare_targets
    from term2id.core.mapping.config import (
        SEMANTIC_EXTRA,
        TUNED_EMBEDDINGS_HELP,
        UNTRUSTED_GGUF_WARNING,
        MappingConfig,
        build_mapper,
        semantic_missing,
    )
    from term2id.core.mapping.embedding_models import (
        MODEL_NAME,
        TUNED_MANIFEST,
        tuned_cache_key,
        tuned_model_folder,
        tuned_model_of,
        weights_digest,
    )
    from term2id.core.mapping.mapper import Mapper, default_sources, holds_id
    from term2id.core.mapping.memory import MappingMemory
    from term2id.core.mapping.sources.semantic import definition_text
    from term2id.core.mapping.verification import verify_id

_PUBLIC = {
    "build_mapper": "config",
    "default_sources": "mapper",
    "definition_text": "sources.semantic",
    "holds_id": "mapper",
    "Mapper": "mapper",
    "MappingConfig": "config",
    "MappingMemory": "memory",
    "MODEL_NAME": "embedding_models",
    "prepare_targets": "batch",
    "SEMANTIC_EXTRA": "config",
    "semantic_missing": "config",
    "tuned_cache_key": "embedding_models",
    "TUNED_EMBEDDINGS_HELP": "config",
    "TUNED_MANIFEST": "embedding_models",
    "tuned_model_folder": "embedding_models",
    "tuned_model_of": "embedding_models",
    "UNTRUSTED_GGUF_WARNING": "config",
    "verify_id": "verification",
    "weights_digest": "embedding_models",
}
__all__ = [
    "MODEL_NAME",
    "Mapper",
    "MappingConfig",
    "MappingMemory",
    "SEMANTIC_EXTRA",
    "TUNED_EMBEDDINGS_HELP",
    "TUNED_MANIFEST",
    "UNTRUSTED_GGUF_WARNING",
    "build_mapper",
    "default_sources",
    "definition_text",
    "holds_id",
    "prepare_targets",
    "semantic_missing",
    "tuned_cache_key",
    "tuned_model_folder",
    "tuned_model_of",
    "verify_id",
    "weights_digest",
]


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    globals()[name] = value
    return value
