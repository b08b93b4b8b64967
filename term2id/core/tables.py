"""Reading the tables curators bring: CSV, TSV and XLSX files, and text pasted from a spreadsheet.

A table is read in two steps: `open_table` looks at the file (format, encoding, delimiter, sheet,
header) without reading its rows, and `Table.rows()` streams them, so a file of a million rows
is never held in memory. The first non-empty row is the header.

Text files are decoded as UTF-8 (with or without a byte-order mark) when every byte of the file
is valid UTF-8; otherwise charset-normalizer guesses the encoding, preferring cp1252 (the
superset of Latin-1 that Excel writes on Western Windows machines) whenever it decodes the file
as well as its best guess, since short samples otherwise tend to be taken for cp1250.

Rows whose number of cells differs from the header's are kept: short rows are padded with
empty cells, extra cells are kept after the header's columns, and the first few such lines are
listed in `Table.warnings` for the CLI or the GUI to show. Empty rows at the end of the file are
dropped; empty rows between data rows are kept, so that an exported sheet keeps the input's rows
in their order.

An XLSX workbook with several sheets and none chosen raises SheetNotChosenError, whose `sheets`
lets a dialog offer them.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from term2id.core.errors import InputFileError

log = logging.getLogger(__name__)

# A cell of 100 kB (or a few MB) is odd but legal; the csv module's default limit is 128 kB.
csv.field_size_limit(64 * 1024 * 1024)

XLSX_SUFFIXES = (".xlsx", ".xlsm")
DELIMITERS = ",\t;|"
MAX_LISTED_WARNINGS = 20
_SAMPLE_BYTES = 256 * 1024
# csv.Sniffer's quote-guessing regex takes time quadratic in its sample (14 s on 200 kB of
# repeated quoted cells): it sees the first lines only.
_SNIFF_CHARS = 16 * 1024
_CHUNK_BYTES = 1024 * 1024

CellValue = str | int | float | bool | datetime | date | time | None


class ColumnNotFoundError(InputFileError):
    """A column asked for by name that the table does not have."""

    def __init__(self, path: Path | str, column: str, columns: Sequence[str]) -> None:
        self.column = column
        self.columns = tuple(columns)
        listed = ", ".join(repr(c) for c in self.columns) or "none"
        super().__init__(path, f"no column named {column!r}; columns: {listed}")


class SheetNotChosenError(InputFileError):
    """A workbook with several sheets, and no sheet chosen."""

    def __init__(self, path: Path | str, sheets: Sequence[str]) -> None:
        self.sheets = tuple(sheets)
        super().__init__(
            path,
            "the workbook has several sheets; choose one with --sheet: "
            + ", ".join(repr(s) for s in self.sheets),
        )


class SheetNotFoundError(InputFileError):
    def __init__(self, path: Path | str, sheet: str, sheets: Sequence[str]) -> None:
        self.sheet = sheet
        self.sheets = tuple(sheets)
        super().__init__(
            path, f"no sheet named {sheet!r}; sheets: " + ", ".join(repr(s) for s in self.sheets)
        )


@dataclass(frozen=True, slots=True)
class TableInfo:
    """What a table looks like, without its rows: enough for an open-file dialog's preview."""

    path: Path | None  # None for pasted text
    format: str  # "csv" (any delimited text), "xlsx" or "pasted"
    columns: tuple[str, ...]
    sheet: str | None = None  # the sheet read, for XLSX
    sheets: tuple[str, ...] = ()  # every sheet in the workbook, for XLSX
    encoding: str | None = None  # for text files
    delimiter: str | None = None  # for text files and pasted text
    row_count: int | None = None  # data rows, where known without reading the file

    def column_index(self, name: str) -> int:
        """Position of the column `name`: its exact name, else a unique case-insensitive match."""
        if name in self.columns:
            return self.columns.index(name)
        folded = [
            i for i, c in enumerate(self.columns) if c.strip().casefold() == name.strip().casefold()
        ]
        if len(folded) == 1:
            return folded[0]
        raise ColumnNotFoundError(self.path or "pasted text", name, self.columns)


@dataclass(frozen=True, slots=True)
class TableRow:
    """One data row: its line in the file (1-based; the sheet's row number for XLSX) and cells.

    `cells` has at least as many cells as the header has columns; cells beyond them are extra
    cells of a ragged row.
    """

    line: int
    cells: tuple[CellValue, ...]

    def text(self, index: int) -> str:
        """The cell at `index` as text ("" when empty or absent)."""
        return cell_text(self.cells[index]) if index < len(self.cells) else ""


