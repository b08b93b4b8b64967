"""GUI fixtures: an offscreen Qt platform, settings in a temporary INI file, a main window."""

from __future__ import annotations

import os

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
