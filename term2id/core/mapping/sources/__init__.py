"""Candidate sources, by name: exact, fuzzy, semantic (optional extra), and any registered later.

`default_sources(("exact", "fuzzy"))` builds the named sources in order (which sources a mapping
uses by default is MappingConfig's business, in core/mapping/config.py). The local model ("llm")
is no factory here: it needs its options, and `build_mapper` opens it. Another module may add a
source with `register_source(name, factory)`; the factory takes no arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from term2id.core.candidates import Proposal, Query
from term2id.core.errors import Term2IdError
from term2id.core.mapping.sources.exact import ExactSource
from term2id.core.mapping.sources.fuzzy import FuzzySource
from term2id.core.ontology.store import OntologyStore


@runtime_checkable
class CandidateSource(Protocol):
    """Anything that proposes identifiers for a term."""

    name: str

    def propose(self, query: Query, store: OntologyStore, limit: int) -> list[Proposal]:
        """Up to `limit` proposals for `query`, best first. May raise SourceUnavailable."""
        ...


def _semantic() -> CandidateSource:
    from term2id.core.mapping.sources.semantic import SemanticSource  # needs the `semantic` extra

    return SemanticSource()


_FACTORIES: dict[str, Callable[[], CandidateSource]] = {
    "exact": ExactSource,
    "fuzzy": FuzzySource,
    "semantic": _semantic,
}


def register_source(name: str, factory: Callable[[], CandidateSource]) -> None:
    """Make a source available to `default_sources` (and so to `--sources`) under `name`."""
    _FACTORIES[name] = factory


def source_names() -> list[str]:
    return list(_FACTORIES)


def default_sources(names: Sequence[str]) -> list[CandidateSource]:
    """Build the sources named, in order. Unknown names raise a Term2IdError listing the known."""
    sources = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        factory = _FACTORIES.get(name)
        if factory is None:
            raise Term2IdError(
                f"unknown candidate source {name!r}; known sources: {', '.join(_FACTORIES)}"
            )
        sources.append(factory())
    if not sources:
        raise Term2IdError(f"no candidate source named; known sources: {', '.join(_FACTORIES)}")
    return sources


__all__ = [
    "CandidateSource",
    "ExactSource",
    "FuzzySource",
    "default_sources",
    "register_source",
    "source_names",
]
