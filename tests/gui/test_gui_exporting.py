"""Exports verify every id again: a curator's pick is written with its real verdict."""

from __future__ import annotations

import csv
from pathlib import Path

from term2id.core.candidates import (
    Candidate,
    Evidence,
    MappingResult,
    MappingStatus,
    Query,
    Verdict,
)
from term2id.core.curation.decision_log import Action, Curator
from term2id.core.curation.exporting import export_sheet, export_sssom
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput
from term2id.core.ontology.catalog import StoreCatalog

CURATOR = Curator("Ada Curator", "0000-0002-1825-0097")
TERMS = ["Seizure", "Anemia", "seizure", "Seizure", "Tumour"]


def stale(term: str, curie: str, label: str) -> MappingResult:
    """A result as an older version recorded it: "verified" whatever the names say."""
    candidate = Candidate(
        curie, label, "tiny", Verdict.VERIFIED, 0.95, (Evidence("fuzzy", 0.9, 1, label, ""),)
    )
    return MappingResult(Query(term, "tiny"), (candidate,), MappingStatus.VERIFIED)


def rows_of(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_exported_ids_carry_their_real_verdict(tmp_path: Path, tiny_catalog: StoreCatalog) -> None:
    store = tiny_catalog.open("tiny")
    source = SessionInput(
        header=("phenotype",), rows=[[t] for t in TERMS], term_column="phenotype",
        default_ontology="tiny",
    )  # fmt: skip
    session = CurationSession.create(tmp_path / "s.t2id", source)
    session.record_results(
        [
            (0, stale("Seizure", "TP:0000003", "Seizure")),
            (1, stale("Anemia", "TP:0000006", "Edema")),  # a stale "verified"
            (2, stale("seizure", "TP:0000003", "Seizure")),
            (3, stale("Seizure", "TP:0000003", "Seizure")),
            (4, stale("Tumour", "TP:0000007", "Tumor")),
        ],
        {"tiny": store.release},
    )
    session.decide(0, Action.ACCEPT, CURATOR, "TP:0000003", "Seizure")
    session.decide(2, Action.MANUAL, CURATOR, "TP:0000004", "Focal seizure")  # narrower
    session.decide(3, Action.MANUAL, CURATOR, "TP:0000009", "obsolete Fits")  # obsolete
    session.decide(4, Action.MANUAL, CURATOR, "HGNC:11998", "TP53")  # another store's id
    stores = {"tiny": store, "genes": tiny_catalog.open("genes")}
    rows = (
        rows_of(tmp_path / "sheet.csv")
        if export_sheet(session, tmp_path / "sheet.csv", stores=stores)
        else []
    )
    assert [r["status"] for r in rows] == [
        "verified", "mismatch", "narrower", "obsolete", "wrong_ontology",
    ]  # fmt: skip
    assert [r["mapped_id"] for r in rows] == [
        "TP:0000003", "TP:0000006", "TP:0000004", "TP:0000009", "HGNC:11998",
    ]  # fmt: skip
    sssom = tmp_path / "m.sssom.tsv"
    export_sssom(session, sssom, stores)
    lines = [line.split("\t") for line in sssom.read_text().splitlines() if line[:1] != "#"]
    header, body = lines[0], lines[1:]
    by_object = {r[header.index("object_id")]: r for r in body}
    predicate = header.index("predicate_id")
    assert by_object["TP:0000004"][predicate] == "skos:narrowMatch"
    assert by_object["TP:0000003"][predicate] == "skos:exactMatch"
    # The obsolete and the other store's ids the curator chose are there, saying what they are.
    comment = header.index("comment")
    assert "obsolete: " in by_object["TP:0000009"][comment]
    assert "wrong_ontology: an id of genes, not of tiny" in by_object["HGNC:11998"][comment]
    # Without the stores, an id chosen by hand cannot be checked and is not called verified.
    unchecked = (
        rows_of(tmp_path / "sheet2.csv") if export_sheet(session, tmp_path / "sheet2.csv") else []
    )
    assert unchecked[2]["status"] == "unchecked" and unchecked[3]["status"] == "unchecked"
    session.close()


def sssom_rows(path: Path) -> list[dict]:
    lines = [line.split("\t") for line in path.read_text().splitlines() if line[:1] != "#"]
    return [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]


def test_predicates_several_ids_and_two_curators_in_exports(
    tmp_path: Path, tiny_catalog: StoreCatalog
) -> None:
    from term2id.core.curation.decision_log import ReviewRound
    from term2id.core.curation.review import settle

    store = tiny_catalog.open("tiny")
    terms = ["Seizure", "fits and swelling", "Anemia", "Tumour", "Seizures"]
    source = SessionInput(
        header=("phenotype",), rows=[[t] for t in terms], term_column="phenotype",
        default_ontology="tiny",
    )  # fmt: skip
    session = CurationSession.create(tmp_path / "s.t2id", source)
    session.record_results(
        [
            (0, stale("Seizure", "TP:0000003", "Seizure")),
            (1, stale("fits and swelling", "TP:0000003", "Seizure")),
            (2, stale("Anemia", "TP:0000005", "Anemia")),
            (3, stale("Tumour", "TP:0000007", "Tumor")),
            (4, stale("Seizures", "TP:0000003", "Seizure")),
        ],
        {"tiny": store.release},
    )
    bea = Curator("Bea Second", "0000-0001-5109-3700")
    second = ReviewRound.SECOND
    # Row 0: both accept alike. Row 1: one curator maps it to two ids, broader.
    session.decide(0, Action.ACCEPT, CURATOR, "TP:0000003", "Seizure")
    session.decide(0, Action.ACCEPT, bea, "TP:0000003", "Seizure", review_round=second)
    session.decide(
        1, Action.ACCEPT, CURATOR, "TP:0000003", "Seizure", predicate="broad", also=["TP:0000006"]
    )
    # Row 2: they disagree, then settle with the second curator's related mapping.
    session.decide(2, Action.ACCEPT, CURATOR, "TP:0000005", "Anemia")
    other = session.decide(
        2, Action.MANUAL, bea, "TP:0000006", "Edema", predicate="related", review_round=second
    )
    settle(session, 2, other, CURATOR)
    # Row 3: they disagree and nobody settled it. Row 4: only the second curator decided.
    session.decide(3, Action.ACCEPT, CURATOR, "TP:0000007", "Tumor")
    session.decide(3, Action.REJECT, bea, review_round=second)
    session.decide(4, Action.ACCEPT, bea, "TP:0000003", "Seizure", review_round=second)
    stores = {"tiny": store}

    export_sheet(session, tmp_path / "sheet.csv", stores=stores)
    rows = rows_of(tmp_path / "sheet.csv")
    assert list(rows[0])[-3:] == ["mapping_predicate", "mapped_ids", "one_to_many"]
    assert [r["mapped_id"] for r in rows] == [
        "TP:0000003", "TP:0000003", "TP:0000006", "TP:0000007", "TP:0000003",
    ]  # fmt: skip
    assert [r["mapped_ids"] for r in rows][:3] == [
        "TP:0000003", "TP:0000003|TP:0000006", "TP:0000006",
    ]  # fmt: skip
    assert [r["one_to_many"] for r in rows] == ["", "yes", "", "", ""]
    assert [r["mapping_predicate"] for r in rows] == [
        "exact", "broad", "related", "exact", "exact",
    ]  # fmt: skip

    export_sssom(session, tmp_path / "all.sssom.tsv", stores)
    mappings = sssom_rows(tmp_path / "all.sssom.tsv")
    by_row = {}
    for mapping in mappings:
        by_row.setdefault(mapping["subject_label"], []).append(mapping)
    ada, bea_id = "orcid:0000-0002-1825-0097", "orcid:0000-0001-5109-3700"
    # One mapping per id, each with the curator's predicate.
    assert [(m["object_id"], m["predicate_id"]) for m in by_row["fits and swelling"]] == [
        ("TP:0000003", "skos:broadMatch"), ("TP:0000006", "skos:broadMatch"),
    ]  # fmt: skip
    authors = {(m["author_id"], m["reviewer_id"]) for m in by_row["fits and swelling"]}
    assert authors == {(ada, "")}
    who = {
        term: [(m["object_id"], m["author_id"], m["reviewer_id"]) for m in by_row[term]]
        for term in ("Seizure", "Seizures")
    }
    assert who == {
        "Seizure": [("TP:0000003", ada, bea_id)],  # both alike: first author, second reviewer
        "Seizures": [("TP:0000003", bea_id, "")],  # the second curator alone: its author
    }
    anemia = by_row["Anemia"]
    assert [(m["object_id"], m["predicate_id"]) for m in anemia] == [
        ("TP:0000006", "skos:relatedMatch")
    ]
    assert (anemia[0]["author_id"], anemia[0]["reviewer_id"]) == (ada, bea_id)
    assert "not settled" in by_row["Tumour"][0]["comment"]

    # Limited to rows both decided alike or settled: rows 0 and 2.
    assert export_sheet(session, tmp_path / "agreed.csv", stores=stores, only_reviewed=True) == 2
    assert [r["phenotype"] for r in rows_of(tmp_path / "agreed.csv")] == ["Seizure", "Anemia"]
    export_sssom(session, tmp_path / "agreed.sssom.tsv", stores, only_reviewed=True)
    agreed = sssom_rows(tmp_path / "agreed.sssom.tsv")
    assert [(m["subject_label"], m["object_id"]) for m in agreed] == [
        ("Seizure", "TP:0000003"), ("Anemia", "TP:0000006"),
    ]  # fmt: skip
    session.close()
