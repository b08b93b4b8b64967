"""The one batch loop: rows stream through the mapper in order, keyed; a failing model is left out."""

from __future__ import annotations

import pytest

from term2id.core.candidates import Query
from term2id.core.errors import CancelledError, Term2IdError
from term2id.core.mapping.batch import map_rows, prepare_targets
from term2id.core.mapping.mapper import Mapper, default_sources
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.progress import Progress


class FailsToLoad:
    """A local model whose file turns out unusable when it is loaded, before the first row."""

    name = "llm"

    def prepare(self, store, progress=None) -> None:  # noqa: ANN001
        raise Term2IdError("model.gguf: not a GGUF model file")

    def propose(self, query, store, limit):  # noqa: ANN001, ANN201
        raise AssertionError("never asked: it failed to load")


def test_rows_come_back_in_order_with_their_keys_and_repeats_mapped_once(
    tiny_catalog: StoreCatalog,
) -> None:
    mapper = Mapper(tiny_catalog, default_sources(["exact", "fuzzy"]))
    terms = ["Seizures", "Anaemia", "", "Seizures", "TP53"] * 120
    rows = [(f"row {i}", Query(t, "genes" if t == "TP53" else "tiny")) for i, t in enumerate(terms)]
    seen: list[tuple[int, int]] = []
    results = list(map_rows(mapper, iter(rows), Progress(lambda d, t, m: seen.append((d, t))), 600))
    assert [key for key, _ in results] == [key for key, _ in rows]
    assert [r.query.text for _, r in results] == terms
    best = {r.query.text: r.best.curie if r.best else None for _, r in results}
    assert best == {"Seizures": "TP:0000003", "Anaemia": "TP:0000005", "": None,
                    "TP53": "HGNC:11998"}  # fmt: skip
    assert seen[-1] == (600, 600)


def test_the_loop_stops_when_cancelled(tiny_catalog: StoreCatalog) -> None:
    mapper = Mapper(tiny_catalog, default_sources(["exact"]))
    progress = Progress()
    rows = ((i, Query("Seizures", "tiny")) for i in range(10_000))
    with pytest.raises(CancelledError):
        for key, _result in map_rows(mapper, rows, progress):
            if key == 300:
                progress.cancel()


def test_a_model_that_fails_to_load_is_left_out_of_a_new_mapper_not_the_given_one(
    tiny_catalog: StoreCatalog,
) -> None:
    given = Mapper(tiny_catalog, [*default_sources(["exact"]), FailsToLoad()])
    with pytest.raises(Term2IdError, match="not a GGUF model file"):
        prepare_targets(given, ["tiny"])  # the command line: an error

    prepared = prepare_targets(given, ["tiny", "tiny"], leave_out_failing_model=True)
    assert [s.name for s in prepared.mapper.sources] == ["exact"]
    assert [s.name for s in given.sources] == ["exact", "llm"]  # untouched
    assert prepared.warnings == ("model.gguf: not a GGUF model file",)
    assert prepared.releases == {"tiny": tiny_catalog.open("tiny").release}
    result = prepared.mapper.map(Query("Seizures", "tiny"))
    assert result.best.curie == "TP:0000003"
