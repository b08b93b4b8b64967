"""Plain domain objects for ontology terms, shared by the store, the mapper, the CLI and the GUI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path


class SynonymScope(StrEnum):
    """The scope an ontology gives a synonym (OBO's four; OWL's hasExactSynonym etc.)."""

    EXACT = "EXACT"
    RELATED = "RELATED"
    NARROW = "NARROW"
    BROAD = "BROAD"


# Which kind of name says best what its term is, when several terms match one text: the label,
# then an EXACT synonym, then RELATED, then NARROW and BROAD alike (neither names the term itself).
_NAME_ORDER = {None: 0, SynonymScope.EXACT: 1, SynonymScope.RELATED: 2, SynonymScope.NARROW: 3,
               SynonymScope.BROAD: 3}  # fmt: skip


def name_order(scope: str | None) -> int:
    """Sort key of a name by its scope (None: the label); an unknown scope comes last."""
    return _NAME_ORDER.get(scope, len(SynonymScope))


@dataclass(frozen=True, slots=True)
class Synonym:
    text: str
    scope: str = SynonymScope.RELATED.value  # a SynonymScope value
    type: str | None = None  # layperson, abbreviation, uk_spelling, alias_symbol, ...


@dataclass(frozen=True, slots=True)
class Term:
    curie: str
    label: str
    definition: str | None = None
    namespace: str | None = None
    obsolete: bool = False
    replaced_by: tuple[str, ...] = ()
    consider: tuple[str, ...] = ()
    alt_ids: tuple[str, ...] = ()
    synonyms: tuple[Synonym, ...] = ()
    parents: tuple[str, ...] = ()
    xrefs: tuple[str, ...] = ()
    popularity: int | None = None

    @property
    def prefix(self) -> str:
        return self.curie.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class TermLookup:
    """The answer to "what is <id>?": the term, and how the asked id led to it."""

    requested: str
    term: Term
    via_alt_id: bool = False  # the requested id is a secondary (alt) id of `term`

    @property
    def obsolete(self) -> bool:
        return self.term.obsolete

    @property
    def replacements(self) -> tuple[str, ...]:
        return self.term.replaced_by


@dataclass(frozen=True, slots=True)
class TextMatch:
    """A term found by its name: which of its names matched, and how well."""

    curie: str
    label: str
    matched_text: str
    kind: str  # "label" or "synonym"
    scope: str | None = None  # the synonym's scope; None for a label
    synonym_type: str | None = None
    obsolete: bool = False
    popularity: int | None = None
    score: float = 1.0  # 1.0 for an exact normalised match; search scores are in (0, 1]


@dataclass(frozen=True, slots=True)
class StoreInfo:
    name: str
    path: str
    ontology_id: str | None  # the id the file gives its ontology (OBO's `ontology:`), e.g. "hp"
    title: str | None
    data_version: str | None
    source_path: str
    source_sha256: str
    source_format: str
    imported_at: datetime
    schema_version: int
    term_count: int
    obsolete_count: int
    synonym_count: int
    prefixes: tuple[str, ...] = ()
    popularity_source: str | None = None
    warnings: tuple[str, ...] = field(default=())


# -- what a reader of ontology files returns, before it goes into a store --------------------


@dataclass(slots=True)
class TermRecord:
    """One term as read from a file, before it goes into a store."""

    curie: str
    label: str
    definition: str | None = None
    namespace: str | None = None
    obsolete: bool = False
    replaced_by: list[str] = field(default_factory=list)
    consider: list[str] = field(default_factory=list)
    alt_ids: list[str] = field(default_factory=list)
    synonyms: list[tuple[str, str, str | None]] = field(default_factory=list)  # text, scope, type
    parents: list[str] = field(default_factory=list)
    xrefs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ParsedOntology:
    records: list[TermRecord]
    source_path: Path
    source_format: str
    sha256: str
    ontology_id: str | None = None  # the id the file gives its ontology, e.g. "hp", "go"
    title: str | None = None
    data_version: str | None = None
    warnings: list[str] = field(default_factory=list)
