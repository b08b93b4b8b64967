"""What the screenshot scripts share: a real main window over the embedded HPO, built into a
temporary data folder, with a named curator; and waiting for the window while Qt runs."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "screenshots"


@dataclass
class Shots:
    """The running application, its main window and what it was built with."""

    app: Any  # a QApplication
    window: Any  # a MainWindow
    catalog: Any  # a StoreCatalog
    settings: Any  # a GuiSettings
    tmp: Path  # the temporary folder holding the data folder and the settings


def open_window(width: int, height: int, sources: tuple[str, ...] | None = None) -> Shots:
    """A shown main window of `width` x `height` for the curator Ada Curator; docs/screenshots made."""
    tmp = Path(tempfile.mkdtemp(prefix="term2id-shots-"))
    # Set before term2id is imported: the window reads its data folder from it.
    os.environ["TERM2ID_DATA_DIR"] = str(tmp / "data")
    from PySide6.QtCore import QSettings, QThreadPool
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    app.setApplicationName("term2id")
    from term2id.core.ontology.catalog import StoreCatalog
    from term2id.gui.app import MainWindow
    from term2id.gui.settings import GuiSettings

    settings = GuiSettings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    settings.curator_name = "Ada Curator"
    settings.curator_orcid = "0000-0002-1825-0097"
    if sources is not None:
        settings.sources = sources
    catalog = StoreCatalog(tmp / "data")
    catalog.build_default()
    window = MainWindow(catalog, settings, QThreadPool())
    window.resize(width, height)
    window.show()
    OUT.mkdir(parents=True, exist_ok=True)
    return Shots(app, window, catalog, settings, tmp)


def wait(app, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def wait_until_mapped(app, window) -> None:
    """Until the window's session has every row mapped."""
    wait(app, lambda: window.session is not None and not window.mapping
         and len(window.session.mapped_rows()) == len(window.session))  # fmt: skip


def settle(app, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
