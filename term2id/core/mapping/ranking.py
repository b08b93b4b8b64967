"""Fusing the sources into one ranking with a confidence a curator can act on.

Each source's score becomes a probability-like vote: score x source weight x the prior of the kind
of name it matched (a label counts more than an EXACT synonym, which counts more than a RELATED
one). How well the term agrees with the candidate's best name (verification's agreement) is one
more vote. Votes combine by noisy-OR, so sources agreeing on a term raise its confidence above
any one alone, and one strong vote (an exact match) is enough. Popularity (annotation counts)
nudges the result by at most POPULARITY_WEIGHT, enough to order near-ties.

The verdict then bounds the confidence: an unknown id or an id of another ontology gets 0, an
obsolete id half its score, an id proposed without any matching name that names something else
MISMATCH_FACTOR of it. Finally, when another term comes within AMBIGUITY_MARGIN of the best, the
best and every term that close lose up to AMBIGUITY_PENALTY (all the same amount, so the order
stays): two terms sharing a synonym should not be accepted without a look. A candidate matched
only through a RELATED, NARROW or BROAD synonym is capped (SCOPE_CAP) below the default
threshold: such a synonym does not name the same concept.

The weights were chosen on 1,000 held-out HPO synonyms (seed 1) and checked on another 1,000
(seed 2): `term2id eval --hold-out-synonyms`. A store whose sentence model was tuned on its own
names (`term2id train embeddings`) gets its own weights, TUNED_FUSION: that model's neighbours
are right so much more often that string similarity only gets in their way. Fuzzy and semantic votes are kept below the
auto-accept threshold on their own, so that "accept everything at or above 0.9" keeps a
precision of about 0.95 or better there; evaluation reports it for any gold set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from term2id.core.candidates import Candidate, Evidence, Verdict
from term2id.core.mapping.verification import Verification

SOURCE_WEIGHTS = {
    "exact": 1.0,
    "fuzzy": 0.3,
    "semantic": 0.8,
    "llm": 0.6,
    "replacement": 0.95,
    "manual": 1.0,
    "curated": 1.0,
}
DEFAULT_SOURCE_WEIGHT = 0.5
# Fuzzy, semantic and agreement votes together stay below 0.9 (1 - 0.7 x 0.2 x 0.75 = 0.895):
# without an exact name match nothing passes the default auto-accept threshold.
AGREEMENT_WEIGHT = 0.25
SCOPE_PRIOR = {"label": 1.0, "EXACT": 0.98, "RELATED": 0.93, "NARROW": 0.88, "BROAD": 0.88}
POPULARITY_WEIGHT = 0.02
MISMATCH_FACTOR = 0.8
OBSOLETE_FACTOR = 0.5
AMBIGUITY_MARGIN = 0.03
AMBIGUITY_PENALTY = 0.15  # what a tie costs; less the wider the gap
TIE_NOTE = "ambiguous: {} scores nearly as well"
# A candidate whose every name contradicts the term in a word that tells siblings apart
# ("3rd" for "4th", "short" for "increased height") keeps this share of its score.
CONTRAST_FACTOR = 0.85
# How far below the auto-accept threshold candidates sharing the matched name are capped.
SHARED_NAME_GAP = 0.01
# The most confidence a candidate gets when its best name match is of this kind: a RELATED,
# NARROW or BROAD synonym does not name the same concept, so it never passes the default
# auto-accept threshold (0.9) alone.
SCOPE_CAP = {"label": 1.0, "EXACT": 1.0, "RELATED": 0.89, "NARROW": 0.8, "BROAD": 0.8}


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """How much each source's evidence, and the agreement of names, count."""

    sources: Mapping[str, float]
    agreement: float


DEFAULT_FUSION = FusionWeights(SOURCE_WEIGHTS, AGREEMENT_WEIGHT)
# When the semantic source uses a model tuned on the store: on 1,000 held-out HPO synonyms
# (seed 1; checked on seed 2) fused top-5 0.835 with DEFAULT_FUSION, 0.857 with these. Fuzzy,
# semantic and agreement together still stay below 0.9 (1 - 0.95 x 0.2 x 0.9 = 0.83).
TUNED_FUSION = FusionWeights({**SOURCE_WEIGHTS, "fuzzy": 0.05}, 0.1)


