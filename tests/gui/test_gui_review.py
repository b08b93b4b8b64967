"""The whole review as a curator does it: open a sheet, map, decide by keyboard, undo, reopen,
export; and the bad inputs a curator meets."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from term2id.core.curation.session import CurationSession
from term2id.gui.open_table_dialog import OpenTableDialog

TERMS = ["Seizure", "Anaemia", "Oedema", "Intellectual disability", "qwxz nothing like it"]


def key(qtbot, window, k, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window.table, k, modifier)


def test_map_review_undo_reopen_export(qtbot, window, map_sheet, tmp_path: Path) -> None:
    sheet = tmp_path / "patients.csv"
    dialog = map_sheet(sheet, TERMS, patients=True)
    assert dialog.preview.rowCount() == len(TERMS)
    assert dialog.term_column.currentText() == "phenotype"  # guessed from its name
    rows = window.table_model.rows
    assert rows.best_curies[:4] == ["TP:0000003", "TP:0000005", "TP:0000006", "TP:0000008"]
    assert rows.statuses[0] == "verified"

    window.select_row(0)
    window.table.setFocus()
    key(qtbot, window, Qt.Key.Key_A)  # accept Seizure, move on
    key(qtbot, window, Qt.Key.Key_R)  # reject Anaemia
    key(qtbot, window, Qt.Key.Key_S)  # skip Oedema
    assert window.table_model.rows.decisions[:3] == ["accept", "reject", "skip"]
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the skip
    assert window.table_model.rows.decisions[:3] == ["accept", "reject", None]
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the reject
    key(
        qtbot,
        window,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )  # redo it
    assert window.table_model.rows.decisions[:3] == ["accept", "reject", None]
    assert window.current_row() == 1  # undo and redo show the row they changed
    key(qtbot, window, Qt.Key.Key_J)
    key(qtbot, window, Qt.Key.Key_Down)
    assert window.current_row() == 3
    key(qtbot, window, Qt.Key.Key_1)  # choose candidate 1 of "Intellectual disability"
    assert window.table_model.rows.decisions[3] == "accept"

    window.table.sortByColumn(window.table_model.CONFIDENCE, Qt.SortOrder.DescendingOrder)
    window.filter_bar.decision.setCurrentIndex(window.filter_bar.decision.findData("undecided"))
    assert window.table_model.rowCount() == 2 and window.current_row() == 4

    session_path = window.session.path
    window.close_session()  # everything is already on disk; closing only checkpoints
    assert window.open_session(session_path)
    assert window.table_model.rows.decisions[:4] == ["accept", "reject", None, "accept"]
    assert window.current_row() == 4  # where the curator was
    assert window.table_model.filter.decisions == {"undecided"}  # and how the table looked
    assert window.filter_bar.decision.currentData() == "undecided"
    assert window.table_model.sort_column == window.table_model.CONFIDENCE
    window.filter_bar.decision.setCurrentIndex(0)
    log = window.session.decisions(0)
    assert log[0].curator == "Ada Curator" and log[0].evidence["shown"][0][0] == "TP:0000003"

    exported = window.export_sheet(tmp_path / "mapped.csv")
    with exported.open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [r["phenotype"] for r in table] == TERMS
    assert table[0]["mapped_id"] == "TP:0000003" and table[0]["curator_decision"] == "accept"
    assert table[1]["mapped_id"] == "" and table[1]["curator_decision"] == "reject"
    assert table[2]["mapped_id"] == "TP:0000006" and table[2]["curator_decision"] == ""
    assert table[0]["curator"] == "Ada Curator (0000-0002-1825-0097)"

    from openpyxl import load_workbook

    workbook = load_workbook(window.export_sheet(tmp_path / "mapped.xlsx"), read_only=True)
    sheet_rows = list(workbook.active.iter_rows(values_only=True))
    workbook.close()
    header = list(sheet_rows[0])
    assert sheet_rows[1][header.index("mapped_id")] == "TP:0000003"
    assert sheet_rows[2][header.index("curator_decision")] == "reject"

    sssom = window.export_sssom(tmp_path / "mapped.sssom.tsv").read_text(encoding="utf-8")
    lines = [line.split("\t") for line in sssom.splitlines() if not line.startswith("#")]
    header, body = lines[0], [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    assert "reviewer_id" in header
    seizure = next(r for r in body if r["object_id"] == "TP:0000003")
    assert seizure["predicate_id"] == "skos:exactMatch"
    assert seizure["mapping_justification"] == "semapv:ManualMappingCuration"
    # Decided by one curator: that curator is its author, and nobody reviewed it.
    assert (seizure["author_id"], seizure["reviewer_id"]) == ("orcid:0000-0002-1825-0097", "")
    assert not any(r["object_id"] == "TP:0000005" for r in body)  # the rejected row

    from term2id.core.curation.training_records import read_jsonl

    records = list(read_jsonl(window.export_training(tmp_path / "curated.jsonl")))
    assert {(r.task, r.term, r.answer) for r in records} == {
        ("term2id", "Seizure", "TP:0000003"),
        ("choose", "Seizure", "TP:0000003"),
        ("choose", "Anaemia", "none"),  # the rejected row: a negative example
        ("term2id", "Intellectual disability", "TP:0000008"),
        ("choose", "Intellectual disability", "TP:0000008"),
    }
    assert all(r.source == "session" for r in records)


def test_bulk_accept_touches_only_undecided_verified_rows(
    qtbot, window, map_sheet, tmp_path: Path
) -> None:
    map_sheet(tmp_path / "patients.csv", TERMS, patients=True)
    window.select_row(0)
    key(qtbot, window, Qt.Key.Key_R)
    expected = window.review_controller.bulk_accept_rows()
    assert 0 not in expected and expected  # the rejected row stays rejected
    assert window.bulk_accept(confirm=False) == len(expected)
    assert all(window.table_model.rows.decisions[r] == "accept" for r in expected)
    window.undo_stack.undo()  # one undo for the whole bulk action
    assert all(window.table_model.rows.decisions[r] is None for r in expected)
    assert window.table_model.rows.decisions[0] == "reject"


def test_search_picks_a_term_no_source_proposed(qtbot, window, map_sheet, tmp_path: Path) -> None:
    map_sheet(tmp_path / "patients.csv", TERMS, patients=True)
    window.select_row(4)  # "qwxz nothing like it": no candidate
    key(qtbot, window, Qt.Key.Key_Slash)
    assert window.panel.search_box.hasFocus()
    qtbot.keyClicks(window.panel.search_box, "tumour")
    with qtbot.waitSignal(window.panel.results.modelReset, timeout=10000):
        qtbot.keyClick(window.panel.search_box, Qt.Key.Key_Return)
    assert window.panel.results.matches[0].curie == "TP:0000007"
    qtbot.keyClick(window.panel.results_view, Qt.Key.Key_Return)  # map the row to the hit
    assert window.table_model.rows.decisions[4] == "manual"
    assert window.table_model.rows.decided_curies[4] == "TP:0000007"


def test_a_file_that_is_not_a_table_is_named_in_the_dialog(qtbot, window, tmp_path) -> None:
    bad = tmp_path / "photo.xlsx"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    dialog = OpenTableDialog(window.catalog, window.settings, window, path=bad)
    qtbot.addWidget(dialog)
    assert "photo.xlsx" in dialog.message.text()
    assert dialog.choice() is None


def test_a_session_from_a_newer_version_becomes_a_dialog(
    qtbot, window, map_sheet, tmp_path
) -> None:
    map_sheet(tmp_path / "patients.csv", TERMS, patients=True)
    path = window.session.path
    window.close_session()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 42")
    conn.close()
    assert not window.open_session(path)
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and "newer version of term2id" in box.text()
    assert "schema found 42" in box.detailedText()
    box.close()


def test_export_to_a_missing_folder_is_refused_without_losing_anything(
    qtbot, window, map_sheet, tmp_path
) -> None:
    map_sheet(tmp_path / "patients.csv", TERMS, patients=True)
    window.select_row(0)
    key(qtbot, window, Qt.Key.Key_A)
    assert window.export_sheet(tmp_path / "no" / "such" / "folder.csv") is None
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and "does not exist" in box.text()
    box.close()
    with CurationSession.open(window.session.path) as reread:
        assert reread.current_decision(0) is not None


def test_export_to_a_read_only_place_is_refused_with_a_dialog(
    qtbot, window, map_sheet, tmp_path
) -> None:
    # /sys refuses new files even to root, so this holds whoever runs the tests.
    map_sheet(tmp_path / "patients.csv", TERMS, patients=True)
    window.select_row(0)
    key(qtbot, window, Qt.Key.Key_A)
    for export in (window.export_sheet, window.export_sssom, window.export_training):
        assert export(Path("/sys/term2id-export.csv")) is None
        box = window.findChild(QMessageBox, "errorDialog")
        assert box is not None and "/sys" in box.text()
        assert "Traceback" not in box.text()
        box.close()
        box.deleteLater()
        qtbot.wait(10)
    assert not Path("/sys/term2id-export.csv").exists()
    with CurationSession.open(window.session.path) as reread:
        assert reread.current_decision(0) is not None


@pytest.mark.parametrize("model_path", ["/no/such/model.gguf"])
def test_a_model_that_cannot_load_leaves_mapping_working(
    qtbot, window, map_sheet, tmp_path, model_path
) -> None:
    window.settings.model_path = model_path
    map_sheet(tmp_path / "patients.csv", TERMS, patients=True)
    assert window.table_model.rows.best_curies[0] == "TP:0000003"
    assert window.mapping_indicators.language_model_label.text() == "⚡ model unavailable"
    assert window.mapping_indicators.language_model_label.toolTip()  # the reason, on hover


def test_opening_another_session_mid_mapping_keeps_the_two_apart(
    qtbot, window, tmp_path: Path
) -> None:
    from term2id.core.curation.session_input import SessionInput

    first, second = tmp_path / "first.t2id", tmp_path / "second.t2id"
    for path, terms in ((first, ["Seizure"] * 400), (second, ["Anaemia", "Oedema"])):
        CurationSession.create(
            path,
            SessionInput(header=("term",), rows=[[t] for t in terms], term_column="term",
                         default_ontology="tiny"),
        ).close()  # fmt: skip
    assert window.open_session(first)
    window.start_mapping()
    assert window.open_session(second)  # before any of the first job's batches arrived
    assert window.start_mapping() is not None
    qtbot.waitUntil(lambda: not window.mapping, timeout=30000)
    window.pool.waitForDone(10000)
    qtbot.wait(50)  # let the first job's queued signals arrive, to be ignored
    assert window.table_model.rows.best_curies == ["TP:0000005", "TP:0000006"]
    assert window.session.mapped_rows() == {0, 1}


def test_a_comment_is_kept_with_the_row_and_decides_nothing(
    qtbot, window, map_sheet, tmp_path: Path, monkeypatch
) -> None:
    from PySide6.QtWidgets import QInputDialog

    map_sheet(tmp_path / "patients.csv", TERMS, patients=True)
    monkeypatch.setattr(
        QInputDialog, "getMultiLineText", lambda *a, **k: ("ask the clinician", True)
    )
    window.select_row(2)
    key(qtbot, window, Qt.Key.Key_C)
    assert window.current_row() == 2  # a comment does not move on
    assert window.table_model.rows.comments[2] == "ask the clinician"
    assert window.table_model.rows.decisions[2] is None
    table_model = window.table_model
    assert "💬" in table_model.index(table_model.view_row(2), table_model.DECISION).data()
    with CurationSession.open(window.session.path) as reread:
        assert reread.current_comments() == {2: "ask the clinician"}
