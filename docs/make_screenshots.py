"""README screenshots from the real application in a real window (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

Maps the shipped example sheet against the embedded HPO (built into a temporary data folder),
makes a few decisions, and saves docs/screenshots/{review,open,settings}.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from importlib.resources import as_file, files
from pathlib import Path

OUT = Path(__file__).resolve().parent / "screenshots"


def wait(app, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def settle(app, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="term2id-shots-"))
    os.environ["TERM2ID_DATA_DIR"] = str(tmp / "data")
    from PySide6.QtCore import QSettings, QThreadPool
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    app.setApplicationName("term2id")
    from term2id.core.curation.decision_log import Action
    from term2id.core.ontology.catalog import StoreCatalog
    from term2id.core.tables import open_table
    from term2id.gui.app import MainWindow
    from term2id.gui.open_table_dialog import OpenTableDialog, TableChoice
    from term2id.gui.settings import GuiSettings
    from term2id.gui.settings_dialog import SettingsDialog

    settings = GuiSettings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    settings.curator_name = "Ada Curator"
    settings.curator_orcid = "0000-0002-1825-0097"
    catalog = StoreCatalog(tmp / "data")
    catalog.build_default()
    window = MainWindow(catalog, settings, QThreadPool())
    window.resize(1440, 820)
    window.show()
    OUT.mkdir(parents=True, exist_ok=True)

    with as_file(files("term2id") / "resources" / "example_terms.csv") as example:
        sheet = tmp / "example_terms.csv"
        sheet.write_bytes(Path(example).read_bytes())
    dialog = OpenTableDialog(catalog, settings, window, path=sheet)
    dialog.show()
    settle(app)
    dialog.grab().save(str(OUT / "open.png"))
    dialog.close()

    table = open_table(sheet)
    window.start_from_table(
        TableChoice(table, sheet, "term", "hp", context_column="notes"), tmp / "example.t2id"
    )
    wait(app, lambda: window.session is not None and not window.mapping
         and len(window.session.mapped_rows()) == len(window.session))  # fmt: skip
    window.select_row(0)
    window.decide(Action.ACCEPT)
    window.decide(Action.ACCEPT)
    window.decide(Action.SKIP)
    # Show a row with several candidates, the second one highlighted.
    rows = window.table_model.rows
    many = next(
        (
            r
            for r in range(len(rows))
            if rows.decisions[r] is None
            and (res := window.session.result(r))
            and len(res.candidates) >= 3
        ),
        3,
    )
    window.select_row(many)
    settle(app)
    window.panel.candidate_view.selectRow(1 if window.panel.candidates.rowCount() > 1 else 0)
    settle(app, 0.5)
    window.grab().save(str(OUT / "review.png"))

    settings_dialog = SettingsDialog(catalog, settings, window)
    settings_dialog.show()
    settle(app)
    settings_dialog.grab().save(str(OUT / "settings.png"))
    settings_dialog.close()
    window.close()
    print("\n".join(str(p) for p in sorted(OUT.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
