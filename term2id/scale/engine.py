"""`term2id map` on a Dask cluster: distinct terms first, each mapped once, joined back per partition.

A run has four steps, each resumable:

1. the input (CSV, TSV, Parquet, or a folder of them) is read in partitions; each partition's
   distinct terms, on the key plain `map` de-duplicates on (`core.mapper.result_key`), are
   gathered on the driver in order of first appearance and written to `distinct.parquet`;
2. the distinct terms are cut into chunks; each chunk is mapped by a worker holding one Mapper
   (built by `build_mapper` from the run's MappingConfig, once per worker) and written to its own
   file, atomically; a chunk whose file exists is never mapped again;
3. the chunks are gathered into `terms.parquet`, and each input partition is joined to it and
   written as `part-NNNNN.parquet` (or `.csv`), atomically, in input order;
4. the driver writes the SSSOM table, as plain `map` does, from the distinct results.

Workers only read the stores: the driver prepares every index, embedding and model export before
fanning out, and answers the local model gives on a worker are handed back to the driver, which
caches them in the store. Results and partitions are written to the output folder, which every
worker must see at the same path (shared storage), as it must see the data folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from distributed.diagnostics.plugin import WorkerPlugin

from term2id.core.candidates import Query
from term2id.core.errors import InputFileError, Term2IdError
from term2id.core.exports import (
    MAPPED_COLUMNS,
    SSSOMMapping,
    SSSOMSetMetadata,
    SSSOMWriter,
    check_output_path,
    mapped_cells,
    neutralise,
    sssom_mapping_for,
)
from term2id.core.files import atomic_path
from term2id.core.mapping import MappingConfig, holds_id
from term2id.core.progress import Progress
from term2id.core.tables import cell_text

log = logging.getLogger(__name__)

WORK_FOLDER = ".term2id-work"
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": "\t"}
PARQUET_SUFFIXES = (".parquet", ".pq")
OUTPUT_FORMATS = ("parquet", "csv")
CHUNK_TERMS = 250  # distinct terms per mapping task: small, so a kill loses little work
BLOCKSIZE = "16MB"  # bytes of CSV per partition (about 300,000 rows of short terms)
# Columns of a chunk of mapped terms (and of terms.parquet).
KEY = ["text", "key_context"]
SSSOM_FIELDS = (
    "subject_id", "subject_label", "predicate_id", "object_id", "object_label",
    "mapping_justification", "sssom_confidence", "comment",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ScaleJob:
    """One distributed mapping run: what to read, how to map it, where to write."""

    input: Path  # a CSV/TSV/Parquet file, or a folder of them (read in name order)
    output: Path  # a folder: part-NNNNN.<format> files, in input order
    column: str
    ontology: str = "hp"
    context_column: str | None = None
    config: MappingConfig = field(default_factory=MappingConfig)
    data_dir: Path | None = None  # the stores (None: the default data folder)
    top_k: int = 5
    output_format: str = "parquet"
    sssom: Path | None = None
    servers: tuple[str, ...] = ()  # a pool of completion servers (more than one --server)
    threads: int | None = None  # threads each worker's sentence model uses (None: its own)
    chunk_terms: int = CHUNK_TERMS
    blocksize: str = BLOCKSIZE


@dataclass(frozen=True, slots=True)
class ScaleSummary:
    """What a distributed run did, for the CLI's closing lines."""

    rows: int
    distinct_terms: int  # distinct non-empty terms, as plain `map` counts them
    distinct_keys: int  # what was mapped: distinct terms, ids in cells once per context
    mapped_now: int  # distinct keys this run mapped (the rest were done by an earlier run)
    status_counts: dict[str, int]
    seconds: float
    output: Path
    partitions: int
    partitions_now: int  # partitions this run wrote
    workers: int
    sssom: Path | None = None
    sssom_rows: int = 0
    warnings: tuple[str, ...] = ()
    worker_peak_kib: tuple[int, ...] = ()  # each worker process's peak resident memory
    driver_peak_kib: int = 0
    # Wall time of each step: preparing, distinct terms, mapping, rows written, sssom.
    phase_seconds: dict[str, float] = field(default_factory=dict)


def _peak_kib() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


# -- input -------------------------------------------------------------------------------------


