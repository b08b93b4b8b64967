"""Writing mapped sheets and SSSOM tables: columns, order, safety in spreadsheets, atomicity."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
from sssom.parsers import parse_sssom_table
from sssom.validators import validate

from term2id.core.candidates import (
    Candidate,
    Evidence,
    MappingResult,
    MappingStatus,
    Query,
    Verdict,
)
from term2id.core.exports.mapped_table import map_table
from term2id.core.exports.sheet_writer import (
    MAPPED_COLUMNS,
    MappedSheetWriter,
    OutputFileError,
    neutralise,
)
from term2id.core.exports.sssom_writer import (
    CLOSE_MATCH,
    EXACT_MATCH,
    LEXICAL,
    MANUAL,
    SEMANTIC,
    UNSPECIFIED,
    SSSOMMapping,
    SSSOMSetMetadata,
    sssom_mapping_for,
    subject_id_for,
    write_sssom,
)
from term2id.core.mapping.mapper import Mapper, default_sources
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.tables import open_table

DATA = Path(__file__).parents[1] / "data"


def candidate(curie: str, label: str, confidence: float, *sources: str, verdict=Verdict.VERIFIED):
    evidence = tuple(Evidence(s, confidence, 1) for s in sources or ("exact",))
    return Candidate(curie, label, "hp", verdict, confidence, evidence)


SEIZURE = candidate("HP:0001250", "Seizure", 0.97, "exact", "fuzzy")
FOCAL = candidate("HP:0007359", "Focal-onset seizure", 0.48, "fuzzy")
MOTOR = candidate("HP:0020219", "Motor seizure", 0.41, "semantic")


def result(text: str, *candidates: Candidate, status=MappingStatus.VERIFIED) -> MappingResult:
    return MappingResult(Query(text, "hp"), candidates, status)


def read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# -- cells -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x","click")', '\'=HYPERLINK("http://x","click")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-5", "-5"),  # plain numbers are harmless and stay as they were
        ("+1.5", "+1.5"),
        ("Seizure", "Seizure"),
        ("", ""),
    ],
)
def test_formula_like_cells_are_neutralised(cell: str, written: str) -> None:
    assert neutralise(cell) == written


# -- the mapped sheet ------------------------------------------------------------------------


def test_csv_sheet_keeps_input_columns_and_adds_the_mapped_ones(tmp_path: Path) -> None:
    out = tmp_path / "mapped.csv"
    with MappedSheetWriter(out, ["patient", "term"], top_k=3) as writer:
        writer.write(["P1", "Seizures"], result("Seizures", SEIZURE, FOCAL, MOTOR))
        writer.write(["P2", ""], result("", status=MappingStatus.EMPTY))
        writer.write(["P3", "=cmd"], result("=cmd", status=MappingStatus.NO_MATCH))
    rows = read_csv(out)
    assert rows[0] == ["patient", "term", *MAPPED_COLUMNS]
    assert rows[1] == [
        "P1",
        "Seizures",
        "HP:0001250",
        "Seizure",
        "0.97",
        "verified",
        "HP:0007359 Focal-onset seizure (0.48) | HP:0020219 Motor seizure (0.41)",
    ]
    assert rows[2] == ["P2", "", "", "", "", "empty", ""]
    assert rows[3][:2] == ["P3", "'=cmd"] and rows[3][5] == "no_match"
    assert leftovers(tmp_path) == []


def test_top_k_counts_the_best_candidate_too(tmp_path: Path) -> None:
    out = tmp_path / "mapped.tsv"
    with MappedSheetWriter(out, ["term"], top_k=2, delimiter="\t") as writer:
        writer.write(["Seizures"], result("Seizures", SEIZURE, FOCAL, MOTOR))
    assert read_csv(out, "\t")[1][-1] == "HP:0007359 Focal-onset seizure (0.48)"


def test_ragged_extra_cells_go_after_the_mapped_columns(tmp_path: Path) -> None:
    out = tmp_path / "mapped.csv"
    with MappedSheetWriter(out, ["id", "term"]) as writer:
        writer.write(["1"], result("", status=MappingStatus.EMPTY))
        writer.write(["2", "Seizures", "stray"], result("Seizures", SEIZURE))
    rows = read_csv(out)
    assert rows[1][:2] == ["1", ""]
    assert rows[2][:3] == ["2", "Seizures", "HP:0001250"] and rows[2][-1] == "stray"


def test_xlsx_sheet_writes_formulas_as_inert_text(tmp_path: Path) -> None:
    out = tmp_path / "mapped.xlsx"
    with MappedSheetWriter(out, ["term", "count"]) as writer:
        writer.write(["=1+1", 3], result("=1+1", status=MappingStatus.NO_MATCH))
        writer.write(["Seizures", 4.5], result("Seizures", SEIZURE, FOCAL))
    sheet = openpyxl.load_workbook(out).active
    rows = [[cell for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert rows[0][0].value == "'=1+1" and rows[0][0].data_type == "s"
    assert rows[0][1].value == 3  # numbers stay numbers
    assert rows[1][2].value == "HP:0001250" and rows[1][4].value == pytest.approx(0.97)


def test_a_failed_run_leaves_no_file_and_an_older_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "mapped.csv"
    out.write_text("older result\n", encoding="utf-8")
    with pytest.raises(RuntimeError), MappedSheetWriter(out, ["term"]) as writer:
        writer.write(["Seizures"], result("Seizures", SEIZURE))
        raise RuntimeError("mapping failed half way")
    assert out.read_text(encoding="utf-8") == "older result\n"
    assert leftovers(tmp_path) == []


def test_output_equal_to_the_input_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "terms.csv"
    source.write_text("term\nSeizures\n", encoding="utf-8")
    before = source.read_bytes()
    for same in (source, tmp_path / "." / "terms.csv"):
        with pytest.raises(OutputFileError, match="is an input file"):
            MappedSheetWriter(same, ["term"], inputs=[source])
    link = tmp_path / "link.csv"
    link.symlink_to(source)
    with pytest.raises(OutputFileError, match="is an input file"):
        MappedSheetWriter(link, ["term"], inputs=[source])
    assert source.read_bytes() == before


def test_read_only_output_folder_is_a_clear_error(read_only_folder: Path) -> None:
    with pytest.raises(OutputFileError, match="cannot write in folder"):
        MappedSheetWriter(read_only_folder / "mapped.csv", ["term"])


def test_missing_output_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(OutputFileError, match="does not exist"):
        MappedSheetWriter(tmp_path / "nowhere" / "mapped.csv", ["term"])


# -- batch mapping ---------------------------------------------------------------------------


def test_map_table_keeps_every_input_column_and_the_row_order(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    source = tmp_path / "sheet.csv"
    terms = ["Tumour", "Seizures", "", "Anaemia", "Seizures", "   ", "Oedema", "qwertyuiop"]
    lines = ["row,term,comment"] + [f"{i},{t},c{i}" for i, t in enumerate(terms)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = source.read_bytes()
    summary = map_table(
        open_table(source), Mapper(tiny_catalog, default_sources(["exact", "fuzzy"])),
        tmp_path / "out.csv", column="term", ontology="tiny",
    )  # fmt: skip
    rows = read_csv(tmp_path / "out.csv")
    assert rows[0] == ["row", "term", "comment", *MAPPED_COLUMNS]
    assert [r[:3] for r in rows[1:]] == [[str(i), t, f"c{i}"] for i, t in enumerate(terms)]
    status = [r[6] for r in rows[1:]]
    assert status[2] == status[5] == "empty"
    assert [r[3] for r in rows[1:]][:2] == ["TP:0000007", "TP:0000003"]
    assert rows[2][3:] == rows[5][3:]  # a repeated term gets the same answer
    assert summary.rows == 8 and summary.distinct_terms == 5
    assert summary.status_counts["empty"] == 2
    assert source.read_bytes() == before


# -- SSSOM -----------------------------------------------------------------------------------


def test_subject_ids_are_stable_distinct_and_valid_curies() -> None:
    assert subject_id_for("Seizures") == subject_id_for("  Seizures ")
    assert subject_id_for("Seizures") != subject_id_for("seizures")
    assert subject_id_for("Café-au-lait spots").startswith("term2id.input:cafe_au_lait_spots-")
    assert subject_id_for("癫痫发作").startswith("term2id.input:")
    assert " " not in subject_id_for("a b\tc")


def test_predicate_and_justification_follow_the_documented_rules() -> None:
    verified = sssom_mapping_for(result("Seizures", SEIZURE), "2025-01-16")
    assert verified.predicate_id == EXACT_MATCH and verified.mapping_justification == LEXICAL
    review = sssom_mapping_for(result("fits", FOCAL, status=MappingStatus.NEEDS_REVIEW))
    assert review.predicate_id == CLOSE_MATCH
    semantic = sssom_mapping_for(result("jerks", MOTOR, status=MappingStatus.NEEDS_REVIEW))
    assert semantic.mapping_justification == SEMANTIC
    model = candidate("HP:0001250", "Seizure", 0.6, "llm")
    assert sssom_mapping_for(result("fits", model)).mapping_justification == UNSPECIFIED
    curated = sssom_mapping_for(
        result("fits", FOCAL, MOTOR, status=MappingStatus.NEEDS_REVIEW),
        candidate=MOTOR,
        accepted=True,
        author_id="orcid:0000-0002-1825-0097",
    )
    assert curated.predicate_id == EXACT_MATCH and curated.mapping_justification == MANUAL
    assert curated.object_id == "HP:0020219"
    assert sssom_mapping_for(result("", status=MappingStatus.EMPTY)) is None
    unknown = candidate("HP:9999999", "x", 0.5, "llm", verdict=Verdict.UNKNOWN_ID)
    assert sssom_mapping_for(result("x", unknown, status=MappingStatus.NEEDS_REVIEW)) is None


def test_sssom_file_validates_with_the_sssom_package(tmp_path: Path) -> None:
    out = tmp_path / "mappings.sssom.tsv"
    mappings = [
        sssom_mapping_for(result("Seizures", SEIZURE, FOCAL), "hp/releases/2025-01-16"),
        sssom_mapping_for(result("Seizures", SEIZURE), "hp/releases/2025-01-16"),  # repeat
        sssom_mapping_for(
            result("=fits\tat night", FOCAL, status=MappingStatus.NEEDS_REVIEW),
            "hp/releases/2025-01-16",
            candidate=FOCAL,
            accepted=True,
            author_id="orcid:0000-0002-1825-0097",
            comment="checked with the clinician",
        ),
        SSSOMMapping(
            subject_id=subject_id_for("TP53"),
            subject_label="TP53",
            predicate_id=CLOSE_MATCH,
            object_id="HGNC:11998",
            object_label="TP53",
            mapping_justification=LEXICAL,
            confidence=0.88,
            object_source_version="hgnc-2024",
        ),
    ]
    written = write_sssom(out, mappings, SSSOMSetMetadata(mapping_set_title="clinic terms"))
    assert written == 3
    text = out.read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    for expected in (
        "#  HP: http://purl.obolibrary.org/obo/HP_",
        "#  HGNC: ",
        "#  orcid: https://orcid.org/",
        "#  semapv: https://w3id.org/semapv/vocab/",
        "#  skos: http://www.w3.org/2004/02/skos/core#",
        "#  term2id.input: ",
        "#license: https://creativecommons.org/publicdomain/zero/1.0/",
        "#mapping_tool: term2id",
    ):
        assert any(line.startswith(expected) for line in header), expected
    assert any(line.startswith("#mapping_set_id: urn:term2id:mapping-set:") for line in header)
    assert not any(line.startswith("#object_source_version") for line in header)  # two versions

    msdf = parse_sssom_table(out)
    validate(msdf, fail_on_error=True)
    frame = msdf.df.set_index("subject_label")
    assert frame.loc["Seizures", "predicate_id"] == EXACT_MATCH
    assert frame.loc["'=fits at night", "mapping_justification"] == MANUAL
    assert frame.loc["'=fits at night", "author_id"] == "orcid:0000-0002-1825-0097"
    assert frame.loc["TP53", "object_id"] == "HGNC:11998"
    assert leftovers(tmp_path) == []


def test_sssom_labels_from_an_imported_file_cannot_run_as_formulas(tmp_path: Path) -> None:
    crafted = candidate("HP:0001250", '=HYPERLINK("http://x","Seizure")', 0.97, "exact")
    mapping = sssom_mapping_for(result("Seizures", crafted), "@hp/releases/2025")
    out = tmp_path / "mappings.sssom.tsv"
    write_sssom(out, [mapping])
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if not r[0].startswith("#")]
    written = dict(zip(rows[0], rows[1], strict=True))
    assert written["object_label"] == '\'=HYPERLINK("http://x","Seizure")'
    assert written["object_source_version"] == "'@hp/releases/2025"
    assert written["object_id"] == "HP:0001250"


def test_sssom_output_equal_to_the_input_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "terms.tsv"
    source.write_text("term\nSeizures\n", encoding="utf-8")
    with pytest.raises(OutputFileError, match="is an input file"):
        write_sssom(source, [], inputs=[source])
    assert source.read_text(encoding="utf-8") == "term\nSeizures\n"


def test_pasted_terms_map_to_a_sheet_like_a_file_does(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    from term2id.core.tables import read_pasted

    table = read_pasted("Seizures\n\nTumour\n")
    out = tmp_path / "pasted.csv"
    lexical = Mapper(tiny_catalog, default_sources(["exact", "fuzzy"]))
    summary = map_table(table, lexical, out, column="term", ontology="tiny")
    rows = read_csv(out)
    assert [r[:2] for r in rows] == [
        ["term", "mapped_id"],
        ["Seizures", "TP:0000003"],
        ["", ""],
        ["Tumour", "TP:0000007"],
    ]
    assert summary.status_counts == {"verified": 2, "empty": 1}
