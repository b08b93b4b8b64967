"""Evaluation: gold files, metrics, and the held-out-synonyms test."""

from __future__ import annotations

from pathlib import Path

import pytest

from term2id.core.errors import InputFileError, Term2IdError
from term2id.core.evaluation.measure import (
    GoldItem,
    evaluate,
    hold_out_synonyms,
    read_gold,
    reliability,
)
from term2id.core.mapping.mapper import Mapper, default_sources
from term2id.core.ontology.catalog import StoreCatalog


def test_read_gold_tsv_and_csv(tmp_path: Path) -> None:
    tsv = tmp_path / "gold.tsv"
    tsv.write_text("note\tterm\texpected_curie\nx\tSeizures\thp:0001250\n\n", encoding="utf-8")
    csv_file = tmp_path / "gold.csv"
    csv_file.write_bytes('\ufeffTerm,Expected_CURIE\n"Anaemia, severe",HP:0001903\n'.encode())
    assert read_gold(tsv) == [GoldItem("Seizures", "HP:0001250", 2)]
    assert read_gold(csv_file) == [GoldItem("Anaemia, severe", "HP:0001903", 2)]


def test_a_gold_file_without_the_columns_names_them(tmp_path: Path) -> None:
    gold = tmp_path / "gold.csv"
    gold.write_text("name,id\nSeizure,HP:0001250\n", encoding="utf-8")
    with pytest.raises(
        InputFileError,
        match=r"gold.csv:1: missing column\(s\) term, expected_curie.*found: name, id",
    ):
        read_gold(gold)


