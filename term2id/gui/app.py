"""The curation window: open terms, map them in the background, review with the keyboard, export.

Heavy modules (the mapper and its indexes, spreadsheet readers, exports) are imported when first
needed, so the window is usable within a couple of seconds even on a slow laptop.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Qt, QThreadPool, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from term2id import __version__
from term2id.core.candidates import (
    Candidate,
    MappingResult,
    MappingStatus,
    Verdict,
)
from term2id.core.curation import (
    CHOICE_WARNINGS,
    MAPPING,
    SESSION_SUFFIX,
    Action,
    CurationSession,
    ReviewView,
    missing_stores,
    prepare_same_term,
)
from term2id.core.errors import StoreError, Term2IdError
from term2id.core.ontology import TextMatch
from term2id.gui.errors import show_error
from term2id.gui.export_controller import ExportController
from term2id.gui.mapping_controller import MappingController
from term2id.gui.mapping_indicators import MappingIndicators
from term2id.gui.models import ReviewFilter, ReviewTableModel
from term2id.gui.review_controller import ReviewController
from term2id.gui.settings import GuiSettings
from term2id.gui.views import CandidatePanel, FilterBar, ReviewTableView
from term2id.gui.workers import Worker

if TYPE_CHECKING:
    # Imported when first used: the store module pulls in sqlite-utils, which imports pandas
    # when it is installed (about a second), and the window must appear before that.
    from term2id.core.ontology import OntologyStore, StoreCatalog

log = logging.getLogger(__name__)

SESSION_FILTER = f"term2id sessions (*{SESSION_SUFFIX});;All files (*)"
VIEW_STATE_DELAY_MS = 400



class MainWindow(QMainWindow):
    def __init__(
        self,
        catalog: StoreCatalog | None = None,
        settings: GuiSettings | None = None,
        pool: QThreadPool | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self._catalog = catalog
        self.settings = settings or GuiSettings()
        self.pool = pool or QThreadPool.globalInstance()
        self.session: CurationSession | None = None
        self.agreement_dialog = None  # the open Review → Agreement dialog, if any
        self.several_ids_dialog = None  # the open "Map to several ids" dialog, if any
        self._workers: set[Worker] = set()
        self._current: tuple[int, MappingResult | None] | None = None
        self.setAcceptDrops(True)
        self.resize(1360, 820)

        self.table_model = ReviewTableModel(parent=self)
        self.table = ReviewTableView(self.table_model)
        self.filter_bar = FilterBar()
        self.panel = CandidatePanel()
        self.panel.store_of = self._store
        self.undo_stack = QUndoStack(self)
        self.review_controller = ReviewController(
            lambda: self.catalog,
            self.settings,
            self.table_model,
            self.undo_stack,
            self._store,
            self._confirm_choice,
            self,
        )

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        left_layout.addWidget(self.filter_bar)
        left_layout.addWidget(self.table)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.panel)
        splitter.setSizes([790, 650])
        self.setCentralWidget(splitter)

        self.mapping_controller = MappingController(
            lambda: self.catalog, self.settings, self.pool, self
        )
        self.mapping_indicators = MappingIndicators(self.statusBar(), self.mapping_controller)
        self.summary_label = QLabel(objectName="summary")
        self.statusBar().addWidget(self.summary_label)
        mapping = self.mapping_controller
        mapping.message.connect(self.statusBar().showMessage)
        mapping.error.connect(lambda exc: show_error(self, exc))
        mapping.rows_mapped.connect(self._rows_mapped)
        mapping.mapping_done.connect(self._mapping_done)
        review = self.review_controller
        review.message.connect(self.statusBar().showMessage)
        review.error.connect(lambda exc: show_error(self, exc))
        review.rows_refreshed.connect(self._decisions_shown)
        review.row_restored.connect(self.select_row)
        self.export_controller = ExportController(self._store)

        self._view_state_timer = QTimer(self, singleShot=True, interval=VIEW_STATE_DELAY_MS)
        self._view_state_timer.timeout.connect(self.save_view_state)
        self._build_actions()
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self._row_before_reset: int | None = None
        self.table_model.modelAboutToBeReset.connect(self._before_reset)
        self.table_model.modelReset.connect(self._after_reset)
        self.filter_bar.changed.connect(self._filter_changed)
        self.table.horizontalHeader().sortIndicatorChanged.connect(
            lambda *_: self._view_state_timer.start()
        )
        self.panel.search_requested.connect(self.search)
        self.panel.search_chosen.connect(self.choose_searched)
        self.panel.candidate_chosen.connect(self._candidate_chosen)
        self.undo_stack.indexChanged.connect(lambda _i: self._update_summary())
        self._update_title()
        self._show_welcome()

    @property
    def catalog(self) -> StoreCatalog:
        if self._catalog is None:
            from term2id.core.ontology import StoreCatalog

            self._catalog = StoreCatalog()
        return self._catalog

    # -- actions ------------------------------------------------------------------------------

    def _action(
        self,
        text: str,
        slot: Callable[[], Any],
        shortcut: str | QKeySequence | Sequence[str] | None = None,
        menu=None,
        name: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if name:
            action.setObjectName(name)
        if isinstance(shortcut, list | tuple):
            action.setShortcuts([QKeySequence(s) for s in shortcut])
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        if menu is not None:
            menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action("&Open table…", self.open_table, QKeySequence.StandardKey.Open, file_menu)
        self._action("&Paste terms…", self.paste_terms, "Ctrl+Shift+V", file_menu)
        self._action("Open &session…", self.choose_session, "Ctrl+Shift+O", file_menu)
        self._action(
            "Open session as second curator (&blind)…",
            lambda: self.choose_session(second_curator=True),
            None,
            file_menu,
        )
        self.recent_menu = file_menu.addMenu("Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        self._action("Save a &copy of the session as…", self.save_copy, None, file_menu)
        self._action("Export sheet (CSV/XLSX)…", self.export_sheet, "Ctrl+E", file_menu)
        self._action("Export SSSOM mappings…", self.export_sssom, None, file_menu)
        self._action("Export training data (JSONL)…", self.export_training, None, file_menu)
        self.only_reviewed_action = self._action(
            "Export only rows both curators agree on or settled",
            lambda: None,
            None,
            file_menu,
            "onlyReviewed",
        )
        self.only_reviewed_action.setCheckable(True)
        file_menu.addSeparator()
        self._action(
            "Settings…", self.open_settings, QKeySequence.StandardKey.Preferences, file_menu
        )
        self._action("&Quit", self.close, QKeySequence.StandardKey.Quit, file_menu)

        edit = bar.addMenu("&Review")
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence("Ctrl+Z"))
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for action in (undo, redo):
            self.addAction(action)
            edit.addAction(action)
        self.undo_actions = (undo, redo)
        edit.addSeparator()
        self._action(
            "&Accept best candidate", lambda: self.decide(Action.ACCEPT), "A", edit, "accept"
        )
        self._action(
            "&Reject all candidates", lambda: self.decide(Action.REJECT), "R", edit, "reject"
        )
        self._action("&Skip", lambda: self.decide(Action.SKIP), "S", edit, "skip")
        self._action("&Comment…", self.comment, "C", edit, "comment")
        choose = edit.addMenu("Choose candidate")
        for n in range(1, 10):
            self._action(f"Candidate {n}", lambda n=n: self.choose(n), str(n), choose)
        # How the row maps: letters, which every keyboard layout types without Shift+digit.
        predicate = edit.addMenu("Mapping predicate")
        self._action(
            "Next predicate (exact → broad → narrow → close → related)",
            lambda: self.step_predicate(1),
            "P",
            predicate,
            "nextPredicate",
        )
        self._action("Previous predicate", lambda: self.step_predicate(-1), "Shift+P", predicate)
        self._action("Map to &several ids…", self.map_several, "M", edit, "mapSeveral")
        edit.addSeparator()
        self._action("Next row", lambda: self.move(1), ["J", "Down"], edit)
        self._action("Previous row", lambda: self.move(-1), ["K", "Up"], edit)
        self._action("Search the ontology", self.focus_search, "/", edit)
        self._action("Back to the table", self.table.setFocus, "Escape", None)
        edit.addSeparator()
        self._action("Accept all verified at or above the threshold…", self.bulk_accept, None, edit)
        # D for "ditto"; T for "term": letters, which every common keyboard layout types alike.
        self._action(
            "Apply this &decision to the same term…", self.apply_to_same_term, "D", edit, "ditto"
        )
        self._action(
            "Show only rows with the same &term", self.show_same_term, "T", edit, "same-term"
        )
        edit.addSeparator()
        self.second_curator_action = self._action(
            "Second curator (blind)",
            lambda: self.set_second_curator(self.second_curator_action.isChecked()),
            None,
            edit,
            "secondCurator",
        )
        self.second_curator_action.setCheckable(True)
        self._action("A&greement of two curators…", self.open_agreement, None, edit, "agreement")

        mapping = bar.addMenu("&Mapping")
        self._action("Map rows not mapped yet", self.start_mapping, "F5", mapping)
        self._action("Re-verify against the current stores…", self.reverify, None, mapping)

    # -- opening ------------------------------------------------------------------------------

    def open_table(self, path: Path | None = None) -> None:
        from term2id.gui.open_table_dialog import OpenTableDialog

        dialog = OpenTableDialog(self.catalog, self.settings, self, path=path)
        if dialog.exec() and (choice := dialog.choice()) is not None:
            self.start_from_table(choice)

    def paste_terms(self) -> None:
        from term2id.gui.open_table_dialog import OpenTableDialog

        dialog = OpenTableDialog(self.catalog, self.settings, self)
        dialog.tabs.setCurrentIndex(1)
        dialog.paste.setFocus()
        if dialog.exec() and (choice := dialog.choice()) is not None:
            self.start_from_table(choice)

    def start_from_table(self, choice, destination: Path | None = None) -> Worker:
        """Read the chosen table into a new session file (in a worker), then map it."""
        from term2id.core.curation import create_session, session_path_for

        destination = destination or session_path_for(
            choice.path, self.catalog.data_dir / "sessions"
        )
        if choice.path is not None:
            self.settings.add_recent_file(choice.path)
        self.settings.default_ontology = choice.default_ontology
        self.statusBar().showMessage(f"Reading {choice.path or 'pasted terms'}…")
        worker = Worker(
            create_session,
            destination,
            choice.table,
            choice.term_column,
            choice.default_ontology,
            choice.context_column,
            choice.ontology_column,
        )

        def created(path: Path) -> None:
            if self.open_session(path):
                self.start_mapping()

        worker.signals.result.connect(created)
        return self._run(worker)

    def choose_session(self, second_curator: bool = False) -> None:
        title = "Open a session as the second curator" if second_curator else "Open a session"
        path, _ = QFileDialog.getOpenFileName(self, title, "", SESSION_FILTER)
        if path:
            self.open_session(Path(path), second_curator=second_curator or None)

    def open_session(self, path: Path, second_curator: bool | None = None) -> bool:
        """Open a session file; `second_curator` opens it for a blind second review (None: as
        it was last left)."""
        try:
            session = CurationSession.open(path)
        except Term2IdError as exc:
            show_error(self, exc)
            return False
        self.close_session()
        self._set_session(session)
        self.settings.add_recent_file(path)
        self.undo_stack.clear()
        state = session.view_state()
        if second_curator is None:
            second_curator = bool(state.get("second_curator", False))
        view = ReviewView.SECOND if second_curator else ReviewView.FIRST
        self.review_controller.review_view = view
        self.second_curator_action.setChecked(second_curator)
        review_filter = ReviewFilter.from_json(state.get("filter", {}))
        self.filter_bar.show_filter(review_filter)
        self._refresh_verdicts()  # before the table shows the rows' statuses
        self.review_controller.remember()  # decisions a killed process left out of the memory
        self.table_model.set_rows(session.row_summaries(view))
        self.table_model.prepare_sort_keys()
        # The same-term keys (D and T) are built while the curator starts reviewing.
        self._run(Worker(prepare_same_term, session, self.table_model.rows))
        gc.freeze()  # the row lists live as long as the session: keep full collections short
        sort = state.get("sort")
        if sort and sort[0] >= 0:
            order = Qt.SortOrder(sort[1])
            self.table.horizontalHeader().setSortIndicator(sort[0], order)
        self.table_model.set_filter(review_filter)
        self.select_row(int(state.get("current_row", 0)))
        self._update_title()
        self._update_summary()
        self._check_stores()
        # Rows mapped before the semantic index was ready (the window was closed meanwhile, or
        # an older term2id mapped them) are re-ranked with it now, in the background.
        rerank = self.mapping_controller.rerank
        QTimer.singleShot(0, lambda s=session: s is self.session and rerank())
        return True

    def _set_session(self, session: CurationSession | None) -> None:
        self.session = session
        for controller in (self.mapping_controller, self.review_controller, self.export_controller):
            controller.session = session

    def close_session(self) -> None:
        if self.session is None:
            return
        self.mapping_controller.close_session()
        self.save_view_state()
        for dialog in (self.agreement_dialog, self.several_ids_dialog):
            if dialog is not None:
                dialog.close()
        self.agreement_dialog = self.several_ids_dialog = None
        self.session.close()
        self._set_session(None)
        self.table_model.set_rows(ReviewTableModel().rows)
        self.panel.clear()
        self._current = None

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for recent in self.settings.recent_files:
            action = self.recent_menu.addAction(recent)
            action.triggered.connect(lambda _c=False, p=recent: self.open_path(Path(p)))

    def open_path(self, path: Path) -> None:
        if path.suffix == SESSION_SUFFIX:
            self.open_session(path)
        else:
            self.open_table(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_path(Path(urls[0].toLocalFile())))

    # -- stores -------------------------------------------------------------------------------

    def _store(self, name: str) -> OntologyStore | None:
        first = name.split(",")[0].strip()
        if not first:
            return None
        try:
            # Never builds the embedded default here, on the GUI thread: mapping does, in a worker.
            if self.catalog.exists(first):
                return self.catalog.open(first)
        except StoreError as exc:
            log.warning("store %s: %s", first, exc)
        return None

    def _missing_stores(self) -> list[str]:
        if self.session is None:
            return []
        return missing_stores(self.session.ontologies(), self.catalog.exists)

    def _check_stores(self) -> None:
        """A session whose store is missing: offer to import it; newer releases: re-verify."""
        missing = self._missing_stores()
        if missing:
            answer = QMessageBox.question(
                self,
                "Ontology store missing",
                f"This session maps to {', '.join(missing)}, which is not among your ontology "
                "stores. Its rows stay as they are. Import the ontology file now?",
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.open_settings(import_now=True)
            return
        if self.session is None:
            return
        stores = {n: s for n in self.session.mapping_provenance() if (s := self._store(n))}
        behind = self.session.releases_behind(stores)
        if behind:
            lines = "\n".join(f"{n}: {old} → {new}" for n, (old, new) in behind.items())
            answer = QMessageBox.question(
                self,
                "Newer ontology release",
                f"This session was mapped against older releases:\n{lines}\n\n"
                "Re-verify its ids now (obsolete and replaced ids are flagged)?",
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.reverify()

    def _refresh_verdicts(self) -> None:
        """Verdicts recorded before they tracked meaning are decided again on opening."""
        assert self.session is not None
        if not self.session.stale_verdict_rows():
            return
        stores = {n: s for n in self.session.mapping_provenance() if (s := self._store(n))}
        rechecked, changed = self.session.refresh_verdicts(stores)
        left = len(self.session.stale_verdict_rows())
        message = f"Verdicts of {len(rechecked):,} row(s) checked again: {len(changed):,} changed."
        if left:
            message += f" {left:,} row(s) keep old verdicts: their store is missing."
        self.statusBar().showMessage(message, 15000)

    # -- mapping ------------------------------------------------------------------------------

    def start_mapping(self, rows: Sequence[int] | None = None) -> Worker | None:
        """Map `rows` (default: every row without a result) in the background."""
        return self.mapping_controller.start_mapping(rows)

    def cancel_mapping(self) -> None:
        self.mapping_controller.cancel_mapping()

    @property
    def mapping(self) -> bool:
        return self.mapping_controller.mapping

    def _rows_mapped(self, results) -> None:
        for row, result in results:
            best = result.best
            self.table_model.update_result(
                row,
                result.status.value,
                best.curie if best else None,
                best.label if best else None,
                best.confidence if best else None,
            )
            if self._current is not None and self._current[0] == row:
                self._show_row(row)

    def _mapping_done(self, done: str) -> None:
        self.statusBar().showMessage(done, 8000)
        if self.table_model.filter.active or self.table_model.sort_column >= 0:
            self._keep_row(self.table_model.refilter)
        self._update_summary()

    def _run(self, worker: Worker) -> Worker:
        self._workers.add(worker)
        worker.signals.error.connect(lambda exc: show_error(self, exc))
        worker.signals.finished.connect(lambda: self._workers.discard(worker))
        self.pool.start(worker)
        return worker

    # -- the current row ----------------------------------------------------------------------

    def current_row(self) -> int | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.table_model.source_row(index.row())

    def select_row(self, row: int) -> None:
        position = self.table_model.view_row(row)
        if position < 0:
            position = 0 if self.table_model.rowCount() else -1
        if position >= 0:
            self.table.selectRow(position)
            self.table.scrollTo(self.table_model.index(position, 0))

    def move(self, step: int) -> None:
        count = self.table_model.rowCount()
        if not count:
            return
        index = self.table.currentIndex()
        position = index.row() + step if index.isValid() else 0
        self.table.selectRow(max(0, min(count - 1, position)))
        self.table.scrollTo(self.table.currentIndex())

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid() or self.session is None:
            return
        self._show_row(self.table_model.source_row(current.row()))
        self._view_state_timer.start()

    def _show_row(self, row: int) -> None:
        assert self.session is not None
        result = self.session.result(row)
        self._current = (row, result)
        query = self.session.query(row)
        review = self.review_controller.second_review_note(row)
        if result is None:
            self.panel.show_row(query.text, query.ontology, (), ("not mapped yet", *review))
        else:
            notes = (*result.notes, *review)
            self.panel.show_row(query.text, query.ontology, result.candidates, notes)

    def _before_reset(self) -> None:
        self._row_before_reset = self.current_row()

    def _after_reset(self) -> None:
        # Sorting and filtering reorder the table: the curator stays on the same input row.
        row, self._row_before_reset = self._row_before_reset, None
        if row is not None and row < len(self.table_model.rows):
            self.select_row(row)
        self._update_summary()

    def _keep_row(self, change: Callable[[], None]) -> None:
        """Apply a change that reorders the table, keeping the current row selected."""
        row = self.current_row()
        change()
        if row is not None:
            self.select_row(row)

    def _filter_changed(self, review_filter: ReviewFilter) -> None:
        self._keep_row(lambda: self.table_model.set_filter(review_filter))
        self._view_state_timer.start()

    def focus_search(self) -> None:
        self.panel.search_box.setFocus()
        self.panel.search_box.selectAll()

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

    # -- search -------------------------------------------------------------------------------

    def search(self, text: str) -> Worker | None:
        from term2id.core.curation import search_terms

        row = self.current_row()
        if not text.strip():
            return None
        ontology = (
            self.session.query(row).ontology
            if self.session is not None and row is not None
            else self.settings.default_ontology
        )
        stores = [s for n in ontology.split(",") if (s := self._store(n.strip()))]
        if not stores:
            self.statusBar().showMessage(f"No store named {ontology}.", 5000)
            return None
        mapper = self.mapping_controller.search_mapper(ontology)
        worker = Worker(search_terms, mapper, stores, text, ontology)
        worker.signals.result.connect(self._search_done)
        return self._run(worker)

    def _search_done(self, matches: list[TextMatch]) -> None:
        self.panel.results.set_matches(matches)
        if matches:
            self.panel.results_view.selectRow(0)
            self.panel.results_view.setFocus()
        else:
            self.statusBar().showMessage("Nothing found.", 4000)

    # -- re-verification ----------------------------------------------------------------------

    def reverify(self) -> list:
        if self.session is None:
            return []
        stores = {n: s for n in self.session.mapping_provenance() if (s := self._store(n))}
        flags = self.session.reverify(stores)
        if not flags:
            QMessageBox.information(self, "Re-verify", "Every mapped id is current.")
            return flags
        listed = "\n".join(
            f"row {f.row + 1}: {f.curie} {f.problem}"
            + (f" → {', '.join(f.replacements)}" if f.replacements else "")
            for f in flags[:30]
        )
        more = f"\n… and {len(flags) - 30} more" if len(flags) > 30 else ""
        QMessageBox.information(
            self,
            "Re-verify",
            f"{len(flags)} row(s) map to ids that changed:\n{listed}{more}\n\n"
            "They are mapped again against the current release.",
        )
        self.start_mapping([f.row for f in flags])
        return flags

    # -- export -------------------------------------------------------------------------------

    def _ask_path(self, title: str, suffix: str, file_filter: str) -> Path | None:
        suggestion = self.export_controller.suggestion(suffix)
        path, _ = QFileDialog.getSaveFileName(self, title, suggestion, file_filter)
        return Path(path) if path else None

    def export_sheet(self, path: Path | None = None) -> Path | None:
        if self.session is None:
            return None
        path = path or self._ask_path(
            "Export the sheet",
            "-mapped.xlsx",
            "Excel workbook (*.xlsx);;CSV (*.csv);;TSV (*.tsv)",
        )
        if path is None or (only := self._only_reviewed()) is None:
            return None
        return self._export(lambda: self.export_controller.export_sheet(path, only), path)

    def export_sssom(self, path: Path | None = None) -> Path | None:
        if self.session is None:
            return None
        path = path or self._ask_path(
            "Export SSSOM", ".sssom.tsv", "SSSOM TSV (*.sssom.tsv *.tsv)"
        )
        if path is None or (only := self._only_reviewed()) is None:
            return None
        return self._export(lambda: self.export_controller.export_sssom(path, only), path)

    def _only_reviewed(self) -> bool | None:
        """Whether exports keep only rows both curators agree on or settled; None (and a word
        why) when that is asked of a session no second curator reviewed."""
        if not self.only_reviewed_action.isChecked():
            return False
        if not self.export_controller.second_review_done():
            QMessageBox.information(
                self,
                "Export",
                "No second curator has reviewed this session, so no row is agreed or settled. "
                "Untick File → Export only rows both curators agree on or settled, or review it "
                "as the second curator first (Review → Second curator (blind)).",
            )
            return None
        return True

    def export_training(self, path: Path | None = None) -> Path | None:
        if self.session is None:
            return None
        path = path or self._ask_path(
            "Export training data", ".training.jsonl", "JSON lines (*.jsonl)"
        )
        if path is None:
            return None
        return self._export(lambda: self.export_controller.export_training(path), path)

    def _export(self, write: Callable[[], Any], path: Path) -> Path | None:
        try:
            count = write()
        except (Term2IdError, OSError) as exc:
            show_error(self, exc, "Export failed")
            return None
        self.statusBar().showMessage(f"Wrote {count} rows to {path}", 8000)
        return path

    def save_copy(self) -> None:
        if self.session is None:
            return
        path = self._ask_path("Save a copy", "-copy" + SESSION_SUFFIX, SESSION_FILTER)
        if path is not None:
            try:
                self.export_controller.save_copy(path)
            except Term2IdError as exc:
                show_error(self, exc)

    # -- settings -----------------------------------------------------------------------------

    def open_settings(self, import_now: bool = False) -> None:
        dialog = self.settings_dialog()
        if import_now:
            QTimer.singleShot(0, dialog._choose_import)
        dialog.exec()

    def settings_dialog(self):  # -> SettingsDialog
        """The settings dialog; once it closes, the next mapping uses what it changed."""
        from term2id.gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.catalog, self.settings, self)
        dialog.finished.connect(lambda result: self._settings_closed(dialog, result))
        return dialog

    def _settings_closed(self, dialog, result: int) -> None:
        if result or dialog.tuned:
            self.mapping_controller.settings_changed()

    # -- window -------------------------------------------------------------------------------

    def save_view_state(self) -> None:
        if self.session is None:
            return
        row = self.current_row()
        state = {
            "filter": self.table_model.filter.to_json(),
            "sort": [self.table_model.sort_column, self.table_model.sort_order.value],
            "second_curator": self.review_controller.review_view is ReviewView.SECOND,
        }
        if row is not None:
            state["current_row"] = row
        try:
            self.session.save_view_state(state)
        except Term2IdError as exc:
            log.warning("view state not saved: %s", exc)

    def _update_title(self) -> None:
        where = f" — {self.session.path.name}" if self.session else ""
        if self.session is not None and self.review_controller.review_view is ReviewView.SECOND:
            where += " — second curator (blind)"
        self.setWindowTitle(f"term2id {__version__}{where}")

    def _update_summary(self) -> None:
        rows = self.table_model.rows
        total = len(rows)
        if not total:
            self.summary_label.setText("")
            return
        decided = self.table_model.count_decided()
        verified = self.table_model.count_status(MappingStatus.VERIFIED.value)
        shown = self.table_model.rowCount()
        self.summary_label.setText(
            f"{shown:,} of {total:,} rows shown · {verified:,} verified · {decided:,} decided"
        )
        self.filter_bar.count.setText(f"{shown:,} / {total:,}")

    def _show_welcome(self) -> None:
        self.panel.details.setHtml(
            "<h3>Welcome to term2id</h3>"
            "<p>Open a table (Ctrl+O), drop a CSV/TSV/XLSX file here, or paste terms "
            "(Ctrl+Shift+V). Each term is mapped to verified ontology ids; you decide.</p>"
            "<p><b>Keys:</b> A accept · R reject · 1–9 choose · S skip · C comment · "
            "P predicate (exact, broad, narrow, close, related) · M several ids · "
            "J/K or arrows move · / search · Ctrl+Z undo · Ctrl+Shift+Z redo</p>"
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        self.mapping_controller.cancel_mapping()
        self.mapping_controller.abandon_preparing()
        self.pool.waitForDone(5000)
        self.close_session()
        self.review_controller.close()
        super().closeEvent(event)


def _warm_imports() -> None:
    import term2id.core.mapping.mapper  # noqa: F401
    import term2id.core.ontology.catalog  # noqa: F401


def main(paths: Sequence[str] = ()) -> int:
    """Start the application (`term2id gui [FILE]`)."""
    if sys.platform.startswith("linux") and not any(
        os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    ):
        # Qt would abort the process with a core dump; say what is missing instead.
        raise Term2IdError(
            "no display to open a window on (DISPLAY is not set); run it on a desktop, "
            "or use `term2id map` for headless mapping"
        )
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("term2id")
    app.setOrganizationName("term2id")
    window = MainWindow()
    window.show()
    # Warm the heavy imports in the background while the curator looks at the window.
    threading.Thread(target=_warm_imports, name="warm-imports", daemon=True).start()
    for path in paths[:1]:
        QTimer.singleShot(0, lambda p=path: window.open_path(Path(p)))
    return app.exec()