def input_files(path: Path) -> list[Path]:
    """The files a run reads: `path` itself, or the CSV/TSV/Parquet files in the folder `path`."""
    known = (*TEXT_SUFFIXES, *PARQUET_SUFFIXES)
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in known
        )  # fmt: skip
        if not files:
            raise InputFileError(path, f"holds no {', '.join(known)} file")
    elif path.is_file():
        if path.suffix.lower() not in known:
            raise InputFileError(
                path, f"the engine reads {', '.join(known)} files (or a folder of them)"
            )
        files = [path]
    else:
        raise InputFileError(path, "no such file or folder")
    kinds = {p.suffix.lower() in PARQUET_SUFFIXES for p in files}
    if len(kinds) > 1:
        raise InputFileError(path, "mixes Parquet and text files; give one kind")
    return files


def read_frame(files: Sequence[Path], blocksize: str = BLOCKSIZE):  # noqa: ANN201 - a dask DataFrame
    """The input as a Dask DataFrame of text cells (Parquet columns keep their types)."""
    import dask.dataframe as dd

    if files[0].suffix.lower() in PARQUET_SUFFIXES:
        return dd.read_parquet([str(p) for p in files])
    separators = {TEXT_SUFFIXES[p.suffix.lower()] for p in files}
    if len(separators) > 1:
        raise InputFileError(files[0].parent, "mixes CSV and TSV files; give one kind")
    try:
        return dd.read_csv(
            [str(p) for p in files], sep=separators.pop(), dtype=str, keep_default_na=False,
            na_filter=False, skip_blank_lines=False, blocksize=blocksize, encoding="utf-8",
        )  # fmt: skip
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(files[0], f"cannot be read as a table ({exc})") from None


