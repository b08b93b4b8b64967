"""Rows with the same term: found by the matching key, and decided together in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from term2id.core.curation.decision_log import (
    DECIDING,
    MAPPING,
    Curator,
    Decision,
    DecisionLog,
    NewDecision,
    ReviewRound,
    ReviewView,
    replay_log,
)
from term2id.core.curie import canonical_curie
from term2id.core.normalize import normalize

if TYPE_CHECKING:
    from term2id.core.curation.row_summaries import RowSummaries


def same_term_groups(
    terms: Sequence[str], ontologies: Sequence[str], contexts: Sequence[str | None]
) -> tuple[list[tuple], dict[tuple, list[int]]]:
    """Each row's same-term key, and the rows of each key, in input order: the matching key
    (normalize) in the same target ontology, the context too for a cell holding an id (the id's verdict
    depends on it); a term with no letters or digits is a key of its own (about 0.5 s per 100,000
    distinct terms; repeated terms are normalised once)."""
    keys: list[tuple] = []
    groups: dict[tuple, list[int]] = {}
    folded: dict[str, tuple[str, bool]] = {}
    for index, (term, ontology, context) in enumerate(
        zip(terms, ontologies, contexts, strict=True)
    ):
        seen = folded.get(term)
        if seen is None:
            holds_id = (":" in term or "_" in term) and len(term) < 200
            seen = folded[term] = (
                normalize(term), holds_id and canonical_curie(term) is not None
            )  # fmt: skip
        text, holds_id = seen
        key = (text, ontology, context if holds_id else None) if text else (index,)
        keys.append(key)
        groups.setdefault(key, []).append(index)
    return keys, groups


class SameTermRows(DecisionLog):
    """Which rows share a term, and one decision copied to all of them. Part of CurationSession."""

    _same_term: tuple[list[tuple], dict[tuple, list[int]]] | None  # each row's key, each key's rows

    def same_term_rows(self, row: int) -> list[int]:
        """Every row whose term has the same matching key as `row`'s, for the same target ontology
        (`row` included, in input order). A cell holding an id also needs the same context: the
        id's verdict depends on it. A term with no letters or digits matches only itself."""
        if not 0 <= row < len(self):
            raise IndexError(row)
        if self._same_term is None:
            found = self._conn.execute(
                "SELECT term, ontology, context FROM input_rows ORDER BY row"
            ).fetchall()
            self._same_term = same_term_groups(*zip(*found, strict=True)) if found else ([], {})
        keys, groups = self._same_term
        return list(groups[keys[row]])

    def prepare_same_term(self, summaries: RowSummaries) -> None:
        """Build what `same_term_rows` needs from the table's summaries of this session: no
        database access, so a worker thread may do it while the curator reviews."""
        if len(summaries) != len(self):
            raise ValueError("summaries of another session")
        groups = same_term_groups(summaries.terms, summaries.ontologies, summaries.contexts)
        self._same_term = groups  # one assignment: readers see all of it or none

    def undecided_same_term_rows(self, row: int, view: ReviewView = ReviewView.FIRST) -> list[int]:
        """The rows `apply_to_same_term` would decide: same term as `row`, other than `row`,
        with no decision in force as `view` sees the log (the blind second curator's own)."""
        rows = self.same_term_rows(row)
        # Only these rows' log: undo and redo entries carry the row of the decision they revoke.
        self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted_rows (row INTEGER PRIMARY KEY)")
        self._conn.execute("DELETE FROM wanted_rows")
        self._conn.executemany("INSERT INTO wanted_rows VALUES (?)", ((r,) for r in rows))
        entries = self._light_decisions("WHERE row IN (SELECT row FROM wanted_rows)")
        decided = replay_log(entries, view)[0]
        return [r for r in rows if r != row and r not in decided]

    def apply_to_same_term(
        self, decision: Decision, curator: Curator, rows: Sequence[int] | None = None
    ) -> list[Decision]:
        """Copy `decision` (its action, ids and predicate) to the undecided rows with the same
        term, in one transaction: all of them or none. `rows` limits it to those the curator was
        shown (rows decided since are left alone). Each copy's evidence points to `decision`."""
        if decision.action not in DECIDING:
            raise ValueError(f"a {decision.action} decision decides no row")
        view = (
            ReviewView.SECOND if decision.review_round is ReviewRound.SECOND else ReviewView.FIRST
        )
        todo = self.undecided_same_term_rows(decision.row, view)
        if rows is not None:
            wanted = set(rows)
            todo = [r for r in todo if r in wanted]
        evidence = dict(decision.evidence) if isinstance(decision.evidence, dict) else {}
        evidence.update(bulk=True, same_term_as={"row": decision.row, "decision": decision.id})
        return self.decide_many(
            [
                NewDecision(
                    r, decision.action, decision.curie, decision.label, evidence, None,
                    decision.predicate if decision.action in MAPPING else None, decision.also,
                    decision.review_round,
                )
                for r in todo
            ],
            curator,
        )  # fmt: skip
