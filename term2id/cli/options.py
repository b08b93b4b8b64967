"""Command-line options that several commands share (`--data-dir` with `term2id train` too), one
definition each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from term2id.core.mapping import TUNED_EMBEDDINGS_HELP, UNTRUSTED_GGUF_WARNING
from term2id.core.ontology import DATA_DIR_ENV

_DATA_DIR_HELP = (
    f"Folder holding the ontology stores (default: ${DATA_DIR_ENV}, or the platform's user data "
    "folder)."
)
# `term2id --data-dir X ...` (the root) reads the environment variable; a command's own
# `--data-dir` counts only when given, so that it never replaces the root's with the variable.
RootDataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help=_DATA_DIR_HELP, envvar=DATA_DIR_ENV, show_default=False, file_okay=False
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help=_DATA_DIR_HELP, show_default=False, file_okay=False),
]

# The local language model and the candidate sources: options shared by map, demo and eval.

ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help=f"GGUF model file for the local-model source 'llm' (needs the llm extra). {UNTRUSTED_GGUF_WARNING}",
        dir_okay=False,
        show_default=False,
    ),
]
AdapterOption = Annotated[
    Path | None,
    typer.Option(
        "--adapter",
        help=f"GGUF LoRA adapter trained on --model. {UNTRUSTED_GGUF_WARNING}",
        dir_okay=False,
        show_default=False,
    ),
]
ModeOption = Annotated[
    str,
    typer.Option(
        "--mode",
        help="What the model does: propose ids, choose among the other sources' top candidates, or both.",
    ),
]
ThresholdOption = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=1.0,
        help=(
            "Confidence at which the term's own name (a label or exact synonym) is accepted; "
            "below 0.9, any verified name. Calibrated confidences stop a little below 1."
        ),
    ),
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="URL of an OpenAI-compatible completions server on the local network "
        "(llama.cpp server, python -m llama_cpp.server, vLLM), instead of --model.",
        show_default=False,
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="Key the --server asks for, sent as a Bearer token and never written anywhere. "
        "Better in the TERM2ID_API_KEY environment variable (read when this is not given): "
        "a command line can be seen by other users of the machine.",
        show_default=False,
    ),
]


SourcesOption = Annotated[
    str | None,
    typer.Option(
        help="Candidate sources, comma-separated: exact,fuzzy,semantic,llm "
        "(default: exact,fuzzy,semantic, plus llm with --model or --server).",
        show_default=False,
    ),
]
TunedEmbeddingsOption = Annotated[
    bool, typer.Option("--tuned-embeddings", help=TUNED_EMBEDDINGS_HELP)
]
