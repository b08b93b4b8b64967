"""Writing results: the input sheet with mapped columns added, and SSSOM mapping tables.

Both writers stream (rows go to disk as they come) into a temporary file beside the destination,
renamed into place only when everything was written: a failed or cancelled run leaves no half
file and never touches an older file of the same name. An output path equal to an input path is
refused, so the input file is never modified.

Spreadsheet safety: a text cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return
could run as a formula when the file is opened in a spreadsheet program. Such cells are written
with a single quote in front (`'=HYPERLINK(...)`), in CSV, TSV and XLSX alike. Cells that are plain
numbers (`-5`, `+1.5`) are left as they are, since they are harmless.

SSSOM (https://mapping-commons.github.io/sssom/): one row per distinct term, for its best
candidate. The rules:

- predicate_id is `skos:exactMatch` when the row's status is verified (the id exists, is current,
  its label or a synonym agrees with the term, and the confidence reached the auto-accept
  threshold) or a curator accepted it; `skos:closeMatch` otherwise. A curator's mapping takes
  the predicate the curator chose (broad, narrow, close, related); left at exact, the default,
  an id the store judges narrower or broader than the term is a narrowMatch or broadMatch;
- mapping_justification is `semapv:ManualMappingCuration` for a curator's decision,
  `semapv:LexicalMatching` when the exact or fuzzy source proposed the id,
  `semapv:SemanticSimilarityThresholdMatching` when only the embedding source did, and
  `semapv:UnspecifiedMatching` otherwise (the language model, an obsolete term's replacement);
- subject_id names the free-text term itself: `term2id.input:<slug>-<hash>`, the slug being the
  term in lower-case ASCII letters and digits (at most 40) and the hash the first 12 hex digits
  of the SHA-256 of the term's text as written (spaces at either end removed), so the same
  term always gets the same id, and different terms never share one. The prefix expands to
  `urn:term2id:input:` in the curie_map.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import yaml

from term2id import __version__
from term2id.core.candidates import (
    PREDICATE_SKOS,
    VERDICT_PREDICATE,
    Candidate,
    MappingPredicate,
    MappingResult,
    MappingStatus,
    Verdict,
)
from term2id.core.curie import prefix_of
from term2id.core.errors import Term2IdError
from term2id.core.files import AtomicFile, atomic_path
from term2id.core.tables import CellValue, TableInfo, cell_text

log = logging.getLogger(__name__)

MAPPED_COLUMNS = ("mapped_id", "mapped_label", "confidence", "status", "alternatives")
ALTERNATIVES_SEPARATOR = " | "
XLSX_SUFFIXES = (".xlsx", ".xlsm")
XLSX_MAX_CELL_CHARS = 32_767  # Excel's limit; longer text is cut (and logged)

SUBJECT_PREFIX = "term2id.input"
SUBJECT_PREFIX_URI = "urn:term2id:input:"
TOOL_NAME = "term2id"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"
EXACT_MATCH = "skos:exactMatch"
CLOSE_MATCH = "skos:closeMatch"
LEXICAL = "semapv:LexicalMatching"
SEMANTIC = "semapv:SemanticSimilarityThresholdMatching"
MANUAL = "semapv:ManualMappingCuration"
UNSPECIFIED = "semapv:UnspecifiedMatching"

# Prefixes whose URIs do not follow the OBO PURL pattern.
KNOWN_PREFIXES = {
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "semapv": "https://w3id.org/semapv/vocab/",
    "orcid": "https://orcid.org/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "sssom": "https://w3id.org/sssom/",
    "HGNC": "http://identifiers.org/hgnc/",
    SUBJECT_PREFIX: SUBJECT_PREFIX_URI,
}
_OBO_PURL = "http://purl.obolibrary.org/obo/{}_"

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
    return f"{candidate.curie} {label} ({candidate.confidence:.2f})"


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


class _ClosedOnSuccess:
    """A writer used in `with`: kept (close) when the block succeeds, dropped (abort) when not.

    Subclasses define close() and abort()."""

    def __enter__(self):  # noqa: ANN204 - returns the writer itself, whatever its class
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class MappedSheetWriter(_ClosedOnSuccess):
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


# -- SSSOM -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SSSOMMapping:
    """One row of an SSSOM table; built from a mapping result or from a curator's decision."""

    subject_id: str
    subject_label: str
    predicate_id: str
    object_id: str
    object_label: str
    mapping_justification: str
    confidence: float | None = None
    object_source_version: str | None = None
    author_id: str | None = None  # e.g. "orcid:0000-0002-1825-0097"
    reviewer_id: str | None = None
    comment: str | None = None
    # Written only by writers given these columns (the mapping memory's export):
    predicate_modifier: str | None = None  # "Not": the subject does not map to the object
    author_label: str | None = None
    mapping_date: str | None = None


