"""How a row maps (predicate key, several ids) and a blind second curator with the agreement
dialog, as curators do it in the window."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

from term2id.core.candidates import MappingPredicate
from term2id.core.curation.decision_log import ReviewRound

TERMS = ["Seizure", "Anaemia", "Oedema", "Intellectual disability", "qwxz nothing like it"]
NO = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def key(qtbot, window, k, modifier=NO) -> None:
    qtbot.keyClick(window.table, k, modifier)


def decision_cell(window, row: int) -> str:
    table_model = window.table_model
    return table_model.index(table_model.view_row(row), table_model.DECISION).data()


def test_predicate_key_and_several_ids(qtbot, window, map_sheet, tmp_path: Path) -> None:
    map_sheet(tmp_path / "patients.csv", TERMS, patients=True)
    window.select_row(0)
    window.table.setFocus()
    key(qtbot, window, Qt.Key.Key_A)  # accept Seizure, move on
    key(qtbot, window, Qt.Key.Key_K)  # back to it
    key(qtbot, window, Qt.Key.Key_P)
    assert window.session.current_decision(0).predicate is MappingPredicate.BROAD
    assert decision_cell(window, 0) == "accepted · broad"
    assert "broader than the term" in window.statusBar().currentMessage()
    key(qtbot, window, Qt.Key.Key_P)
    key(qtbot, window, Qt.Key.Key_P, SHIFT)  # back one: broad again
    assert window.table_model.rows.decided_predicates[0] == "broad"
    key(qtbot, window, Qt.Key.Key_Z, CTRL)  # undo the step back
    assert window.table_model.rows.decided_predicates[0] == "narrow"
    assert window.current_row() == 0

    # M: the row maps to Seizure and, typed by hand, Focal seizure too.
    key(qtbot, window, Qt.Key.Key_M)
    dialog = window.several_ids_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.ids() == ["TP:0000003"]  # what the row maps to now, ticked
    assert dialog.warning.text() == ""
    qtbot.keyClicks(dialog.typed, "TP:0000004")
    assert dialog.ids() == ["TP:0000003", "TP:0000004"]
    assert "One-to-many: this row will map to 2 ids" in dialog.warning.text()
    dialog.accept()
    decided = window.session.current_decision(0)
    assert (decided.curie, decided.also, decided.predicate) == (
        "TP:0000003", ("TP:0000004",), MappingPredicate.NARROW,
    )  # fmt: skip
    assert decision_cell(window, 0) == "accepted · narrow +1 id"
    assert "one-to-many" in window.statusBar().currentMessage()

    # P on a row not mapped to an id writes nothing.
    window.select_row(2)
    count = len(window.session.decisions())
    key(qtbot, window, Qt.Key.Key_P)
    assert len(window.session.decisions()) == count
    assert "Map the row to an id first" in window.statusBar().currentMessage()

    exported = window.export_sheet(tmp_path / "mapped.csv")
    with exported.open(encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    assert (first["mapped_id"], first["mapped_ids"], first["one_to_many"]) == (
        "TP:0000003", "TP:0000003|TP:0000004", "yes",
    )  # fmt: skip
    assert first["mapping_predicate"] == "narrow"


def test_blind_second_curator_agreement_and_settling(
    qtbot, qtmodeltester, window, map_sheet, tmp_path: Path
) -> None:
    map_sheet(tmp_path / "patients.csv", TERMS, patients=True)
    window.select_row(0)
    window.table.setFocus()
    for k in (Qt.Key.Key_A, Qt.Key.Key_R, Qt.Key.Key_A, Qt.Key.Key_A):  # first curator
        key(qtbot, window, k)
    path = window.session.path
    window.close_session()

    # The second curator opens the same session blind.
    window.settings.curator_name = "Bea Second"
    window.settings.curator_orcid = "0000-0001-5109-3700"
    assert window.open_session(path, second_curator=True)
    assert window.windowTitle().endswith("second curator (blind)")
    assert window.second_curator_action.isChecked()
    assert window.table_model.rows.decisions[:4] == [None] * 4  # the first curator's are hidden
    window.select_row(0)
    window.table.setFocus()
    assert "shows once you decide" in window.panel.title.text()
    key(qtbot, window, Qt.Key.Key_A)  # agrees
    assert "First curator: accepted TP:0000003 Seizure (same as yours)" in (
        window.statusBar().currentMessage()
    )
    for k in (Qt.Key.Key_A, Qt.Key.Key_R, Qt.Key.Key_1):  # rows 1 and 2 differ, row 3 agrees
        key(qtbot, window, k)
    assert window.table_model.rows.decisions[:4] == ["accept", "accept", "reject", "accept"]
    rounds = {d.review_round for d in window.session.decisions() if d.curator == "Bea Second"}
    assert rounds == {ReviewRound.SECOND}
    window.select_row(1)
    assert "First curator: rejected (differs)" in window.panel.title.text()

    # Review → Agreement: 4 rows compared, 2 alike; kappa by hand: p_o = 2/4, both curators
    # accepted 3 and rejected 1, p_e = (3·3 + 1·1)/16 = 10/16, κ = (0.5 - 0.625)/0.375 = -1/3.
    window.findChild(QAction, "agreement").trigger()
    dialog = window.agreement_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.agreement.rows_compared == 4
    text = dialog.figures.text()
    assert "raw agreement <b>50.0%</b>" in text and "κ <b>-0.333</b>" in text
    assert [r.row for r in dialog.queue.reviews] == [1, 2]
    qtmodeltester.check(dialog.queue)
    assert dialog.selected().row == 1
    assert dialog.queue.index(0, 2).data() == "rejected"
    qtbot.mouseClick(dialog.take_second, Qt.MouseButton.LeftButton)  # Anaemia: accept it
    assert dialog.agreement.settled == 1
    assert dialog.selected().row == 2  # on to the next one to settle
    assert window.session.current_decision(1).review_round is ReviewRound.SETTLED
    assert dialog.queue.index(0, 4).data().startswith("accepted TP:0000005")
    dialog.activateWindow()
    qtbot.waitActive(dialog)
    qtbot.keyClick(dialog.queue_view, Qt.Key.Key_Z, CTRL)  # undo the settling, in the dialog
    assert dialog.agreement.settled == 0
    assert window.session.current_decision(1).review_round is ReviewRound.FIRST
    qtbot.keyClick(dialog.queue_view, Qt.Key.Key_Z, CTRL | SHIFT)
    assert dialog.agreement.settled == 1
    qtbot.mouseClick(dialog.go_button, Qt.MouseButton.LeftButton)
    assert window.current_row() == 2
    # Changing a decision in the window updates the dialog: the second curator now accepts
    # Oedema as the first did, and the row leaves the queue.
    window.activateWindow()
    qtbot.waitActive(window)
    window.table.setFocus()
    key(qtbot, window, Qt.Key.Key_A)
    assert [r.row for r in dialog.queue.reviews] == [1]
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert [r.row for r in dialog.queue.reviews] == [1, 2]
    dialog.accept()

    # Back to the first curator's view: the settled row shows the settled decision.
    window.set_second_curator(False)
    assert window.table_model.rows.decisions[:4] == ["accept", "accept", "accept", "accept"]
    assert not window.windowTitle().endswith("(blind)")

    # Export only what both agree on or settled: rows 0, 1 and 3.
    window.only_reviewed_action.setChecked(True)
    sssom = window.export_sssom(tmp_path / "reviewed.sssom.tsv").read_text(encoding="utf-8")
    lines = [line.split("\t") for line in sssom.splitlines() if not line.startswith("#")]
    body = [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    assert [m["subject_label"] for m in body] == ["Seizure", "Anaemia", "Intellectual disability"]
    assert {(m["author_id"], m["reviewer_id"]) for m in body} == {
        ("orcid:0000-0002-1825-0097", "orcid:0000-0001-5109-3700")
    }
    sheet = window.export_sheet(tmp_path / "reviewed.csv")
    with sheet.open(encoding="utf-8") as handle:
        assert [r["phenotype"] for r in csv.DictReader(handle)] == [
            "Seizure", "Anaemia", "Intellectual disability",
        ]  # fmt: skip

    # Reopened as it was left: the first curator's view.
    window.close_session()
    assert window.open_session(path)
    assert window.review_controller.review_view.value == "first"
