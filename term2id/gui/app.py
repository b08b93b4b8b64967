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
    QLabel,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from term2id import __version__
from term2id.core.candidates import MappingResult, MappingStatus
from term2id.core.curation import Action, CurationSession, ReviewView, prepare_same_term
from term2id.core.errors import StoreError, Term2IdError
from term2id.gui.errors import show_error
from term2id.gui.export_controller import ExportController
from term2id.gui.file_actions import FileActions
from term2id.gui.mapping_actions import MappingActions
from term2id.gui.mapping_controller import MappingController
from term2id.gui.mapping_indicators import MappingIndicators
from term2id.gui.models import ReviewFilter, ReviewTableModel
from term2id.gui.review_actions import ReviewActions
from term2id.gui.review_controller import ReviewController
from term2id.gui.settings import GuiSettings
from term2id.gui.views import CandidatePanel, FilterBar, ReviewTableView
from term2id.gui.workers import Worker

if TYPE_CHECKING:
    # Imported when first used: the store module pulls in sqlite-utils, which imports pandas
    # when it is installed (about a second), and the window must appear before that.
    from term2id.core.ontology import OntologyStore, StoreCatalog

log = logging.getLogger(__name__)

VIEW_STATE_DELAY_MS = 400


class MainWindow(FileActions, MappingActions, ReviewActions, QMainWindow):
    """The window: its layout, menus and signals; what each menu does is in its actions module,
    and the work without widgets in the controllers."""

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

        # The work without widgets: each controller says through signals what to show.
        self.mapping_controller = MappingController(
            lambda: self.catalog, self.settings, self.pool, self
        )
        self.review_controller = ReviewController(
            lambda: self.catalog,
            self.settings,
            self.table_model,
            self.undo_stack,
            self._store,
            self._confirm_choice,
            self,
        )
        self.export_controller = ExportController(self._session_stores)
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

    def _session_stores(self) -> dict[str, OntologyStore]:
        """The installed stores the open session was mapped against, by name."""
        assert self.session is not None
        return {n: s for n in self.session.mapping_provenance() if (s := self._store(n))}

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
