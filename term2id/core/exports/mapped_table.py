"""`term2id map`'s run: a table in, a mapped sheet (and an SSSOM table) out, streaming.

The batch loop (term2id.core.mapping.batch) yields results; the writers here consume them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from term2id.core.candidates import Query
from term2id.core.errors import InputFileError, Term2IdError
from term2id.core.exports.sheet_writer import (
    XLSX_MAX_CELL_CHARS,
    MappedSheetWriter,
    check_output_path,
    delimiter_for,
    encoding_for,
)
from term2id.core.exports.sssom_writer import SSSOMSetMetadata, SSSOMWriter, sssom_mapping_for
from term2id.core.mapping.batch import map_rows, prepare_targets
from term2id.core.mapping.mapper import Mapper
from term2id.core.ontology.store import releases_of
from term2id.core.progress import Progress
from term2id.core.tables import Table, TableRow


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What a batch run did, for the CLI's closing lines."""

    rows: int
    distinct_terms: int  # distinct non-empty (term, ontology) pairs
    status_counts: Mapping[str, int]  # rows per MappingStatus value
    seconds: float
    output: Path
    sssom: Path | None = None
    sssom_rows: int = 0
    warnings: tuple[str, ...] = ()  # ragged rows, cells cut

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def terms_per_s(self) -> float:
        return self.distinct_terms / self.seconds if self.seconds > 0 else 0.0


def map_table(
    table: Table,
    mapper: Mapper,
    output: Path | str,
    *,
    column: str,
    ontology: str | None = None,
    ontology_column: str | None = None,
    context_column: str | None = None,
    sssom: Path | str | None = None,
    sssom_metadata: SSSOMSetMetadata | None = None,
    top_k: int = 5,
    progress: Progress | None = None,
) -> BatchSummary:
    """Map the column `column` of `table` and write `output` (and `sssom`), streaming.

    The target is `ontology` (a store name, or several joined by commas; "hp" when neither it nor
    `ontology_column` is given) or, per row, the store named in `ontology_column` (rows whose
    cell there is empty fall back to `ontology`). Every store named is checked before anything is
    mapped, so a misspelt name fails at once, naming the line where it appears.
    """
    from term2id.core.ontology.catalog import DEFAULT_STORE

    started = time.perf_counter()
    info = table.info
    term_index = table.column_index(column)
    ontology_index = table.column_index(ontology_column) if ontology_column else None
    context_index = table.column_index(context_column) if context_column else None
    fallback = ontology or DEFAULT_STORE
    inputs = (info.path,)
    output = check_output_path(output, *inputs)
    if sssom is not None:
        sssom = check_output_path(sssom, *inputs, output)

    # A first pass: the number of rows (for the progress bar) and every store named in them.
    names: dict[str, int] = {} if ontology_index is not None else {fallback: 0}
    total = 0
    if ontology_index is not None or info.format != "xlsx":
        for row in table.rows():
            total += 1
            if ontology_index is not None:
                names.setdefault(row.text(ontology_index).strip() or fallback, row.line)
    else:
        total = info.row_count or 0
    versions: dict[str, str] = {}
    for name, line in names.items():
        try:
            stores = mapper.stores_for(name)
        except Term2IdError as exc:
            if ontology_index is None or line == 0:
                raise
            raise InputFileError(
                info.path or "pasted text", f"column {ontology_column!r}: {exc}", line
            ) from None
        versions[name] = releases_of(stores)
    prepared = prepare_targets(mapper, names, progress)

    def rows() -> Iterator[tuple[TableRow, Query]]:
        for row in table.rows():
            target = fallback
            if ontology_index is not None:
                target = row.text(ontology_index).strip() or fallback
            context = row.text(context_index).strip() or None if context_index is not None else None
            yield row, Query(row.text(term_index), target, context)

    counts: Counter[str] = Counter()
    distinct: set[tuple[str, str]] = set()
    sheet = MappedSheetWriter(
        output,
        info.columns,
        top_k=top_k,
        delimiter=delimiter_for(output, info),
        encoding=encoding_for(info),
        inputs=inputs,
        sheet_title=info.sheet or "mapped",
    )
    sssom_writer = None
    try:
        if sssom is not None:
            sssom_writer = SSSOMWriter(sssom, sssom_metadata, inputs=(*inputs, output))
        for row, result in map_rows(prepared.mapper, rows(), progress, total):
            sheet.write(row.cells, result)
            counts[str(result.status)] += 1
            text = result.query.text.strip()
            key = (text, result.query.ontology)
            if text and key not in distinct:
                distinct.add(key)
                if sssom_writer is not None:
                    mapping = sssom_mapping_for(result, versions.get(result.query.ontology))
                    if mapping is not None:
                        sssom_writer.add(mapping)
    except BaseException:
        sheet.abort()
        if sssom_writer is not None:
            sssom_writer.abort()
        raise
    sheet.close()
    if sssom_writer is not None:
        sssom_writer.close()
    warnings = table.warnings
    if sheet.cells_cut:
        warnings += (
            f"{sheet.cells_cut} cells longer than {XLSX_MAX_CELL_CHARS:,} characters were cut",
        )
    return BatchSummary(
        rows=sum(counts.values()),
        distinct_terms=len(distinct),
        status_counts=dict(counts),
        seconds=time.perf_counter() - started,
        output=output,
        sssom=Path(sssom) if sssom is not None else None,
        sssom_rows=sssom_writer.rows_written if sssom_writer is not None else 0,
        warnings=warnings,
    )
