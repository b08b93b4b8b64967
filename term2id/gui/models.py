"""Qt item models over core objects: the review table, a row's candidates, ontology search hits.

The review table holds the session's rows as plain parallel lists (`RowSummaries`) and filters
and sorts them itself, on numpy index arrays: for 100,000 rows that is a few milliseconds where a
QSortFilterProxyModel would call back into Python for every comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from term2id.core.candidates import (
    Candidate,
    MappingPredicate,
    MappingStatus,
    Verdict,
    confidence_text,
)
from term2id.core.curation import Action, RowSummaries
from term2id.core.ontology import TextMatch

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the row's object: ReviewRow, Candidate or TextMatch

ModelIndex = QModelIndex | QPersistentModelIndex

UNMAPPED = "unmapped"  # status of a row the mapper has not reached yet
UNDECIDED = "undecided"

STATUS_ORDER = [
    MappingStatus.VERIFIED.value,
    MappingStatus.NEEDS_REVIEW.value,
    MappingStatus.NARROWER.value,
    MappingStatus.BROADER.value,
    MappingStatus.CONTRADICTS.value,
    MappingStatus.UNCHECKED.value,
    MappingStatus.MISMATCH.value,
    MappingStatus.OBSOLETE.value,
    MappingStatus.WRONG_ONTOLOGY.value,
    MappingStatus.UNKNOWN_ID.value,
    MappingStatus.NO_MATCH.value,
    MappingStatus.MODEL_UNAVAILABLE.value,
    MappingStatus.EMPTY.value,
    UNMAPPED,
]
STATUS_TEXT = {
    "verified": "✔ verified",
    "needs_review": "? needs review",
    "narrower": "▽ narrower term",
    "broader": "△ broader term",
    "contradicts": "✘ contradicts term",
    "unchecked": "? id not checked",
    "mismatch": "≠ mismatch",
    "obsolete": "⚠ obsolete",
    "wrong_ontology": "✘ other ontology",
    "unknown_id": "✘ unknown id",
    "no_match": "∅ no match",
    "model_unavailable": "⚡ model unavailable",
    "empty": "– empty",
    UNMAPPED: "… not mapped",
}
STATUS_COLOR = {
    "verified": "#d8f0d8",
    "needs_review": "#fff1c2",
    "narrower": "#fff1c2",
    "broader": "#fff1c2",
    "contradicts": "#f5c6c6",
    "unchecked": "#fff1c2",
    "mismatch": "#ffd9c2",
    "obsolete": "#f5c6c6",
    "wrong_ontology": "#f5c6c6",
    "unknown_id": "#f5c6c6",
    "no_match": "#e4e4e4",
    "model_unavailable": "#e0d8f0",
    "empty": "#f2f2f2",
}
DECISION_ORDER = [UNDECIDED] + [a.value for a in (Action.ACCEPT, Action.CHOOSE, Action.MANUAL,
                                                  Action.REJECT, Action.SKIP)]  # fmt: skip
DECISION_TEXT = {
    UNDECIDED: "",
    "accept": "accepted",
    "choose": "chosen",
    "manual": "manual",
    "reject": "rejected",
    "skip": "skipped",
}
VERDICT_TEXT = {
    Verdict.VERIFIED: "✔ verified",
    Verdict.NARROWER: "▽ narrower",
    Verdict.BROADER: "△ broader",
    Verdict.CONTRADICTS: "✘ contradicts",
    Verdict.UNCHECKED: "? unchecked",
    Verdict.LABEL_MISMATCH: "≠ names something else",
    Verdict.OBSOLETE: "⚠ obsolete",
    Verdict.UNKNOWN_ID: "✘ unknown id",
    Verdict.WRONG_ONTOLOGY: "✘ wrong ontology",
}


def verdict_text(candidate: Candidate) -> str:
    """The verdict as the candidate panel shows it, with why it is not verified:
    "✘ contradicts: hypo/hyper", "▽ narrower: adds 'ring'"."""
    text = VERDICT_TEXT.get(candidate.verdict, candidate.verdict.value)
    if candidate.verdict is Verdict.OBSOLETE and candidate.replaced_by:
        return f"{text} → {', '.join(candidate.replaced_by)}"
    reason = candidate.reason
    return f"{text}: {reason}" if reason and reason != candidate.verdict.value else text


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """One row of the review table, as handed to views through ROW_ROLE."""

    row: int  # position in the input (0-based)
    term: str
    ontology: str
    best_curie: str | None
    best_label: str | None
    confidence: float | None
    status: str  # a MappingStatus value or UNMAPPED
    decision: str  # an Action value or UNDECIDED
    decided_curie: str | None
    comment: str | None
    predicate: str | None = None  # MappingPredicate value of a mapping decision
    also: tuple[str, ...] = ()  # further ids of a one-to-many mapping


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    statuses: frozenset[str] = frozenset()  # empty: every status
    min_confidence: float = 0.0
    decisions: frozenset[str] = frozenset()  # empty: every decision; UNDECIDED for none
    text: str = ""  # case-insensitive, in the term, the best id or its label
    rows: frozenset[int] = frozenset()  # empty: every row; else only these (e.g. the same term)
    rows_label: str = ""  # what `rows` are, as the filter bar says it

    def to_json(self) -> dict:
        return {
            "statuses": sorted(self.statuses),
            "min_confidence": self.min_confidence,
            "decisions": sorted(self.decisions),
            "text": self.text,
            "rows": sorted(self.rows),
            "rows_label": self.rows_label,
        }

    @classmethod
    def from_json(cls, data: dict) -> ReviewFilter:
        return cls(
            statuses=frozenset(data.get("statuses", ())),
            min_confidence=float(data.get("min_confidence", 0.0)),
            decisions=frozenset(data.get("decisions", ())),
            text=str(data.get("text", "")),
            rows=frozenset(int(r) for r in data.get("rows", ())),
            rows_label=str(data.get("rows_label", "")),
        )

    @property
    def active(self) -> bool:
        return bool(
            self.statuses or self.min_confidence > 0 or self.decisions or self.text or self.rows
        )


@dataclass(slots=True)
class _SortKeys:
    """Per-column sort keys, built on demand and dropped when the column's data changes."""

    arrays: dict[int, np.ndarray] = field(default_factory=dict)
    haystack: list[str] | None = None


