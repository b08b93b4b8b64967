"""The local language model as a candidate source (optional extra `llm`: llama-cpp-python).

Nothing here imports llama_cpp at module level: it is loaded inside the functions that need it,
so term2id runs without the extra and only `--model` asks for it.
"""

from term2id.core.llm.backend import (
    CompletionBackend,
    LlamaCppBackend,
    OpenAICompletionsBackend,
)
from term2id.core.llm.gguf_check import ModelFileError, check_model_files, read_gguf_header
from term2id.core.llm.source import (
    MODES,
    LLMSource,
    ModelOutputUnparsable,
    open_llm_source,
    read_manifest,
)

__all__ = [
    "MODES",
    "CompletionBackend",
    "LLMSource",
    "LlamaCppBackend",
    "ModelFileError",
    "ModelOutputUnparsable",
    "OpenAICompletionsBackend",
    "check_model_files",
    "read_gguf_header",
    "open_llm_source",
    "read_manifest",
]


def _needs_a_model() -> LLMSource:
    from term2id.core.errors import Term2IdError

    raise Term2IdError(
        "the llm source needs a model file (--model PATH.gguf) or a server (--server URL)"
    )


def _register() -> None:
    # Listed among the sources by name; built with its options by open_llm_source.
    from term2id.core.sources import register_source

    register_source("llm", _needs_a_model)


_register()
