"""Reading curators' tables: encodings, delimiters, ragged rows, workbooks, pasted text, bad files."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import openpyxl
import pytest

from term2id.core.errors import InputFileError
from term2id.core.tables import (
    ColumnNotFoundError,
    SheetNotChosenError,
    SheetNotFoundError,
    list_sheets,
    open_table,
    preview,
    read_pasted,
)

DATA = Path(__file__).parents[1] / "data"


def texts(path: Path | str, **kwargs) -> list[list[str]]:
    table = open_table(path, **kwargs)
    return [[row.text(i) for i in range(len(row.cells))] for row in table.rows()]


def test_latin1_file_is_read_with_its_accents() -> None:
    table = open_table(DATA / "table_latin1.csv")
    assert table.info.encoding == "cp1252"
    assert table.columns == ("sample", "term", "notes")
    assert texts(DATA / "table_latin1.csv") == [
        ["S1", "Anämie", "Blässe seit März"],
        ["S2", "Seizures", ""],
        ["S3", "Œdème", "café au lait"],
    ]


def test_byte_order_mark_does_not_end_up_in_the_first_column_name() -> None:
    table = open_table(DATA / "table_bom.csv")
    assert table.info.encoding == "utf-8-sig"
    assert table.columns[0] == "term"
    assert table.column_index("term") == 0


def test_semicolon_delimiter_is_sniffed_and_decimal_commas_stay_in_their_cell() -> None:
    table = open_table(DATA / "table_semicolon.csv")
    assert table.info.delimiter == ";"
    assert texts(DATA / "table_semicolon.csv")[0] == ["P1", "Seizure", "1,5 mg"]


def test_tab_separated_file_is_sniffed() -> None:
    table = open_table(DATA / "table_terms.tsv")
    assert table.info.delimiter == "\t"
    assert table.columns == ("term", "ontology", "context")


def test_single_column_file_keeps_commas_inside_terms(tmp_path: Path) -> None:
    path = tmp_path / "terms.csv"
    path.write_text("term\nSeizures, focal\nAnaemia\n", encoding="utf-8")
    assert texts(path) == [["Seizures, focal"], ["Anaemia"]]


def test_ragged_rows_are_padded_or_kept_and_reported_with_line_numbers() -> None:
    table = open_table(DATA / "table_ragged.csv")
    rows = list(table.rows())
    assert [row.line for row in rows] == [2, 3, 4, 5]  # the trailing blank line is dropped
    assert rows[1].cells == ("2", "Anaemia", "")
    assert rows[2].cells == ("3", "Tumour", "ok", "extra cell", "another")
    assert table.ragged_rows == 2
    assert any(":3: 2 cells, fewer than the header's 3" in w for w in table.warnings)
    assert any(":4: 5 cells, more than the header's 3" in w for w in table.warnings)


def test_empty_rows_between_data_are_kept_and_trailing_ones_dropped(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("term,n\nSeizure,1\n,\n\nAtaxia,2\n,\n\n\n", encoding="utf-8")
    rows = list(open_table(path).rows())
    assert [r.text(0) for r in rows] == ["Seizure", "", "", "Ataxia"]
    assert [r.line for r in rows] == [2, 3, 4, 5]


def test_hundred_kilobyte_cells_and_other_scripts_come_through_whole(tmp_path: Path) -> None:
    big = "seizure " * 12_800  # 100 kB
    path = tmp_path / "odd.csv"
    path.write_text(f"term,note\n{big},x\nСудороги,ru\n癫痫发作,zh\nنوبة,ar\n", encoding="utf-8")
    assert [row[0] for row in texts(path)] == [big, "Судороги", "癫痫发作", "نوبة"]


def test_missing_column_lists_the_columns_that_exist() -> None:
    table = open_table(DATA / "table_semicolon.csv")
    with pytest.raises(ColumnNotFoundError) as caught:
        table.column_index("phenotype")
    message = str(caught.value)
    assert "table_semicolon.csv" in message and "'phenotype'" in message
    assert "'patient', 'term', 'dose'" in message


def test_column_names_match_regardless_of_case_when_unambiguous() -> None:
    assert open_table(DATA / "table_semicolon.csv").column_index("Term") == 1


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("picture.png", None, "is not a table: it holds binary data"),
        ("empty.csv", b"", "is empty"),
        ("blank.csv", b"\n\n  \n", "holds no rows"),
        ("fake.xlsx", b"term\nSeizure\n", "is named like an XLSX workbook but is not one"),
        ("archive.csv", None, "is a ZIP archive"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel .xls"),
    ],
)
def test_files_that_are_not_tables_get_a_clear_error(
    tmp_path: Path, name: str, content: bytes | None, expected: str
) -> None:
    path = tmp_path / name
    if name == "picture.png":
        path.write_bytes((DATA / "not_a_table.png").read_bytes())
    elif name == "archive.csv":
        import zipfile

        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "hello")
    else:
        path.write_bytes(content or b"")
    with pytest.raises(InputFileError) as caught:
        open_table(path)
    assert expected in str(caught.value)
    assert name in str(caught.value)


def test_missing_file_and_folder_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        open_table(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="is a folder"):
        open_table(tmp_path)


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def test_workbook_with_several_sheets_needs_one_chosen(tmp_path: Path) -> None:
    path = _workbook(
        tmp_path / "clinic.xlsx",
        {
            "Cover": [["Clinic export"]],
            "Phenotypes": [["patient", "term"], ["P1", "Seizures"], ["P2", "Anaemia"]],
        },
    )
    assert list_sheets(path) == ("Cover", "Phenotypes")
    with pytest.raises(SheetNotChosenError) as caught:
        open_table(path)
    assert caught.value.sheets == ("Cover", "Phenotypes")
    assert "'Cover', 'Phenotypes'" in str(caught.value) and "--sheet" in str(caught.value)
    table = open_table(path, sheet="Phenotypes")
    assert table.info.sheets == ("Cover", "Phenotypes") and table.info.sheet == "Phenotypes"
    assert texts(path, sheet="Phenotypes") == [["P1", "Seizures"], ["P2", "Anaemia"]]
    with pytest.raises(SheetNotFoundError, match="no sheet named 'Terms'; sheets: 'Cover'"):
        open_table(path, sheet="Terms")


def test_workbook_cells_keep_their_types_and_read_as_text(tmp_path: Path) -> None:
    from datetime import datetime

    path = _workbook(
        tmp_path / "one.xlsx",
        {
            "Sheet1": [
                ["id", "term", "seen"],
                [7, "Seizures", datetime(2024, 3, 1)],
                [8.0, None, None],
            ]
        },
    )
    rows = list(open_table(path).rows())
    assert rows[0].cells[0] == 7 and rows[0].text(2) == "2024-03-01"
    assert rows[1].text(0) == "8" and rows[1].text(1) == ""


def test_formatted_empty_rows_at_the_end_of_a_sheet_are_dropped(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "long.xlsx", {"S": [["term"], ["Seizure"], [None], ["Ataxia"]]})
    workbook = openpyxl.load_workbook(path)
    workbook["S"].cell(row=5000, column=1).number_format = "0.00"  # formatting, no value
    workbook.save(path)
    assert texts(path) == [["Seizure"], [""], ["Ataxia"]]


def test_preview_describes_the_table_and_shows_its_first_rows() -> None:
    shown = preview(DATA / "table_ragged.csv", n=2)
    assert shown.info.columns == ("id", "term", "notes")
    assert shown.info.delimiter == "," and shown.info.encoding == "utf-8"
    assert [row.text(1) for row in shown.rows] == ["Seizure", "Anaemia"]


def test_pasted_terms_one_per_line() -> None:
    table = read_pasted("\nSeizures\nAnaemia\n\nTumour\n\n")
    assert table.columns == ("term",)
    assert [row.text(0) for row in table.rows()] == ["Seizures", "Anaemia", "", "Tumour"]


def test_pasted_cells_from_a_spreadsheet() -> None:
    pasted = 'term\tnote\r\nSeizures\t"two\nlines"\r\nAnaemia\t\r\n'
    table = read_pasted(pasted, header=True)
    assert table.columns == ("term", "note")
    assert [row.cells for row in table.rows()] == [("Seizures", "two\nlines"), ("Anaemia", "")]
    headless = read_pasted("Seizures\tP1\nAnaemia\tP2")
    assert headless.columns == ("column 1", "column 2")
    assert len(list(headless.rows())) == 2


def test_nothing_pasted_is_an_error() -> None:
    with pytest.raises(InputFileError, match="nothing was pasted"):
        read_pasted("\n\n")


def test_rows_stream_without_holding_the_file_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("id,term,notes\n")
        for i in range(200_000):
            handle.write(f"{i},Seizure number {i % 977},some note about row {i}\n")
    size = path.stat().st_size
    table = open_table(path)
    tracemalloc.start()
    count = sum(1 for _ in table.rows())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 200_000
    assert peak < size / 4, f"reading a {size:,}-byte file peaked at {peak:,} bytes"


def test_a_workbook_whose_sheet_xml_is_damaged_is_refused_in_one_line(tmp_path: Path) -> None:
    import zipfile

    good = _workbook(tmp_path / "good.xlsx", {"terms": [["term"], ["Seizure"], ["Ataxia"]]})
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<row r="3"', b'<row r="3"<<')  # XML that does not parse
            target.writestr(item, data)
    # The header row parses; openpyxl reads the sheet's XML lazily and meets the damage later.
    table = open_table(damaged)
    assert table.columns == ("term",)
    with pytest.raises(InputFileError) as caught:
        list(table.rows())
    message = str(caught.value)
    assert message.startswith(f"{damaged}: sheet 'terms' cannot be read at row ")
    assert "\n" not in message