def vote(evidence: Evidence, weights: FusionWeights = DEFAULT_FUSION) -> float:
    """One source's evidence as a probability-like vote in [0, 1]."""
    weight = weights.sources.get(evidence.source, DEFAULT_SOURCE_WEIGHT)
    prior = SCOPE_PRIOR.get(evidence.name_kind, 1.0) if evidence.name_kind else 1.0
    return max(0.0, min(1.0, evidence.score * weight * prior))


def combined_vote(evidence: Iterable[Evidence], weights: FusionWeights = DEFAULT_FUSION) -> float:
    """Noisy-OR of the votes, using each source's strongest evidence once."""
    best: dict[str, float] = {}
    for item in evidence:
        best[item.source] = max(best.get(item.source, 0.0), vote(item, weights))
    missing = 1.0
    for value in best.values():
        missing *= 1.0 - value
    return 1.0 - missing


def _strongest_first(
    evidence: tuple[Evidence, ...], weights: FusionWeights
) -> tuple[Evidence, ...]:
    if len(evidence) < 2:
        return evidence
    return tuple(sorted(evidence, key=lambda e: -vote(e, weights)))


@dataclass(frozen=True, slots=True)
class Ranked:
    verification: Verification
    evidence: tuple[Evidence, ...]
    score: float  # before the ambiguity correction


def score_of(
    verification: Verification,
    evidence: Sequence[Evidence],
    weights: FusionWeights = DEFAULT_FUSION,
) -> float:
    score = 1.0 - (1.0 - combined_vote(evidence, weights)) * (
        1.0 - weights.agreement * verification.agreement
    )
    score = (
        score * (1 - POPULARITY_WEIGHT) + POPULARITY_WEIGHT * verification.popularity_prior * score
    )
    if verification.contrast:
        score *= CONTRAST_FACTOR
    kinds = [e.name_kind for e in evidence if e.name_kind]
    if kinds:
        score = min(score, max(SCOPE_CAP.get(kind, 1.0) for kind in kinds))
    verdict = verification.verdict
    if verdict in (Verdict.UNKNOWN_ID, Verdict.WRONG_ONTOLOGY):
        return 0.0
    if verdict is Verdict.OBSOLETE:
        return score * OBSOLETE_FACTOR
    if verdict is Verdict.LABEL_MISMATCH and not any(e.name_kind for e in evidence):
        return score * MISMATCH_FACTOR  # an id proposed for no name of its own
    return score


def rank(
    entries: Iterable[tuple[Verification, Sequence[Evidence]]],
    limit: int | None = None,
    weights: FusionWeights = DEFAULT_FUSION,
) -> list[Candidate]:
    """The best `limit` candidates (all by default), best first, with fused confidences in [0, 1]."""
    ranked = [Ranked(v, tuple(ev), score_of(v, ev, weights)) for v, ev in entries]
    ranked.sort(key=lambda r: (-r.score, -r.verification.popularity_prior, r.verification.curie))
    # Every term within the margin of the best loses the same amount, so the order stays, but
    # none falls below the best term outside the margin, which a tie says nothing about (those
    # the floor stops may end level with it, and with each other).
    penalty, close, floor = 0.0, "", 0.0
    if len(ranked) > 1 and ranked[1].score > 0:
        gap = ranked[0].score - ranked[1].score
        if gap < AMBIGUITY_MARGIN:
            penalty = AMBIGUITY_PENALTY * (AMBIGUITY_MARGIN - gap) / AMBIGUITY_MARGIN
            close = ranked[1].verification.curie
            floor = next(
                (r.score for r in ranked if r.score < ranked[0].score - AMBIGUITY_MARGIN), 0.0
            )
    candidates = []
    for item in ranked[:limit]:
        confidence = item.score
        note = item.verification.note
        if penalty and item.score >= ranked[0].score - AMBIGUITY_MARGIN:
            confidence = max(confidence - penalty, floor)
            other = close if item is ranked[0] else ranked[0].verification.curie
            note = "; ".join(filter(None, [note, TIE_NOTE.format(other)]))
        v = item.verification
        candidates.append(
            Candidate(
                curie=v.curie,
                label=v.label,
                ontology=v.ontology,
                verdict=v.verdict,
                confidence=round(min(1.0, max(0.0, confidence)), 4),
                evidence=_strongest_first(item.evidence, weights),
                replaced_by=v.replaced_by,
                note=note,
                reason=v.reason,
            )
        )
    return candidates


