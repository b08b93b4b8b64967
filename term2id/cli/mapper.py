"""The mapper a command's flags describe: its configuration, built with its notes printed, and
prepared behind a progress bar."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from term2id.cli import common
from term2id.cli.common import err, out, progress_bar
from term2id.core.errors import Term2IdError
from term2id.core.mapping import UNTRUSTED_GGUF_WARNING, MappingConfig


def mapping_config(
    sources: str | None,
    threshold: float = 0.9,
    top_k: int = 10,
    model: Path | None = None,
    adapter: Path | None = None,
    mode: str = "propose",
    server: str | None = None,
    tuned_embeddings: bool = False,
    api_key: str | None = None,
    memory: bool = False,
) -> MappingConfig:
    """The mapping configuration the command's flags describe (and nothing else)."""
    if api_key is not None and server is None:
        raise Term2IdError("--api-key goes with --server (the key that server asks for)")
    return MappingConfig(
        sources=MappingConfig.parse_sources(sources),
        threshold=threshold,
        top_k=top_k,
        model=str(model) if model is not None else None,
        adapter=str(adapter) if adapter is not None else None,
        server=server,
        mode=mode,
        tuned_embeddings=tuned_embeddings,
        api_key=api_key,
        memory=memory,
    )


def make_mapper(config: MappingConfig):  # noqa: ANN202 - a Mapper
    """build_mapper, with its one warning (a missing semantic extra) printed as a note."""
    from term2id.core.mapping import build_mapper

    if config.model is not None:
        err.print(f"[yellow]note:[/] {UNTRUSTED_GGUF_WARNING}", highlight=False)
    return build_mapper(
        config,
        common.catalog(),
        warn=lambda message: err.print(f"[yellow]note:[/] {escape(message)}", highlight=False),
    )


def prepare(mapper, ontology: str) -> None:  # noqa: ANN001 - a Mapper
    """Build the indexes and embeddings the mapping needs now, with a bar and the time left."""
    with progress_bar(f"preparing {', '.join(s.name for s in mapper.sources)}") as progress:
        mapper.prepare(ontology, progress)


def print_model_stats(sources: list | None) -> None:
    for source in sources or ():
        stats = getattr(source, "stats", None)
        if source.name == "llm" and stats is not None:
            out.print(
                f"model: {stats.asked:,} questions asked, {stats.cached:,} answered from the cache, "
                f"{stats.unparsable:,} answers that did not parse",
                highlight=False,
            )
