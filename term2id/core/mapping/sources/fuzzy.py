"""Fuzzy source: rapidfuzz over the names that share words with the term (never over all names)."""

from __future__ import annotations

from rapidfuzz import fuzz, process

from term2id.core.candidates import Evidence, Proposal, Query
from term2id.core.mapping.lexical_index import MAX_SCORED_CHARS, index_of
from term2id.core.mapping.sources.exact import describe_name, name_kind
from term2id.core.normalize import normalize
from term2id.core.ontology.store import OntologyStore

# How many names the blocking step hands to rapidfuzz.
BLOCK_SIZE = 60


class FuzzySource:
    """String similarity of normalised names, blocked by an IDF-weighted word index."""

    name = "fuzzy"

    def __init__(self, block_size: int = BLOCK_SIZE) -> None:
        self.block_size = block_size

    def propose(self, query: Query, store: OntologyStore, limit: int) -> list[Proposal]:
        index = index_of(store)
        truncated = len(query.text) > MAX_SCORED_CHARS
        key = normalize(query.text[:MAX_SCORED_CHARS])
        tokens = key.split()
        if not tokens:
            return []
        blocked = index.blocked_names(tokens, self.block_size)
        if not blocked:
            return []
        choices = [index.names[name_id].norm for name_id, _ in blocked]
        # Character-level and word-order-free similarity, in C, over the block only.
        plain = [0.0] * len(choices)
        sorted_words = [0.0] * len(choices)
        for _, score, position in process.extract(key, choices, scorer=fuzz.ratio, limit=None):
            plain[position] = score
        for _, score, position in process.extract(
            key, choices, scorer=fuzz.token_sort_ratio, limit=None
        ):
            sorted_words[position] = score
        names = index.names
        best: dict[int, tuple[float, int, float, float]] = {}  # term -> score, name, sim, cos
        for (name_id, cosine), a, b in zip(blocked, plain, sorted_words, strict=True):
            similarity = (a if a > b else b) / 100
            score = 0.5 * similarity + 0.5 * (cosine if cosine < 1.0 else 1.0)
            term = names[name_id].term
            previous = best.get(term)
            if previous is None or score > previous[0]:
                best[term] = (score, name_id, similarity, cosine)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])[:limit]
        proposals = []
        for rank, (term_id, (score, name_id, similarity, cosine)) in enumerate(ranked, start=1):
            name = names[name_id]
            detail = (
                f"similarity {similarity:.2f}, shared words {cosine:.2f}; {describe_name(name)}"
            )
            if truncated:
                detail += (
                    f"; term cut to its first {MAX_SCORED_CHARS} of {len(query.text):,} characters"
                )
            proposals.append(
                Proposal(
                    index.terms[term_id].curie,
                    Evidence(self.name, round(score, 4), rank, name.text, detail, name_kind(name)),
                )
            )
        return proposals