class ReviewTableModel(QAbstractTableModel):
    TERM, BEST_ID, LABEL, CONFIDENCE, STATUS, DECISION = range(6)
    HEADERS = ("Term", "Best id", "Label", "Confidence", "Status", "Decision")

    def __init__(self, rows: RowSummaries | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows = RowSummaries()
        self._filter = ReviewFilter()
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._order = np.zeros(0, dtype=np.int64)
        self._position = np.zeros(0, dtype=np.int64)
        self._keys = _SortKeys()
        self.set_rows(rows or RowSummaries())

    # -- data in ------------------------------------------------------------------------------

    def set_rows(self, rows: RowSummaries) -> None:
        self.beginResetModel()
        self._rows = rows
        n = len(rows)
        self._status_codes = np.fromiter(
            (STATUS_ORDER.index(s or UNMAPPED) for s in rows.statuses), dtype=np.int8, count=n
        )
        self._decision_codes = np.fromiter(
            (DECISION_ORDER.index(d or UNDECIDED) for d in rows.decisions), dtype=np.int8, count=n
        )
        self._confidences = np.fromiter(
            (-1.0 if c is None else c for c in rows.confidences), dtype=np.float64, count=n
        )
        self._keys = _SortKeys()
        self._compute_order()
        self.endResetModel()

    @property
    def rows(self) -> RowSummaries:
        return self._rows

    def update_result(
        self, row: int, status: str, curie: str | None, label: str | None, confidence: float | None
    ) -> None:
        """A mapping result arrived for `row`: show it without re-filtering (rows stay put)."""
        rows = self._rows
        rows.statuses[row] = status
        rows.best_curies[row] = curie
        rows.best_labels[row] = label
        rows.confidences[row] = confidence
        self._status_codes[row] = STATUS_ORDER.index(status)
        self._confidences[row] = -1.0 if confidence is None else confidence
        self._keys = _SortKeys()
        self._changed(row)

    def update_decision(
        self,
        row: int,
        decision: str | None,
        curie: str | None,
        comment: str | None = None,
        predicate: str | None = None,
        also: tuple[str, ...] = (),
    ) -> None:
        rows = self._rows
        rows.decisions[row] = decision
        rows.decided_curies[row] = curie
        if comment is not None:
            rows.comments[row] = comment or None
        if rows.decided_predicates:
            rows.decided_predicates[row] = predicate
            rows.decided_also[row] = tuple(also)
        self._decision_codes[row] = DECISION_ORDER.index(decision or UNDECIDED)
        self._keys.arrays.pop(self.DECISION, None)
        self._changed(row)

    def _changed(self, row: int) -> None:
        position = int(self._position[row])
        if position >= 0:
            self.dataChanged.emit(
                self.index(position, 0), self.index(position, len(self.HEADERS) - 1)
            )

    # -- filter and sort ----------------------------------------------------------------------

    @property
    def filter(self) -> ReviewFilter:
        return self._filter

    def set_filter(self, review_filter: ReviewFilter) -> None:
        self.beginResetModel()
        self._filter = review_filter
        self._compute_order()
        self.endResetModel()

    def refilter(self) -> None:
        """Apply the filter and sort again (rows changed since)."""
        self.set_filter(self._filter)

    @property
    def sort_column(self) -> int:
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return self._sort_order

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.beginResetModel()
        self._sort_column = column
        self._sort_order = order
        self._compute_order()
        self.endResetModel()

    def _compute_order(self) -> None:
        n = len(self._rows)
        f = self._filter
        mask = np.ones(n, dtype=bool)
        if f.statuses:
            codes = [STATUS_ORDER.index(s) for s in f.statuses if s in STATUS_ORDER]
            mask &= np.isin(self._status_codes, codes)
        if f.decisions:
            codes = [DECISION_ORDER.index(d) for d in f.decisions if d in DECISION_ORDER]
            mask &= np.isin(self._decision_codes, codes)
        if f.min_confidence > 0:
            mask &= self._confidences >= f.min_confidence
        if f.rows:
            only = np.zeros(n, dtype=bool)
            only[[r for r in f.rows if 0 <= r < n]] = True
            mask &= only
        if f.text:
            needle = f.text.casefold()
            hay = self._haystack()
            hits = np.fromiter((needle in h for h in hay), dtype=bool, count=n)
            mask &= hits
        order = np.flatnonzero(mask)
        if 0 <= self._sort_column < len(self.HEADERS) and len(order) > 1:
            keys = self._sort_key(self._sort_column)[order]
            ranked = np.argsort(keys, kind="stable")
            if self._sort_order == Qt.SortOrder.DescendingOrder:
                ranked = ranked[::-1]
            order = order[ranked]
        self._order = order
        self._position = np.full(n, -1, dtype=np.int64)
        self._position[order] = np.arange(len(order))

    def _haystack(self) -> list[str]:
        if self._keys.haystack is None:
            r = self._rows
            self._keys.haystack = [
                f"{t}\t{c or ''}\t{lb or ''}".casefold()
                for t, c, lb in zip(r.terms, r.best_curies, r.best_labels, strict=True)
            ]
        return self._keys.haystack

    def _sort_key(self, column: int) -> np.ndarray:
        cached = self._keys.arrays.get(column)
        if cached is not None:
            return cached
        r = self._rows
        if column == self.TERM:
            key = _ranks([t.casefold() for t in r.terms])
        elif column == self.BEST_ID:
            key = _ranks([c or "" for c in r.best_curies])
        elif column == self.LABEL:
            key = _ranks([(lb or "").casefold() for lb in r.best_labels])
        elif column == self.CONFIDENCE:
            key = self._confidences.copy()
        elif column == self.STATUS:
            key = self._status_codes.copy()
        else:
            key = self._decision_codes.copy()
        if len(key) == 0:
            key = np.zeros(0)
        self._keys.arrays[column] = key
        return key

    def prepare_sort_keys(self) -> None:
        """Rank the text columns now (about 50 ms each for 100,000 rows) so that the first
        click on their header is as quick as the next ones."""
        for column in (self.TERM, self.BEST_ID, self.LABEL):
            self._sort_key(column)
        self._haystack()

    def count_status(self, status: str) -> int:
        return int(np.count_nonzero(self._status_codes == STATUS_ORDER.index(status)))

    def count_decided(self) -> int:
        return int(np.count_nonzero(self._decision_codes != DECISION_ORDER.index(UNDECIDED)))

    # -- positions ----------------------------------------------------------------------------

    def source_row(self, view_row: int) -> int:
        return int(self._order[view_row])

    def view_row(self, source_row: int) -> int:
        """Position of an input row in the table, or -1 when the filter hides it."""
        if not 0 <= source_row < len(self._position):
            return -1
        return int(self._position[source_row])

    def review_row(self, row: int) -> ReviewRow:
        r = self._rows
        return ReviewRow(
            row=row,
            term=r.terms[row],
            ontology=r.ontologies[row],
            best_curie=r.best_curies[row],
            best_label=r.best_labels[row],
            confidence=r.confidences[row],
            status=r.statuses[row] or UNMAPPED,
            decision=r.decisions[row] or UNDECIDED,
            decided_curie=r.decided_curies[row],
            comment=r.comments[row],
            predicate=r.decided_predicates[row] if r.decided_predicates else None,
            also=r.decided_also[row] if r.decided_also else (),
        )

    # -- QAbstractTableModel ------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section] if 0 <= section < len(self.HEADERS) else None
        if 0 <= section < len(self._order):
            return str(int(self._order[section]) + 1)  # the input's row number, 1-based
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._order):
            return None
        row = int(self._order[index.row()])
        column = index.column()
        r = self._rows
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.TERM:
                return r.terms[row]
            decided = r.decided_curies[row]
            if column == self.BEST_ID:
                return r.best_curies[row] or ""
            if column == self.LABEL:
                return r.best_labels[row] or ""
            if column == self.CONFIDENCE:
                confidence = r.confidences[row]
                return "" if confidence is None else confidence_text(confidence)
            if column == self.STATUS:
                return STATUS_TEXT.get(r.statuses[row] or UNMAPPED, r.statuses[row])
            if column == self.DECISION:
                text = DECISION_TEXT.get(r.decisions[row] or UNDECIDED, "")
                if decided and decided != r.best_curies[row]:
                    text = f"{text} {decided}"
                predicate = r.decided_predicates[row] if r.decided_predicates else None
                if predicate and predicate != MappingPredicate.EXACT.value:
                    text = f"{text} · {predicate}"
                also = r.decided_also[row] if r.decided_also else ()
                if also:
                    text = f"{text} +{len(also)} id{'s' if len(also) > 1 else ''}"
                if r.comments[row]:
                    text = f"{text} 💬".strip()
                return text
            return None
        if role == ROW_ROLE:
            return self.review_row(row)
        if role == Qt.ItemDataRole.BackgroundRole and column == self.STATUS:
            color = STATUS_COLOR.get(r.statuses[row] or "")
            return QBrush(QColor(color)) if color else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.DECISION and r.decided_also and r.decided_also[row]:
                ids = (r.decided_curies[row], *r.decided_also[row])
                tip = f"one-to-many: maps to {', '.join(i for i in ids if i)}"
                return f"{tip}\n{r.comments[row]}" if r.comments[row] else tip
            if column == self.DECISION and r.comments[row]:
                return r.comments[row]
            if column == self.TERM and r.contexts[row]:
                return r.contexts[row]
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _ranks(texts: list[str]) -> np.ndarray:
    """Each text's rank in sorted order: sorting by rank (integers) is several times quicker than
    sorting the texts again, and taking the visible rows' ranks copies 4 bytes a row, not a text."""
    order = np.argsort(np.array(texts, dtype=str), kind="stable")
    ranks = np.empty(len(texts), dtype=np.int32)
    ranks[order] = np.arange(len(texts), dtype=np.int32)
    return ranks


