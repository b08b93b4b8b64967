"""A curator's decisions on the open session: deciding and choosing, predicates, several ids, the
blind second curator and settling, deciding once for the same term, bulk accept, and the undo
stack and mapping memory kept in step. No widgets: the window asks, shows and confirms.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from term2id.core.candidates import Candidate, MappingPredicate, MappingResult
from term2id.core.curation import (
    MAPPING,
    Action,
    CurationSession,
    Decision,
    ReviewRound,
    ReviewView,
    bulk_accept_decisions,
    bulk_accept_rows,
    decision_phrase,
    evidence_shown,
    mapping_action,
    next_predicate,
    replay_log,
    starting_predicate,
    verify_choice,
)
from term2id.core.errors import Term2IdError
from term2id.core.ontology import TextMatch
from term2id.gui.commands import DecisionCommand
from term2id.gui.models import ReviewTableModel
from term2id.gui.settings import GuiSettings

if TYPE_CHECKING:
    from term2id.core.ontology import OntologyStore, StoreCatalog

log = logging.getLogger(__name__)

_SMALL_REFRESH = 64  # above this many rows, replay the whole log once instead of per row


class ReviewController(QObject):
    """Writes the curator's decisions to the session's log, undoably, and shows them in the
    table model. `confirm` asks the curator whether to map a checked id that needs a warning."""

    message = Signal(str, int)  # a status message and how long it shows (ms)
    error = Signal(object)  # an exception for the curator to see
    rows_refreshed = Signal()  # rows show their decisions as the log now says
    row_restored = Signal(int)  # undo or redo changed this one row back: show it

    def __init__(
        self,
        catalog: Callable[[], StoreCatalog],
        settings: GuiSettings,
        table_model: ReviewTableModel,
        undo_stack: QUndoStack,
        open_store: Callable[[str], OntologyStore | None],
        confirm: Callable[[object], bool],  # takes a Verification
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._catalog = catalog
        self.settings = settings
        self.table_model = table_model
        self.undo_stack = undo_stack
        self._open_store = open_store
        self._confirm = confirm
        self.session: CurationSession | None = None  # the window's open session
        # Whose decisions the table shows and who writes new ones: the first curator, or a
        # second curator reviewing blind.
        self.review_view = ReviewView.FIRST
        self._memory = None  # the data folder's MappingMemory, opened on first use

    @property
    def review_round(self) -> ReviewRound:
        """The round new decisions are written in: the second curator's while reviewing blind."""
        return ReviewRound.SECOND if self.review_view is ReviewView.SECOND else ReviewRound.FIRST

    def decision_now(self, row: int) -> Decision | None:
        """The row's decision as the table shows it (the second curator's own, when blind)."""
        if self.session is None:
            return None
        return replay_log(self.session.decisions(row), self.review_view)[0].get(row)

    def second_review_note(self, row: int) -> tuple[str, ...]:
        """Blind review: the first curator's decision, shown once the second decided the row."""
        if self.session is None or self.review_view is not ReviewView.SECOND:
            return ()
        from term2id.core.curation import decision_text, review_rows, same_outcome

        review = review_rows(self.session.decisions(row)).get(row)
        if review is None or review.second is None:
            return ("Second review (blind): the first curator's decision shows once you decide.",)
        if review.first is None:
            return ("First curator: not decided.",)
        alike = "same as yours" if same_outcome(review.first, review.second) else "differs"
        return (f"First curator: {decision_text(review.first)} ({alike}).",)

    # -- deciding -----------------------------------------------------------------------------

    def decide(
        self,
        row: int,
        result: MappingResult | None,
        action: Action,
        candidate: Candidate | TextMatch | None = None,
        comment: str | None = None,
    ) -> bool:
        """Decide `row`, whose result the curator sees is `result`; True when written."""
        assert self.session is not None
        if action is Action.ACCEPT and candidate is None:
            candidate = result.best if result else None
            if candidate is None:
                self.message.emit("No candidate to accept: search (/) or reject (R).", 5000)
                return False
        curie = candidate.curie if candidate is not None else None
        label = candidate.label if candidate is not None else None
        evidence = evidence_shown(result)
        verdict = candidate.verdict if isinstance(candidate, Candidate) else None
        if curie is not None and action in MAPPING:
            checked = self.verify_choice(row, curie)
            if checked is not None:
                if not self._confirm(checked):
                    return False
                curie, label = checked.curie, checked.label or label
                evidence["verdict"] = [checked.verdict.value, checked.note]
                verdict = checked.verdict
        try:
            made = self.session.decide(
                row,
                action,
                self.settings.curator,
                curie=curie,
                label=label,
                evidence=evidence,
                comment=comment,
                predicate=starting_predicate(verdict) if action in MAPPING else None,
                review_round=self.review_round,
            )
        except Term2IdError as exc:
            self.error.emit(exc)
            return False
        text = f"{action.value} row {row + 1}" + (f" → {curie}" if curie else "")
        self.push([made.id], [row], text)
        if self.review_view is ReviewView.SECOND and action is not Action.COMMENT:
            self.message.emit(f"Row {row + 1}: " + self.second_review_note(row)[0], 8000)
        return True

    def verify_choice(self, row: int, curie: str):  # -> Verification | None
        """The id a curator is putting on `row`, checked against the row's stores."""
        assert self.session is not None
        query = self.session.query(row)
        return verify_choice(curie, query, self._open_store, self._catalog().names)

    def _redecide(self, decision: Decision, text: str, predicate: MappingPredicate) -> bool:
        """Write `decision` again with another predicate: a new, undoable entry."""
        assert self.session is not None
        try:
            made = self.session.decide(
                decision.row,
                decision.action,
                self.settings.curator,
                curie=decision.curie,
                label=decision.label,
                evidence=decision.evidence,
                comment=decision.comment,
                predicate=predicate,
                also=decision.also,
                review_round=self.review_round,
            )
        except Term2IdError as exc:
            self.error.emit(exc)
            return False
        self.push([made.id], [decision.row], text)
        return True

    def step_predicate(self, row: int | None, step: int) -> bool:
        """P / Shift+P: say how `row`'s mapping relates term and id."""
        decision = self.decision_now(row) if row is not None else None
        if row is None or decision is None or decision.action not in MAPPING:
            self.message.emit(
                "Map the row to an id first (A, 1–9, or a searched term); then P says how.", 6000
            )
            return False
        from term2id.gui.reviewing import PREDICATE_TEXT

        predicate = next_predicate(decision.predicate, step)
        done = self._redecide(decision, f"row {row + 1}: {predicate.value}", predicate)
        if done:
            self.message.emit(f"Row {row + 1}: {PREDICATE_TEXT[predicate]}", 6000)
        return done

    def map_to_ids(self, row: int, ids: Sequence[str]) -> bool:
        """Map `row` to `ids` (the first is its mapped id); each is verified as a single choice
        is, and more than one is flagged as one-to-many."""
        if self.session is None or not ids:
            return False
        result = self.session.result(row)
        candidates = {c.curie: c for c in result.candidates} if result else {}
        best = result.best.curie if result is not None and result.best else None
        checked_ids, labels, verdicts = [], {}, {}
        for curie in ids:
            checked = self.verify_choice(row, curie)
            if checked is not None:
                if not self._confirm(checked):
                    return False
                curie = checked.curie
                labels[curie], verdicts[curie] = checked.label, checked.verdict
            elif curie in candidates:
                labels[curie], verdicts[curie] = candidates[curie].label, candidates[curie].verdict
            checked_ids.append(curie)
        ids = list(dict.fromkeys(checked_ids))
        first = ids[0]
        action = mapping_action(first, candidates, best)
        decision = self.decision_now(row)
        predicate = (
            decision.predicate
            if decision is not None and decision.action in MAPPING
            else starting_predicate(verdicts.get(first))
        )
        try:
            made = self.session.decide(
                row,
                action,
                self.settings.curator,
                curie=first,
                label=labels.get(first),
                evidence=evidence_shown(result),
                predicate=predicate,
                also=ids[1:],
                review_round=self.review_round,
            )
        except Term2IdError as exc:
            self.error.emit(exc)
            return False
        self.push([made.id], [row], f"map row {row + 1} to {len(ids)} id(s)")
        if len(ids) > 1:
            self.message.emit(
                f"⚠ Row {row + 1} maps to {len(ids)} ids (one-to-many): exports flag it.", 10000
            )
        return True

    def settle_row(self, row: int, taken: Decision) -> bool:
        """Settle a disagreement with `taken`: a settled entry in the log, undone like any other."""
        if self.session is None:
            return False
        from term2id.core.curation import decision_text, settle

        try:
            made = settle(self.session, row, taken, self.settings.curator)
        except Term2IdError as exc:
            self.error.emit(exc)
            return False
        self.push([made.id], [row], f"settle row {row + 1}: {decision_text(taken)}")
        return True

    # -- many rows at once --------------------------------------------------------------------

    def bulk_accept_rows(self) -> list[int]:
        """Undecided rows whose best candidate is verified at or above the threshold."""
        return bulk_accept_rows(self.table_model.rows, self.settings.threshold)

    def bulk_accept(self, rows: Sequence[int]) -> int:
        """Accept the best candidate of `rows` (one undo reverts them all)."""
        assert self.session is not None
        threshold = self.settings.threshold
        decisions = bulk_accept_decisions(self.table_model.rows, rows, threshold, self.review_round)
        try:
            made = self.session.decide_many(decisions, self.settings.curator)
        except Term2IdError as exc:
            self.error.emit(exc)
            return 0
        self.push([d.id for d in made], list(rows), f"accept {len(rows):,} verified rows")
        return len(rows)

    def same_term_rows(self, row: int) -> tuple[Decision, list[int], str] | None:
        """What D would do for `row`: its decision, the undecided rows with the same term and
        the decision in words; None (and a word why) when there is nothing to apply."""
        assert self.session is not None
        decision = self.decision_now(row)
        if decision is None:
            self.message.emit(
                "Decide this row first (A, R, S, a number or /), then press D to apply the "
                "decision to the same term.",
                6000,
            )
            return None
        rows = self.session.undecided_same_term_rows(row, self.review_view)
        if not rows:
            term = self.table_model.rows.terms[row]
            self.message.emit(f"No other undecided row has the term “{term}”.", 5000)
            return None
        return decision, rows, decision_phrase(decision)

    def apply_to_same_term(self, row: int, decision: Decision, rows: list[int], what: str) -> int:
        """Copy `decision` (of `row`) to `rows`; returns how many rows it decided."""
        assert self.session is not None
        try:
            made = self.session.apply_to_same_term(decision, self.settings.curator, rows)
        except Term2IdError as exc:
            self.error.emit(exc)
            return 0
        changed = [d.row for d in made]
        self.push(
            [d.id for d in made], changed, f"{what} on {len(changed):,} rows like row {row + 1}"
        )
        self.message.emit(f"{what}: applied to {len(changed):,} more rows.", 5000)
        return len(changed)

    # -- the log, the undo stack and the memory -----------------------------------------------

    def push(self, decision_ids: list[int], rows: list[int], text: str) -> None:
        """Put decisions just written on the undo stack and show them."""
        assert self.session is not None
        command = DecisionCommand(
            self.session,
            self.settings.curator,
            decision_ids,
            rows,
            text,
            self._undone_or_redone,
            self.error.emit,
        )
        self.undo_stack.push(command)
        self.refresh_rows(rows)

    def _undone_or_redone(self, rows: Sequence[int]) -> None:
        self.refresh_rows(rows)
        if len(rows) == 1:  # show the curator what changed back
            self.row_restored.emit(rows[0])

    @property
    def memory(self):  # -> MappingMemory
        """The data folder's mapping memory (what curators decided before, in any session)."""
        if self._memory is None:
            from term2id.core.mapping import MappingMemory

            self._memory = MappingMemory.in_folder(self._catalog().data_dir)
        return self._memory

    def remember(self) -> None:
        """Bring the mapping memory up to date with the session's log (decisions, undo, redo).

        The session is written first; should the memory not be writable, nothing is lost: it
        catches up the next time it can be written or the session is opened.
        """
        if self.session is None or not self.settings.use_memory:
            return
        from term2id.core.curation import catch_up

        try:
            catch_up(self.memory, self.session)
        except Term2IdError as exc:
            log.warning("mapping memory not updated: %s", exc)
            self.message.emit(
                f"The mapping memory was not updated ({exc}); the decision is safe in the "
                "session and reaches the memory once it can be written.",
                15000,
            )

    def refresh_rows(self, rows: Sequence[int]) -> None:
        """Show the rows' decisions as the session's log now says."""
        if self.session is None:
            return
        self.remember()
        view = self.review_view
        if len(rows) > _SMALL_REFRESH:
            decided = self.session.current_decisions(view)
            comments = self.session.current_comments(view)
            for row in rows:
                self._show_decision(row, decided.get(row), comments.get(row, ""))
        else:
            for row in rows:
                decided, commented = replay_log(self.session.decisions(row), view)
                comment = commented.get(row)
                self._show_decision(row, decided.get(row), comment.comment if comment else "")
        self.rows_refreshed.emit()

    def _show_decision(self, row: int, decision: Decision | None, comment: str) -> None:
        mapping = decision is not None and decision.action in MAPPING
        self.table_model.update_decision(
            row,
            decision.action.value if decision else None,
            decision.curie if decision else None,
            comment,
            decision.predicate.value if mapping else None,
            decision.also if mapping else (),
        )

    def close(self) -> None:
        """The window closes: the mapping memory is closed."""
        if self._memory is not None:
            self._memory.close()
