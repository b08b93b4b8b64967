"""What the review table shows of every row, read in one query as plain parallel lists."""

from __future__ import annotations

from dataclasses import dataclass, field

from term2id.core.curation.decision_log import MAPPING, DecisionLog, ReviewView, replay_log


@dataclass(slots=True)
class RowSummaries:
    """Everything the review table shows, as plain parallel lists (cheap for 100,000 rows)."""

    terms: list[str] = field(default_factory=list)
    contexts: list[str | None] = field(default_factory=list)
    ontologies: list[str] = field(default_factory=list)
    best_curies: list[str | None] = field(default_factory=list)
    best_labels: list[str | None] = field(default_factory=list)
    confidences: list[float | None] = field(default_factory=list)
    statuses: list[str | None] = field(default_factory=list)  # MappingStatus value, None: unmapped
    decisions: list[str | None] = field(default_factory=list)  # Action value, None: undecided
    decided_curies: list[str | None] = field(default_factory=list)
    comments: list[str | None] = field(default_factory=list)
    # the decision's MappingPredicate value (None: undecided or not a mapping decision) and
    # further ids of a one-to-many mapping; empty lists for summaries built without them
    decided_predicates: list[str | None] = field(default_factory=list)
    decided_also: list[tuple[str, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.terms)


class ReviewTableRows(DecisionLog):
    """The review table's reading of the session. Part of CurationSession."""

    def row_summaries(self, view: ReviewView = ReviewView.EXPORT) -> RowSummaries:
        """What the review table shows, for every row: one query, plain lists.

        `view` says whose decisions it shows (a blind second curator sees only their own)."""
        rows = self._conn.execute(
            "SELECT i.term, i.context, i.ontology, r.best_curie, r.best_label, r.confidence, "
            "r.status FROM input_rows i LEFT JOIN results r ON r.row = i.row ORDER BY i.row"
        ).fetchall()
        summaries = RowSummaries()
        if rows:
            (
                summaries.terms,
                summaries.contexts,
                summaries.ontologies,
                summaries.best_curies,
                summaries.best_labels,
                summaries.confidences,
                summaries.statuses,
            ) = (list(column) for column in zip(*rows, strict=True))
        count = len(rows)
        summaries.decisions = [None] * count
        summaries.decided_curies = [None] * count
        summaries.comments = [None] * count
        summaries.decided_predicates = [None] * count
        summaries.decided_also = [()] * count
        decided, commented = replay_log(self._light_decisions(), view)
        for row, decision in decided.items():
            summaries.decisions[row] = decision.action.value
            summaries.decided_curies[row] = decision.curie
            if decision.action in MAPPING:
                summaries.decided_predicates[row] = decision.predicate.value
                summaries.decided_also[row] = decision.also
        for row, decision in commented.items():
            summaries.comments[row] = decision.comment
        return summaries