@dataclass(frozen=True, slots=True)
class SSSOMSetMetadata:
    """The mapping set's header. mapping_set_id, when not given, derives from the rows written."""

    license: str = CC0
    mapping_tool: str = TOOL_NAME
    mapping_tool_version: str = __version__
    mapping_date: date = field(default_factory=date.today)
    mapping_set_id: str | None = None
    mapping_set_title: str | None = None
    mapping_set_description: str | None = None
    prefixes: Mapping[str, str] = field(default_factory=dict)  # extra or overriding curie_map


SSSOM_COLUMNS = (
    "subject_id",
    "subject_label",
    "predicate_id",
    "object_id",
    "object_label",
    "mapping_justification",
    "confidence",
    "mapping_tool",
    "mapping_tool_version",
    "object_source_version",
    "author_id",
    "reviewer_id",
    "comment",
)


def subject_id_for(text: str) -> str:
    """The stable SSSOM subject id of a free-text term (see the module's documentation)."""
    text = text.strip()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:40].strip("_")
    return f"{SUBJECT_PREFIX}:{slug}-{digest}" if slug else f"{SUBJECT_PREFIX}:{digest}"


def justification_for(candidate: Candidate, curated: bool = False) -> str:
    sources = set(candidate.sources)
    if curated or sources & {"manual", "curated"}:  # curated: a curator's earlier decision
        return MANUAL
    if sources & {"exact", "fuzzy"}:
        return LEXICAL
    if "semantic" in sources:
        return SEMANTIC
    return UNSPECIFIED


def sssom_mapping_for(
    result: MappingResult,
    object_source_version: str | None = None,
    *,
    candidate: Candidate | None = None,
    accepted: bool = False,
    author_id: str | None = None,
    reviewer_id: str | None = None,
    comment: str | None = None,
    predicate: MappingPredicate | None = None,
) -> SSSOMMapping | None:
    """The SSSOM row for a result's best candidate (or `candidate`, a curator's choice).

    `accepted` marks a curator's decision: exactMatch, ManualMappingCuration; `predicate` is the
    curator's: any but exact is written as it is. None when there is nothing to map to (empty,
    no match, or an id the store does not know).
    """
    chosen = candidate if candidate is not None else result.best
    # A curator's pick of another store's id is kept (with its verdict in the comment); the
    # machine's is not.
    unfound = (Verdict.UNKNOWN_ID, Verdict.WRONG_ONTOLOGY)
    if chosen is None or (chosen.verdict in unfound and not accepted):
        return None
    exact = accepted or (candidate is None and result.status is MappingStatus.VERIFIED)
    skos = PREDICATE_SKOS[curated_predicate(predicate, chosen.verdict)] if accepted else None
    notes = [n for n in (comment, *result.notes) if n]
    if accepted and chosen.verdict is not Verdict.VERIFIED and chosen.note:
        notes.append(f"{chosen.verdict.value}: {chosen.note}")
    return SSSOMMapping(
        subject_id=subject_id_for(result.query.text),
        subject_label=result.query.text.strip(),
        predicate_id=skos or (EXACT_MATCH if exact else CLOSE_MATCH),
        object_id=chosen.curie,
        object_label=chosen.label or "",
        mapping_justification=justification_for(chosen, curated=accepted),
        confidence=round(chosen.confidence, 4),
        object_source_version=object_source_version,
        author_id=author_id,
        reviewer_id=reviewer_id,
        comment="; ".join(notes) or None,
    )


# The predicate an accepted candidate with this verdict stands for, when the curator left it at
# exact: a narrower candidate is a narrowMatch of the term (VERDICT_PREDICATE's SKOS form).
_VERDICT_MAPPING_PREDICATE = {
    verdict: next(p for p, s in PREDICATE_SKOS.items() if s == skos)
    for verdict, skos in VERDICT_PREDICATE.items()
}


def curated_predicate(chosen: MappingPredicate | str | None, verdict: Verdict) -> MappingPredicate:
    """How a curator's mapping to an id with `verdict` is written: the predicate the curator
    chose; left at exact (the default), the one the verdict stands for (narrower, broader)."""
    chosen = MappingPredicate(chosen or MappingPredicate.EXACT)
    if chosen is not MappingPredicate.EXACT:
        return chosen
    return _VERDICT_MAPPING_PREDICATE.get(verdict, MappingPredicate.EXACT)


def _tsv_cell(value: object) -> str:
    # SSSOM TSV has no quoting convention readers agree on: keep cells on one line. Labels and
    # versions come from imported files, so every cell is made safe for a spreadsheet.
    text = "" if value is None else str(value)
    return neutralise(text.replace("\t", " ").replace("\r", " ").replace("\n", " "))


def _curie_prefixes(mapping: SSSOMMapping) -> set[str]:
    ids = [mapping.subject_id, mapping.predicate_id, mapping.object_id]
    ids += [mapping.mapping_justification, mapping.author_id, mapping.reviewer_id]
    return {prefix_of(i) for i in ids if i and ":" in i}