class _ListTableModel(QAbstractTableModel):
    """A read-only table over a tuple of plain objects: one row each, ROW_ROLE hands one over."""

    HEADERS: tuple[str, ...] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: tuple[Any, ...] = ()

    def _set_items(self, items: Sequence[Any]) -> None:
        self.beginResetModel()
        self._items = tuple(items)
        self.endResetModel()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        return self.HEADERS[section] if 0 <= section < len(self.HEADERS) else None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cells(index.row(), item)[index.column()]
        if role == ROW_ROLE:
            return item
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item)
        return None

    def _cells(self, row: int, item: Any) -> tuple[str, ...]:
        """The display text of each column; subclasses say what their columns show."""
        return tuple(str(item) if i == 0 else "" for i in range(len(self.HEADERS)))

    def _tooltip(self, item: Any) -> str | None:
        return None


class CandidateTableModel(_ListTableModel):
    """Every candidate of one row, best first, with the evidence that put it there."""

    HEADERS = ("#", "Id", "Label", "Verdict", "Confidence", "Why (source: score)")

    def set_candidates(self, candidates: Sequence[Candidate]) -> None:
        self._set_items(candidates)

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        return self._items

    def _cells(self, row: int, candidate: Candidate) -> tuple[str, ...]:
        return (
            str(row + 1),
            candidate.curie,
            candidate.label or "",
            verdict_text(candidate),
            confidence_text(candidate.confidence),
            explain(candidate),
        )

    def _tooltip(self, candidate: Candidate) -> str:
        return evidence_lines(candidate)


