"""The semantic source in the window: rows come at once from exact and fuzzy, and are re-ranked
with semantic candidates once the store's index is prepared in the background (the real MiniLM).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from term2id.core.curation.session import CurationSession
from term2id.gui.workers import TimeLeft, time_left

pytestmark = pytest.mark.slow

# Exact and fuzzy find nothing for the last two; the sentence model finds Edema and
# Intellectual disability. ("convulsions" was the first example: with names embedded in int8 its
# cosines to Seizure and Focal seizure are 0.43 and 0.41, and the fused score puts the child
# first, a near-tie decided by string likeness.)
TERMS = ["Seizure", "Anaemia", "swollen ankles", "learning difficulties"]
FOUND_BY_MEANING = {2: "TP:0000006", 3: "TP:0000008"}


def start(qtbot, window, tmp_path: Path) -> Path:
    """Paste TERMS for the tiny store; returns the session's path once every row has a result."""
    from term2id.core.tables import read_pasted
    from term2id.gui.open_table_dialog import TableChoice

    window.settings.sources = None  # the default sources: exact, fuzzy and semantic
    first_rows: list[tuple[int, tuple[str, ...] | None, bool, str]] = []
    mapping, indicators = window.mapping_controller, window.mapping_indicators

    def seen(top_left, bottom_right, _roles=()) -> None:
        session = window.session
        for row in range(top_left.row(), bottom_right.row() + 1):
            if session is not None and not any(r == row for r, *_ in first_rows):
                sources = session.result_sources(row)
                if sources is not None:
                    first_rows.append(
                        (row, sources, mapping.semantic_preparing, indicators.semantic_label.text())
                    )

    window.table_model.dataChanged.connect(seen)
    table = read_pasted("\n".join(TERMS), header=False)
    choice = TableChoice(table, None, table.columns[0], "tiny")
    window.start_from_table(choice, destination=tmp_path / "pasted.t2id")
    qtbot.waitUntil(
        lambda: window.session is not None and len(window.session.mapped_rows()) == len(TERMS),
        timeout=30000,
    )
    window.table_model.dataChanged.disconnect(seen)
    # The first rows came from exact and fuzzy while the semantic index was being prepared.
    assert sorted(r for r, *_ in first_rows) == list(range(len(TERMS)))
    for _row, sources, preparing, label in first_rows:
        assert sources == ("curated", "exact", "fuzzy")  # the mapping memory, then the quick engine
        assert preparing and "semantic index" in label.casefold()
    return window.session.path


def every_row_reranked(window) -> bool:
    return (
        window.session is not None
        and not window.mapping
        and window.session.rows_mapped_without("semantic") == []
    )


def test_rows_appear_at_once_and_are_reranked_when_the_index_is_ready(
    qtbot, window, tmp_path: Path
) -> None:
    start(qtbot, window, tmp_path)
    indicators = window.mapping_indicators
    assert indicators.semantic_progress.isVisible() and indicators.semantic_cancel.isVisible()
    statuses = window.table_model.rows.statuses
    assert [statuses[r] for r in FOUND_BY_MEANING] == ["no_match", "no_match"]

    # A decision while the index is prepared: its row has not been re-ranked yet.
    assert window.session.result_sources(0) == ("curated", "exact", "fuzzy")
    window.select_row(0)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_A)
    assert window.table_model.rows.decisions[0] == "accept"

    qtbot.waitUntil(lambda: every_row_reranked(window), timeout=120000)
    session = window.session
    assert all("semantic" in session.result_sources(r) for r in range(len(TERMS)))
    for row, curie in FOUND_BY_MEANING.items():
        best = session.result(row).best
        assert best.curie == curie and "semantic" in best.sources
        assert window.table_model.rows.best_curies[row] == curie  # the table shows it
    # The decision made in between is still the row's decision.
    assert window.table_model.rows.decisions[0] == "accept"
    assert session.current_decision(0).curie == "TP:0000003"
    assert not window.mapping_indicators.semantic_label.isVisible()
    assert "Re-ranked" in window.statusBar().currentMessage()


def test_closing_before_the_index_is_ready_reranks_on_reopening(
    qtbot, window, tmp_path: Path
) -> None:
    path = start(qtbot, window, tmp_path)
    window.select_row(1)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_R)  # reject Anaemia's candidates
    window.close_session()
    with CurationSession.open(path) as closed:
        assert closed.rows_mapped_without("semantic") == list(range(len(TERMS)))
        assert closed.current_decision(1).action.value == "reject"

    assert window.open_session(path)
    qtbot.waitUntil(lambda: every_row_reranked(window), timeout=120000)
    assert window.table_model.rows.decisions[1] == "reject"
    for row, curie in FOUND_BY_MEANING.items():
        assert window.table_model.rows.best_curies[row] == curie


def test_time_left_is_told_from_the_rate_so_far() -> None:
    assert time_left(0, 100, 5.0) == ""  # no rate yet
    assert time_left(10, 100, 5.0) == "about 45 s left"
    assert time_left(1, 11, 30.0) == "about 5 min left"
    assert time_left(1, 100, 60.0) == "about 1.6 h left"
    assert time_left(100, 100, 60.0) == ""  # done
    estimate = TimeLeft()
    assert estimate.update(0, 0) == ""  # no total yet
    assert estimate.update(0, 40) == ""  # counting starts here
