"""The local language model as a candidate source (optional extra `llm`: llama-cpp-python).

Nothing here imports llama_cpp at module level: it is loaded inside the functions that need it,
so term2id runs without the extra and only `--model` asks for it.
"""

from term2id.core.llm.completion import Completion, CompletionBackend
from term2id.core.llm.gguf_check import ModelFileError, check_model_files, read_gguf_header
from term2id.core.llm.llama import LlamaCppBackend
from term2id.core.llm.prompts import (
    NONE_ANSWER,
    TASKS,
    format_candidates,
    ontology_display_name,
    render_prompt,
)
from term2id.core.llm.runtime import load_llama, use_safe_kernels
from term2id.core.llm.server import OpenAICompletionsBackend
from term2id.core.llm.source import (
    MODES,
    LLMSource,
    ModelOutputUnparsable,
    open_llm_source,
    read_manifest,
)

__all__ = [
    "load_llama",
    "use_safe_kernels",
    "NONE_ANSWER",
    "TASKS",
    "Completion",
    "format_candidates",
    "ontology_display_name",
    "render_prompt",
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
