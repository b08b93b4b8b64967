"""Writing the mapped sheet: the input's columns with the mapped columns added, as CSV, TSV or
XLSX; the cells, the output paths and the spreadsheet safety every written table shares.

Writers stream (rows go to disk as they come) into a temporary file beside the destination,
renamed into place only when everything was written: a failed or cancelled run leaves no half
file and never touches an older file of the same name. An output path equal to an input path is
refused, so the input file is never modified.

Spreadsheet safety: a text cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return
could run as a formula when the file is opened in a spreadsheet program. Such cells are written
with a single quote in front (`'=HYPERLINK(...)`), in CSV, TSV and XLSX alike. Cells that are plain
numbers (`-5`, `+1.5`) are left as they are, since they are harmless.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from term2id.core.candidates import Candidate, MappingResult, confidence_text
from term2id.core.errors import Term2IdError
from term2id.core.files import AtomicFile, atomic_path
from term2id.core.tables import CellValue, TableInfo, cell_text

log = logging.getLogger(__name__)

MAPPED_COLUMNS = ("mapped_id", "mapped_label", "confidence", "status", "alternatives")
ALTERNATIVES_SEPARATOR = " | "
XLSX_SUFFIXES = (".xlsx", ".xlsm")
XLSX_MAX_CELL_CHARS = 32_767  # Excel's limit; longer text is cut (and logged)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class OutputFileError(Term2IdError):
    """An output that cannot be written: names the file and why."""

    exit_code = 2

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# -- cells -----------------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """`text` made safe to open in a spreadsheet program (see the module's documentation)."""
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def format_alternative(candidate: Candidate) -> str:
    label = candidate.label if candidate.label is not None else "(unknown id)"
    return f"{candidate.curie} {label} ({confidence_text(candidate.confidence)})"


def mapped_cells(result: MappingResult, top_k: int) -> tuple[str, str, float | None, str, str]:
    """The five added cells: best id, its label, confidence, status, and the next candidates.

    `top_k` counts every candidate shown: the best one in mapped_id, the other top_k - 1 in
    alternatives, as `ID label (confidence)` joined by ' | '.
    """
    best = result.best
    if best is None:
        return "", "", None, str(result.status), ""
    alternatives = ALTERNATIVES_SEPARATOR.join(
        format_alternative(c) for c in result.candidates[1:top_k]
    )
    return best.curie, best.label or "", round(best.confidence, 3), str(result.status), alternatives


# -- paths -----------------------------------------------------------------------------------


def check_output_path(output: Path | str, *inputs: Path | str | None) -> Path:
    """Refuse an output that would overwrite one of the inputs, or sits in a missing folder."""
    output = Path(output)
    target = output.resolve()
    for given in inputs:
        if given is None:
            continue
        source = Path(given)
        same = source.resolve() == target
        if not same and output.exists() and source.exists():
            same = os.path.samefile(output, source)
        if same:
            raise OutputFileError(
                output, "is an input file; choose another output path (inputs are never modified)"
            )
    if not target.parent.is_dir():
        raise OutputFileError(output, f"folder {target.parent} does not exist")
    if output.is_dir():
        raise OutputFileError(output, "is a folder; give a file name")
    return output


def is_xlsx_path(path: Path | str) -> bool:
    return Path(path).suffix.lower() in XLSX_SUFFIXES


def delimiter_for(output: Path | str, table: TableInfo | None) -> str:
    """The delimiter of a text output: tab for .tsv/.tab, else the input's, else a comma.

    A semicolon-separated input (as Excel writes in much of Europe) so stays semicolon-separated.
    """
    suffix = Path(output).suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if table is not None and table.delimiter and table.format == "csv":
        if suffix == ".csv" and table.delimiter == "\t":
            return ","
        return table.delimiter
    return ","


def encoding_for(table: TableInfo | None) -> str:
    """UTF-8, with a byte-order mark when the input had one or was not UTF-8 (Excel-made files),
    so that the spreadsheet program that wrote the input reads accents back correctly."""
    if table is not None and table.encoding and table.encoding not in ("utf-8", "ascii"):
        return "utf-8-sig"
    return "utf-8"


@contextmanager
def atomic_output(output: Path | str, *inputs: Path | str | None) -> Iterator[Path]:
    """A temporary file to write `output` into, moved onto it when the block ends without error.

    Refused first, as check_output_path does, when `output` is one of `inputs`.
    """
    with atomic_path(check_output_path(output, *inputs), OutputFileError) as temporary:
        yield temporary


# -- the mapped sheet ------------------------------------------------------------------------


class ClosedOnSuccess:
    """A writer used in `with`: kept (close) when the block succeeds, dropped (abort) when not.

    Subclasses define close() and abort()."""

    def __enter__(self):  # noqa: ANN204 - returns the writer itself, whatever its class
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class MappedSheetWriter(ClosedOnSuccess):
    """Writes the input's columns unchanged plus MAPPED_COLUMNS, row by row, as CSV/TSV or XLSX.

    The format follows the output's extension (.xlsx: a workbook; anything else: delimited
    text). Use as a context manager: the file appears only when the block ends without error.
    Cells of a ragged row beyond the header's columns are written after the mapped columns.
    """

    def __init__(
        self,
        path: Path | str,
        columns: Sequence[str],
        *,
        top_k: int = 5,
        delimiter: str = ",",
        encoding: str = "utf-8",
        inputs: Sequence[Path | str | None] = (),
        sheet_title: str = "mapped",
        trailing_columns: Sequence[str] = (),
    ) -> None:
        self.path = check_output_path(path, *inputs)
        self.columns = tuple(columns)
        self.trailing_columns = tuple(trailing_columns)  # written after MAPPED_COLUMNS
        self.top_k = top_k
        self.xlsx = is_xlsx_path(self.path)
        self.rows_written = 0
        self.cells_cut = 0
        self._file = AtomicFile(self.path, OutputFileError)
        self._handle: IO[str] | None = None
        self._workbook: Any = None
        try:
            if self.xlsx:
                from openpyxl import Workbook

                self._workbook = Workbook(write_only=True)
                self._sheet = self._workbook.create_sheet(sheet_title[:31] or "mapped")
            else:
                self._handle = self._file.temp.open("w", encoding=encoding, newline="")
                self._csv = csv.writer(self._handle, delimiter=delimiter, lineterminator="\n")
        except BaseException:
            self._file.discard()
            raise
        self._append([*self.columns, *MAPPED_COLUMNS, *self.trailing_columns])

    def write(
        self,
        cells: Sequence[CellValue],
        result: MappingResult,
        trailing: Sequence[CellValue] = (),
    ) -> None:
        """One input row (its cells as read), its mapping result, and the trailing columns'
        cells."""
        width = len(self.columns)
        own = list(cells[:width]) + [""] * (width - len(cells))
        after = list(trailing[: len(self.trailing_columns)])
        after += [""] * (len(self.trailing_columns) - len(after))
        self._append([*own, *mapped_cells(result, self.top_k), *after, *cells[width:]])

    def _append(self, values: list[CellValue]) -> None:
        if self.xlsx:
            self._sheet.append([self._xlsx_value(v) for v in values])
        else:
            self._csv.writerow([neutralise(cell_text(v)) for v in values])
        self.rows_written += 1

    def _xlsx_value(self, value: CellValue) -> CellValue:
        if value is None or not isinstance(value, str):
            return value
        text = neutralise(_XLSX_ILLEGAL.sub("", value))
        if len(text) > XLSX_MAX_CELL_CHARS:
            self.cells_cut += 1
            log.warning(
                "%s: a cell of %d characters was cut to Excel's limit of %d",
                self.path,
                len(text),
                XLSX_MAX_CELL_CHARS,
            )
            text = text[:XLSX_MAX_CELL_CHARS]
        return text

    def close(self) -> None:
        """Finish the file and move it into place."""
        try:
            if self.xlsx:
                self._workbook.save(self._file.temp)
            else:
                assert self._handle is not None
                self._handle.close()
        except BaseException:
            self.abort()
            raise
        self._file.commit()

    def abort(self) -> None:
        """Drop everything written so far; the destination is left as it was."""
        if self._handle is not None and not self._handle.closed:
            self._handle.close()
        self._file.discard()
