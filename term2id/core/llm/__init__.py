"""The local language model as a candidate source (optional extra `llm`: llama-cpp-python).

Nothing here imports llama_cpp at module level: it is loaded inside the functions that need it,
so term2id runs without the extra and only `--model` asks for it.
"""

from term2id.core.llm.backend import (
    UNTRUSTED_MODEL_WARNING,
    CompletionBackend,
    LlamaCppBackend,
    OpenAICompletionsBackend,
)
from term2id.core.llm.gguf_check import ModelFileError, check_model_files, read_gguf_header
from term2id.core.llm.source import MODES, LLMSource, ModelOutputUnparsable, read_manifest

__all__ = [
    "MODES",
    "UNTRUSTED_MODEL_WARNING",
    "CompletionBackend",
    "LLMSource",
    "LlamaCppBackend",
    "ModelFileError",
    "ModelOutputUnparsable",
    "OpenAICompletionsBackend",
    "check_model_files",
    "read_gguf_header",
    "read_manifest",
]
