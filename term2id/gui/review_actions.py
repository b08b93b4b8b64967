"""The Review menu's actions of the main window: deciding by key, predicates, several ids, the
blind second curator and the agreement dialog, bulk accept and deciding once for the same term.
They ask the curator and leave the writing to the ReviewController.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import QInputDialog, QMessageBox

from term2id.core.candidates import Candidate, MappingResult, Verdict
from term2id.core.curation import CHOICE_WARNINGS, MAPPING, Action, ReviewView
from term2id.core.ontology import TextMatch


class ReviewActions:
    """Mixed into MainWindow: the slots of the Review menu."""

    # -- decisions ----------------------------------------------------------------------------

    def _current_result(self, row: int) -> MappingResult | None:
        """The result the panel shows for `row` (shown first when it shows another row)."""
        if self._current is None or self._current[0] != row:
            self._show_row(row)
        return self._current[1] if self._current else None

    def decide(
        self,
        action: Action,
        candidate: Candidate | TextMatch | None = None,
        comment: str | None = None,
        advance: bool = True,
    ) -> bool:
        row = self.current_row()
        if self.session is None or row is None:
            return False
        result = self._current_result(row)
        if not self.review_controller.decide(row, result, action, candidate, comment):
            return False
        if advance and action is not Action.COMMENT:
            self.move(1)
        return True

    def step_predicate(self, step: int) -> bool:
        """P / Shift+P: say how the current row's mapping relates term and id."""
        return self.review_controller.step_predicate(self.current_row(), step)

    def map_several(self):  # -> SeveralIdsDialog | None
        """M: map the current row to several ids (one-to-many), in a dialog."""
        from term2id.gui.reviewing import SeveralIdsDialog

        row = self.current_row()
        if self.session is None or row is None:
            return None
        result = self._current_result(row)
        decision = self.review_controller.decision_now(row)
        chosen = decision.curies if decision is not None and decision.action in MAPPING else ()
        candidates = result.candidates if result is not None else ()
        dialog = SeveralIdsDialog(self.session.query(row).text, candidates, chosen, self)
        dialog.accepted.connect(lambda: self.review_controller.map_to_ids(row, dialog.ids()))
        dialog.finished.connect(lambda _r: setattr(self, "several_ids_dialog", None))
        self.several_ids_dialog = dialog
        dialog.open()
        return dialog

    def _confirm_choice(self, checked) -> bool:
        """An obsolete id, an unknown one or another store's is mapped only after a warning."""
        if checked.verdict not in CHOICE_WARNINGS:
            if checked.verdict is not Verdict.VERIFIED:
                self.statusBar().showMessage(
                    f"{checked.curie} is {checked.verdict.value.replace('_', ' ')}: {checked.note}",
                    8000,
                )
            return True
        what = CHOICE_WARNINGS[checked.verdict]
        answer = QMessageBox.warning(
            self,
            "Map to this id?",
            f"{checked.curie} {what} ({checked.note}).\n\n"
            "Exports will say so. Map the row to it anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def choose(self, n: int) -> None:
        if self._current is None or self._current[1] is None:
            return
        candidates = self._current[1].candidates
        if not 1 <= n <= len(candidates):
            self.statusBar().showMessage(f"There is no candidate {n}.", 4000)
            return
        self.decide(Action.ACCEPT if n == 1 else Action.CHOOSE, candidates[n - 1])

    def _candidate_chosen(self, n: int) -> None:
        self.choose(n)
        self.table.setFocus()

    def choose_searched(self, match: TextMatch) -> None:
        if self.decide(Action.MANUAL, match):
            self.table.setFocus()

    def comment(self) -> None:
        row = self.current_row()
        if self.session is None or row is None:
            return
        current = self.table_model.rows.comments[row] or ""
        text, ok = QInputDialog.getMultiLineText(self, "Comment", f"Row {row + 1}:", current)
        if ok:
            self.decide(Action.COMMENT, comment=text.strip(), advance=False)

    def _decisions_shown(self) -> None:
        self._update_summary()
        if self.agreement_dialog is not None:  # its figures follow every change of the log
            self.agreement_dialog.refresh()

    # -- two curators -------------------------------------------------------------------------

    def set_second_curator(self, on: bool) -> None:
        """Switch between the first curator's review and a blind second review."""
        view = ReviewView.SECOND if on else ReviewView.FIRST
        self.second_curator_action.setChecked(on)
        review = self.review_controller
        if self.session is None or view is review.review_view:
            review.review_view = view
            return
        review.review_view = view
        self.undo_stack.clear()  # its commands refresh rows as the other view showed them
        self._keep_row(lambda: self.table_model.set_rows(self.session.row_summaries(view)))
        row = self.current_row()
        if row is not None:
            self._show_row(row)
        self._update_title()
        self._update_summary()
        self.save_view_state()
        blind = (
            "Second review, blind: the first curator's decisions are hidden until you decide "
            "each row."
        )
        self.statusBar().showMessage(blind if on else "First curator's review.", 10000)

    def open_agreement(self):  # -> AgreementDialog | None
        """Review → Agreement: figures over the rows both curators decided, and the
        disagreements to settle."""
        if self.session is None:
            return None
        from term2id.core.curation import session_agreement
        from term2id.gui.reviewing import AgreementDialog

        if self.agreement_dialog is not None:
            self.agreement_dialog.refresh()
            self.agreement_dialog.raise_()
            return self.agreement_dialog
        session = self.session
        dialog = AgreementDialog(
            lambda: session_agreement(session),
            session.row_summaries(ReviewView.FIRST).terms,
            self.review_controller.settle_row,
            self.select_row,
            self,
        )
        dialog.finished.connect(lambda _r: setattr(self, "agreement_dialog", None))
        # Not modal: "Go to the row" shows the row in the window while the queue stays open,
        # and undo and redo work from either window.
        dialog.addActions(list(self.undo_actions))
        self.agreement_dialog = dialog
        dialog.show()
        return dialog

    # -- many rows at once --------------------------------------------------------------------

    def bulk_accept(self, confirm: bool = True) -> int:
        if self.session is None:
            return 0
        rows = self.review_controller.bulk_accept_rows()
        threshold = self.settings.threshold
        if not rows:
            QMessageBox.information(
                self, "Accept verified", f"No undecided row is verified at ≥ {threshold:.2f}."
            )
            return 0
        if confirm:
            answer = QMessageBox.question(
                self,
                "Accept verified",
                f"Accept the best candidate of {len(rows):,} undecided rows verified at a "
                f"confidence ≥ {threshold:.2f}? (Undo reverts them all.)",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return 0
        return self.review_controller.bulk_accept(rows)

    def apply_to_same_term(self, confirm: bool = True) -> int:
        """Copy the current row's decision to the undecided rows with the same term (the count
        is shown first; one undo reverts them all). Returns how many rows it decided."""
        row = self.current_row()
        if self.session is None or row is None:
            return 0
        plan = self.review_controller.same_term_rows(row)
        if plan is None:
            return 0
        decision, rows, what = plan
        if confirm:
            term = self.table_model.rows.terms[row]
            answer = QMessageBox.question(
                self,
                "Apply to the same term",
                f"Apply “{what}” to {len(rows):,} undecided rows with the same term as row "
                f"{row + 1} (“{term}”)? (Undo reverts them all.)",
            )
            self.table.setFocus()  # the keys go on working on the table
            if answer != QMessageBox.StandardButton.Yes:
                return 0
        return self.review_controller.apply_to_same_term(row, decision, rows, what)

    def show_same_term(self) -> None:
        """Limit the table to the rows with the current row's term, or show all rows again."""
        row = self.current_row()
        if self.session is None or row is None:
            return
        current = self.table_model.filter
        if current.rows:
            wanted = replace(current, rows=frozenset(), rows_label="")
        else:
            rows = self.session.same_term_rows(row)
            label = f"Same term as row {row + 1} ({len(rows):,})"
            wanted = replace(current, rows=frozenset(rows), rows_label=label)
        self.filter_bar.show_filter(wanted)
        self._filter_changed(wanted)