def explain(candidate: Candidate) -> str:
    # The mapping memory's word is shown as it is ("accepted by Ada on 2026-12-02"); so is a
    # rejection, first, whichever source proposed the id.
    parts = [
        f"{e.source}: {e.detail}" if e.source == "curated" else f"{e.source}: {e.score:.2f}"
        for e in candidate.evidence
    ]
    rejected = next((n for n in candidate.note.split("; ") if n.startswith("rejected by ")), None)
    return " · ".join([f"✘ {rejected}", *parts] if rejected else parts)


def evidence_lines(candidate: Candidate) -> str:
    lines = [
        f"{e.source} (rank {e.rank}, score {e.score:.2f}): {e.detail}"
        + (f" — matched “{e.matched_text}”" if e.matched_text else "")
        for e in candidate.evidence
    ]
    if candidate.note:
        lines.append(candidate.note)
    return "\n".join(lines)


class SearchResultsModel(_ListTableModel):
    """Terms found by searching the ontology by hand."""

    HEADERS = ("Id", "Label", "Matched name", "Score")

    def set_matches(self, matches: Sequence[TextMatch]) -> None:
        self._set_items(matches)

    @property
    def matches(self) -> tuple[TextMatch, ...]:
        return self._items

    def _cells(self, row: int, match: TextMatch) -> tuple[str, ...]:
        matched = match.matched_text if match.matched_text != match.label else ""
        return (match.curie, match.label, matched, f"{match.score:.2f}")