class SSSOMWriter(_ClosedOnSuccess):
    """Writes an SSSOM TSV row by row: `add()` each mapping, then `close()` (or use `with`).

    Rows are streamed to a temporary body file; the metadata header, which needs every prefix
    used, is written in front of them at the end. Repeated (subject, predicate, object) rows are
    written once. The file appears only when close() succeeds.
    """

    def __init__(
        self,
        path: Path | str,
        metadata: SSSOMSetMetadata | None = None,
        inputs: Sequence[Path | str | None] = (),
        columns: Sequence[str] = SSSOM_COLUMNS,
    ) -> None:
        self.path = check_output_path(path, *inputs)
        self.metadata = metadata or SSSOMSetMetadata()
        self.columns = tuple(columns)
        self._prefixes: set[str] = {"skos", "semapv"}
        self._versions: set[str] = set()
        self._seen: set[tuple[str, ...]] = set()
        self._digest = hashlib.sha256()
        self._body = AtomicFile(self.path, OutputFileError)
        self._handle = self._body.temp.open("w", encoding="utf-8", newline="")
        self._handle.write("\t".join(self.columns) + "\n")

    @property
    def rows_written(self) -> int:
        return len(self._seen)

    def add(self, mapping: SSSOMMapping) -> None:
        key: tuple[str, ...] = (mapping.subject_id, mapping.predicate_id, mapping.object_id)
        if mapping.predicate_modifier:
            key += (mapping.predicate_modifier,)
        if key in self._seen:
            return
        self._seen.add(key)
        self._prefixes |= _curie_prefixes(mapping)
        if mapping.object_source_version:
            self._versions.add(mapping.object_source_version)
        values = {
            "subject_id": mapping.subject_id,
            "subject_label": neutralise(mapping.subject_label),
            "predicate_id": mapping.predicate_id,
            "object_id": mapping.object_id,
            "object_label": mapping.object_label,
            "mapping_justification": mapping.mapping_justification,
            "confidence": "" if mapping.confidence is None else f"{mapping.confidence:g}",
            "mapping_tool": self.metadata.mapping_tool,
            "mapping_tool_version": self.metadata.mapping_tool_version,
            "object_source_version": mapping.object_source_version,
            "author_id": mapping.author_id,
            "reviewer_id": mapping.reviewer_id,
            "comment": neutralise(mapping.comment) if mapping.comment else None,
            "predicate_modifier": mapping.predicate_modifier,
            "author_label": mapping.author_label,
            "mapping_date": mapping.mapping_date,
        }
        line = "\t".join(_tsv_cell(values[c]) for c in self.columns) + "\n"
        self._digest.update(line.encode("utf-8"))
        self._handle.write(line)

    def header(self) -> dict[str, object]:
        """The metadata block, as it will be written (complete once every row was added)."""
        metadata = self.metadata
        curie_map = {
            p: metadata.prefixes.get(p) or KNOWN_PREFIXES.get(p) or _OBO_PURL.format(p)
            for p in sorted(self._prefixes)
        }
        header: dict[str, object] = {
            "curie_map": curie_map,
            "mapping_set_id": metadata.mapping_set_id
            or f"urn:term2id:mapping-set:{self._digest.hexdigest()[:16]}",
            "license": metadata.license,
            "mapping_tool": metadata.mapping_tool,
            "mapping_tool_version": metadata.mapping_tool_version,
            "mapping_date": metadata.mapping_date.isoformat(),
        }
        if metadata.mapping_set_title:
            header["mapping_set_title"] = metadata.mapping_set_title
        if metadata.mapping_set_description:
            header["mapping_set_description"] = metadata.mapping_set_description
        if len(self._versions) == 1:
            header["object_source_version"] = next(iter(self._versions))
        return header

    def close(self) -> None:
        final = None
        try:
            self._handle.close()
            final = AtomicFile(self.path, OutputFileError)
            with final.temp.open("w", encoding="utf-8", newline="") as out:
                text = yaml.safe_dump(self.header(), sort_keys=False, allow_unicode=True)
                out.writelines(f"#{line}\n" for line in text.splitlines())
                with self._body.temp.open(encoding="utf-8") as body:
                    for line in body:
                        out.write(line)
            final.commit()
        except BaseException:
            if final is not None:
                final.discard()
            raise
        finally:
            self._body.discard()

    def abort(self) -> None:
        self._handle.close()
        self._body.discard()


def write_sssom(
    path: Path | str,
    mappings: Iterable[SSSOMMapping],
    metadata: SSSOMSetMetadata | None = None,
    inputs: Sequence[Path | str | None] = (),
) -> int:
    """Write an SSSOM TSV (metadata as `#` lines, then the table); returns the rows written."""
    with SSSOMWriter(path, metadata, inputs) as writer:
        for mapping in mappings:
            writer.add(mapping)
    return writer.rows_written
