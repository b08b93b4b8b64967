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

This module is the driver; the input is read in `partitions`, mapped by `worker`, and written by
`output`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from term2id.core.candidates import Query
from term2id.core.errors import InputFileError, Term2IdError
from term2id.core.exports import MAPPED_COLUMNS, check_output_path
from term2id.core.files import PART_SUFFIX, atomic_path
from term2id.core.mapping import MappingConfig
from term2id.core.ontology import releases_of
from term2id.core.progress import Progress
from term2id.scale.output import write_partition, write_sssom
from term2id.scale.partitions import BLOCKSIZE, KEY, distinct_of, input_files, read_frame
from term2id.scale.worker import MappingWorker, chunk_name, map_chunk, read_terms

WORK_FOLDER = ".term2id-work"
OUTPUT_FORMATS = ("parquet", "csv")
CHUNK_TERMS = 250  # distinct terms per mapping task: small, so a kill loses little work


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

    def __post_init__(self) -> None:
        # The mapper ranks as many candidates as the cells show, as plain `map` does: ranked
        # further, showing the likeliest first may bring in others than the fused first ones.
        if self.config.top_k != self.top_k:
            object.__setattr__(self, "config", replace(self.config, top_k=self.top_k))


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
    """Run `job` on the Dask cluster `client` is connected to; see the module's notes.

    `client` may also be a Future of one (`starting_local_cluster`): the cluster then starts
    while the driver prepares, and is waited for only when the workers are needed.
    """
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
    version = releases_of(stores)  # as plain map writes it in the SSSOM file
    releases = {job.ontology: version}
    work = _check_output(job, files, _fingerprint(job, files, releases))
    prepared = prepare_targets(mapper, [job.ontology], progress)
    list(prepared.mapper.map_many([Query("term2id", job.ontology)]))  # model loads and exports
    chunks_dir = work / "terms"
    chunks_dir.mkdir(exist_ok=True)
    for leftover in [*chunks_dir.glob(f".*{PART_SUFFIX}"), *job.output.glob(f".*{PART_SUFFIX}")]:
        leftover.unlink(missing_ok=True)  # a file half-written when an earlier run was killed
    parts = frame.to_delayed()
    if isinstance(client, Future):
        client = client.result()

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
        tasks = [dask.delayed(distinct_of)(part, job.column, job.context_column) for part in parts]
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
    todo = [i for i in range(chunk_count) if not (chunks_dir / chunk_name(i)).is_file()]
    done_terms = len(distinct) - sum(
        len(distinct.iloc[i * job.chunk_terms : (i + 1) * job.chunk_terms]) for i in todo
    )
    mapped_now = 0
    rate.terms_done(done_terms, 0)
    futures = [
        client.submit(
            map_chunk, plugin,
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
        dask.delayed(write_partition)(
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
        sssom_rows = write_sssom(job.sssom, terms, version, files)
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


def local_cluster(workers: int):  # noqa: ANN201 - a LocalCluster
    """A Dask cluster of `workers` processes on this machine, one task at a time each."""
    from distributed import LocalCluster

    if workers < 1:
        raise Term2IdError(f"--workers must be at least 1, not {workers}")
    return LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=logging.ERROR,
    )  # fmt: skip


def _warm_up() -> None:
    """Import on a worker what its plugin and tasks use (seconds of a new process's time)."""
    import pyarrow.parquet  # noqa: F401 - imported for its side effect: loaded once, now

    import term2id.core.mapping  # noqa: F401
    import term2id.scale.output  # noqa: F401


@contextlib.contextmanager
def starting_local_cluster(workers: int) -> Iterator[Future]:
    """A local cluster started in the background, as a Future of its connected Client.

    The workers start, and import what they will use, while the driver reads the input and
    prepares the stores (`map_on_cluster` accepts the Future); the cluster is closed on leaving,
    whether it was used, failed to start, or the run failed before needing it.
    """

    def start() -> tuple[Any, Any]:
        from distributed import Client

        cluster = local_cluster(workers)
        try:
            client = Client(cluster)
            client.run(_warm_up)
        except BaseException:
            cluster.close()
            raise
        return cluster, client

    pool = ThreadPoolExecutor(1, thread_name_prefix="term2id-cluster")
    started = pool.submit(start)
    connected: Future = Future()

    def hand_over(done: Future) -> None:
        if done.exception() is not None:
            connected.set_exception(done.exception())
        else:
            connected.set_result(done.result()[1])

    started.add_done_callback(hand_over)
    try:
        yield connected
    finally:
        pool.shutdown(wait=True)
        if started.exception() is None:
            cluster, client = started.result()
            client.close()
            cluster.close()


__all__ = [
    "ScaleJob",
    "ScaleSummary",
    "check_input",
    "local_cluster",
    "map_on_cluster",
    "starting_local_cluster",
]
