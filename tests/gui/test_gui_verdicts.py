"""The window says why a candidate is not verified, warns before an obsolete or foreign id is
chosen, and re-checks the verdicts of a session saved by an older version when it opens it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from term2id.core.candidates import Query
from term2id.core.curation.decision_log import Action
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput
from term2id.core.mapping.mapper import Mapper, default_sources
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.terms import TextMatch
from term2id.gui.models import CandidateTableModel, ReviewTableModel

TERMS = ["Seizure", "Anemia", "Tumour"]


def mapped_session(path: Path, catalog: StoreCatalog) -> Path:
    source = SessionInput(
        header=("phenotype",), rows=[[t] for t in TERMS], term_column="phenotype",
        default_ontology="tiny",
    )  # fmt: skip
    session = CurationSession.create(path, source)
    results = Mapper(catalog, default_sources(["exact", "fuzzy"])).map_many(
        [Query(t, "tiny") for t in TERMS]
    )
    session.record_results(enumerate(results), {"tiny": catalog.open("tiny").release})
    session.close()
    return path


def shown(window, curie: str, column: int) -> str:
    """What the candidate panel shows in `column` for the candidate `curie`."""
    model = window.panel.candidates
    for n in range(model.rowCount()):
        if model.candidates[n].curie == curie:
            return model.index(n, column).data()
    raise AssertionError(f"{curie} is not among the candidates")


def test_the_candidate_panel_says_why_a_candidate_is_not_verified(
    qtbot, window, tmp_path: Path, tiny_catalog: StoreCatalog
) -> None:
    assert window.open_session(mapped_session(tmp_path / "s.t2id", tiny_catalog))
    window.select_row(0)  # "Seizure": Focal seizure adds a qualifier
    verdict = CandidateTableModel.HEADERS.index("Verdict")
    assert shown(window, "TP:0000003", verdict) == "✔ verified"
    assert shown(window, "TP:0000004", verdict) == "▽ narrower: adds 'focal'"
    review_status = window.table_model.index(0, ReviewTableModel.STATUS).data()
    assert review_status == "✔ verified"


def test_an_obsolete_search_hit_is_mapped_only_after_a_warning(
    qtbot, window, tmp_path: Path, tiny_catalog: StoreCatalog, monkeypatch
) -> None:
    assert window.open_session(mapped_session(tmp_path / "s.t2id", tiny_catalog))
    window.select_row(1)
    hit = TextMatch("TP:0000009", "obsolete Fits", "obsolete Fits", "label", obsolete=True)
    warned = []

    def answer(reply):
        def warning(parent, title, text, *args):
            warned.append(text)
            return reply

        return warning

    monkeypatch.setattr(QMessageBox, "warning", answer(QMessageBox.StandardButton.No))
    window.choose_searched(hit)
    assert "TP:0000009 is obsolete" in warned[0] and "replaced by TP:0000003" in warned[0]
    assert window.session.current_decision(1) is None  # declined: nothing decided
    monkeypatch.setattr(QMessageBox, "warning", answer(QMessageBox.StandardButton.Yes))
    window.select_row(1)
    window.choose_searched(hit)
    decision = window.session.current_decision(1)
    assert decision.action is Action.MANUAL and decision.curie == "TP:0000009"
    assert decision.evidence["verdict"][0] == "obsolete"
    # A live id that names something else is mapped without a dialog; the status bar says why.
    window.select_row(2)
    window.choose_searched(TextMatch("TP:0000005", "Anemia", "Anemia", "label"))
    assert len(warned) == 2
    assert "names something else: 'Anemia'" in window.statusBar().currentMessage()
    assert window.session.current_decision(2).evidence["verdict"][0] == "label_mismatch"


def test_a_session_saved_with_old_verdicts_is_checked_again_when_opened(
    qtbot, window, tmp_path: Path, tiny_catalog: StoreCatalog
) -> None:
    path = mapped_session(tmp_path / "old.t2id", tiny_catalog)
    # As an older version wrote it: no reasons, and Edema "verified" for Anemia (row 1).
    conn = sqlite3.connect(path)
    for row, candidates in conn.execute("SELECT row, candidates FROM results").fetchall():
        old = [{k: v for k, v in c.items() if k != "reason"} for c in json.loads(candidates)]
        if row == 1:
            old = [{**old[0], "curie": "TP:0000006", "label": "Edema", "verdict": "verified"}]
            conn.execute("UPDATE results SET status = 'verified', best_curie = 'TP:0000006' "
                         "WHERE row = 1")  # fmt: skip
        conn.execute("UPDATE results SET candidates = ? WHERE row = ?", (json.dumps(old), row))
    conn.commit()
    conn.close()
    assert window.open_session(path)
    assert window.table_model.rows.statuses[:3] == ["verified", "mismatch", "verified"]
    assert "Verdicts of 3 row(s) checked again: 1 changed." in window.statusBar().currentMessage()
    assert window.table_model.index(1, ReviewTableModel.STATUS).data() == "≠ mismatch"
    window.select_row(1)
    verdict = CandidateTableModel.HEADERS.index("Verdict")
    assert shown(window, "TP:0000006", verdict) == "≠ names something else"
    assert window.session.stale_verdict_rows() == []
