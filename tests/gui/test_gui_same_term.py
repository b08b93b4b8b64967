"""Deciding once for identical terms in the window: D copies the row's decision to the undecided
rows with the same term (after saying how many), one undo reverts it, T limits the table to them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from term2id.core.curation.session import CurationSession

TERMS = ["Seizure", "seizures", "Anaemia", "SEIZURE", "Seizure", "Anaemia"]


def test_d_applies_the_decision_to_the_same_term_after_saying_how_many(
    qtbot, window, map_sheet, tmp_path: Path, monkeypatch
) -> None:
    map_sheet(tmp_path / "repeats.csv", TERMS)
    asked = []

    def answer(parent, title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    window.select_row(3)
    qtbot.keyClick(window.table, Qt.Key.Key_R)  # "SEIZURE" rejected by hand first
    window.select_row(0)
    qtbot.keyClick(window.table, Qt.Key.Key_A)
    accepted = window.table_model.rows.decided_curies[0]
    assert accepted == "TP:0000003"
    window.select_row(0)
    qtbot.keyClick(window.table, Qt.Key.Key_D)
    assert len(asked) == 1 and "to 2 undecided rows" in asked[0] and "Seizure" in asked[0]
    decisions = window.table_model.rows.decisions
    assert [decisions[r] for r in range(6)] == [
        "accept", "accept", None, "reject", "accept", None,
    ]  # fmt: skip
    decided = window.table_model.rows.decided_curies
    assert decided[1] == decided[4] == accepted

    window.undo_stack.undo()  # one undo for all the copies
    assert [decisions[r] for r in range(6)] == ["accept", None, None, "reject", None, None]
    window.undo_stack.redo()
    assert decisions[1] == decisions[4] == "accept"

    # Nothing left to apply it to: no question, a message instead.
    window.select_row(0)
    qtbot.keyClick(window.table, Qt.Key.Key_D)
    assert len(asked) == 1
    assert "No other undecided row" in window.statusBar().currentMessage()

    # The copies are in the session file, pointing at the decision they copy.
    path = window.session.path
    window.close_session()
    with CurationSession.open(path) as reopened:
        copy = reopened.current_decision(4)
        assert copy.curie == accepted and copy.evidence["same_term_as"]["row"] == 0


def test_d_on_an_undecided_row_says_what_to_do_first(
    qtbot, window, map_sheet, tmp_path: Path
) -> None:
    map_sheet(tmp_path / "repeats.csv", TERMS)
    window.select_row(2)
    qtbot.keyClick(window.table, Qt.Key.Key_D)
    assert "Decide this row first" in window.statusBar().currentMessage()
    assert window.table_model.rows.decisions == [None] * 6


def test_t_shows_only_the_rows_with_the_same_term(qtbot, window, map_sheet, tmp_path: Path) -> None:
    map_sheet(tmp_path / "repeats.csv", TERMS)
    window.select_row(1)
    qtbot.keyClick(window.table, Qt.Key.Key_T)
    assert window.table_model.rowCount() == 4
    assert window.filter_bar.only_rows.isVisible()
    assert "Same term as row 2 (4)" in window.filter_bar.only_rows.text()
    assert window.current_row() == 1  # the curator stays on the row
    qtbot.mouseClick(window.filter_bar.only_rows, Qt.MouseButton.LeftButton)
    assert window.table_model.rowCount() == 6
    assert not window.filter_bar.only_rows.isVisible()
    window.select_row(2)
    qtbot.keyClick(window.table, Qt.Key.Key_T)
    assert window.table_model.rowCount() == 2  # the two "Anaemia"
    qtbot.keyClick(window.table, Qt.Key.Key_T)  # T again: every row
    assert window.table_model.rowCount() == 6
