"""Item models: Qt's model tester on each, and sorting and filtering as a curator sees them."""

from __future__ import annotations

from PySide6.QtCore import Qt

from term2id.core.candidates import Candidate, Evidence, Verdict
from term2id.core.curation.row_summaries import RowSummaries
from term2id.core.ontology.terms import TextMatch
from term2id.gui.models import (
    ROW_ROLE,
    CandidateTableModel,
    ReviewFilter,
    ReviewRow,
    ReviewTableModel,
    SearchResultsModel,
)


def summaries() -> RowSummaries:
    rows = RowSummaries(
        terms=["Seizure", "anemia", "Oedema", "zzz", ""],
        contexts=[None, "blood", None, None, None],
        ontologies=["tiny"] * 5,
        best_curies=["TP:0000003", "TP:0000005", "TP:0000006", None, None],
        best_labels=["Seizure", "Anemia", "Edema", None, None],
        confidences=[0.97, 0.95, 0.6, None, None],
        statuses=["verified", "verified", "needs_review", "no_match", None],
    )
    rows.decisions = ["accept", None, None, "reject", None]
    rows.decided_curies = ["TP:0000003", None, None, None, None]
    rows.comments = [None, None, "ask", None, None]
    return rows


def visible_terms(model: ReviewTableModel) -> list[str]:
    return [model.index(i, model.TERM).data() for i in range(model.rowCount())]


def test_review_model_passes_the_model_tester(qtmodeltester) -> None:
    model = ReviewTableModel(summaries())
    qtmodeltester.check(model)
    model.sort(ReviewTableModel.CONFIDENCE, Qt.SortOrder.DescendingOrder)
    model.set_filter(ReviewFilter(text="e"))
    qtmodeltester.check(model)


def test_review_model_sorts_and_filters(qtbot) -> None:
    model = ReviewTableModel(summaries())
    model.sort(ReviewTableModel.TERM, Qt.SortOrder.AscendingOrder)
    assert visible_terms(model) == ["", "anemia", "Oedema", "Seizure", "zzz"]  # case folded
    model.sort(ReviewTableModel.CONFIDENCE, Qt.SortOrder.DescendingOrder)
    assert visible_terms(model)[:3] == ["Seizure", "anemia", "Oedema"]
    model.set_filter(ReviewFilter(statuses=frozenset({"verified"})))
    assert visible_terms(model) == ["Seizure", "anemia"]
    model.set_filter(ReviewFilter(decisions=frozenset({"undecided"}), text="EDEMA"))
    assert visible_terms(model) == ["Oedema"]  # matched through its label
    model.set_filter(ReviewFilter(min_confidence=0.9))
    assert visible_terms(model) == ["Seizure", "anemia"]
    model.set_filter(ReviewFilter(statuses=frozenset({"unmapped"})))
    assert visible_terms(model) == [""]


def test_review_model_hands_out_row_objects_and_shows_updates(qtbot) -> None:
    model = ReviewTableModel(summaries())
    model.set_filter(ReviewFilter(text="oedema"))
    row = model.index(0, 0).data(ROW_ROLE)
    assert isinstance(row, ReviewRow) and row.row == 2 and row.comment == "ask"
    with qtbot.waitSignal(model.dataChanged):
        model.update_decision(2, "choose", "TP:0000007")
    assert model.index(0, model.DECISION).data().startswith("chosen TP:0000007")
    assert model.index(0, model.STATUS).data() == "? needs review"
    model.update_result(4, "no_match", None, None, None)
    assert model.view_row(4) == -1  # hidden by the filter, still updated
    assert model.rows.statuses[4] == "no_match"


def candidates() -> list[Candidate]:
    return [
        Candidate("TP:0000003", "Seizure", "tiny", Verdict.VERIFIED, 0.97,
                  (Evidence("exact", 1.0, 1, "Seizures", "EXACT synonym"),
                   Evidence("fuzzy", 0.93, 1, "Seizure", "WRatio 93"))),
        Candidate("TP:0000098", None, "tiny", Verdict.UNKNOWN_ID, 0.1,
                  (Evidence("llm", 0.4, 1, "TP:0000098", "model answer"),)),
    ]  # fmt: skip


def test_candidate_model_explains_each_candidate(qtmodeltester) -> None:
    model = CandidateTableModel()
    qtmodeltester.check(model)
    model.set_candidates(candidates())
    qtmodeltester.check(model)
    assert model.index(0, 5).data() == "exact: 1.00 · fuzzy: 0.93"
    assert model.index(1, 3).data() == "✘ unknown id"
    assert "EXACT synonym" in model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(1, 0).data(ROW_ROLE).curie == "TP:0000098"


def test_search_results_model(qtmodeltester) -> None:
    model = SearchResultsModel()
    model.set_matches([TextMatch("TP:0000005", "Anemia", "Anaemia", "synonym", "EXACT", score=0.8)])
    qtmodeltester.check(model)
    assert model.index(0, 2).data() == "Anaemia"


def test_a_long_review_does_not_wear_out_python_booleans(qtbot) -> None:
    """PySide6 6.12.0 on Python 3.11 dropped a reference to True on every signal emitted from
    Python: after a few thousand mapped rows the application aborted ("deallocating True")."""
    import sys

    model = ReviewTableModel(summaries())
    before = sys.getrefcount(True)
    for i in range(5000):
        model.update_result(i % 5, "verified", "TP:0000003", "Seizure", 0.97)
    assert sys.getrefcount(True) >= before - 10


def test_a_confidence_just_below_the_threshold_never_reads_as_the_threshold(qtbot) -> None:
    # 0.899 is below the auto-accept threshold 0.9: "0.90" beside "needs review" would contradict it
    rows = summaries()
    rows.confidences = [0.899, 0.95, 0.6, None, None]
    rows.statuses = ["needs_review", "verified", "needs_review", "no_match", None]
    model = ReviewTableModel(rows)
    assert model.index(0, model.CONFIDENCE).data() == "0.89"
    assert model.index(1, model.CONFIDENCE).data() == "0.95"
    assert model.index(2, model.CONFIDENCE).data() == "0.60"
    assert model.index(3, model.CONFIDENCE).data() == ""
