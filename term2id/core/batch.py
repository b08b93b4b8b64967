"""The one loop that streams rows through the mapper, used by `term2id map` and the window alike.

- `prepare_targets` builds what the sources need for each target ontology before the first row
  and says which release each name resolved to;
- `map_rows` maps (key, query) pairs lazily, in input order, and yields (key, result): the key is
  whatever the caller needs to put the result back (a table row, a session row number);
- `map_table` is the command line's use of both: a table in, a mapped sheet (and an SSSOM
  table) out, written by the writers in core/exports.py.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from term2id.core.candidates import MappingResult, Query
from term2id.core.errors import CancelledError, InputFileError, Term2IdError
from term2id.core.exports import (
    XLSX_MAX_CELL_CHARS,
    MappedSheetWriter,
    SSSOMSetMetadata,
    SSSOMWriter,
    check_output_path,
    delimiter_for,
    encoding_for,
    sssom_mapping_for,
)
from term2id.core.mapper import Mapper
from term2id.core.progress import Progress
from term2id.core.store import releases_of
from term2id.core.tables import Table, TableRow

K = TypeVar("K")
LLM = "llm"  # the local model source's name
PROGRESS_ROWS = 256  # rows between progress reports (and cancellation checks)


@dataclass(frozen=True, slots=True)
class PreparedMapping:
    """A mapper ready for its target ontologies."""

    mapper: Mapper  # the one to map with: without the local model when that failed to load
    releases: dict[str, str]  # ontology name as given -> release(s) of its store(s)
    warnings: tuple[str, ...] = ()  # e.g. the model failed to load and was left out


def prepare_targets(
    mapper: Mapper,
    ontologies: Iterable[str],
    progress: Progress | None = None,
    *,
    leave_out_failing_model: bool = False,
) -> PreparedMapping:
    """Prepare `mapper` for each ontology named (indexes, embeddings, the local model).

    With `leave_out_failing_model`, a local model that fails to load is left out (a new Mapper
    without it is returned, the given one is not changed) and the failure becomes a warning;
    otherwise the error is raised.
    """
    releases: dict[str, str] = {}
    warnings: list[str] = []
    for ontology in dict.fromkeys(ontologies):
        if progress is not None:
            progress.update(0, 0, f"preparing {ontology}")
        try:
            mapper.prepare(ontology, progress)
        except CancelledError:
            raise
        except Term2IdError as exc:
            if not leave_out_failing_model or not any(s.name == LLM for s in mapper.sources):
                raise
            mapper = _without_model(mapper)
            warnings.append(str(exc))
            mapper.prepare(ontology, progress)
        releases[ontology] = releases_of(mapper.stores_for(ontology))
    return PreparedMapping(mapper, releases, tuple(warnings))


def _without_model(mapper: Mapper) -> Mapper:
    return Mapper(
        mapper.catalog,
        [s for s in mapper.sources if s.name != LLM],
        threshold=mapper.threshold,
        top_k=mapper.top_k,
        rerankers=[r for r in mapper.rerankers if r.name != LLM],
    )


def map_rows(
    mapper: Mapper,
    rows: Iterable[tuple[K, Query]],
    progress: Progress | None = None,
    total: int = 0,
) -> Iterator[tuple[K, MappingResult]]:
    """Map each (key, query), in input order, lazily; yields (key, result).

    Rows are read only as the mapper needs them (it looks a chunk ahead to embed terms in
    batches), so a file of any size streams. Each distinct term is mapped once (Mapper.map_many).
    `progress` hears every PROGRESS_ROWS rows (of `total`, when known) and may cancel.
    """
    pending: deque[K] = deque()

    def queries() -> Iterator[Query]:
        for key, query in rows:
            pending.append(key)
            yield query

    done = 0
    for done, result in enumerate(mapper.map_many(queries()), start=1):
        if progress is not None and done % PROGRESS_ROWS == 0:
            progress.update(done, max(total, done), f"{done:,} rows mapped")
        yield pending.popleft(), result
    if progress is not None:
        progress.update(done, max(total, done), f"{done:,} rows mapped")


# -- a table in, a mapped sheet (and an SSSOM table) out ---------------------------------------


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
    from term2id.core.catalog import DEFAULT_STORE

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