def _text_column(part: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series([""] * len(part), index=part.index, dtype=object)
    values = part[column]
    if pd.api.types.is_string_dtype(values.dtype):
        return values.fillna("").astype(str)
    return pd.Series([cell_text(v) for v in values.tolist()], index=part.index, dtype=object)


def _keys(part: pd.DataFrame, column: str, context_column: str | None) -> pd.DataFrame:
    """Each row's term, its context (stripped, "" for none) and the context part of its key."""
    text = _text_column(part, column)
    context = _text_column(part, context_column).str.strip()
    ids = {t: holds_id(t) for t in text.unique()}
    key_context = context.where(text.map(ids).astype(bool), "")
    return pd.DataFrame(
        {"text": text.to_numpy(), "context": context.to_numpy(), "key_context": key_context.to_numpy()}
    )


def _distinct_of(part: pd.DataFrame, column: str, context_column: str | None) -> tuple[pd.DataFrame, int]:
    """(the partition's distinct keys in order of first appearance, its row count)."""
    keys = _keys(part, column, context_column)
    return keys.drop_duplicates(KEY, keep="first").reset_index(drop=True), len(part)


# -- workers -----------------------------------------------------------------------------------


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


def _worker_state(name: str) -> MappingWorker:
    from distributed import get_worker

    return get_worker().plugins[name]


def _map_chunk(
    plugin: str, terms: pd.DataFrame, chunk: int, folder: str, ontology: str, top_k: int,
    version: str | None,
) -> tuple[int, int, list[tuple[str, str, str, str, str, str]]]:  # fmt: skip
    """Map one chunk of distinct terms on a worker; write its results file; hand back answers."""
    state = _worker_state(plugin)
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
    with atomic_path(Path(folder) / _chunk_name(chunk)) as temp:
        frame.to_parquet(temp, index=False)
    return chunk, len(frame), answers


def _chunk_name(chunk: int) -> str:
    return f"chunk-{chunk:06d}.parquet"


def _part_name(index: int, output_format: str) -> str:
    return f"part-{index:05d}.{output_format}"


def _write_partition(
    plugin: str, part: pd.DataFrame, index: int, output: str, work: str, column: str,
    context_column: str | None, output_format: str,
) -> tuple[int, int, dict[str, int]]:  # fmt: skip
    """Join one input partition to the mapped terms and write it, in its rows' order."""
    state = _worker_state(plugin)
    results = state.results(str(Path(work) / "terms"))
    keys = _keys(part, column, context_column)[KEY]
    joined = keys.merge(results, how="left", on=KEY, validate="many_to_one")
    if joined["status"].isna().any():
        raise Term2IdError(f"partition {index}: rows without a mapped term (the run is corrupt)")
    out = part.reset_index(drop=True).copy()
    for name in MAPPED_COLUMNS:
        out[name] = joined[name].to_numpy()
    path = Path(output) / _part_name(index, output_format)
    with atomic_path(path) as temp:
        if output_format == "parquet":
            out.to_parquet(temp, index=False)
        else:
            _write_csv(out, temp)
    counts = Counter(out["status"].tolist())
    Path(work, "parts").mkdir(exist_ok=True)
    done = {"rows": len(out), "status_counts": dict(counts)}
    with atomic_path(Path(work) / "parts" / f"{index:05d}.json") as temp:
        temp.write_text(json.dumps(done))
    return index, len(out), dict(counts)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """As plain `map` writes a CSV: cells as a curator reads them, safe to open in a spreadsheet."""
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(list(frame.columns))
        confidence = frame.columns.get_loc("confidence")
        for values in frame.itertuples(index=False, name=None):
            cells = list(values)
            if cells[confidence] != cells[confidence]:  # NaN: no candidate
                cells[confidence] = None
            writer.writerow([neutralise(cell_text(v)) for v in cells])


# -- the driver --------------------------------------------------------------------------------


def _fingerprint(job: ScaleJob, files: Sequence[Path], releases: dict[str, str]) -> dict[str, Any]:
    """What must match for a run to continue an earlier one in the same output folder."""
    config = {
        f: getattr(job.config, f)
        for f in ("sources", "threshold", "top_k", "model", "adapter", "server", "mode",
                  "tuned_embeddings")
    }  # fmt: skip
    config["sources"] = list(config["sources"]) if config["sources"] is not None else None
    return {
        "inputs": [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files],
        "column": job.column, "ontology": job.ontology, "context_column": job.context_column,
        "config": config, "top_k": job.top_k, "output_format": job.output_format,
        "releases": releases, "chunk_terms": job.chunk_terms, "blocksize": job.blocksize,
    }  # fmt: skip


def _check_output_folder(output: Path, files: Sequence[Path]) -> None:
    """Refuse an output folder that is a file, holds the input, or holds other things."""
    if output.is_file():
        raise Term2IdError(f"{output}: is a file; the engine writes a folder of partitions")
    resolved = output.resolve()
    for file in files:
        if resolved == file.resolve().parent or resolved in file.resolve().parents:
            raise Term2IdError(f"{output}: holds the input; choose another output folder")
    if output.is_dir() and any(output.iterdir()) and not (output / WORK_FOLDER).is_dir():
        raise Term2IdError(
            f"{output}: folder is not empty and holds no earlier run; choose a new folder"
        )
    if not resolved.parent.is_dir():
        raise Term2IdError(f"{output}: folder {resolved.parent} does not exist")


def _check_output(job: ScaleJob, files: Sequence[Path], fingerprint: dict[str, Any]) -> Path:
    """The run's work folder: a new one, or that of an earlier run of the same job."""
    output = job.output
    _check_output_folder(output, files)
    work = output / WORK_FOLDER
    manifest = work / "manifest.json"
    if manifest.is_file():
        earlier = json.loads(manifest.read_text(encoding="utf-8"))
        if earlier != fingerprint:
            raise Term2IdError(
                f"{output}: holds a run of another input or configuration; choose a new "
                "folder (or remove it to start again)"
            )
        return work
    work.mkdir(parents=True, exist_ok=True)
    with atomic_path(manifest) as temp:
        temp.write_text(json.dumps(fingerprint), encoding="utf-8")
    return work


class _Rate:
    """Progress lines: rows and distinct terms done, terms/s, time left."""

    def __init__(self, progress: Progress | None, terms: int, rows: int) -> None:
        self.progress = progress
        self.terms, self.rows = terms, rows
        self.started = time.perf_counter()
        self.base = 0

    def terms_done(self, done: int, now: int) -> None:
        if self.progress is None:
            return
        seconds = time.perf_counter() - self.started
        rate = now / seconds if seconds > 0 else 0.0
        left = (self.terms - done) / rate if rate > 0 else float("nan")
        self.progress.update(
            done, self.terms,
            f"distinct terms {done:,}/{self.terms:,}, {rate:,.0f} terms/s, "
            f"about {_duration(left)} left; rows 0/{self.rows:,}",
        )  # fmt: skip

    def rows_done(self, done: int) -> None:
        if self.progress is not None:
            self.progress.update(
                done, self.rows, f"rows {done:,}/{self.rows:,} written; distinct terms all done"
            )


def _duration(seconds: float) -> str:
    if seconds != seconds:  # NaN: no rate yet
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def check_input(job: ScaleJob) -> tuple[list[Path], Any]:
    """(the input files, the input as a Dask DataFrame); bad arguments raise, naming what is wrong.

    Reads only the header, so that mistakes are reported before a cluster is started.
    """
    if job.output_format not in OUTPUT_FORMATS:
        raise Term2IdError(f"--output-format must be one of {', '.join(OUTPUT_FORMATS)}")
    files = input_files(job.input)
    frame = read_frame(files, job.blocksize)
    columns = [str(c) for c in frame.columns]
    for name in (job.column, job.context_column):
        if name is not None and name not in columns:
            raise InputFileError(files[0], f"no column {name!r}; columns: {', '.join(columns)}")
    if job.output_format == "parquet" and set(columns) & set(MAPPED_COLUMNS):
        raise InputFileError(
            files[0], f"already has mapped columns ({', '.join(MAPPED_COLUMNS)}): map the source"
        )
    if job.sssom is not None:
        check_output_path(job.sssom, *files)
    _check_output_folder(job.output, files)
    return files, frame


def map_on_cluster(
    job: ScaleJob,
    client: Any,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
) -> ScaleSummary:
    """Run `job` on the Dask cluster `client` is connected to; see the module's notes."""
    import dask
    from distributed import as_completed

    from term2id.core.mapping import build_mapper, prepare_targets
    from term2id.core.ontology import StoreCatalog

    started = time.perf_counter()
    files, frame = check_input(job)

    # The driver prepares what the sources need (indexes, embeddings, model exports) so that
    # workers only read the stores.
    catalog = StoreCatalog(job.data_dir)
    mapper = build_mapper(job.config, catalog, warn=warn)
    stores = mapper.stores_for(job.ontology)
    version = ", ".join(s.release for s in stores)
    releases = {job.ontology: "; ".join(s.release for s in stores)}
    work = _check_output(job, files, _fingerprint(job, files, releases))
    prepared = prepare_targets(mapper, [job.ontology], progress)
    list(prepared.mapper.map_many([Query("term2id", job.ontology)]))  # model loads and exports
    chunks_dir = work / "terms"
    chunks_dir.mkdir(exist_ok=True)
    for leftover in [*chunks_dir.glob(".*.tmp"), *job.output.glob(".*.tmp")]:
        leftover.unlink(missing_ok=True)  # a file half-written when an earlier run was killed
    parts = frame.to_delayed()

    phases: dict[str, float] = {"preparing": time.perf_counter() - started}
    clock = time.perf_counter()
    # 1. distinct terms, in order of first appearance.
    distinct_path = work / "distinct.parquet"
    counts_path = work / "partitions.json"
    if distinct_path.is_file() and counts_path.is_file():
        distinct = pd.read_parquet(distinct_path)
        row_counts = json.loads(counts_path.read_text(encoding="utf-8"))
    else:
        if progress is not None:
            progress.update(0, len(parts), "finding the distinct terms")
        tasks = [
            dask.delayed(_distinct_of)(part, job.column, job.context_column) for part in parts
        ]
        found = client.gather(client.compute(tasks))
        row_counts = [n for _, n in found]
        distinct = pd.concat([d for d, _ in found], ignore_index=True)
        distinct = distinct.drop_duplicates(KEY, keep="first").reset_index(drop=True)
        distinct.insert(0, "term", range(len(distinct)))
        with atomic_path(distinct_path) as temp:
            distinct.to_parquet(temp, index=False)
        with atomic_path(counts_path) as temp:
            temp.write_text(json.dumps(row_counts))
    total_rows = int(sum(row_counts))
    rate = _Rate(progress, len(distinct), total_rows)

    phases["distinct terms"] = time.perf_counter() - clock
    clock = time.perf_counter()
    # 2. each distinct term mapped once, by chunks; a chunk written is never mapped again.
    plugin = "term2id-mapping-" + zlib.crc32(str(work.resolve()).encode()).to_bytes(4).hex()
    state = MappingWorker(
        plugin, job.config, str(catalog.data_dir.resolve()), job.ontology, job.servers,
        job.threads,
    )  # fmt: skip
    try:
        client.register_plugin(state, name=plugin)
    except Term2IdError:
        raise
    except Exception as exc:  # noqa: BLE001 - a worker could not build its mapper: say why
        raise Term2IdError(f"the workers cannot prepare the mapping: {exc}") from exc
    chunk_count = -(-len(distinct) // job.chunk_terms)
    todo = [i for i in range(chunk_count) if not (chunks_dir / _chunk_name(i)).is_file()]
    done_terms = len(distinct) - sum(
        len(distinct.iloc[i * job.chunk_terms : (i + 1) * job.chunk_terms]) for i in todo
    )
    mapped_now = 0
    rate.terms_done(done_terms, 0)
    futures = [
        client.submit(
            _map_chunk, plugin,
            distinct.iloc[i * job.chunk_terms : (i + 1) * job.chunk_terms].reset_index(drop=True),
            i, str(chunks_dir), job.ontology, job.top_k, version, pure=False,
        )
        for i in todo
    ]  # fmt: skip
    for future in as_completed(futures):
        _, n, answers = future.result()
        for name, model, adapter, template, term, answer in answers:
            catalog.open(name).cache_model_answer(model, adapter, template, term, answer)
        done_terms += n
        mapped_now += n
        rate.terms_done(done_terms, mapped_now)

    phases["mapping"] = time.perf_counter() - clock
    clock = time.perf_counter()
    # 3. every partition joined to the mapped terms, written in input order.
    parts_dir = work / "parts"
    parts_dir.mkdir(exist_ok=True)
    written = {int(p.stem) for p in parts_dir.glob("*.json")}
    rows_done = sum(row_counts[i] for i in written)
    rate.rows_done(rows_done)
    tasks = [
        dask.delayed(_write_partition)(
            plugin, part, i, str(job.output), str(work), job.column, job.context_column,
            job.output_format,
        )
        for i, part in enumerate(parts) if i not in written
    ]  # fmt: skip
    for future in as_completed(client.compute(tasks)):
        _, n, _ = future.result()
        rows_done += n
        rate.rows_done(rows_done)
    status_counts: Counter[str] = Counter()
    for i in range(len(parts)):
        status_counts.update(
            json.loads((parts_dir / f"{i:05d}.json").read_text(encoding="utf-8"))["status_counts"]
        )
    peaks: dict[str, int] = {}
    with contextlib.suppress(Exception):  # a worker gone since: its figure is missing
        peaks = client.run(_peak_kib)
    with contextlib.suppress(Exception):
        client.unregister_worker_plugin(plugin)

    phases["rows written"] = time.perf_counter() - clock
    clock = time.perf_counter()
    # 4. the SSSOM table, as plain `map` writes it: one row per distinct term, first seen first.
    terms = read_terms(chunks_dir)
    sssom_rows = 0
    if job.sssom is not None:
        sssom_rows = _write_sssom(job.sssom, terms, version, files)
    stripped = terms["text"].str.strip()
    return ScaleSummary(
        rows=total_rows,
        distinct_terms=int(stripped[stripped != ""].nunique()),
        distinct_keys=len(distinct),
        mapped_now=mapped_now,
        status_counts=dict(status_counts),
        seconds=time.perf_counter() - started,
        output=job.output,
        partitions=len(parts),
        partitions_now=len(tasks),
        workers=len(client.scheduler_info().get("workers", {})),
        sssom=job.sssom,
        sssom_rows=sssom_rows,
        warnings=prepared.warnings,
        worker_peak_kib=tuple(peaks[w] for w in sorted(peaks)),
        driver_peak_kib=_peak_kib(),
        phase_seconds={**phases, "sssom": time.perf_counter() - clock},
    )


def _write_sssom(path: Path, terms: pd.DataFrame, version: str, files: Sequence[Path]) -> int:
    seen: set[str] = set()
    with SSSOMWriter(path, SSSOMSetMetadata(), inputs=files) as writer:
        for row in terms.itertuples(index=False):
            text = row.text.strip()
            if not text or text in seen:
                continue
            seen.add(text)
            if not isinstance(row.subject_id, str):
                continue  # nothing to map to
            confidence = row.sssom_confidence
            writer.add(
                SSSOMMapping(
                    subject_id=row.subject_id,
                    subject_label=row.subject_label,
                    predicate_id=row.predicate_id,
                    object_id=row.object_id,
                    object_label=row.object_label if isinstance(row.object_label, str) else "",
                    mapping_justification=row.mapping_justification,
                    confidence=None if confidence != confidence else float(confidence),
                    object_source_version=version,
                    comment=row.comment if isinstance(row.comment, str) else None,
                )
            )
    return writer.rows_written


def local_cluster(workers: int):  # noqa: ANN201 - a LocalCluster
    """A Dask cluster of `workers` processes on this machine, one task at a time each."""
    from distributed import LocalCluster

    if workers < 1:
        raise Term2IdError(f"--workers must be at least 1, not {workers}")
    return LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=logging.ERROR,
    )  # fmt: skip


__all__ = [
    "ScaleJob",
    "ScaleSummary",
    "check_input",
    "MappingWorker",
    "input_files",
    "local_cluster",
    "map_on_cluster",
]