def test_a_gold_row_without_an_id_names_its_line(tmp_path: Path) -> None:
    gold = tmp_path / "gold.tsv"
    gold.write_text("term\texpected_curie\nSeizure\tTP:0000003\nAnemia\t\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="gold.tsv:3: no expected_curie"):
        read_gold(gold)


def test_evaluate_scores_top1_top5_mrr_coverage_and_precision(tiny_catalog: StoreCatalog) -> None:
    gold = [
        GoldItem("Seizures", "TP:0000003"),  # exact: accepted and right
        GoldItem("anaemia", "TP:0000005"),
        GoldItem("seizure", "TP:0000004"),  # answered Seizure: Focal seizure comes second
        GoldItem("xylophone", "TP:0000011"),  # nothing found
        GoldItem("TP:0000099", "TP:0000003"),  # alt id, resolved; unchecked: no context
    ]
    report = evaluate(Mapper(tiny_catalog, default_sources(["exact", "fuzzy"])), gold, "tiny")
    assert report.n == 5
    assert report.top1 == 0.6 and report.top5 == 0.8
    assert report.mrr == pytest.approx((1 + 1 + 0.5 + 0 + 1) / 5, abs=1e-4)
    assert report.coverage == 0.8
    assert report.accepted == 3 and report.precision_at_threshold == 0.6667
    # Verified best candidates, whatever their confidence: Seizures, anaemia and (wrongly) seizure.
    assert report.verified_rows == 3 and report.verified_right == 2
    assert report.verified_precision == 0.6667
    # Four rows with a candidate: three name matches at 0.9 or more (two right), and the id in
    # the cell, unchecked, which calibration keeps below 0.9 (right).
    assert sum(b.rows for b in report.reliability) == 4
    top, below = report.reliability[-1], report.reliability[-2]
    assert (top.low, top.high, top.rows, top.right, top.share_right) == (0.9, 1.0, 3, 2, 0.6667)
    assert (below.low, below.rows, below.right) == (0.8, 1, 1)
    gaps = 3 * abs(top.mean_confidence - 2 / 3) + abs(below.mean_confidence - 1)
    assert report.ece == pytest.approx(gaps / 4, abs=1e-3)
    assert report.to_dict()["reliability"][-1] == {
        "bin": "0.9-1.0",
        "rows": 3,
        "share_right": 0.6667,
        "mean_confidence": top.mean_confidence,
    }
    assert report.terms_per_s > 0
    worst = report.worst_misses[0]
    assert worst.term == "seizure" and worst.found_curie == "TP:0000003" and worst.rank == 2
    assert {"n", "top1", "top5", "mrr", "coverage", "terms_per_s"} <= set(report.to_dict())


def test_gold_ids_the_store_does_not_know_are_counted_apart(tiny_catalog: StoreCatalog) -> None:
    gold = [GoldItem("Seizure", "TP:0000003"), GoldItem("Anemia", "TP:9999999")]
    report = evaluate(Mapper(tiny_catalog, default_sources(["exact", "fuzzy"])), gold, "tiny")
    assert report.expected_unknown == 1
    assert report.top1 == 0.5 and report.top1_known == 1.0


def test_hold_out_removes_the_sampled_synonyms_from_a_copy(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    original = tiny_catalog.open("tiny")
    before = original.path.read_bytes()
    held_catalog, gold = hold_out_synonyms(original, 4, seed=7, folder=tmp_path / "held")
    assert len(gold) == 4
    copy = held_catalog.open("tiny")
    for item in gold:
        term = copy.term(item.expected_curie)
        assert item.term not in {s.text for s in term.synonyms}
        assert item.term in {s.text for s in original.term(item.expected_curie).synonyms}
    assert copy.info.term_count == original.info.term_count
    assert "held-out synonyms" in copy.release
    assert original.path.read_bytes() == before  # the real store is never touched
    again = hold_out_synonyms(original, 4, seed=7, folder=tmp_path / "again")[1]
    assert again == gold  # the seed makes it reproducible
    report = evaluate(Mapper(held_catalog, default_sources(["exact", "fuzzy"])), gold, "tiny")
    # Without their synonyms: "Oedema" is still found first (fuzzy, by "Edema"), and so is
    # "Epileptic seizure": Seizure, broader, is likelier than Focal seizure, which names another
    # kind, though fuzzy scores that a little higher. "Low red blood cell count" and "Mental
    # retardation" share no words with what is left, so nothing finds them.
    assert sorted(item.term for item in gold) == [
        "Epileptic seizure", "Low red blood cell count", "Mental retardation", "Oedema",
    ]  # fmt: skip
    assert (report.n, report.top1, report.top5) == (4, 0.5, 0.5)
    assert report.mrr == pytest.approx((1 + 1) / 4)


def test_holding_out_more_synonyms_than_exist_is_refused(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    with pytest.raises(Term2IdError, match="tiny has only 14 synonyms"):
        hold_out_synonyms(tiny_catalog.open("tiny"), 500, seed=1, folder=tmp_path)


def test_hold_out_copies_cached_vectors_except_the_held_out_names(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    original = tiny_catalog.open("tiny")
    names = [n for t in original.terms() for n in (t.label, *(s.text for s in t.synonyms))]
    original.cache_embeddings("model-x", [(name, name.encode()) for name in names])
    held_catalog, gold = hold_out_synonyms(original, 3, seed=1, folder=tmp_path / "held")
    copied = held_catalog.open("tiny").cached_embeddings("model-x")
    assert copied["Seizure"] == b"Seizure"
    held_out = {item.term for item in gold}
    assert held_out.isdisjoint(copied)
    assert len(copied) == len(set(names)) - len(held_out)


def test_hold_out_copies_the_cached_vectors_of_definitions(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    from term2id.core.mapping.embedding_models import MODEL_NAME, int8_key
    from term2id.core.mapping.sources.semantic import definition_text

    original = tiny_catalog.open("tiny")
    seizure = original.term("TP:0000003")
    text = definition_text(seizure.definition)
    assert text == "An intermittent abnormality of nervous system physiology."
    original.cache_embeddings(MODEL_NAME, [(text, b"vector"), ("unrelated text", b"other")])
    original.cache_embeddings(int8_key(MODEL_NAME), [(text, b"int8 vector")])
    held_catalog, _ = hold_out_synonyms(original, 3, seed=1, folder=tmp_path / "held")
    copied = held_catalog.open("tiny").cached_embeddings(MODEL_NAME)
    assert copied[text] == b"vector" and "unrelated text" not in copied
    # Definitions embedded by the model's int8 copy (as the semantic source does) come too.
    copied = held_catalog.open("tiny").cached_embeddings(int8_key(MODEL_NAME))
    assert copied == {text: b"int8 vector"}


def test_the_reliability_table_bins_confidence_by_tenths_and_weights_the_error() -> None:
    pairs = [(0.05, False), (0.15, False), (0.15, True), (0.95, True), (0.95, True), (1.0, False)]
    bins, ece = reliability(pairs)
    assert [b.rows for b in bins] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 3]
    assert bins[1].share_right == 0.5 and bins[2].share_right is None
    assert bins[9].mean_confidence == pytest.approx(0.9667, abs=1e-4)
    # |0.05 - 0| x 1 + |0.15 - 0.5| x 2 + |0.9667 - 0.6667| x 3, over 6 rows
    assert ece == pytest.approx((0.05 + 0.7 + 0.9) / 6, abs=1e-3)
