"""The Mapping menu's actions of the main window and what follows them: mapping and its results
in the table, the session checked against the installed stores (missing ones, newer releases,
verdicts to refresh), re-verification and the ontology search.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QMessageBox

from term2id.core.curation import missing_stores
from term2id.core.ontology import TextMatch
from term2id.gui.workers import Worker


class MappingActions:
    """Mixed into MainWindow: mapping, store checks, re-verification and search."""

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
        stores = self._session_stores()
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
        stores = self._session_stores()
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
        stores = self._session_stores()
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
