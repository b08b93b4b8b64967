"""README screenshots from the real application in a real window (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

Maps the shipped example sheet against the embedded HPO (built into a temporary data folder),
makes a few decisions, and saves docs/screenshots/{review,open,settings}.png.
"""

from __future__ import annotations

import sys
from importlib.resources import as_file, files
from pathlib import Path

from screenshots_common import OUT, open_window, settle, wait_until_mapped


def main() -> int:
    shots = open_window(1440, 820)
    app, window, catalog, settings, tmp = (
        shots.app, shots.window, shots.catalog, shots.settings, shots.tmp
    )  # fmt: skip
    from term2id.core.curation.decision_log import Action
    from term2id.core.tables import open_table
    from term2id.gui.open_table_dialog import OpenTableDialog, TableChoice
    from term2id.gui.settings_dialog import SettingsDialog

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
    wait_until_mapped(app, window)
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
