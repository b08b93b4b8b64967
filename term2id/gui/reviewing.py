"""Saying how a row maps and reviewing with a second curator: the several-ids dialog and the
agreement dialog with its queue of disagreements to settle.

The figures come from `term2id.core.curation.review`; settling writes a log entry through the window, so
that it is undone and redone like every other decision.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from term2id.core.candidates import Candidate, MappingPredicate
from term2id.core.curation import (
    CATEGORIES,
    CATEGORY_TEXT,
    Agreement,
    Decision,
    RowReview,
    decision_text,
)
from term2id.gui.models import ROW_ROLE, _ListTableModel

PREDICATE_TEXT = {
    MappingPredicate.EXACT: "exact: the id means what the term means",
    MappingPredicate.BROAD: "broad: the id is broader than the term",
    MappingPredicate.NARROW: "narrow: the id is narrower than the term",
    MappingPredicate.CLOSE: "close: near enough to use in its place, not quite the same",
    MappingPredicate.RELATED: "related: associated, neither the same nor above or below",
}
_ID_SPLIT = re.compile(r"[\s,;|]+")


class SeveralIdsDialog(QDialog):
    """Map one row to several ids: tick candidates, type further ids; warns that the mapping
    becomes one-to-many when more than one id is chosen."""

    def __init__(
        self,
        term: str,
        candidates: Sequence[Candidate],
        chosen: Sequence[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("severalIdsDialog")
        self.setWindowTitle("Map to several ids")
        self.resize(520, 380)
        known = {c.curie for c in candidates}
        self.list = QListWidget(objectName="severalIdsCandidates")
        for candidate in candidates:
            item = QListWidgetItem(f"{candidate.curie}  {candidate.label or ''}")
            item.setData(ROW_ROLE, candidate.curie)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = candidate.curie in chosen
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.typed = QLineEdit(objectName="severalIdsTyped")
        self.typed.setPlaceholderText("Further ids, e.g. HP:0001250 HP:0001252")
        self.typed.setText(" ".join(c for c in chosen if c not in known))
        self.warning = QLabel(objectName="oneToManyWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #8a5a00")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"<b>{html.escape(term) or '(empty)'}</b>: tick every id the term maps to; the first "
            "ticked is the row's mapped id."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self.list)
        layout.addWidget(QLabel("Ids no candidate has (searched elsewhere):"))
        layout.addWidget(self.typed)
        layout.addWidget(self.warning)
        layout.addWidget(buttons)
        self.list.itemChanged.connect(self._update)
        self.typed.textChanged.connect(self._update)
        self._update()

    def ids(self) -> list[str]:
        """The chosen ids in order: ticked candidates, then typed ids; each once."""
        ids = [
            self.list.item(i).data(ROW_ROLE)
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]
        ids += [t for t in _ID_SPLIT.split(self.typed.text().strip()) if t]
        return list(dict.fromkeys(ids))

    def _update(self, *_: Any) -> None:
        ids = self.ids()
        self.ok_button.setEnabled(bool(ids))
        if len(ids) > 1:
            self.warning.setText(
                f"⚠ One-to-many: this row will map to {len(ids)} ids. Exports flag it "
                "(one_to_many), keep the first in mapped_id and write one SSSOM mapping per id; "
                "many pipelines expect one id per term."
            )
        else:
            self.warning.setText("")


class DisagreementTableModel(_ListTableModel):
    """Rows the two curators decided differently: what each decided, and whether it is settled."""

    HEADERS = ("Row", "Term", "First curator", "Second curator", "Settled")

    def __init__(self, terms: Sequence[str], parent: Any = None) -> None:
        super().__init__(parent)
        self._terms = terms

    def set_reviews(self, reviews: Sequence[RowReview]) -> None:
        self._set_items(reviews)

    @property
    def reviews(self) -> tuple[RowReview, ...]:
        return self._items

    def _cells(self, row: int, review: RowReview) -> tuple[str, ...]:
        return (
            str(review.row + 1),
            self._terms[review.row] if review.row < len(self._terms) else "",
            decision_text(review.first),
            decision_text(review.second),
            decision_text(review.settled) if review.settled else "",
        )

    def _tooltip(self, review: RowReview) -> str:
        lines = [f"first: {review.first.curator}" if review.first else ""]
        lines.append(f"second: {review.second.curator}" if review.second else "")
        return "\n".join(line for line in lines if line)


def agreement_html(agreement: Agreement) -> str:
    """The figures: rows compared, raw agreement, kappa, and the category table."""
    n = agreement.rows_compared
    if not n:
        return (
            "<p>No row was decided by both curators yet. Open the session as the second "
            "curator (<i>Review → Second curator (blind)</i>) and decide its rows.</p>"
        )
    raw = agreement.raw_agreement or 0.0
    kappa = agreement.kappa
    kappa_text = f"{kappa:.3f}" if kappa is not None else "undefined (every row in one category)"
    head = "".join(f"<th>{CATEGORY_TEXT[c]}</th>" for c in CATEGORIES)
    body = "".join(
        f"<tr><th align='left'>{CATEGORY_TEXT[a]}</th>"
        + "".join(f"<td align='right'>{agreement.table.get((a, b), 0)}</td>" for b in CATEGORIES)
        + "</tr>"
        for a in CATEGORIES
    )
    return (
        f"<p><b>{n:,}</b> rows decided by both curators · same outcome on "
        f"<b>{agreement.rows_agreed:,}</b> · raw agreement <b>{raw:.1%}</b> · "
        f"Cohen's κ <b>{kappa_text}</b></p>"
        f"<p>{len(agreement.disagreements):,} disagreement(s): {agreement.settled:,} settled, "
        f"{len(agreement.unsettled):,} to settle.</p>"
        "<table border='1' cellspacing='0' cellpadding='3'>"
        f"<tr><th>first ↓ / second →</th>{head}</tr>{body}</table>"
        "<p><small>κ counts three categories per curator (accepted the best candidate, "
        "rejected, a different id); raw agreement asks for the same ids and predicate.</small></p>"
    )


class AgreementDialog(QDialog):
    """Review → Agreement: the figures, and the disagreements to settle one by one."""

    def __init__(
        self,
        compute: Callable[[], Agreement],
        terms: Sequence[str],
        settle: Callable[[int, Decision], bool],
        go_to: Callable[[int], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("agreementDialog")
        self.setWindowTitle("Agreement of two curators")
        self.resize(900, 560)
        self._compute = compute
        self._settle = settle
        self._go_to = go_to
        self.figures = QLabel(objectName="agreementFigures")
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.figures.setWordWrap(True)
        self.queue = DisagreementTableModel(terms, self)
        self.queue_view = QTableView(objectName="disagreements")
        self.queue_view.setModel(self.queue)
        self.queue_view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.queue_view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.queue_view.verticalHeader().setVisible(False)
        for column, width in enumerate((48, 170, 250, 250, 150)):
            self.queue_view.setColumnWidth(column, width)
        self.take_first = QPushButton("Take the &first curator's", objectName="takeFirst")
        self.take_second = QPushButton("Take the &second curator's", objectName="takeSecond")
        self.go_button = QPushButton("&Go to the row", objectName="goToRow")
        close = QPushButton("Close")
        self.take_first.clicked.connect(lambda: self._take("first"))
        self.take_second.clicked.connect(lambda: self._take("second"))
        self.go_button.clicked.connect(self._go)
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        for button in (self.take_first, self.take_second, self.go_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.figures)
        layout.addWidget(QLabel("Disagreements (settled ones say how):"))
        layout.addWidget(self.queue_view, 1)
        layout.addLayout(buttons)
        self.queue_view.selectionModel().currentRowChanged.connect(lambda *_: self._update())
        self.refresh()

    @property
    def agreement(self) -> Agreement:
        return self._agreement

    def refresh(self) -> None:
        """Compute the figures again (after settling, undo or redo) and keep the selection."""
        current = self.selected()
        self._agreement = self._compute()
        self.figures.setText(agreement_html(self._agreement))
        self.queue.set_reviews(self._agreement.disagreements)
        rows = [r.row for r in self.queue.reviews]
        if rows:
            # Stay on the same row, else the first one not settled yet.
            at = rows.index(current.row) if current and current.row in rows else None
            if at is None or self.queue.reviews[at].settled is not None:
                unsettled = [i for i, r in enumerate(self.queue.reviews) if r.settled is None]
                at = unsettled[0] if unsettled else (at or 0)
            self.queue_view.selectRow(at)
        self._update()

    def selected(self) -> RowReview | None:
        index = self.queue_view.currentIndex()
        return index.data(ROW_ROLE) if index.isValid() else None

    def select_row(self, row: int) -> None:
        for i, review in enumerate(self.queue.reviews):
            if review.row == row:
                self.queue_view.selectRow(i)
                return

    def _update(self) -> None:
        review = self.selected()
        self.take_first.setEnabled(review is not None and review.first is not None)
        self.take_second.setEnabled(review is not None and review.second is not None)
        self.go_button.setEnabled(review is not None)

    def _take(self, which: str) -> None:
        review = self.selected()
        if review is None:
            return
        taken = review.first if which == "first" else review.second
        if taken is not None and self._settle(review.row, taken):
            self.refresh()

    def _go(self) -> None:
        review = self.selected()
        if review is not None:
            self._go_to(review.row)
