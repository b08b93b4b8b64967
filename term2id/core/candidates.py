"""The vocabulary of mapping: what a source proposes, what verification says, what a curator sees.

Every candidate source (exact, fuzzy, semantic, the local language model) returns `Proposal`s
through the one `CandidateSource` protocol; the mapper verifies each proposed id against the
store, fuses the sources into one ranking, and returns a `MappingResult` of `Candidate`s whose
`evidence` says why each one ranks where it does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    """What the store says about a proposed identifier, as a curator reads it.

    The values are stable: sessions and exports keep them. VERIFIED, NARROWER and BROADER line up
    with the SKOS mapping predicates (VERDICT_PREDICATE): the candidate is the object, the term
    the subject, so a narrower candidate is a `skos:narrowMatch` of the term.
    """

    # exists, is current, and one of its names says what the term says: the same words after
    # normalisation, a spelling or typing variant, a reordering or a known abbreviation
    VERIFIED = "verified"
    NARROWER = "narrower"  # a name says what the term says plus a qualifier ("4th", "postaxial")
    BROADER = "broader"  # a name says what the term says less a qualifier it has ("bilateral")
    CONTRADICTS = "contradicts"  # its closest name says the opposite ("hypo" for "hyper")
    LABEL_MISMATCH = "label_mismatch"  # exists, but names something else
    UNCHECKED = "unchecked"  # the cell holds the id itself: nothing to compare its names with
    OBSOLETE = "obsolete"  # exists but is obsolete; its replacement is offered as a candidate
    UNKNOWN_ID = "unknown_id"  # not in the store at all
    WRONG_ONTOLOGY = "wrong_ontology"  # an id of another ontology than the one asked for


# The SKOS predicate a curator's acceptance of a candidate with this verdict stands for.
VERDICT_PREDICATE = {
    Verdict.VERIFIED: "skos:exactMatch",
    Verdict.NARROWER: "skos:narrowMatch",
    Verdict.BROADER: "skos:broadMatch",
}


class MappingPredicate(StrEnum):
    """How a curator says a term maps to an id: the term is the subject, the id the object.

    The values are stable: sessions, the mapping memory and the sheet export keep them.
    """

    EXACT = "exact"  # the id means what the term means
    BROAD = "broad"  # the id is broader than the term
    NARROW = "narrow"  # the id is narrower than the term
    CLOSE = "close"  # near enough to use in place of each other, not quite the same
    RELATED = "related"  # associated, neither the same nor above or below


# The SKOS predicate each mapping predicate is written as in SSSOM.
PREDICATE_SKOS = {
    MappingPredicate.EXACT: "skos:exactMatch",
    MappingPredicate.BROAD: "skos:broadMatch",
    MappingPredicate.NARROW: "skos:narrowMatch",
    MappingPredicate.CLOSE: "skos:closeMatch",
    MappingPredicate.RELATED: "skos:relatedMatch",
}


class MappingStatus(StrEnum):
    """One word per row for the review table and the exported sheet."""

    VERIFIED = "verified"  # best verified and proven, confidence at or above the threshold
    NEEDS_REVIEW = "needs_review"  # a plausible candidate, but a curator should look
    NARROWER = "narrower"  # the best candidate is narrower than the term (Verdict.NARROWER)
    BROADER = "broader"  # the best candidate is broader than the term
    CONTRADICTS = "contradicts"  # the best candidate says the opposite of the term
    UNCHECKED = "unchecked"  # the cell holds an id and the row has no context to compare it with
    MISMATCH = "mismatch"  # the best candidate's label does not agree with the term
    WRONG_ONTOLOGY = "wrong_ontology"  # the best candidate is an id of another ontology
    UNKNOWN_ID = "unknown_id"  # the best candidate is an id no store has
    OBSOLETE = "obsolete"  # the best candidate is obsolete
    NO_MATCH = "no_match"  # no source proposed anything
    EMPTY = "empty"  # the cell was empty or whitespace
    MODEL_UNAVAILABLE = "model_unavailable"  # the language model was asked but could not answer


# The status of a row whose best candidate has this verdict but is not accepted automatically.
_VERDICT_STATUS = {
    Verdict.NARROWER: MappingStatus.NARROWER,
    Verdict.BROADER: MappingStatus.BROADER,
    Verdict.CONTRADICTS: MappingStatus.CONTRADICTS,
    Verdict.UNCHECKED: MappingStatus.UNCHECKED,
    Verdict.OBSOLETE: MappingStatus.OBSOLETE,
    Verdict.LABEL_MISMATCH: MappingStatus.MISMATCH,
    Verdict.WRONG_ONTOLOGY: MappingStatus.WRONG_ONTOLOGY,
    Verdict.UNKNOWN_ID: MappingStatus.UNKNOWN_ID,
}


def status_of_verdict(verdict: Verdict) -> MappingStatus:
    """A row's status when its best candidate has `verdict` and is not accepted automatically."""
    return _VERDICT_STATUS.get(verdict, MappingStatus.NEEDS_REVIEW)


@dataclass(frozen=True, slots=True)
class Query:
    """What to map: the term, optional context from the row, and the target store's name."""

    text: str
    ontology: str
    context: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """One source's reason for proposing a candidate."""

    source: str  # "exact", "fuzzy", "semantic", "llm", "replacement", "manual"
    score: float  # the source's own score, in [0, 1]
    rank: int  # 1-based rank of the candidate within that source's answer
    matched_text: str | None = None  # the label or synonym that matched, or the model's answer
    detail: str = ""  # human-readable: "EXACT synonym (layperson)", "WRatio 92", "cosine 0.81"
    # Which kind of name matched: "label", or a synonym scope (EXACT, RELATED, NARROW, BROAD);
    # None where the source matched no name (an id typed in the cell, a model's answer).
    name_kind: str | None = None


@dataclass(frozen=True, slots=True)
class Proposal:
    """A source's suggestion, before verification. Sources never supply labels: the store does."""

    curie: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Candidate:
    curie: str
    label: str | None  # from the store; None when the id is unknown
    ontology: str  # the store's name
    verdict: Verdict
    confidence: float  # fused, in [0, 1]; comparable with the auto-accept threshold
    evidence: tuple[Evidence, ...] = ()
    replaced_by: tuple[str, ...] = ()
    note: str = ""
    # Why the verdict is not "verified", in a few words: "hypo/hyper", "adds 'ring'".
    reason: str = ""
    # Verified and scored as the term's own name is (mapper): the only kind of candidate
    # accepted without a curator, where its confidence reaches the threshold. A reworded name
    # may be as likely right, but one in thirty is another term's.
    proven: bool = False

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(e.source for e in self.evidence)

    def score_of(self, source: str) -> float | None:
        return next((e.score for e in self.evidence if e.source == source), None)


@dataclass(frozen=True, slots=True)
class MappingResult:
    query: Query
    candidates: tuple[Candidate, ...]
    status: MappingStatus
    notes: tuple[str, ...] = field(default=())  # e.g. "model unavailable: connection refused"

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def confidence_text(confidence: float) -> str:
    """A confidence in two decimals, rounded down: 0.899, below the auto-accept threshold of
    0.9, must not read "0.90" beside a status that says it was not accepted."""
    return f"{math.floor(confidence * 100 + 1e-9) / 100:.2f}"
