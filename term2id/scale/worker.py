"""The worker side of a distributed run: one Mapper per worker (a Dask plugin, built once when the
worker joins) and the task that maps a chunk of distinct terms and writes its results file."""

from __future__ import annotations

import logging
import os
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from distributed.diagnostics.plugin import WorkerPlugin

from term2id.core.candidates import Query
from term2id.core.exports import MAPPED_COLUMNS, mapped_cells, sssom_mapping_for
from term2id.core.files import atomic_path
from term2id.core.mapping import MappingConfig
from term2id.scale.partitions import KEY

log = logging.getLogger(__name__)

# What a chunk keeps of each SSSOM mapping, for the table the driver writes at the end.
SSSOM_FIELDS = (
    "subject_id", "subject_label", "predicate_id", "object_id", "object_label",
    "mapping_justification", "sssom_confidence", "comment",
)  # fmt: skip


class MappingWorker(WorkerPlugin):
    """Per-worker state: one Mapper, built once when the worker joins, reused by every task.

    The stores are opened from `data_dir` (a path every worker sees); nothing is written to them
    here: answers of the local model are kept and handed back to the driver with each chunk.
    """

    def __init__(
        self, name: str, config: MappingConfig, data_dir: str, ontology: str,
        servers: tuple[str, ...], threads: int | None,
    ) -> None:  # fmt: skip
        self.name = name
        self.config = config
        self.data_dir = data_dir
        self.ontology = ontology
        self.servers = servers
        self.threads = threads
        self.mapper: Any = None
        self.lock: Any = None
        self._answers: list[tuple[str, str, str, str, str, str]] = []
        self._results: tuple[str, pd.DataFrame] | None = None

    def setup(self, worker: Any) -> None:
        from term2id.core.mapping import build_mapper, prepare_targets
        from term2id.core.ontology import StoreCatalog

        self.lock = threading.Lock()  # one mapping at a time per worker: the Mapper is shared
        if self.threads:
            os.environ["OMP_NUM_THREADS"] = str(self.threads)
        catalog = StoreCatalog(self.data_dir)
        mapper = build_mapper(self.config, catalog, warn=log.warning)
        if self.servers:
            from term2id.scale.servers import ServerPool

            start = zlib.crc32(str(worker.address).encode())
            for source in [*mapper.sources, *mapper.rerankers]:
                if source.name == "llm":
                    source.backend = ServerPool(
                        self.servers, api_key=self.config.api_key, start=start
                    )
        for store in mapper.stores_for(self.ontology):
            store.cache_model_answer = self._keeper(store.name)  # answers go to the driver
        self.mapper = prepare_targets(mapper, [self.ontology]).mapper

    def _keeper(self, store_name: str) -> Callable[..., None]:
        def keep(model: str, adapter: str, template: str, term: str, answer: str) -> None:
            self._answers.append((store_name, model, adapter, template, term, answer))

        return keep

    def take_answers(self) -> list[tuple[str, str, str, str, str, str]]:
        answers, self._answers = self._answers, []
        return answers

    def results(self, folder: str) -> pd.DataFrame:
        """Every mapped term of the run (its chunk files), read once per worker."""
        if self._results is None or self._results[0] != folder:
            self._results = (folder, read_terms(Path(folder)))
        return self._results[1]


def read_terms(folder: Path) -> pd.DataFrame:
    """The mapped distinct terms of a run, in order of first appearance."""
    pieces = [pd.read_parquet(p) for p in sorted(folder.glob("chunk-*.parquet"))]
    if not pieces:
        return pd.DataFrame(columns=["term", *KEY, *MAPPED_COLUMNS, *SSSOM_FIELDS])
    return pd.concat(pieces, ignore_index=True).sort_values("term", ignore_index=True)


def worker_state(name: str) -> MappingWorker:
    from distributed import get_worker

    return get_worker().plugins[name]


def map_chunk(
    plugin: str, terms: pd.DataFrame, chunk: int, folder: str, ontology: str, top_k: int,
    version: str | None,
) -> tuple[int, int, list[tuple[str, str, str, str, str, str]]]:  # fmt: skip
    """Map one chunk of distinct terms on a worker; write its results file; hand back answers."""
    state = worker_state(plugin)
    queries = [
        Query(text, ontology, context or None)
        for text, context in zip(terms["text"], terms["context"], strict=True)
    ]
    rows: list[dict[str, Any]] = []
    with state.lock:
        for result in state.mapper.map_many(queries):
            mapped_id, label, confidence, status, alternatives = mapped_cells(result, top_k)
            mapping = sssom_mapping_for(result, version)
            row = {
                "mapped_id": mapped_id, "mapped_label": label,
                "confidence": float("nan") if confidence is None else confidence,
                "status": status, "alternatives": alternatives,
                "sssom_confidence": float("nan"),
            }  # fmt: skip
            if mapping is not None:
                row |= {f: getattr(mapping, f) for f in SSSOM_FIELDS if f != "sssom_confidence"}
                row["sssom_confidence"] = (
                    float("nan") if mapping.confidence is None else mapping.confidence
                )
            rows.append(row)
        answers = state.take_answers()
    frame = pd.DataFrame(rows, columns=[*MAPPED_COLUMNS, *SSSOM_FIELDS])
    frame.insert(0, "key_context", terms["key_context"].to_numpy())
    frame.insert(0, "text", terms["text"].to_numpy())
    frame.insert(0, "term", terms["term"].to_numpy())
    with atomic_path(Path(folder) / chunk_name(chunk)) as temp:
        frame.to_parquet(temp, index=False)
    return chunk, len(frame), answers


def chunk_name(chunk: int) -> str:
    return f"chunk-{chunk:06d}.parquet"
