"""Qt-free jobs the GUI runs in workers: read a table into a session, map rows, search by hand.

Each takes a `progress` keyword (term2id.core.progress.Progress) and checks it for cancellation.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from term2id.core.candidates import MappingResult, Query
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_codec import result_records
from term2id.core.curation.session_input import SessionInput
from term2id.core.curation.session_schema import SESSION_SUFFIX
from term2id.core.errors import StoreError
from term2id.core.files import file_sha256
from term2id.core.mapping.config import LLM
from term2id.core.ontology.terms import TextMatch
from term2id.core.progress import Progress

BATCH_ROWS = 200
BATCH_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class MappingBatch:
    """Results for some rows, and the release of the store(s) each ontology name resolved to."""

    results: tuple[tuple[int, MappingResult], ...]
    releases: dict[str, str]
    records: tuple = ()  # the results as session rows, serialised here rather than on the GUI thread
    warnings: tuple[str, ...] = ()  # e.g. the model failed to load and was left out


def session_path_for(source: Path | None, sessions_dir: Path) -> Path:
    """Where a new session goes: beside its input if that folder is writable, else the data
    folder; never over an existing file."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    if source is None:
        folder, stem = sessions_dir, f"pasted-{stamp}"
    else:
        folder, stem = source.parent, source.stem
        probe = folder / f".{stem}.write-test"
        try:
            probe.touch()
            probe.unlink()
        except OSError:
            folder = sessions_dir
    folder.mkdir(parents=True, exist_ok=True)
    candidate = folder / f"{stem}{SESSION_SUFFIX}"
    counter = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{counter}{SESSION_SUFFIX}"
        counter += 1
    return candidate


def create_session(
    destination: Path,
    table,  # term2id.core.tables.Table
    term_column: str,
    default_ontology: str,
    context_column: str | None = None,
    ontology_column: str | None = None,
    *,
    progress: Progress,
) -> Path:
    """Read every row of `table` into a new session file at `destination`."""
    from term2id.core.tables import cell_text

    width = len(table.columns)
    rows = []
    for count, row in enumerate(table.rows(), start=1):
        rows.append([cell_text(c) for c in row.cells[:width]])
        if count % 5000 == 0:
            progress.update(count, 0, f"{count:,} rows read")
    path = table.info.path
    source = SessionInput(
        header=tuple(table.columns),
        rows=rows,
        term_column=table.columns[table.column_index(term_column)],
        default_ontology=default_ontology,
        context_column=context_column,
        ontology_column=ontology_column,
        source_path=str(Path(path).resolve()) if path else None,
        source_sha256=file_sha256(path) if path else None,
        sheet=table.info.sheet,
    )
    CurationSession.create(destination, source).close()
    return destination


def map_rows(
    mapper,  # term2id.core.mapping.mapper.Mapper
    queries: Sequence[tuple[int, Query]],
    model: str | None = None,
    *,
    progress: Progress,
) -> Iterator[MappingBatch]:
    """Map (row, query) pairs with core's batch loop; yields batches as they come, in input order."""
    from term2id.core.mapping import (
        batch as batch_loop,  # the mapper's modules: not before they are needed
    )

    # A model that fails to load is left out (of a new mapper: the window's own is not touched
    # from this thread); the other sources still map every row, and the batch says why.
    prepared = batch_loop.prepare_targets(
        mapper, (q.ontology for _, q in queries), progress, leave_out_failing_model=True
    )
    releases, warnings = prepared.releases, list(prepared.warnings)
    if not any(s.name == LLM for s in prepared.mapper.sources):
        model = None  # recorded with each result only when the model took part
    # Recorded with each result: rows mapped before a source was ready are found and re-ranked.
    used = prepared.mapper
    sources = tuple(dict.fromkeys([*(s.name for s in used.sources),
                                   *(r.name for r in used.rerankers)]))  # fmt: skip
    # The indexes just built are long-lived: taken out of the cyclic collector's reach, a full
    # collection no longer stops every thread (the GUI's too) for a few hundred milliseconds.
    gc.freeze()
    batch: list[tuple[int, MappingResult]] = []
    last = time.monotonic()
    for row, result in batch_loop.map_rows(prepared.mapper, queries, progress, len(queries)):
        batch.append((row, result))
        now = time.monotonic()
        if len(batch) >= BATCH_ROWS or now - last >= BATCH_SECONDS:
            yield _batch(batch, releases, model, warnings, sources)
            batch, last, warnings = [], now, []
    if batch:
        yield _batch(batch, releases, model, warnings, sources)


def _batch(batch, releases, model, warnings, sources) -> MappingBatch:
    records = tuple(result_records(batch, releases, model, sources))
    # Results (and the mapper's cache of them) live for the whole job and hold no cycles: keep
    # them out of full collections too, which would otherwise grow with every batch.
    gc.freeze()
    return MappingBatch(tuple(batch), releases, records, tuple(warnings))


def prepare_semantic(
    mapper,  # term2id.core.mapping.mapper.Mapper
    stores: Sequence[str],
    *,
    progress: Progress,
) -> list[str]:
    """Prepare the semantic source's index (every name's vector) of each store in `mapper`.

    Computed once per store release and model, then read from the store's cache. Returns the
    store names prepared; an unavailable source raises SourceUnavailable.
    """
    source = next(s for s in mapper.sources if s.name == "semantic")
    for name in stores:
        progress.update(0, 0, f"opening {name}")
        for store in mapper.stores_for(name):
            progress.update(0, 0, f"reading the cached vectors of {store.name}")
            source.prepare(store, progress)
    return list(stores)


def search_terms(
    mapper,  # term2id.core.mapping.mapper.Mapper | None
    stores,  # Sequence[OntologyStore]
    text: str,
    ontology: str,
    limit: int = 30,
    *,
    progress: Progress,
) -> list[TextMatch]:
    """Full-text hits from each store, then fuzzy ones through the mapper, without repeats."""
    found: dict[str, TextMatch] = {}
    for store in stores:
        for match in store.search(text, limit=limit, include_obsolete=False):
            found.setdefault(match.curie, match)
    progress.check()
    if mapper is not None and text.strip():
        try:
            result = mapper.map(Query(text, ontology))
        except StoreError:
            result = None
        for candidate in result.candidates if result else ():
            if candidate.curie not in found and candidate.label:
                found[candidate.curie] = TextMatch(
                    curie=candidate.curie,
                    label=candidate.label,
                    matched_text=next(
                        (e.matched_text for e in candidate.evidence if e.matched_text),
                        candidate.label,
                    ),
                    kind="fuzzy",
                    score=candidate.confidence,
                )
    return list(found.values())[:limit]
