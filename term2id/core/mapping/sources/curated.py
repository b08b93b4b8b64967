"""The `curated` source: what curators decided about the same term before (the mapping memory).

An id accepted for the term (same normalised key, same target ontology) is proposed first, with
evidence "accepted by NAME on DATE"; the mapper still verifies it like any other proposal, so an
id that became obsolete or belongs to another store is flagged, never silently reused. An id
rejected for the term is not proposed: `rejections` names it, and the mapper keeps it below the
auto-accept threshold with the note "rejected by NAME on DATE" wherever another source finds it.
"""

from __future__ import annotations

from term2id.core.candidates import Evidence, Proposal, Query
from term2id.core.mapping.memory import MappingMemory, Recall
from term2id.core.ontology.store import OntologyStore

CURATED = "curated"


class CuratedSource:
    """Proposes the ids curators accepted for a term before, latest first."""

    name = CURATED

    def __init__(self, memory: MappingMemory) -> None:
        self.memory = memory
        self._last: tuple[str, str, Recall] | None = None  # the query asked last, per mapper.map

    def _recall(self, query: Query) -> Recall:
        # The mapper asks once per store and then for the rejections: one lookup per query.
        last = self._last
        if last is not None and last[0] == query.text and last[1] == query.ontology:
            return last[2]
        recall = self.memory.lookup(query.text, query.ontology)
        self._last = (query.text, query.ontology, recall)
        return recall

    def propose(self, query: Query, store: OntologyStore, limit: int) -> list[Proposal]:
        # One answer per query, not one per store: asked for the first store of the row's spec.
        first = next((n.strip() for n in query.ontology.split(",") if n.strip()), None)
        if first is not None and store.name != first:
            return []
        recall = self._recall(query)
        proposals = []
        for rank, (curie, entry) in enumerate(recall.accepted[:limit], start=1):
            proposals.append(
                Proposal(curie, Evidence(self.name, 1.0, rank, entry.term, entry.describe()))
            )
        return proposals

    def rejections(self, query: Query) -> dict[str, str]:
        """id -> "rejected by NAME on DATE", for the ids rejected for this term."""
        recall = self._recall(query)
        self._last = None  # the mapper asks last: the next query reads the memory afresh
        return {curie: entry.describe() for curie, entry in recall.rejected.items()}

    def forget_cached(self) -> None:
        """Drop the last answer (the memory has changed under it)."""
        self._last = None
