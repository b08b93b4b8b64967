"""Mapping a session's rows in the background: the mapper the settings describe, the quick mapper
(exact and fuzzy) used while the semantic index is prepared, re-ranking once it is ready, and
cancelling. No widgets: what the window shows comes out as signals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from term2id.core.curation import CurationSession, missing_stores, store_names
from term2id.core.errors import Term2IdError
from term2id.gui.settings import GuiSettings
from term2id.gui.workers import TimeLeft, Worker

if TYPE_CHECKING:
    from term2id.core.ontology import StoreCatalog

log = logging.getLogger(__name__)

# The source whose index (every name's vector) is prepared in the background: until it is ready,
# rows come from the lexical sources and are re-ranked with it as soon as it is.
SEMANTIC = "semantic"
QUICK_SOURCES = ("exact", "fuzzy")


def _has_source(mapper, name: str) -> bool:
    return any(getattr(s, "name", "") == name for s in mapper.sources)


class MappingController(QObject):
    """Starts, follows and cancels the mapping of the open session's rows."""

    message = Signal(str, int)  # a status message and how long it shows (ms; 0: until replaced)
    error = Signal(object)  # an exception for the curator to see
    language_model_used = Signal(str)  # the language model's name; "" while none is in use
    language_model_unavailable = Signal(str)  # why the language model is left out
    mapping_started = Signal(int)  # how many rows the job maps
    rows_mapped = Signal(object)  # [(row, MappingResult)], already written to the session
    mapping_progress = Signal(int, float)  # rows mapped so far, rows per second
    mapping_stopped = Signal()  # the job ended or was abandoned
    mapping_done = Signal(str)  # the job ended by itself: what it did, in words
    semantic_started = Signal(str)  # what is being prepared, in words
    semantic_progress = Signal(int, int, str)  # done, total (0: unknown), in words
    semantic_stopped = Signal()

    def __init__(
        self,
        catalog: Callable[[], StoreCatalog],
        settings: GuiSettings,
        pool: QThreadPool,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._catalog = catalog
        self.settings = settings
        self.pool = pool
        self.session: CurationSession | None = None  # the window's open session
        self._mapper = None
        self._quick_mapper = None
        self._mapping: Worker | None = None
        self._preparing: Worker | None = None
        self._semantic_ready: set[str] = set()  # stores whose semantic index the mapper holds
        self._rerank_pending = False
        self._mapping_reranks = False  # the running job re-ranks rows with the semantic source
        self._semantic_mapper = None  # the mapper the index is being prepared for
        self._workers: set[Worker] = set()
        self._mapped_count = 0
        self._mapping_started = 0.0
        self._semantic_time_left = TimeLeft()

    @property
    def mapping(self) -> bool:
        return self._mapping is not None

    @property
    def semantic_preparing(self) -> bool:
        return self._preparing is not None

    def mapper(self):
        """The Mapper the settings describe (built once; settings changes drop it)."""
        if self._mapper is None:
            from term2id.core.mapping import build_mapper

            config = self.settings.mapping_config()
            self.language_model_used.emit("")
            try:
                self._mapper = build_mapper(config, self._catalog(), warn=self._source_missing)
            except Term2IdError as exc:
                if not config.uses_model:
                    raise
                # A language model that cannot be opened is left out; the other sources map.
                self._language_model_failed(str(exc))
                without = replace(config, model=None, adapter=None, server=None)
                self._mapper = build_mapper(without, self._catalog(), warn=self._source_missing)
            else:
                if config.uses_model:
                    name = Path(config.model).name if config.model else config.server
                    self.language_model_used.emit(name)
        return self._mapper

    def quick_mapper(self):
        """The settings' mapping with the exact and fuzzy sources only: rows come from it while
        the semantic index is prepared."""
        if self._quick_mapper is None:
            from term2id.core.mapping import build_mapper

            config = replace(
                self.settings.mapping_config(),
                sources=QUICK_SOURCES, model=None, adapter=None, server=None,
            )  # fmt: skip
            self._quick_mapper = build_mapper(config, self._catalog())
        return self._quick_mapper

    def search_mapper(self, ontology: str):
        """The mapper an ontology search asks (never one waiting for its index); None when
        none can be built."""
        try:
            mapper = self.mapper()
            if self.semantic_waiting(mapper, [ontology]):
                mapper = self.quick_mapper()
        except Term2IdError:
            mapper = None
        return mapper

    def settings_changed(self) -> None:
        """Threshold, language or sentence model may have changed: the next mapping uses them."""
        self.abandon_preparing()
        self._mapper = self._quick_mapper = None
        self._semantic_ready.clear()

    def _source_missing(self, message: str) -> None:
        """A default source that is not installed (the semantic extra): said once, plainly."""
        log.warning("%s", message)
        self.message.emit(message[:1].upper() + message[1:] + ".", 15000)

    def _language_model_failed(self, reason: str) -> None:
        """The application keeps working with the other sources, and says so."""
        self.language_model_unavailable.emit(reason)
        self.message.emit(
            f"The local model is not used ({reason}); mapping with the other sources.", 15000
        )

    # -- mapping ------------------------------------------------------------------------------

    def start_mapping(self, rows: Sequence[int] | None = None) -> Worker | None:
        """Map `rows` (default: every row without a result) in a worker; results appear as they
        come.

        While a store's semantic index is not ready, its rows come at once from the exact and
        fuzzy sources; the index is prepared in the background, and the rows are re-ranked with
        the semantic source as soon as it is ready (`rerank`).
        """
        if self.session is None or self._mapping is not None:
            return None
        if rows is None:
            mapped = self.session.mapped_rows()
            rows = [r for r in range(len(self.session)) if r not in mapped]
            if not rows:  # F5 with every row mapped: bring rows mapped without semantic up
                worker = self.rerank()
                if worker is None and self._preparing is None:
                    self.message.emit("Nothing to map.", 5000)
                return worker
        todo = self._queries_for(rows)
        if not todo:
            self.message.emit("Nothing to map.", 5000)
            return None
        try:
            mapper = self.mapper()
        except Term2IdError as exc:
            self.error.emit(exc)
            return None
        waiting = self.semantic_waiting(mapper, {q.ontology for _, q in todo})
        if waiting:
            self.prepare_semantic(waiting)
            try:
                quick = self.quick_mapper()
            except Term2IdError as exc:
                self.error.emit(exc)
                return None
            return self._start_job(quick, todo, None)
        return self._start_job(mapper, todo, self.language_model_name())

    def _queries_for(self, rows: Sequence[int]) -> list:
        """(row, Query) for `rows`, leaving out rows whose store is missing."""
        from term2id.core.candidates import Query

        assert self.session is not None
        missing = set(missing_stores(self.session.ontologies(), self._catalog().exists))
        queries = self.session.queries()
        return [
            (r, Query(queries[r].text, queries[r].ontology, queries[r].context))
            for r in rows
            if not {n.strip() for n in queries[r].ontology.split(",")} & missing
        ]

    def _start_job(
        self, mapper, todo: list, language_model: str | None, rerank: bool = False
    ) -> Worker:
        from term2id.core.curation import map_rows

        worker = Worker(map_rows, mapper, todo, language_model)
        # Each handler checks that the worker is still the current one: a cancelled job's last
        # batches, queued before it stopped, must not land in a session opened since.
        worker.signals.item.connect(lambda batch: self._mapped(batch, worker))
        worker.signals.progress.connect(self._job_progress)
        worker.signals.finished.connect(lambda: self._mapping_finished(worker))
        worker.signals.cancelled.connect(
            lambda: self.message.emit("Mapping cancelled; F5 maps the rest.", 8000)
        )
        self._mapping = worker
        self._mapping_reranks = rerank
        self._mapped_count = 0
        self._mapping_started = time.monotonic()
        self.mapping_started.emit(len(todo))
        return self.run(worker)

    def cancel_mapping(self) -> None:
        if self._mapping is not None:
            self._mapping.cancel()

    def abandon_mapping(self) -> None:
        """Stop the job and forget it now (its remaining signals are ignored)."""
        if self._mapping is not None:
            self._mapping.cancel()
            self._mapping = None
            self.mapping_stopped.emit()

    def _mapped(self, batch, worker: Worker) -> None:
        session = self.session
        if session is None or worker is not self._mapping:
            return
        for warning in batch.warnings:
            self._language_model_failed(warning)
        try:
            session.write_result_records(batch.records)
        except Term2IdError as exc:
            self.cancel_mapping()
            self.error.emit(exc)
            return
        self.rows_mapped.emit(batch.results)
        self._mapped_count += len(batch.results)
        elapsed = max(time.monotonic() - self._mapping_started, 1e-6)
        self.mapping_progress.emit(self._mapped_count, self._mapped_count / elapsed)

    def _job_progress(self, done: int, total: int, message: str) -> None:
        if self._mapped_count == 0:
            self.message.emit(message, 0)

    def _mapping_finished(self, worker: Worker) -> None:
        self._workers.discard(worker)
        if worker is not self._mapping:
            return
        self._mapping = None
        self.mapping_stopped.emit()
        if self._mapping_reranks:
            done = f"Re-ranked {self._mapped_count:,} rows with the semantic source."
        else:
            done = f"Mapped {self._mapped_count:,} rows."
            if self._preparing is not None:
                done += " They are re-ranked once the semantic index is ready."
        self.mapping_done.emit(done)
        if self._rerank_pending:
            self._rerank_pending = False
            QTimer.singleShot(0, self.rerank)

    # -- the semantic index, prepared in the background ----------------------------------------

    def semantic_waiting(self, mapper, ontologies) -> list[str]:
        """The stores named in `ontologies` whose semantic index `mapper` does not hold yet."""
        if not _has_source(mapper, SEMANTIC):
            return []
        return sorted(store_names(ontologies) - self._semantic_ready)

    def prepare_semantic(self, stores: Sequence[str]) -> Worker | None:
        """Prepare the semantic index of `stores` in a worker, with progress, time left and
        cancel; rows are re-ranked when it is ready."""
        from term2id.core.curation import prepare_semantic

        if self._preparing is not None:
            return None  # the one running re-ranks when done, and asks again for the rest
        mapper = self.mapper()
        if not _has_source(mapper, SEMANTIC):
            return None
        worker = Worker(prepare_semantic, mapper, list(stores))
        worker.signals.progress.connect(lambda *a: self._semantic_progress(worker, *a))
        worker.signals.result.connect(lambda names: self._semantic_prepared(worker, names))
        worker.signals.error.connect(lambda exc: self._semantic_failed(worker, exc))
        worker.signals.cancelled.connect(lambda: self._semantic_failed(worker, None))
        self._preparing = worker
        self._semantic_mapper = mapper
        self._semantic_time_left = TimeLeft()
        self.semantic_started.emit(
            f"Preparing the semantic index of {', '.join(stores)} (once per release)…"
        )
        self._workers.add(worker)
        worker.signals.finished.connect(lambda: self._workers.discard(worker))
        self.pool.start(worker)
        return worker

    def cancel_semantic(self) -> None:
        if self._preparing is not None:
            self.abandon_preparing()
            self.message.emit(
                "The semantic index was not prepared: rows keep their exact and fuzzy "
                "candidates. F5 or reopening the session prepares it again.",
                10000,
            )

    def abandon_preparing(self) -> None:
        """Stop preparing and forget the job now (its remaining signals are ignored)."""
        if self._preparing is not None:
            self._preparing.cancel()
            self._end_preparing()

    def _end_preparing(self) -> None:
        self._preparing = None
        self.semantic_stopped.emit()

    def _semantic_progress(self, worker: Worker, done: int, total: int, message: str) -> None:
        if worker is not self._preparing:
            return
        left = self._semantic_time_left.update(done, total)
        counted = f" {done:,} / {total:,}" if total > 0 else ""
        self.semantic_progress.emit(
            done, total, f"Semantic index: {message}{counted}" + (f" · {left}" if left else "")
        )

    def _semantic_prepared(self, worker: Worker, names: list[str]) -> None:
        if worker is not self._preparing:
            return
        self._end_preparing()
        if self._semantic_mapper is self._mapper:  # not rebuilt since (settings changed)
            self._semantic_ready.update(names)
        self.rerank()

    def _semantic_failed(self, worker: Worker, exc: Exception | None) -> None:
        if worker is not self._preparing:
            return
        self._end_preparing()
        if exc is not None:
            log.warning("semantic index not prepared: %s", exc)
            self.message.emit(
                f"The semantic source is not used ({exc}); rows keep their exact and fuzzy "
                "candidates.",
                15000,
            )

    def rerank(self) -> Worker | None:
        """Map again, with the semantic source, the rows whose result was made without it.

        Prepares the semantic index first when needed; waits for a running mapping to end.
        Decisions are kept: they live in the session's log, apart from the results.
        """
        if self.session is None or SEMANTIC not in self.settings.mapping_config().source_names():
            return None
        if self._mapping is not None:
            # Its rows are not all written yet: look again when it ends.
            self._rerank_pending = True
            return None
        # Looked at before the mapper is built: opening a session must not load a language model
        # for nothing.
        todo = self._queries_for(self.session.rows_mapped_without(SEMANTIC))
        if not todo:
            return None
        try:
            mapper = self.mapper()
        except Term2IdError:
            return None  # start_mapping shows why
        if not _has_source(mapper, SEMANTIC):
            return None  # not installed: said once when the mapper was built
        waiting = self.semantic_waiting(mapper, {q.ontology for _, q in todo})
        if waiting:
            self.prepare_semantic(waiting)
            return None
        return self._start_job(mapper, todo, self.language_model_name(), rerank=True)

    def language_model_name(self) -> str | None:
        """The language model the mapper asks, as results record it; None when it asks none."""
        if not self.settings.model_configured or self._mapper is None:
            return None
        if not _has_source(self._mapper, "llm"):
            return None
        settings = self.settings
        name = Path(settings.model_path).name if settings.model_path else settings.server_url
        return f"{name} + {Path(settings.adapter_path).name}" if settings.adapter_path else name

    def close_session(self) -> None:
        """The window closes its session: its jobs are dropped."""
        self.abandon_mapping()
        self.abandon_preparing()
        self._rerank_pending = False
        self.session = None

    def run(self, worker: Worker) -> Worker:
        """Start `worker` on the pool; its error is reported through `error`."""
        self._workers.add(worker)
        worker.signals.error.connect(self.error)
        worker.signals.finished.connect(lambda: self._workers.discard(worker))
        self.pool.start(worker)
        return worker
