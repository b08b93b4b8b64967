"""`term2id map` and `term2id demo` as a user runs them: outputs, summaries, exit codes, messages."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from sssom.parsers import parse_sssom_table
from sssom.validators import validate

from term2id.core.exports.sheet_writer import MAPPED_COLUMNS
from term2id.core.ontology.catalog import StoreCatalog

DATA = Path(__file__).parent / "data"


def read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


@pytest.fixture
def d(tiny_catalog: StoreCatalog) -> list[str]:
    return ["--data-dir", str(tiny_catalog.data_dir)]


def assert_one_line_error(result, *expected: str, code: int = 2) -> None:
    assert result.code == code, (result.out, result.err)
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    for text in expected:
        assert text in result.err, result.err


def test_map_csv_writes_every_column_in_order_and_prints_a_summary(
    run_cli, d: list[str], tmp_path: Path
) -> None:
    source = DATA / "table_terms.tsv"
    before = source.read_bytes()
    out = tmp_path / "mapped.tsv"
    result = run_cli(
        "map", source, "--column", "term", "--ontology-column", "ontology",
        "--context-column", "context", "-o", out, *d,
    )  # fmt: skip
    assert result.code == 0, result.err
    rows = read_csv(out, "\t")
    assert rows[0] == ["term", "ontology", "context", *MAPPED_COLUMNS]
    assert [r[0] for r in rows[1:]] == ["Seizures", "TP53", "Anaemia", "", "Tumour"]
    assert [r[3] for r in rows[1:]] == ["TP:0000003", "HGNC:11998", "TP:0000005", "", "TP:0000007"]
    assert rows[4][6] == "empty" and rows[4][2] == "empty term"
    assert "mapped 5 rows (4 distinct terms)" in result.out
    assert "empty 1" in result.out and "verified" in result.out and "terms/s" in result.out
    assert "sources: curated, exact, fuzzy, semantic" in result.out  # memory, default engine
    assert source.read_bytes() == before


def test_map_latin1_semicolon_sheet_keeps_its_delimiter_and_accents(
    run_cli, d: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "clinic.csv"
    source.write_bytes("patient;term;dose\nP1;Anämie;1,5 mg\nP2;Oedema;2 mg\n".encode("cp1252"))
    before = source.read_bytes()
    out = tmp_path / "mapped.csv"
    result = run_cli("map", source, "-c", "term", "--ontology", "tiny", "-o", out, *d)
    assert result.code == 0, result.err
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the accents back
    rows = read_csv(out, ";")
    assert rows[1][:3] == ["P1", "Anämie", "1,5 mg"]
    assert rows[2][3:5] == ["TP:0000006", "Edema"]
    assert source.read_bytes() == before


def test_map_xlsx_with_several_sheets_needs_sheet_then_writes_xlsx_and_sssom(
    run_cli, d: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "clinic.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    workbook.active.append(["exported from the clinic system"])
    sheet = workbook.create_sheet("Terms")
    for row in [["id", "term"], [1, "Tumour"], [2, '=HYPERLINK("x")'], [3, "Seizures"]]:
        sheet.append(row)
    sheet["B3"].data_type = "s"  # text that looks like a formula (Excel: typed as '=...)
    workbook.save(source)
    before = source.read_bytes()
    out, sssom = tmp_path / "mapped.xlsx", tmp_path / "mapped.sssom.tsv"
    args = ["map", source, "-c", "term", "--ontology", "tiny", "-o", out, "--sssom", sssom, *d]

    refused = run_cli(*args)
    assert_one_line_error(refused, "several sheets", "'Notes', 'Terms'", "--sheet")
    assert not out.exists() and not sssom.exists()

    result = run_cli(*args, "--sheet", "Terms")
    assert result.code == 0, result.err
    rows = [[c.value for c in r] for r in openpyxl.load_workbook(out).active.iter_rows()]
    assert rows[0] == ["id", "term", *MAPPED_COLUMNS]
    assert rows[1][:4] == [1, "Tumour", "TP:0000007", "Tumor"]
    assert rows[2][1] == '\'=HYPERLINK("x")'  # inert text, not a formula
    assert rows[3][2] == "TP:0000003"
    msdf = parse_sssom_table(sssom)
    validate(msdf, fail_on_error=True)
    assert set(msdf.df["object_id"]) >= {"TP:0000007", "TP:0000003"}
    assert f"wrote {sssom}" in result.out
    assert source.read_bytes() == before


def test_csv_cells_that_look_like_formulas_are_neutralised(
    run_cli, d: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "evil.csv"
    source.write_text('term,note\nSeizures,=cmd|"/C calc"!A0\n@SUM(1),-5\n', encoding="utf-8")
    out = tmp_path / "mapped.csv"
    assert run_cli("map", source, "-c", "term", "--ontology", "tiny", "-o", out, *d).code == 0
    rows = read_csv(out)
    assert rows[1][1] == '\'=cmd|"/C calc"!A0'
    assert rows[2][:2] == ["'@SUM(1)", "-5"]


def test_huge_cells_and_other_scripts_map_without_error(
    run_cli, d: list[str], tmp_path: Path
) -> None:
    huge = "seizure " * 12_800  # 100 kB
    source = tmp_path / "odd.csv"
    source.write_text(f"term\n{huge}\nСудороги\n癫痫发作\n   \nSeizures\n", encoding="utf-8")
    out = tmp_path / "mapped.csv"
    result = run_cli("map", source, "-c", "term", "--ontology", "tiny", "-o", out, *d)
    assert result.code == 0, result.err
    rows = read_csv(out)
    assert [r[0] for r in rows[1:]] == [huge, "Судороги", "癫痫发作", "   ", "Seizures"]
    assert rows[4][4] == "empty"  # one input column, then mapped_id, label, confidence, status
    assert rows[5][1] == "TP:0000003"


def test_ragged_rows_are_mapped_and_reported(run_cli, d: list[str], tmp_path: Path) -> None:
    out = tmp_path / "mapped.csv"
    result = run_cli(
        "map", DATA / "table_ragged.csv", "-c", "term", "--ontology", "tiny", "-o", out, *d
    )
    assert result.code == 0, result.err
    assert "table_ragged.csv:3: 2 cells, fewer than the header's 3" in result.err
    assert "table_ragged.csv:4: 5 cells, more than the header's 3" in result.err
    rows = read_csv(out)
    assert [r[1] for r in rows[1:]] == ["Seizure", "Anaemia", "Tumour", "Ataxia"]
    assert rows[3][-2:] == ["extra cell", "another"]


@pytest.mark.parametrize(
    ("args", "expected", "code"),
    [
        (["-c", "phenotype", "--ontology", "tiny"], ["no column named 'phenotype'",
         "columns: 'term', 'ontology', 'context'"], 2),
        (["-c", "term", "--ontology", "hpo"], ["no ontology store named 'hpo'",
         "stores available: genes, hp, tiny"], 3),
        (["-c", "term", "--ontology-column", "nope"], ["no column named 'nope'"], 2),
        (["-c", "term", "--sources", "exact,magic"], ["unknown candidate source 'magic'"], 1),
    ],
)  # fmt: skip
def test_bad_options_get_one_line_and_a_non_zero_exit(
    run_cli, d: list[str], tmp_path: Path, args: list[str], expected: list[str], code: int
) -> None:
    out = tmp_path / "mapped.csv"
    result = run_cli("map", DATA / "table_terms.tsv", *args, "-o", out, *d)
    assert_one_line_error(result, *expected, code=code)
    assert not out.exists()


def test_an_error_quotes_the_users_text_as_written(run_cli, d: list[str], tmp_path: Path) -> None:
    # a header such as /etc/passwd's first line: no ":x:" turned into a cross mark
    source = tmp_path / "colons.tsv"
    source.write_text("root:x:0:0\nSeizure\n", encoding="utf-8")
    result = run_cli(
        "map", source, "-c", "term", "--ontology", "tiny", "-o", tmp_path / "o.csv", *d
    )
    assert_one_line_error(result, "columns: 'root:x:0:0'", code=2)


def test_unknown_store_in_the_ontology_column_names_its_line(
    run_cli, d: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "mixed.csv"
    source.write_text("term,target\nSeizures,tiny\nTP53,genes\nAnaemia,hpo\n", encoding="utf-8")
    out = tmp_path / "mapped.csv"
    result = run_cli("map", source, "-c", "term", "--ontology-column", "target", "-o", out, *d)
    assert_one_line_error(result, "mixed.csv:4", "column 'target'", "no ontology store named 'hpo'")
    assert not out.exists()


def test_a_file_that_is_not_a_table_is_refused(run_cli, d: list[str], tmp_path: Path) -> None:
    out = tmp_path / "mapped.csv"
    result = run_cli("map", DATA / "not_a_table.png", "-c", "term", "-o", out, *d)
    assert_one_line_error(result, "not_a_table.png: is not a table")
    assert not out.exists()


def test_output_equal_to_the_input_is_refused_and_the_input_kept(
    run_cli, d: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "terms.csv"
    source.write_bytes((DATA / "table_bom.csv").read_bytes())
    before = source.read_bytes()
    result = run_cli("map", source, "-c", "term", "--ontology", "tiny", "-o", source, *d)
    assert_one_line_error(result, "is an input file")
    sssom = run_cli(
        "map", source, "-c", "term", "--ontology", "tiny", "-o", tmp_path / "o.csv",
        "--sssom", source, *d,
    )  # fmt: skip
    assert_one_line_error(sssom, "is an input file")
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["terms.csv"]


def test_read_only_output_folder_fails_cleanly(
    run_cli, d: list[str], read_only_folder: Path
) -> None:
    result = run_cli(
        "map", DATA / "table_bom.csv", "-c", "term", "--ontology", "tiny",
        "-o", read_only_folder / "mapped.csv", *d,
    )  # fmt: skip
    assert_one_line_error(result, "cannot write in folder")


def test_the_installed_entry_point_reports_errors_without_a_traceback(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    env = {**os.environ, "TERM2ID_DATA_DIR": str(tiny_catalog.data_dir)}
    command = [sys.executable, "-m", "term2id.cli", "map", str(DATA / "table_terms.tsv")]
    command += ["-c", "terms", "--ontology", "tiny", "-o", str(tmp_path / "out.csv")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "no column named 'terms'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_demo_maps_the_example_sheet_against_the_embedded_hpo(
    run_cli, hpo_data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "demo.csv"
    # The dictionary sources only: the default would embed every name of HPO first (minutes).
    result = run_cli("demo", "-o", out, "--sources", "exact,fuzzy", "--data-dir", hpo_data_dir)
    assert result.code == 0, result.err
    assert "Seizures" in result.out and "HP:0001250" in result.out
    assert "with exact, fuzzy" in result.out
    assert f"wrote {out}" in result.out
    rows = read_csv(out)
    assert rows[0] == ["patient_id", "term", "notes", *MAPPED_COLUMNS]
    by_term = {r[1]: r for r in rows[1:]}
    assert by_term["Seizures"][3] == "HP:0001250"
    assert by_term["Anaemia"][3] == "HP:0001903"
    assert by_term[""][6] == "empty"
    assert len(rows) - 1 == 26