@dataclass(frozen=True, slots=True)
class TablePreview:
    info: TableInfo
    rows: tuple[TableRow, ...]
    warnings: tuple[str, ...] = ()


def cell_text(value: CellValue) -> str:
    """A cell as a curator would read it: numbers without a spurious '.0', dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


@dataclass
class Table:
    """An opened table: its description, and its rows streamed on each call to `rows()`."""

    info: TableInfo
    _header_line: int = 1
    _warnings: list[str] = field(default_factory=list)
    ragged_rows: int = 0  # rows whose cell count differs from the header's (after rows())
    _pasted_rows: tuple[tuple[str, ...], ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.info.columns

    @property
    def warnings(self) -> tuple[str, ...]:
        """The first few lines that were ragged (and a count of the rest), from the last rows()."""
        extra = self.ragged_rows - len(self._warnings)
        more = (f"... and {extra} more ragged rows",) if extra > 0 else ()
        return tuple(self._warnings) + more

    def column_index(self, name: str) -> int:
        return self.info.column_index(name)

    def rows(self) -> Iterator[TableRow]:
        """Stream the data rows (the header excluded), padded to the header's width."""
        self._warnings.clear()
        self.ragged_rows = 0
        if self.info.format == "xlsx":
            raw = _xlsx_rows(self.info)
        elif self.info.format == "pasted":
            raw = ((i + 1, list(r)) for i, r in enumerate(self._pasted_rows))
        else:
            raw = _text_rows(self.info)
        yield from self._shaped(raw)

    def _shaped(self, raw: Iterator[tuple[int, list[CellValue]]]) -> Iterator[TableRow]:
        width = len(self.info.columns)
        blank = ("",) * width
        header_seen = self._header_line == 0  # pasted text without a header row
        # Empty rows are held back until a data row follows them, so trailing ones (an XLSX sheet
        # formatted down to row 1,048,576) are dropped. Runs of blank rows are kept as
        # [first line, count] so that a million of them cost nothing.
        pending: list[TableRow | list[int]] = []
        where = self.info.path or "pasted text"
        for line, cells in raw:
            if not header_seen:
                if line >= self._header_line:
                    header_seen = True
                continue
            # Trailing empty cells (XLSX rows padded by formatting, "a,b,," lines) are not extras.
            while len(cells) > width and cell_text(cells[-1]) == "":
                cells.pop()
            if not any(cell_text(c).strip() for c in cells):
                if all(c is None or c == "" for c in cells):
                    last = pending[-1] if pending else None
                    if isinstance(last, list) and last[0] + last[1] == line:
                        last[1] += 1
                    else:
                        pending.append([line, 1])
                else:
                    pending.append(TableRow(line, tuple(cells) + blank[len(cells) :]))
                continue
            if len(cells) != width:
                self.ragged_rows += 1
                what = "fewer" if len(cells) < width else "more"
                message = f"{where}:{line}: {len(cells)} cells, {what} than the header's {width}"
                if len(self._warnings) < MAX_LISTED_WARNINGS:
                    self._warnings.append(message)
                    log.info(message)
            for held in pending:
                if isinstance(held, TableRow):
                    yield held
                else:
                    for offset in range(held[1]):
                        yield TableRow(held[0] + offset, blank)
            pending.clear()
            yield TableRow(line, tuple(cells) + blank[len(cells) :])


