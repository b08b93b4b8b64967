"""The open-table dialog: a file (chosen, dropped or recent) or pasted terms, previewed, with
the term column and the ontology to map to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from term2id.core.errors import Term2IdError
from term2id.core.ontology import StoreCatalog
from term2id.gui.settings import GuiSettings

TABLE_FILTER = "Tables (*.csv *.tsv *.tab *.txt *.xlsx *.xlsm);;All files (*)"
NONE = "(none)"
PREVIEW_ROWS = 20


@dataclass(frozen=True, slots=True)
class TableChoice:
    """What the open dialog chose: the table and how to read it."""

    table: object  # term2id.core.tables.Table
    path: Path | None  # None for pasted text
    term_column: str
    default_ontology: str
    context_column: str | None = None
    ontology_column: str | None = None
    sheet: str | None = None


class OpenTableDialog(QDialog):
    def __init__(
        self,
        catalog: StoreCatalog,
        settings: GuiSettings,
        parent: QWidget | None = None,
        path: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("openTableDialog")
        self.setWindowTitle("Open terms to map")
        self.setAcceptDrops(True)
        self.resize(820, 600)
        self._settings = settings
        self._table = None
        self._path: Path | None = None

        self.tabs = QTabWidget()
        file_tab = QWidget()
        file_layout = QVBoxLayout(file_tab)
        row = QHBoxLayout()
        self.path_edit = QLineEdit(placeholderText="A CSV, TSV or XLSX file — or drop one here")
        self.path_edit.setObjectName("pathEdit")
        browse = QPushButton("Browse…")
        row.addWidget(self.path_edit)
        row.addWidget(browse)
        file_layout.addLayout(row)
        self.recent = QComboBox(objectName="recentFiles")
        self.recent.addItem("Recent files…", "")
        for recent in settings.recent_files:
            self.recent.addItem(recent, recent)
        file_layout.addWidget(self.recent)
        sheet_row = QHBoxLayout()
        sheet_row.addWidget(QLabel("Sheet:"))
        self.sheet = QComboBox(objectName="sheet")
        self.sheet.setEnabled(False)
        sheet_row.addWidget(self.sheet, 1)
        file_layout.addLayout(sheet_row)
        file_layout.addStretch(1)
        paste_tab = QWidget()
        paste_layout = QVBoxLayout(paste_tab)
        self.paste = QPlainTextEdit(objectName="pasteEdit")
        self.paste.setPlaceholderText(
            "Paste terms, one per line, or cells copied from a spreadsheet"
        )
        self.paste.setMaximumHeight(140)  # the preview below shows what was pasted
        self.paste_header = QCheckBox("The first line holds column names")
        paste_layout.addWidget(self.paste)
        paste_layout.addWidget(self.paste_header)
        self.tabs.addTab(file_tab, "File")
        self.tabs.addTab(paste_tab, "Paste terms")

        self.tabs.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.preview = QTableWidget(objectName="preview")
        self.preview.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.preview.setWordWrap(False)
        self.preview.horizontalHeader().setStretchLastSection(True)
        self.message = QLabel(objectName="openMessage")
        self.message.setWordWrap(True)

        form = QFormLayout()
        self.term_column = QComboBox(objectName="termColumn")
        self.context_column = QComboBox(objectName="contextColumn")
        self.ontology = QComboBox(objectName="ontology")
        self.ontology.setEditable(True)
        for name in catalog.available():
            self.ontology.addItem(name)
        self.ontology.setCurrentText(settings.default_ontology)
        self.ontology_column = QComboBox(objectName="ontologyColumn")
        form.addRow("Term column:", self.term_column)
        form.addRow("Context column (optional):", self.context_column)
        form.addRow("Target ontology:", self.ontology)
        form.addRow("…or an ontology column:", self.ontology_column)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Map")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(QLabel("Preview:"))
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

        browse.clicked.connect(self._browse)
        self.path_edit.editingFinished.connect(lambda: self.load_path(self.path_edit.text()))
        self.recent.activated.connect(self._recent_chosen)
        self.sheet.activated.connect(lambda: self.load_path(self.path_edit.text()))
        self.paste.textChanged.connect(self._load_paste)
        self.paste_header.toggled.connect(self._load_paste)
        self._update_ok()
        if path is not None:
            self.load_path(str(path))

    # -- loading ------------------------------------------------------------------------------

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Open a table", "", TABLE_FILTER)
        if chosen:
            self.load_path(chosen)

    def _recent_chosen(self, index: int) -> None:
        path = self.recent.itemData(index)
        if path:
            self.load_path(path)

    def load_path(self, text: str) -> None:
        from term2id.core import tables  # lazily: openpyxl is not needed to start

        text = text.strip()
        if not text:
            return
        path = Path(text).expanduser()
        self.tabs.setCurrentIndex(0)
        self.path_edit.setText(str(path))
        sheet = self.sheet.currentText() if self.sheet.isEnabled() and path == self._path else None
        try:
            try:
                result = tables.preview(path, PREVIEW_ROWS, sheet=sheet or None)
            except tables.SheetNotChosenError as several:
                # Show the first sheet; the sheet list offers the others.
                result = tables.preview(path, PREVIEW_ROWS, sheet=several.sheets[0])
        except Term2IdError as exc:
            self._show_failure(exc)
            return
        self._path = path
        info = result.info
        self.sheet.clear()
        self.sheet.setEnabled(bool(info.sheets))
        for name in info.sheets:
            self.sheet.addItem(name)
        if info.sheet:
            self.sheet.setCurrentText(info.sheet)
        self._table = tables.open_table(path, sheet=info.sheet)
        self._show_preview(info.columns, [r.cells for r in result.rows], result.warnings)

    def _load_paste(self) -> None:
        from term2id.core import tables

        text = self.paste.toPlainText()
        if not text.strip():
            self._table = None
            self._update_ok()
            return
        try:
            table = tables.read_pasted(text, header=self.paste_header.isChecked())
        except Term2IdError as exc:
            self._show_failure(exc)
            return
        self._path = None
        self._table = table
        rows = []
        for row in table.rows():
            if len(rows) >= PREVIEW_ROWS:
                break
            rows.append(row.cells)
        self._show_preview(table.columns, rows, ())

    def _show_failure(self, error: Term2IdError) -> None:
        self._table = None
        self.preview.clear()
        self.preview.setRowCount(0)
        self.preview.setColumnCount(0)
        self.message.setText(f"<span style='color:#a00'>{error}</span>")
        self._update_ok()

    def _show_preview(self, columns, rows, warnings) -> None:
        from term2id.core.tables import cell_text

        self.preview.clear()
        self.preview.setColumnCount(len(columns))
        self.preview.setHorizontalHeaderLabels(list(columns))
        self.preview.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, cell in enumerate(cells[: len(columns)]):
                self.preview.setItem(r, c, QTableWidgetItem(cell_text(cell)))
        self.preview.resizeColumnsToContents()
        self.message.setText("\n".join(warnings[:3]))
        for combo, optional in (
            (self.term_column, False),
            (self.context_column, True),
            (self.ontology_column, True),
        ):
            combo.clear()
            if optional:
                combo.addItem(NONE)
            combo.addItems(list(columns))
        self.term_column.setCurrentIndex(_guess_term_column(columns))
        context = next(
            (i for i, c in enumerate(columns) if c.casefold() in ("context", "notes", "note")), -1
        )
        self.context_column.setCurrentIndex(context + 1)
        self._update_ok()

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(self._table is not None)

    # -- drag and drop ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.load_path(urls[0].toLocalFile())
            event.acceptProposedAction()

    # -- the answer ---------------------------------------------------------------------------

    def choice(self) -> TableChoice | None:
        if self._table is None:
            return None
        context = self.context_column.currentText()
        ontology_column = self.ontology_column.currentText()
        return TableChoice(
            table=self._table,
            path=self._path,
            term_column=self.term_column.currentText(),
            default_ontology=self.ontology.currentText().strip() or "hp",
            context_column=None if context in ("", NONE) else context,
            ontology_column=None if ontology_column in ("", NONE) else ontology_column,
            sheet=self._table.info.sheet,
        )


def _guess_term_column(columns) -> int:
    for word in ("term", "phenotype", "label", "name", "gene"):  # the likeliest first
        for i, name in enumerate(columns):
            if word in name.casefold():
                return i
    return 0
