"""GUI fixtures: an offscreen Qt platform, settings in a temporary INI file, a main window, and a
sheet of terms opened in it and mapped."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, QThreadPool  # noqa: E402

from term2id.core.ontology.catalog import StoreCatalog  # noqa: E402
from term2id.gui.settings import GuiSettings  # noqa: E402


@pytest.fixture
def gui_settings(tmp_path: Path) -> GuiSettings:
    settings = GuiSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.curator_name = "Ada Curator"
    settings.curator_orcid = "0000-0002-1825-0097"
    # GUI tests mean the lexical sources unless they say otherwise (the semantic source's own
    # tests set `sources = None`, the default): no test embeds an ontology by accident.
    settings.sources = ("exact", "fuzzy")
    return settings


@pytest.fixture
def window(qtbot, tiny_catalog: StoreCatalog, gui_settings: GuiSettings):
    from term2id.gui.app import MainWindow

    main = MainWindow(tiny_catalog, gui_settings, QThreadPool())
    qtbot.addWidget(main)
    main.show()
    main.activateWindow()
    qtbot.waitExposed(main)
    yield main
    main.cancel_mapping()
    main.pool.waitForDone(10000)
    main.close_session()


@pytest.fixture
def map_sheet(qtbot, window):
    """A function that writes `terms` to a CSV sheet at `path` (a phenotype column, after a
    patient column when `patients`), opens it in the window for the tiny store through the open
    dialog, and waits until every row is mapped; it returns the dialog."""

    def write_open_and_map(path: Path, terms: Sequence[str], patients: bool = False):
        from term2id.gui.open_table_dialog import OpenTableDialog

        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["patient", "phenotype"] if patients else ["phenotype"])
            writer.writerows([f"P{i}", t] if patients else [t] for i, t in enumerate(terms))
        dialog = OpenTableDialog(window.catalog, window.settings, window, path=path)
        qtbot.addWidget(dialog)
        dialog.ontology.setCurrentText("tiny")
        choice = dialog.choice()
        assert choice is not None
        window.start_from_table(choice)
        qtbot.waitUntil(
            lambda: (
                window.session is not None
                and window.session.source_path == str(path)
                and not window.mapping
                and len(window.session.mapped_rows()) == len(terms)
            ),
            timeout=30000,
        )
        return dialog

    return write_open_and_map
