"""The one loop that streams rows through the mapper, used by `term2id map` and the window alike.

- `prepare_targets` builds what the sources need for each target ontology before the first row
  and says which release each name resolved to;
- `map_rows` maps (key, query) pairs lazily, in input order, and yields (key, result): the key is
  whatever the caller needs to put the result back (a table row, a session row number);
- `term2id.core.exports.mapped_table.map_table` is the command line's use of both: it consumes
  the results with the writers (the loop itself writes nothing).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from term2id.core.candidates import MappingResult, Query
from term2id.core.errors import CancelledError, Term2IdError
from term2id.core.mapping.mapper import Mapper
from term2id.core.ontology.store import releases_of
from term2id.core.progress import Progress

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
