"""The settings dialog: curator, mapping threshold and sources, ontology stores (with import
and embedding tuning), and the local language model."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from term2id.core.errors import StoreError, Term2IdError
from term2id.core.mapping import UNTRUSTED_GGUF_WARNING
from term2id.core.ontology import StoreCatalog
from term2id.gui.errors import show_error
from term2id.gui.settings import GuiSettings
from term2id.gui.tuning import EmbeddingTuningProcess
from term2id.gui.workers import TimeLeft, Worker

_ORCID_RE = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")


class SettingsDialog(QDialog):
    """Curator, mapping threshold, ontology stores (with import), local model."""

    def __init__(
        self, catalog: StoreCatalog, settings: GuiSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.resize(640, 560)
        self._catalog = catalog
        self._settings = settings
        self._worker: Worker | None = None

        curator = QGroupBox("Curator")
        curator_form = QFormLayout(curator)
        self.name = QLineEdit(settings.curator_name, objectName="curatorName")
        self.orcid = QLineEdit(settings.curator_orcid, objectName="curatorOrcid")
        self.orcid.setPlaceholderText("0000-0002-1825-0097")
        curator_form.addRow("Name:", self.name)
        curator_form.addRow("ORCID:", self.orcid)

        mapping = QGroupBox("Mapping")
        mapping_form = QFormLayout(mapping)
        self.threshold = QDoubleSpinBox(objectName="threshold")
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(settings.threshold)
        self.threshold.setToolTip(
            "The term's own name (a label or an exact synonym) at this confidence or above is "
            "accepted without you. A reworded name waits for you, however likely, unless the "
            "threshold is below 0.9. Calibrated confidences stop a little below 1: at 1, only "
            "the ids you accepted before are."
        )
        mapping_form.addRow("Auto-accept threshold:", self.threshold)
        self.use_tuned = QCheckBox(
            "Use a store's tuned sentence model when it has one", objectName="useTunedModels"
        )
        self.use_tuned.setToolTip(
            "Off: every store is searched with the packaged all-MiniLM-L6-v2, which measured at "
            "least as well on real mentions. A tuned model is made with Tune for this ontology."
        )
        self.use_tuned.setChecked(settings.tuned_embeddings)
        self.use_tuned.toggled.connect(lambda _on: self.refresh_stores())
        mapping_form.addRow(self.use_tuned)
        self.use_memory = QCheckBox(
            "Propose what curators decided before for the same terms (mapping memory)",
            objectName="useMemory",
        )
        self.use_memory.setToolTip(
            "Every decision is remembered in this data folder; the next sheet with the same term "
            "gets the accepted id first, and a rejected id is never accepted automatically."
        )
        self.use_memory.setChecked(settings.use_memory)
        mapping_form.addRow(self.use_memory)

        stores = QGroupBox("Ontology stores")
        stores_layout = QVBoxLayout(stores)
        self.stores = QListWidget(objectName="storeList")
        import_button = QPushButton("Import an OBO / OWL / HGNC file…")
        import_button.setObjectName("importStore")
        self.import_progress = QProgressBar(objectName="importProgress")
        self.import_progress.setVisible(False)
        self.tune_button = QPushButton("Tune for this ontology", objectName="tuneStore")
        self.tune_button.setToolTip(
            "Fine-tune the sentence model on the selected store's own synonyms and definitions, "
            "in the background (minutes for a large ontology)."
        )
        self.tune_progress = QProgressBar(objectName="tuneProgress")
        self.tune_cancel = QPushButton("Cancel", objectName="cancelTuning")
        self.tune_status = QLabel(objectName="tuneStatus")
        self.tune_status.setWordWrap(True)
        tune_row = QHBoxLayout()
        tune_row.addWidget(self.tune_progress, 1)
        tune_row.addWidget(self.tune_cancel)
        for widget in (self.tune_progress, self.tune_cancel):
            widget.setVisible(False)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(import_button)
        buttons_row.addWidget(self.tune_button)
        buttons_row.addStretch(1)
        stores_layout.addWidget(self.stores)
        stores_layout.addLayout(buttons_row)
        stores_layout.addWidget(self.import_progress)
        stores_layout.addLayout(tune_row)
        stores_layout.addWidget(self.tune_status)
        self._tuning: EmbeddingTuningProcess | None = None
        self.tuned: set[str] = set()  # stores tuned while the dialog was open
        self.refresh_stores()
        self.stores.currentRowChanged.connect(lambda _row: self._update_tune_button())
        self.tune_button.clicked.connect(self._tune_selected)
        self.tune_cancel.clicked.connect(self.cancel_tuning)

        model = QGroupBox("Local language model (optional)")
        model_form = QFormLayout(model)
        self.model_path = QLineEdit(settings.model_path, objectName="modelPath")
        self.adapter_path = QLineEdit(settings.adapter_path, objectName="adapterPath")
        self.threads = QSpinBox(objectName="modelThreads")
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("automatic")
        self.threads.setValue(settings.model_threads)
        self.server_url = QLineEdit(settings.server_url, objectName="serverUrl")
        self.server_url.setPlaceholderText("http://127.0.0.1:8080 (a llama.cpp server)")
        model_form.addRow("GGUF model file:", _with_browse(self.model_path, "GGUF (*.gguf)"))
        model_form.addRow("LoRA adapter (GGUF):", _with_browse(self.adapter_path, "GGUF (*.gguf)"))
        model_form.addRow("Threads:", self.threads)
        model_form.addRow("…or server URL:", self.server_url)
        warning = QLabel(f"⚠ {UNTRUSTED_GGUF_WARNING}")
        warning.setWordWrap(True)
        warning.setObjectName("ggufWarning")
        model_form.addRow(warning)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for group in (curator, mapping, stores, model):
            layout.addWidget(group)
        layout.addWidget(buttons)
        import_button.clicked.connect(self._choose_import)

    def refresh_stores(self) -> None:
        selected = self.selected_store()
        self.stores.clear()
        use_tuned = self.use_tuned.isChecked()
        for name in self._catalog.names():
            try:
                store = self._catalog.open(name)
                info = store.info
                text = (
                    f"{name} — {info.title or info.ontology_id or ''} release "
                    f"{info.data_version or '?'} · {info.term_count:,} terms\n"
                    f"    sentence model: {sentence_model_text(store, use_tuned)}"
                )
            except StoreError as exc:
                text = f"{name} — cannot be opened: {exc}"
            self._add_store_item(name, text)
        if "hp" not in self._catalog.names():
            self._add_store_item(
                "hp",
                "hp — the embedded HPO (built on first use)\n"
                "    sentence model: all-MiniLM-L6-v2 (packaged)",
            )
        names = [
            self.stores.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.stores.count())
        ]
        if selected in names:
            self.stores.setCurrentRow(names.index(selected))
        self._update_tune_button()

    def _add_store_item(self, name: str, text: str) -> None:
        self.stores.addItem(text)
        self.stores.item(self.stores.count() - 1).setData(Qt.ItemDataRole.UserRole, name)

    def selected_store(self) -> str | None:
        item = self.stores.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    # -- tuning a store's sentence model ------------------------------------------------------

    def _update_tune_button(self) -> None:
        running = self._tuning is not None and self._tuning.running
        from term2id.core.mapping import semantic_missing

        available = semantic_missing() is None
        self.tune_button.setEnabled(self.selected_store() is not None and not running and available)
        if not available:
            self.tune_button.setToolTip("Needs the semantic and train extras installed")

    def _tune_selected(self) -> None:
        name = self.selected_store()
        if name is not None:
            self.tune_store(name)

    def tune_store(self, name: str) -> EmbeddingTuningProcess:
        """Tune `name`'s sentence model in a child process, with progress in the dialog."""
        process = EmbeddingTuningProcess(name, self._catalog.data_dir, self)
        process.progress.connect(self._tuning_progress)
        process.finished.connect(lambda ok, message: self._tuning_finished(process, ok, message))
        self._tuning = process
        self._tune_time_left = TimeLeft()
        self.tune_progress.setRange(0, 0)  # busy until the first step is counted
        self.tune_progress.setFormat("")
        for widget in (self.tune_progress, self.tune_cancel):
            widget.setVisible(True)
        self.tune_status.setText(f"Tuning the sentence model of {name}: starting…")
        process.start()
        self._update_tune_button()
        return process

    def cancel_tuning(self) -> None:
        if self._tuning is not None:
            self._tuning.cancel()

    @property
    def tuning(self) -> bool:
        return self._tuning is not None and self._tuning.running

    def _tuning_progress(self, done: int, total: int, message: str) -> None:
        process = self._tuning
        if process is None:
            return
        if total > 0:
            self.tune_progress.setRange(0, total)
            self.tune_progress.setValue(done)
            self.tune_progress.setFormat("step %v of %m")
        left = self._tune_time_left.update(done, total)
        self.tune_status.setText(
            f"Tuning the sentence model of {process.store}: {message}"
            + (f" · {left}" if left else "")
        )

    def _tuning_finished(self, process: EmbeddingTuningProcess, ok: bool, message: str) -> None:
        if process is not self._tuning:
            return
        for widget in (self.tune_progress, self.tune_cancel):
            widget.setVisible(False)
        if ok:
            self.tuned.add(process.store)
            # Tuned on purpose: the next mapping uses it, and the curator is told how to go back.
            self._settings.tuned_embeddings = True
            self.use_tuned.setChecked(True)
            message += (
                f" The next mapping of {process.store} uses it (“Use a store's tuned sentence "
                "model” is now on; untick it to go back to the packaged model)."
            )
        self.tune_status.setText(message)
        self.refresh_stores()

    def done(self, result: int) -> None:
        if self.tuning:
            answer = QMessageBox.question(
                self,
                "Tuning is running",
                "The sentence model is still being tuned. Stop tuning and close?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
            self.cancel_tuning()
        super().done(result)

    def accept(self) -> None:
        orcid = self.orcid.text().strip()
        if orcid and not _ORCID_RE.match(orcid):
            show_error(self, Term2IdError(f"{orcid!r} is not an ORCID (0000-0000-0000-000X)"))
            return
        s = self._settings
        s.curator_name = self.name.text()
        s.curator_orcid = orcid
        s.threshold = self.threshold.value()
        s.tuned_embeddings = self.use_tuned.isChecked()
        s.use_memory = self.use_memory.isChecked()
        s.model_path = self.model_path.text()
        s.adapter_path = self.adapter_path.text()
        s.model_threads = self.threads.value()
        s.server_url = self.server_url.text()
        super().accept()

    # -- importing a store --------------------------------------------------------------------

    def _choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import an ontology",
            "",
            "Ontologies (*.obo *.owl *.json *.tsv *.txt *.gz);;All files (*)",
        )
        if not path:
            return
        default = Path(path).name.split(".")[0].lower()
        name, ok = QInputDialog.getText(self, "Store name", "Name of the store:", text=default)
        if ok and name.strip():
            self.import_store(Path(path), name.strip())

    def import_store(self, path: Path, name: str) -> Worker:
        """Import `path` as store `name` in a worker, with progress in the dialog."""
        worker = Worker(self._catalog.import_file, path, name)
        worker.signals.progress.connect(self._import_progress)
        worker.signals.result.connect(lambda _p: self.refresh_stores())
        worker.signals.error.connect(lambda exc: show_error(self, exc))
        worker.signals.finished.connect(lambda: self.import_progress.setVisible(False))
        self.import_progress.setRange(0, 0)
        self.import_progress.setVisible(True)
        self._worker = worker
        QThreadPool.globalInstance().start(worker)
        return worker

    def _import_progress(self, done: int, total: int, message: str) -> None:
        self.import_progress.setRange(0, max(total, 0))
        self.import_progress.setValue(done)
        self.import_progress.setFormat(f"{message} %v/%m")


def sentence_model_text(store, use_tuned: bool) -> str:  # store: OntologyStore
    """Which sentence model the semantic source searches `store` with, in words."""
    from term2id.core.mapping import MODEL_NAME, SEMANTIC_EXTRA, semantic_missing, tuned_model_of

    missing = semantic_missing()
    if missing is not None:
        return f"{MODEL_NAME} — not usable here ({missing}: {SEMANTIC_EXTRA})"
    tuned = tuned_model_of(store)
    if tuned is None:
        return f"{MODEL_NAME} (packaged)"
    if use_tuned:
        return tuned.description
    return f"{MODEL_NAME} (packaged; a model tuned on {tuned.tuned_on} is there, not in use)"


def _with_browse(edit: QLineEdit, file_filter: str) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    button = QPushButton("…")
    button.setFixedWidth(32)
    layout.addWidget(edit)
    layout.addWidget(button)

    def browse() -> None:
        chosen, _ = QFileDialog.getOpenFileName(holder, "Choose a file", "", file_filter)
        if chosen:
            edit.setText(chosen)

    button.clicked.connect(browse)
    return holder
