"""Widgets of the main window: the review table, its filter bar, and the candidate panel."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from term2id.core.candidates import Candidate
from term2id.core.ontology import Term
from term2id.gui.models import (
    DECISION_TEXT,
    ROW_ROLE,
    STATUS_ORDER,
    STATUS_TEXT,
    UNDECIDED,
    CandidateTableModel,
    ReviewFilter,
    SearchResultsModel,
    evidence_lines,
)

if TYPE_CHECKING:
    from term2id.core.ontology import OntologyStore


def _table(model, object_name: str) -> QTableView:
    view = QTableView()
    view.setObjectName(object_name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    # Fixed row heights: the view never measures 100,000 rows.
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class ReviewTableView(QTableView):
    """The review table. Letter keys are left to the window's shortcuts."""

    def __init__(self, model, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reviewTable")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSortingEnabled(True)
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTabKeyNavigation(False)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setStretchLastSection(True)
        for column, width in enumerate((180, 100, 190, 78, 118)):
            self.setColumnWidth(column, width)


class FilterBar(QWidget):
    """Filter by status, minimum confidence, decision and text."""

    changed = Signal(object)  # ReviewFilter

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.text = QLineEdit(placeholderText="Filter rows: term, id or label…")
        self.text.setObjectName("filterText")
        self.text.setClearButtonEnabled(True)
        self.status = QComboBox(objectName="filterStatus")
        self.status.addItem("Any status", "")
        for status in STATUS_ORDER:
            self.status.addItem(STATUS_TEXT[status], status)
        self.decision = QComboBox(objectName="filterDecision")
        self.decision.addItem("Any decision", "")
        self.decision.addItem("Undecided", UNDECIDED)
        for action, text in DECISION_TEXT.items():
            if action != UNDECIDED:
                self.decision.addItem(text.capitalize(), action)
        self.confidence = QDoubleSpinBox(objectName="filterConfidence")
        self.confidence.setRange(0.0, 1.0)
        self.confidence.setSingleStep(0.05)
        self.confidence.setPrefix("confidence ≥ ")
        self.count = QLabel(objectName="rowCount")
        # Shown while the table is limited to some rows (the same term as a row): click to clear.
        self.only_rows = QToolButton(objectName="filterRows")
        self.only_rows.setToolTip("Showing only these rows: click to show all rows again")
        self.only_rows.hide()
        self.only_rows.clicked.connect(self.clear_rows)
        self._rows: frozenset[int] = frozenset()
        self._rows_label = ""
        for widget in (
            self.text, self.only_rows, self.status, self.decision, self.confidence, self.count
        ):  # fmt: skip
            layout.addWidget(widget)
        layout.setStretch(0, 1)
        self.text.textChanged.connect(self._emit)
        self.status.currentIndexChanged.connect(self._emit)
        self.decision.currentIndexChanged.connect(self._emit)
        self.confidence.valueChanged.connect(self._emit)
        self._quiet = False

    def current(self) -> ReviewFilter:
        status = self.status.currentData()
        decision = self.decision.currentData()
        return ReviewFilter(
            statuses=frozenset([status]) if status else frozenset(),
            min_confidence=round(self.confidence.value(), 2),
            decisions=frozenset([decision]) if decision else frozenset(),
            text=self.text.text().strip(),
            rows=self._rows,
            rows_label=self._rows_label,
        )

    def clear_rows(self) -> None:
        """Show every row again (the other filters stay)."""
        self._show_rows(frozenset(), "")
        self._emit()

    def _show_rows(self, rows: frozenset[int], label: str) -> None:
        self._rows, self._rows_label = rows, label
        self.only_rows.setText(f"{label} ✕")
        self.only_rows.setVisible(bool(rows))

    def show_filter(self, review_filter: ReviewFilter) -> None:
        """Show a saved filter without emitting `changed` for each widget."""
        self._quiet = True
        try:
            self.text.setText(review_filter.text)
            status = next(iter(review_filter.statuses), "")
            self.status.setCurrentIndex(max(0, self.status.findData(status)))
            decision = next(iter(review_filter.decisions), "")
            self.decision.setCurrentIndex(max(0, self.decision.findData(decision)))
            self.confidence.setValue(review_filter.min_confidence)
            self._show_rows(review_filter.rows, review_filter.rows_label)
        finally:
            self._quiet = False

    def _emit(self, *_: object) -> None:
        if not self._quiet:
            self.changed.emit(self.current())


class CandidatePanel(QWidget):
    """A row's candidates (why each ranks where it does), the highlighted one's details, and a
    search box over the ontology to pick a term no source proposed."""

    search_requested = Signal(str)
    search_chosen = Signal(object)  # TextMatch
    candidate_chosen = Signal(int)  # 1-based position, as the number keys count

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store_of: Callable[[str], OntologyStore | None] = lambda _name: None
        self._ontology = ""
        self.title = QLabel(objectName="candidateTitle")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.candidates = CandidateTableModel(self)
        self.candidate_view = _table(self.candidates, "candidateTable")
        for column, width in enumerate((24, 96, 180, 190, 78)):
            self.candidate_view.setColumnWidth(column, width)
        self.details = QTextBrowser(objectName="termDetails")
        self.details.setOpenLinks(False)
        self.search_box = QLineEdit(placeholderText="/  Search the ontology (full text and fuzzy)…")
        self.search_box.setObjectName("searchBox")
        self.search_box.setClearButtonEnabled(True)
        self.results = SearchResultsModel(self)
        self.results_view = _table(self.results, "searchResults")
        self.results_view.setToolTip("Enter or double-click: map the row to this term")

        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.title)
        upper_layout.addWidget(self.candidate_view)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.search_box)
        lower_layout.addWidget(self.results_view)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(self.details)
        splitter.addWidget(lower)
        splitter.setSizes([260, 220, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.candidate_view.selectionModel().currentRowChanged.connect(self._highlighted)
        self.results_view.selectionModel().currentRowChanged.connect(self._result_highlighted)
        self.search_box.returnPressed.connect(
            lambda: self.search_requested.emit(self.search_box.text())
        )
        self.results_view.activated.connect(self._result_activated)
        self.candidate_view.activated.connect(lambda i: self.candidate_chosen.emit(i.row() + 1))
        self.candidate_view.setToolTip("Enter or double-click: map the row to this candidate")

    def show_row(
        self, term: str, ontology: str, candidates: tuple[Candidate, ...], notes=()
    ) -> None:
        self._ontology = ontology
        note = "".join(f"<br><i>{html.escape(n)}</i>" for n in notes)
        self.title.setText(
            f"<b>{html.escape(term) or '(empty)'}</b> → {html.escape(ontology)}"
            f" · {len(candidates)} candidate(s){note}"
        )
        self.candidates.set_candidates(candidates)
        self.details.clear()
        if candidates:
            self.candidate_view.selectRow(0)
        else:
            self.details.setHtml("<i>No candidate. Search the ontology below (press /).</i>")

    def clear(self) -> None:
        self.title.clear()
        self.candidates.set_candidates(())
        self.details.clear()

    def highlighted(self) -> Candidate | None:
        index = self.candidate_view.currentIndex()
        return index.data(ROW_ROLE) if index.isValid() else None

    def _highlighted(self, current: QModelIndex, _previous: QModelIndex) -> None:
        candidate = current.data(ROW_ROLE) if current.isValid() else None
        if candidate is None:
            return
        store = self.store_of(candidate.ontology or self._ontology)
        term = store.term(candidate.curie) if store is not None else None
        self.details.setHtml(term_html(candidate.curie, term, store, evidence_lines(candidate)))

    def _result_highlighted(self, current: QModelIndex, _previous: QModelIndex) -> None:
        match = current.data(ROW_ROLE) if current.isValid() else None
        if match is None:
            return
        store = self.store_of(self._ontology)
        term = store.term(match.curie) if store is not None else None
        self.details.setHtml(term_html(match.curie, term, store, ""))

    def _result_activated(self, index: QModelIndex) -> None:
        match = index.data(ROW_ROLE)
        if match is not None:
            self.search_chosen.emit(match)


def term_html(curie: str, term: Term | None, store: OntologyStore | None, why: str) -> str:
    """A term's definition, synonyms, parents and replacement, as the details pane shows it."""
    e = html.escape
    if term is None:
        where = f" in {e(store.name)}" if store is not None else ""
        return f"<h3>{e(curie)}</h3><p><b>Not found{where}.</b></p><pre>{e(why)}</pre>"
    parts = [f"<h3>{e(term.label)} <small>({e(term.curie)})</small></h3>"]
    if term.obsolete:
        replaced = ", ".join(term.replaced_by) or "none given"
        parts.append(f"<p style='color:#a00'><b>Obsolete.</b> Replaced by: {e(replaced)}")
        if term.consider:
            parts.append(f"; consider: {e(', '.join(term.consider))}")
        parts.append("</p>")
    if term.definition:
        parts.append(f"<p>{e(term.definition)}</p>")
    if term.synonyms:
        synonyms = "; ".join(
            f"{e(s.text)} <small>[{e(s.scope)}{' ' + e(s.type) if s.type else ''}]</small>"
            for s in term.synonyms
        )
        parts.append(f"<p><b>Synonyms:</b> {synonyms}</p>")
    if term.parents and store is not None:
        parents = []
        for parent in term.parents:
            found = store.term(parent)
            parents.append(f"{e(found.label)} ({e(parent)})" if found else e(parent))
        parts.append(f"<p><b>Parents:</b> {'; '.join(parents)}</p>")
    if why:
        parts.append(f"<p><b>Why this candidate:</b><br>{e(why).replace(chr(10), '<br>')}</p>")
    return "".join(parts)
