"""The window and the command line map with one configuration and one factory: same candidates."""

from __future__ import annotations

import csv
from pathlib import Path

from term2id.core.candidates import Query
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput
from term2id.core.exports.sheet_writer import MAPPED_COLUMNS, mapped_cells
from term2id.core.mapping.config import MappingConfig, build_mapper
from term2id.core.ontology.catalog import StoreCatalog

# Exact names, a British spelling, a related synonym, a paraphrase only the semantic source finds.
TERMS = ["Seizures", "Anaemia", "lack of coordination", "not enough red blood cells", "Tumour"]


def test_the_window_and_the_cli_give_the_same_candidates_for_the_same_config(
    qtbot, window, run_cli, tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    from term2id.cli.mapper import mapping_config

    window.settings.sources = None  # the default sources (GUI tests otherwise name exact,fuzzy)
    window.settings.threshold = 0.8
    # `map` and the window use the mapping memory by default (eval and demo never do).
    config = mapping_config(None, threshold=0.8, top_k=10, memory=True)
    assert window.settings.mapping_config() == config == MappingConfig(threshold=0.8, memory=True)

    gui_mapper = window.mapping_controller.mapper()
    cli_mapper = build_mapper(config, tiny_catalog)
    assert [s.name for s in gui_mapper.sources] == ["curated", "exact", "fuzzy", "semantic"]
    for term in TERMS:
        query = Query(term, "tiny")
        shown = [(c.curie, c.confidence) for c in gui_mapper.map(query).candidates]
        assert shown == [(c.curie, c.confidence) for c in cli_mapper.map(query).candidates], term

    # End to end: the window's session and `term2id map`'s sheet agree row by row.
    path = tmp_path / "terms.t2id"
    CurationSession.create(
        path,
        SessionInput(header=("term",), rows=[[t] for t in TERMS], term_column="term",
                     default_ontology="tiny"),
    ).close()  # fmt: skip
    assert window.open_session(path)
    window.start_mapping()
    # Rows come first from exact and fuzzy, then again with semantic once its index is ready.
    qtbot.waitUntil(
        lambda: not window.mapping and not window.mapping_controller.semantic_preparing
        and window.session.rows_mapped_without("semantic") == [],
        timeout=120000,
    )  # fmt: skip
    sheet, mapped = tmp_path / "terms.csv", tmp_path / "mapped.csv"
    sheet.write_text("term\n" + "\n".join(TERMS) + "\n", encoding="utf-8")
    result = run_cli(
        "map", sheet, "-c", "term", "--ontology", "tiny", "--threshold", "0.8", "--top-k", "5",
        "-o", mapped, "--data-dir", tiny_catalog.data_dir,
    )  # fmt: skip
    assert result.code == 0, result.err
    with mapped.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["term", *MAPPED_COLUMNS]
    for row, cells in enumerate(rows[1:]):
        curie, label, confidence, status, alternatives = mapped_cells(window.session.result(row), 5)
        assert cells[1:3] == [curie, label] and float(cells[3]) == confidence, TERMS[row]
        assert cells[4:] == [status, alternatives], TERMS[row]
    assert rows[4][1] == "TP:0000005"  # the paraphrase, found by meaning in both
