"""Screenshots of predicates, several ids and a second curator, from real windows under Xvfb.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_review_screenshots.py

Maps a few terms against the embedded HPO (built into a temporary data folder) with the exact and
fuzzy sources, decides them as a first curator (a predicate, a row mapped to two ids), reviews
them blind as a second curator, and opens Review → Agreement. Each picture is taken from the X
server with ImageMagick's `import` (the window as it is on screen), found by its title with
`xdotool`; saves docs/screenshots/{several-ids,predicates,second-curator,agreement}.png.
"""

from __future__ import annotations

import csv
import subprocess
import sys

from screenshots_common import OUT, open_window, settle, wait_until_mapped

TERMS = [
    "Seizures",
    "Anaemia",
    "hypotonia and seizures",
    "big head",
    "Hearing loss",
    "floppy baby",
    "Short stature",
    "Cleft lip",
]


def shoot(app, title: str, name: str) -> None:
    """The on-screen window whose title starts with `title`, as X shows it."""
    settle(app, 0.8)
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", f"^{title}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    window_id = found.stdout.split()[-1]
    subprocess.run(["import", "-window", window_id, str(OUT / name)], check=True)


def main() -> int:
    shots = open_window(1440, 700, sources=("exact", "fuzzy"))
    app, window, settings, tmp = shots.app, shots.window, shots.settings, shots.tmp
    from PySide6.QtCore import Qt

    from term2id.core.curation.decision_log import Action
    from term2id.core.tables import open_table
    from term2id.gui.open_table_dialog import TableChoice

    sheet = tmp / "clinic.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient", "term"])
        writer.writerows([f"P{i:03}", t] for i, t in enumerate(TERMS, 1))
    window.start_from_table(TableChoice(open_table(sheet), sheet, "term", "hp"), tmp / "c.t2id")
    wait_until_mapped(app, window)

    # The first curator: accepts, says one mapping is only close, maps a row to two ids.
    window.select_row(0)
    for _ in range(2):
        window.decide(Action.ACCEPT)
    dialog = window.map_several()
    for i in range(dialog.list.count()):  # tick Hypotonia among the candidates
        item = dialog.list.item(i)
        checked = item.text().startswith("HP:0001252")
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
    dialog.typed.setText("HP:0001250")  # and Seizure, which no candidate is
    shoot(app, "Map to several ids", "several-ids.png")
    dialog.accept()
    window.select_row(3)
    for _ in range(5):
        window.decide(Action.ACCEPT)
    window.select_row(5)
    for _ in range(3):
        window.step_predicate(1)  # floppy baby: close to its id, not exact
    window.select_row(2)
    window.centralWidget().setSizes([1010, 430])  # room for the Decision column
    window.table.setColumnWidth(window.table_model.TERM, 170)
    window.table.setColumnWidth(window.table_model.LABEL, 170)
    window.table.setColumnWidth(window.table_model.DECISION, 330)
    shoot(app, "term2id", "predicates.png")

    # The second curator, blind, on the same session.
    settings.curator_name = "Bea Reviewer"
    settings.curator_orcid = "0000-0001-5109-3700"
    window.set_second_curator(True)
    window.select_row(0)
    window.decide(Action.ACCEPT)
    window.decide(Action.ACCEPT)
    window.decide(Action.REJECT)  # hypotonia and seizures
    window.decide(Action.ACCEPT)
    window.choose(2)  # Hearing loss: another candidate
    window.decide(Action.ACCEPT)
    window.select_row(2)
    shoot(app, "term2id", "second-curator.png")

    agreement = window.open_agreement()
    agreement.move(120, 80)
    shoot(app, "Agreement of two curators", "agreement.png")
    agreement.close()
    window.close()
    names = ("several-ids.png", "predicates.png", "second-curator.png", "agreement.png")
    print("\n".join(str(OUT / n) for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
