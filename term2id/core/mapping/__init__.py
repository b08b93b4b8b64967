"""A term in, verified and ranked candidates out: the sources (exact, fuzzy, semantic, curated,
the local model), verification, ranking, the Mapper, its configuration and the batch loop.

Its public names (the GUI and the CLI import only these) load on first use: term2id.core.public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from term2id.core.public import load_on_first_use

if TYPE_CHECKING:
    from term2id.core.mapping.batch import prepare_targets
    from term2id.core.mapping.config import (
        SEMANTIC_EXTRA,
        TUNED_EMBEDDINGS_HELP,
        UNTRUSTED_GGUF_WARNING,
        MappingConfig,
        build_mapper,
        quiet_third_party_output,
        semantic_missing,
    )
    from term2id.core.mapping.embedding_models import (
        MODEL_NAME,
        TUNED_MANIFEST,
        int8_key,
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
    "int8_key": "embedding_models",
    "Mapper": "mapper",
    "MappingConfig": "config",
    "MappingMemory": "memory",
    "MODEL_NAME": "embedding_models",
    "prepare_targets": "batch",
    "quiet_third_party_output": "config",
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
    "int8_key",
    "prepare_targets",
    "quiet_third_party_output",
    "semantic_missing",
    "tuned_cache_key",
    "tuned_model_folder",
    "tuned_model_of",
    "verify_id",
    "weights_digest",
]

__getattr__ = load_on_first_use(__name__, _PUBLIC)