def sharing_the_name(entries: Iterable[tuple[Verification, Sequence[Evidence]]]) -> dict[str, str]:
    """Live terms the exact source matched by name: {curie: label}.

    The exact source only proposes names whose normalised key is the term's, so two or more of
    these are different terms sharing the name the term matched ("ASD": Atrial septal defect and
    Autistic behavior).
    """
    return {
        v.curie: v.label or ""
        for v, evidence in entries
        # a broad, narrow or shared related synonym is a name the term carries too: still not
        # one term's name
        if v.verdict
        in (Verdict.VERIFIED, Verdict.NARROWER, Verdict.BROADER, Verdict.LABEL_MISMATCH)
        and any(e.source == "exact" and e.name_kind for e in evidence)
    }


def cap_shared_names(
    candidates: Sequence[Candidate], sharing: dict[str, str], threshold: float
) -> list[Candidate]:
    """Keep terms sharing the matched name below `threshold`, each noting the others.

    A name that several terms carry does not say which one the curator meant, however exactly it
    matches: none of them may be accepted without a look. The order stays as ranked.
    """
    if len(sharing) < 2:
        return list(candidates)
    cap = max(0.0, round(threshold - SHARED_NAME_GAP, 4))
    capped = []
    for candidate in candidates:
        if candidate.curie in sharing:
            others = [curie for curie in sharing if curie != candidate.curie]
            # the shared name says more than a tie with the same term: one note, not two
            kept = [
                part
                for part in candidate.note.split("; ")
                if part and part not in {TIE_NOTE.format(curie) for curie in others}
            ]
            candidate = replace(
                candidate,
                confidence=min(candidate.confidence, cap),
                note="; ".join(
                    [*kept, *(f"ambiguous: also {curie} {sharing[curie]}" for curie in others)]
                ),
            )
        capped.append(candidate)
    return capped


def apply_curation(
    candidates: Sequence[Candidate], rejected: Mapping[str, str], threshold: float
) -> list[Candidate]:
    """Put what curators decided before (the mapping memory) above every source's ranking.

    Candidates the `curated` source proposed come first, in its order (latest decision first);
    one still verified gets confidence 1.0 and is proven (it may be accepted automatically); any
    other keeps its verdict and confidence, so the row says what the store says now: an id that
    became obsolete, is unknown or belongs to another store is flagged, never silently reused.
    Ids in `rejected` (id -> "rejected by NAME on DATE") go last, capped below `threshold`, with
    that note.
    """
    if not rejected and not any("curated" in c.sources for c in candidates):
        return list(candidates)
    cap = max(0.0, round(threshold - SHARED_NAME_GAP, 4))
    curated, others, refused = [], [], []
    for candidate in candidates:
        if candidate.curie in rejected:
            note = "; ".join(filter(None, [rejected[candidate.curie], candidate.note]))
            refused.append(replace(candidate, confidence=min(candidate.confidence, cap), note=note))
        elif "curated" in candidate.sources:
            evidence = next(e for e in candidate.evidence if e.source == "curated")
            if candidate.verdict is Verdict.VERIFIED:  # a curator's acceptance proves it
                candidate = replace(candidate, confidence=1.0, proven=True)
            note = "; ".join(filter(None, [evidence.detail, candidate.note]))
            curated.append((evidence.rank, replace(candidate, note=note)))
        else:
            others.append(candidate)
    curated.sort(key=lambda item: item[0])
    return [c for _, c in curated] + others + refused


def curated_first(candidates: Sequence[Candidate], rejected: Mapping[str, str]) -> list[Candidate]:
    """The order `apply_curation` gives, kept after a reranker: the curated source's candidates
    first, ids in `rejected` last, the rest as they are."""
    if not rejected and not any("curated" in c.sources for c in candidates):
        return list(candidates)

    def place(candidate: Candidate) -> int:
        if candidate.curie in rejected:
            return 2
        return 0 if "curated" in candidate.sources else 1

    return sorted(candidates, key=place)  # stable: the order within each part stays