def open_table(
    path: Path | str,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Table:
    """Open a CSV, TSV or XLSX file and read its header; raises InputFileError if it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such file")
    if path.is_dir():
        raise InputFileError(path, "is a folder, not a table file")
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
    kind = _sniff_kind(path, head)
    if kind == "xlsx":
        return _open_xlsx(path, sheet)
    if sheet is not None:
        raise InputFileError(
            path, f"--sheet {sheet!r} applies to XLSX workbooks; this is a text file"
        )
    return _open_text(path, head, encoding, delimiter)


def preview(path: Path | str, n: int = 20, sheet: str | None = None) -> TablePreview:
    """The table's description and its first `n` data rows, for an open-file dialog."""
    table = open_table(path, sheet)
    rows = []
    for row in table.rows():
        if len(rows) >= n:
            break
        rows.append(row)
    return TablePreview(table.info, tuple(rows), table.warnings)


def list_sheets(path: Path | str) -> tuple[str, ...]:
    """Names of the sheets of an XLSX workbook."""
    workbook = _load_workbook(Path(path))
    try:
        return tuple(workbook.sheetnames)
    finally:
        workbook.close()


def read_pasted(text: str, header: bool = False) -> Table:
    """A table from pasted text: one term per line, or tab-separated cells copied from a sheet.

    Without `header`, columns are named "column 1", "column 2", ... (a single column is "term").
    Blank lines before and after the text are ignored; blank lines inside it are kept as rows.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not text.strip():
        raise InputFileError("pasted text", "nothing was pasted")
    if "\t" in text:
        # Spreadsheets quote cells holding tabs or line breaks when copying; csv undoes that.
        reader = csv.reader(io.StringIO(text, newline=""), dialect="excel-tab")
        rows = [cells or [""] for cells in reader]
        delimiter = "\t"
    else:
        rows = [[line] for line in text.split("\n")]
        delimiter = None
    width = max(len(r) for r in rows)
    if header:
        columns = tuple(rows[0]) + tuple(f"column {i + 1}" for i in range(len(rows[0]), width))
        body = rows[1:]
    else:
        columns = ("term",) if width == 1 else tuple(f"column {i + 1}" for i in range(width))
        body = rows
    info = TableInfo(
        path=None, format="pasted", columns=columns, delimiter=delimiter, row_count=len(body)
    )
    return Table(info, _header_line=0, _pasted_rows=tuple(tuple(r) for r in body))


# -- format detection ------------------------------------------------------------------------


def _sniff_kind(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if head.startswith(b"PK\x03\x04"):
        if suffix in XLSX_SUFFIXES or _is_xlsx_zip(path):
            return "xlsx"
        raise InputFileError(path, "is a ZIP archive, not a CSV, TSV or XLSX table")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputFileError(
            path, "is an old Excel .xls (or other OLE) file; save it as .xlsx or CSV first"
        )
    if suffix in XLSX_SUFFIXES:
        raise InputFileError(path, "is named like an XLSX workbook but is not one")
    if suffix == ".ods":
        raise InputFileError(
            path, "OpenDocument spreadsheets are not read; save it as .xlsx or CSV"
        )
    if not head:
        raise InputFileError(path, "is empty")
    has_utf16_bom = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if b"\x00" in head and not has_utf16_bom:
        raise InputFileError(
            path, "is not a table: it holds binary data (expected CSV, TSV or XLSX)"
        )
    return "text"


def _is_xlsx_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def detect_encoding(path: Path, head: bytes | None = None) -> str:
    """The text encoding of a file: utf-8-sig / utf-8 / utf-16 if valid, else a single-byte guess."""
    if head is None:
        with path.open("rb") as handle:
            head = handle.read(_SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    else:
        encoding = "utf-8"
    if _is_valid_utf8(path):
        return encoding
    import charset_normalizer  # only needed for files that are not UTF-8

    results = charset_normalizer.from_bytes(head)
    best = results.best()
    if best is None:
        raise InputFileError(path, "is not a table: its bytes are not text in any known encoding")
    # Among the equally good guesses prefer Western Windows/Latin-1, which is what old Excel wrote.
    plausible = {
        name
        for match in results
        if match.chaos <= best.chaos + 0.01
        for name in match.could_be_from_charset
    }
    for preferred in ("cp1252", "latin_1"):
        if preferred in plausible and _decodes(path, preferred):
            return preferred
    return best.encoding


def _is_valid_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(_CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(_CHUNK_BYTES):
                decoder.decode(chunk)
        except UnicodeDecodeError:
            return False
    return True


def sniff_delimiter(sample: str, suffix: str = "") -> str:
    """The delimiter of delimited text: csv.Sniffer's answer when the header line agrees with it.

    Falls back to the candidate (tab, comma, semicolon, pipe) found most often in the header line;
    a header line holding none of them is a single column, read with a delimiter the sample
    does not contain so that commas inside terms never split them.
    """
    lines = sample.splitlines()
    header = next((line for line in lines if line.strip()), "")
    counts = {d: header.count(d) for d in DELIMITERS}
    if not any(counts.values()):
        return next((d for d in "\t|;," if d not in sample), "\t")
    # The last line of a sample may be cut short; leave it out.
    whole = lines[:-1] or lines
    kept, size = [], 0
    for line in whole:
        if kept and size + len(line) > _SNIFF_CHARS:
            break
        kept.append(line[:_SNIFF_CHARS])
        size += len(line) + 1
    try:
        sniffed = csv.Sniffer().sniff("\n".join(kept), delimiters=DELIMITERS)
        if counts.get(sniffed.delimiter):
            return sniffed.delimiter
    except csv.Error:
        pass
    if suffix in (".tsv", ".tab") and counts["\t"]:
        return "\t"
    return max(DELIMITERS, key=lambda d: counts[d])


# -- text files ------------------------------------------------------------------------------


def _open_text(path: Path, head: bytes, encoding: str | None, delimiter: str | None) -> Table:
    encoding = encoding or detect_encoding(path, head)
    try:
        sample = head.decode(encoding, errors="ignore")
    except LookupError:
        raise InputFileError(path, f"unknown text encoding {encoding!r}") from None
    if encoding in ("utf-8-sig", "utf-16"):
        sample = sample.lstrip("\ufeff")
    delimiter = delimiter or sniff_delimiter(sample, path.suffix.lower())
    info = TableInfo(path=path, format="csv", columns=(), encoding=encoding, delimiter=delimiter)
    header_line, header = None, None
    for line, cells in _text_rows(info):
        if any(c.strip() for c in cells):
            header_line, header = line, cells
            break
    if header is None:
        raise InputFileError(path, "holds no rows (not even a header line)")
    while header and header[-1].strip() == "" and len(header) > 1:
        header.pop()
    info = TableInfo(
        path=path,
        format="csv",
        columns=tuple(h.strip() for h in header),
        encoding=encoding,
        delimiter=delimiter,
    )
    return Table(info, _header_line=header_line)


def _text_rows(info: TableInfo) -> Iterator[tuple[int, list[CellValue]]]:
    assert info.path is not None and info.encoding is not None
    path = info.path
    line = 0
    try:
        with path.open(encoding=info.encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=info.delimiter or ",")
            for cells in reader:
                line = reader.line_num
                yield line, cells
    except UnicodeDecodeError as exc:
        raise InputFileError(
            path,
            f"cannot be read as {info.encoding} text ({exc.reason}) after line {line}",
            line + 1,
        ) from None
    except csv.Error as exc:
        reason = "is not a table: it holds binary data" if "NUL" in str(exc) else str(exc)
        raise InputFileError(path, reason, line + 1) from None


# -- XLSX ------------------------------------------------------------------------------------


def _load_workbook(path: Path):  # -> openpyxl.Workbook
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputFileError(path, f"cannot be read as an XLSX workbook ({exc})") from None
    except Exception as exc:  # openpyxl raises its own InvalidFileException and parser errors
        raise InputFileError(path, f"cannot be read as an XLSX workbook ({exc})") from None


def _open_xlsx(path: Path, sheet: str | None) -> Table:
    workbook = _load_workbook(path)
    try:
        sheets = tuple(workbook.sheetnames)
        if not sheets:  # openpyxl drops sheets its workbook.xml describes wrongly
            raise InputFileError(path, "the workbook holds no sheet that can be read")
        if sheet is None:
            if len(sheets) > 1:
                raise SheetNotChosenError(path, sheets)
            sheet = sheets[0]
        elif sheet not in sheets:
            raise SheetNotFoundError(path, sheet, sheets)
        worksheet = workbook[sheet]
        header_line, header = None, None
        for line, row in _sheet_rows(path, worksheet):
            if any(cell_text(c).strip() for c in row):
                header_line, header = line, [cell_text(c).strip() for c in row]
                break
        max_row = worksheet.max_row
    finally:
        workbook.close()
    if header is None:
        raise InputFileError(path, f"sheet {sheet!r} holds no rows (not even a header row)")
    while header and header[-1] == "" and len(header) > 1:
        header.pop()
    info = TableInfo(
        path=path,
        format="xlsx",
        columns=tuple(header),
        sheet=sheet,
        sheets=sheets,
        # The sheet's recorded dimension: a hint (it counts formatted empty rows too).
        row_count=None if max_row is None else max(max_row - header_line, 0),
    )
    return Table(info, _header_line=header_line)


def _xlsx_rows(info: TableInfo) -> Iterator[tuple[int, list[CellValue]]]:
    assert info.path is not None
    workbook = _load_workbook(info.path)
    try:
        worksheet = workbook[info.sheet]
        for line, row in _sheet_rows(info.path, worksheet):
            yield line, list(row)
    finally:
        workbook.close()


def _sheet_rows(path: Path, worksheet) -> Iterator[tuple[int, tuple]]:  # noqa: ANN001 - openpyxl
    """(line, cells) of a read-only worksheet; its XML is parsed as the rows are read, so a
    damaged sheet fails here, as ParseError or whatever openpyxl meets, not on opening."""
    line = 0
    try:
        for line, row in enumerate(worksheet.iter_rows(values_only=True), start=1):
            yield line, row
    except Exception as exc:  # openpyxl's and the XML parsers' errors alike
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputFileError(
            path, f"sheet {worksheet.title!r} cannot be read at row {line + 1} ({reason})"
        ) from None
