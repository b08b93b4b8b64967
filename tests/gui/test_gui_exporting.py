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
from term2id.core.catalog import StoreCatalog
from term2id.core.session import Action, CurationSession, Curator, SessionInput
from term2id.gui.exporting import export_sheet, export_sssom

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
