"""A configured local model takes part in the mapping, and the session records which one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool

from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput
from term2id.core.ontology.catalog import StoreCatalog


@pytest.mark.slow
def test_a_gguf_model_proposes_and_is_recorded(
    qtbot, tiny_model, hpo_data_dir: Path, gui_settings, tmp_path: Path
) -> None:
    from term2id.gui.app import MainWindow

    catalog = StoreCatalog(tmp_path / "data")  # a private copy: the model caches answers in it
    catalog.stores_dir.mkdir(parents=True)
    shutil.copy2(StoreCatalog(hpo_data_dir).path_of("hp"), catalog.path_of("hp"))
    gui_settings.model_path = str(tiny_model.model_q8_gguf)
    gui_settings.sources = ("exact", "fuzzy")  # and the model: no embedding of all of HPO
    terms = [term for term, _curie in tiny_model.pairs[:3]]
    path = tmp_path / "model.t2id"
    CurationSession.create(
        path,
        SessionInput(header=("term",), rows=[[t] for t in terms], term_column="term",
                     default_ontology="hp"),
    ).close()  # fmt: skip
    window = MainWindow(catalog, gui_settings, QThreadPool())
    qtbot.addWidget(window)
    try:
        assert window.open_session(path)
        window.start_mapping()
        qtbot.waitUntil(lambda: not window.mapping, timeout=120000)
        shown = window.mapping_indicators.language_model_label.text()
        assert shown == f"model: {tiny_model.model_q8_gguf.name}"
        release, model = window.session.mapping_provenance()["hp"]
        assert model == tiny_model.model_q8_gguf.name
        proposed = {
            c.curie
            for row in range(len(terms))
            for c in window.session.result(row).candidates
            if "llm" in c.sources
        }
        assert proposed & {curie for _term, curie in tiny_model.pairs[:3]}
    finally:
        window.pool.waitForDone(10000)
        window.close_session()
