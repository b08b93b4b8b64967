"""Settings, ontology stores and releases as the window handles them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput
from term2id.gui.open_table_dialog import OpenTableDialog
from term2id.gui.settings import GuiSettings
from term2id.gui.settings_dialog import SettingsDialog

DATA = Path(__file__).parents[1] / "data"


def test_settings_persist_and_a_store_imports_in_the_background(
    qtbot, window, tmp_path: Path
) -> None:
    dialog = SettingsDialog(window.catalog, window.settings, window)
    qtbot.addWidget(dialog)
    assert "attack surface" in dialog.findChild(object, "ggufWarning").text()
    worker = dialog.import_store(DATA / "tiny.owl", "tinyowl")
    with qtbot.waitSignal(worker.signals.finished, timeout=30000):
        pass
    qtbot.waitUntil(lambda: any("tinyowl" in dialog.stores.item(i).text()
                                for i in range(dialog.stores.count())))  # fmt: skip
    assert window.catalog.exists("tinyowl")
    dialog.name.setText("Grace Reviewer")
    dialog.orcid.setText("0000-0001-5109-3700")
    dialog.threshold.setValue(0.8)
    dialog.accept()
    reread = GuiSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert reread.curator.name == "Grace Reviewer"
    assert reread.curator.orcid == "0000-0001-5109-3700"
    assert reread.threshold == 0.8


def test_a_malformed_orcid_is_refused(qtbot, window) -> None:
    dialog = SettingsDialog(window.catalog, window.settings, window)
    qtbot.addWidget(dialog)
    dialog.orcid.setText("12345")
    dialog.accept()
    box = dialog.findChild(QMessageBox, "errorDialog")
    assert box is not None and "not an ORCID" in box.text()
    assert window.settings.curator_orcid == "0000-0002-1825-0097"  # unchanged
    box.close()


def test_pasted_cells_become_a_table(qtbot, window) -> None:
    dialog = OpenTableDialog(window.catalog, window.settings, window)
    qtbot.addWidget(dialog)
    dialog.paste_header.setChecked(True)
    dialog.paste.setPlainText("gene\tphenotype\nTP53\tSeizures\nBRCA1\tAnaemia\n")
    assert dialog.preview.rowCount() == 2
    choice = dialog.choice()
    assert choice is not None and choice.path is None
    assert choice.term_column == "phenotype"


def test_a_workbook_offers_its_sheets(qtbot, window, tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "Summary"
    workbook.active.append(["cohort", "count"])
    workbook.active.append(["A", 3])
    terms = workbook.create_sheet("Terms")
    terms.append(["id", "phenotype"])
    for i, term in enumerate(["Seizure", "Anaemia", "Oedema"]):
        terms.append([i, term])
    path = tmp_path / "cohort.xlsx"
    workbook.save(path)
    dialog = OpenTableDialog(window.catalog, window.settings, window, path=path)
    qtbot.addWidget(dialog)
    assert [dialog.sheet.itemText(i) for i in range(dialog.sheet.count())] == ["Summary", "Terms"]
    dialog.sheet.setCurrentText("Terms")
    dialog.sheet.activated.emit(1)
    assert dialog.preview.rowCount() == 3
    choice = dialog.choice()
    assert choice.sheet == "Terms" and choice.term_column == "phenotype"


def test_a_session_whose_store_is_missing_offers_an_import(
    qtbot, window, tmp_path: Path, monkeypatch
) -> None:
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No
    )
    path = tmp_path / "orphan.t2id"
    CurationSession.create(
        path,
        SessionInput(header=("term",), rows=[["Seizure"]], term_column="term",
                     default_ontology="mondo"),
    ).close()  # fmt: skip
    assert window.open_session(path)
    assert asked and "mondo" in asked[0]
    assert window.start_mapping() is None  # nothing to map against; the row stays as it is
    assert window.table_model.rows.terms == ["Seizure"]


def test_a_newer_release_is_offered_for_re_verification(
    qtbot, window, tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "old.t2id"
    CurationSession.create(
        path,
        SessionInput(header=("term",), rows=[["Anemia"], ["Seizure"]], term_column="term",
                     default_ontology="tiny"),
    ).close()  # fmt: skip
    assert window.open_session(path)
    window.start_mapping()
    qtbot.waitUntil(
        lambda: not window.mapping and window.table_model.rows.statuses[0] is not None,
        timeout=30000,
    )
    assert window.table_model.rows.best_curies[0] == "TP:0000005"
    window.close_session()

    newer = tmp_path / "tiny-2025.obo"
    newer.write_text(
        (DATA / "tiny.obo")
        .read_text()
        .replace("id: TP:0000005\nname: Anemia\n",
                 "id: TP:0000005\nname: Anemia\nis_obsolete: true\nreplaced_by: TP:0000006\n")
        .replace("tiny/releases/2024-01-01", "tiny/releases/2025-01-01")
    )  # fmt: skip
    window.catalog.import_file(newer, "tiny")
    asked, told = [], []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes,
    )
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: told.append(a[2]))
    assert window.open_session(path)
    assert asked and "2024-01-01 → tiny/releases/2025-01-01" in asked[0]
    assert told and "TP:0000005 replaced → TP:0000006" in told[0]
    qtbot.waitUntil(lambda: not window.mapping, timeout=30000)
    assert window.table_model.rows.best_curies[0] == "TP:0000006"  # the replacement comes first now
    assert window.session.mapping_provenance()["tiny"][0] == "tiny/releases/2025-01-01"
