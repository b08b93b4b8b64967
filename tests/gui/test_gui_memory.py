"""The mapping memory in the window: decisions, undo and redo reach it; the next sheet with the
same terms gets the curator's ids first and never the rejected ones accepted."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from term2id.core.curation.decision_log import Action, Curator
from term2id.core.curation.memory_sync import catch_up
from term2id.core.curation.session import CurationSession

TERMS = ["Swelling", "Anaemia", "Seizure", "Tumour"]


def key(qtbot, window, k, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window.table, k, modifier)


def test_decisions_reach_the_memory_and_come_back_first_on_the_next_sheet(
    qtbot, window, map_sheet, tmp_path: Path
) -> None:
    map_sheet(tmp_path / "week1.csv", TERMS)
    rows = window.table_model.rows
    assert rows.best_curies[0] == "TP:0000006" and rows.statuses[0] != "verified"
    assert rows.statuses[1] == "verified"  # Anaemia: Anemia by its UK spelling
    window.select_row(0)
    window.table.setFocus()
    key(qtbot, window, Qt.Key.Key_A)  # Swelling: accept Edema
    key(qtbot, window, Qt.Key.Key_R)  # Anaemia: reject Anemia
    key(qtbot, window, Qt.Key.Key_2)  # Seizure: choose candidate 2, Focal seizure
    memory = window.review_controller.memory
    held = {e.term: (e.action.value, e.curies) for e in memory.entries()}
    assert held == {
        "Swelling": ("accepted", ("TP:0000006",)),
        "Anaemia": ("rejected", ("TP:0000005",)),
        "Seizure": ("chosen", ("TP:0000004",)),
    }
    entry = memory.entries()[0]
    assert entry.curator == "Ada Curator" and entry.orcid == "0000-0002-1825-0097"
    assert entry.session_id == window.session.session_id

    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the choice
    assert "Seizure" not in {e.term for e in memory.entries()}
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    key(qtbot, window, Qt.Key.Key_Z, redo)
    assert memory.lookup("Seizure", "tiny").accepted[0][0] == "TP:0000004"

    # Next week, the same terms in a new sheet.
    map_sheet(tmp_path / "week2.csv", TERMS)
    rows = window.table_model.rows
    assert rows.best_curies[:3] == ["TP:0000006", "TP:0000005", "TP:0000004"]
    assert rows.statuses[0] == "verified" and rows.confidences[0] == 1.0  # the curator's word
    assert rows.statuses[1] != "verified" and rows.confidences[1] < window.settings.threshold
    assert rows.statuses[3] == "verified"  # Tumour: nobody decided it, mapped as before
    # the rejected pair is never accepted in bulk
    assert window.review_controller.bulk_accept_rows() == [0, 3]
    window.select_row(1)
    why = window.panel.candidates.candidates[0]
    assert why.curie == "TP:0000005" and "rejected by Ada Curator on" in why.note
    model = window.panel.candidates
    text = model.data(model.index(0, len(model.HEADERS) - 1))
    assert text.startswith("✘ rejected by Ada Curator on")
    window.select_row(0)
    text = model.data(model.index(0, len(model.HEADERS) - 1))
    assert text.startswith("curated: accepted by Ada Curator on")


def test_opening_a_session_takes_in_decisions_the_memory_missed(
    qtbot, window, map_sheet, tmp_path: Path
) -> None:
    """A process killed after the session's commit and before the memory's: opening the session
    brings the memory up to date."""
    map_sheet(tmp_path / "sheet.csv", TERMS)
    path = window.session.path
    window.close_session()
    with CurationSession.open(path) as session:  # another process, which never updates it
        session.decide(3, Action.MANUAL, Curator("Cy"), "TP:0000007", "Tumor")
    assert window.review_controller.memory.lookup("Tumour", "tiny").accepted == ()
    assert window.open_session(path)
    assert window.review_controller.memory.lookup("Tumour", "tiny").accepted[0][0] == "TP:0000007"
    with CurationSession.open(path) as session:
        assert catch_up(window.review_controller.memory, session) == 0  # nothing left to take in


def test_the_memory_can_be_turned_off_in_the_settings(
    qtbot, window, map_sheet, tmp_path: Path
) -> None:
    assert [s.name for s in window.mapping_controller.mapper().sources][0] == "curated"
    dialog = window.settings_dialog()
    qtbot.addWidget(dialog)
    assert dialog.use_memory.isChecked()  # on by default
    dialog.use_memory.setChecked(False)
    dialog.accept()
    assert not window.settings.use_memory
    assert "curated" not in [s.name for s in window.mapping_controller.mapper().sources]
    map_sheet(tmp_path / "sheet.csv", TERMS)
    window.select_row(0)
    window.table.setFocus()
    key(qtbot, window, Qt.Key.Key_A)
    assert len(window.review_controller.memory) == 0
