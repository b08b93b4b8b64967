"""The File menu's actions of the main window: opening a table, pasted terms, a session or a
recent file, the exports and a copy of the session, and the settings dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from term2id.core.curation import SESSION_SUFFIX
from term2id.core.errors import Term2IdError
from term2id.gui.errors import show_error
from term2id.gui.workers import Worker

SESSION_FILTER = f"term2id sessions (*{SESSION_SUFFIX});;All files (*)"


class FileActions:
    """Mixed into MainWindow: the slots of the File menu."""

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
        path = path or self._ask_path("Export SSSOM", ".sssom.tsv", "SSSOM TSV (*.sssom.tsv *.tsv)")
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
