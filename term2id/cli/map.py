"""`term2id map`: map a column of terms in a sheet, here or on a distributed engine
(`--engine dask`, term2id/scale)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from term2id.cli import common
from term2id.cli.common import (
    build_embedded_store_if_needed,
    data_dir_option,
    err,
    out,
    progress_bar,
)
from term2id.cli.mapper import make_mapper, mapping_config, prepare, print_model_stats
from term2id.cli.options import (
    AdapterOption,
    ApiKeyOption,
    DataDirOption,
    ModelOption,
    ModeOption,
    SourcesOption,
    ThresholdOption,
    TunedEmbeddingsOption,
)
from term2id.core.errors import Term2IdError
from term2id.core.mapping import UNTRUSTED_GGUF_WARNING, MappingConfig

ServersOption = Annotated[
    list[str] | None,
    typer.Option(
        "--server",
        help="URL of an OpenAI-compatible completions server on the local network "
        "(llama.cpp server, python -m llama_cpp.server, vLLM), instead of --model. With "
        "--engine: give it several times for a pool that spreads the requests over them.",
        show_default=False,
    ),
]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="Map on a distributed engine: dask (needs the scale extra). Input: CSV, TSV, "
        "Parquet or a folder of them; --output: a folder of partitions. See docs/scale.md.",
        show_default=False,
    ),
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Scheduler of an existing Dask cluster (tcp://host:8786); implies --engine dask.",
        show_default=False,
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Start a local cluster of N worker processes (default 2).",
        show_default=False,
    ),
]
OutputFormatOption = Annotated[
    str, typer.Option("--output-format", help="Partitions the engine writes: parquet or csv.")
]


def map_command(
    input: Annotated[
        Path, typer.Argument(help="CSV, TSV or XLSX file with a header row.", show_default=False)
    ],
    column: Annotated[str, typer.Option("--column", "-c", help="Column holding the terms.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Mapped sheet to write: .xlsx, .tsv, or .csv (any other: CSV)."
        ),
    ],
    ontology: Annotated[
        str | None,
        typer.Option(
            "--ontology", help="Target store (or several: hp,go); default hp.", show_default=False
        ),
    ] = None,
    ontology_column: Annotated[
        str | None,
        typer.Option(help="Column naming each row's target store (empty cells: --ontology)."),
    ] = None,
    context_column: Annotated[
        str | None, typer.Option(help="Column with context for each term (used by the model).")
    ] = None,
    sheet: Annotated[str | None, typer.Option(help="Sheet of an XLSX workbook.")] = None,
    sssom: Annotated[
        Path | None, typer.Option("--sssom", help="Also write an SSSOM TSV mapping table.")
    ] = None,
    top_k: Annotated[
        int,
        typer.Option(
            "--top-k", "-k", min=1, help="Candidates shown per row (best + alternatives)."
        ),
    ] = 5,
    sources: SourcesOption = None,
    threshold: ThresholdOption = 0.9,
    model: ModelOption = None,
    adapter: AdapterOption = None,
    mode: ModeOption = "propose",
    server: ServersOption = None,
    api_key: ApiKeyOption = None,
    tuned_embeddings: TunedEmbeddingsOption = False,
    no_memory: Annotated[
        bool,
        typer.Option(
            "--no-memory",
            help="Leave out the mapping memory (the ids curators decided before for the same "
            "terms, proposed first by default).",
        ),
    ] = False,
    data_dir: DataDirOption = None,
    engine: EngineOption = None,
    address: AddressOption = None,
    workers: WorkersOption = None,
    output_format: OutputFormatOption = "parquet",
) -> None:
    """Map a column of terms in a spreadsheet; write the sheet with mapped columns added."""
    import time

    from term2id.core.exports import check_output_path, map_table
    from term2id.core.tables import open_table

    data_dir_option(data_dir)
    if ontology is not None and not ontology.strip():
        raise Term2IdError("--ontology is empty; give a store name such as hp")
    servers = tuple(server or ())
    if engine is not None or address is not None or workers is not None:
        return _map_on_engine(
            input, column, output, ontology, ontology_column, context_column, sheet, sssom, top_k,
            mapping_config(
                sources, threshold, top_k, model, adapter, mode,
                servers[0] if servers else None, tuned_embeddings, api_key,
                memory=not no_memory,
            ),
            servers, engine, address, workers, output_format,
        )  # fmt: skip
    if len(servers) > 1:
        raise Term2IdError(
            "several --server URLs make a pool for --engine dask; give one without it"
        )
    started = time.perf_counter()
    table = open_table(input, sheet)
    config = mapping_config(
        sources, threshold, top_k, model, adapter, mode, servers[0] if servers else None,
        tuned_embeddings, api_key, memory=not no_memory,
    )  # fmt: skip
    mapper = make_mapper(config)
    build_embedded_store_if_needed((ontology or "hp").split(","))
    # Mistakes in the arguments are reported before minutes of preparing, not after.
    for name in (column, ontology_column, context_column):
        if name is not None:
            table.column_index(name)
    check_output_path(output, input)
    if sssom is not None:
        check_output_path(sssom, input, output)
    if ontology_column is None:  # else map_table prepares each store the column names
        prepare(mapper, ontology or "hp")
    with progress_bar(f"mapping {input.name}") as progress:
        summary = map_table(
            table,
            mapper,
            output,
            column=column,
            ontology=ontology,
            ontology_column=ontology_column,
            context_column=context_column,
            sssom=sssom,
            top_k=top_k,
            progress=progress,
        )
    seconds = time.perf_counter() - started
    for warning in summary.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    counts = ", ".join(f"{status} {n:,}" for status, n in sorted(summary.status_counts.items()))
    out.print(
        f"mapped {summary.rows:,} rows ({summary.distinct_terms:,} distinct terms) in "
        f"{seconds:.1f} s, {summary.distinct_terms / max(seconds, 1e-9):,.0f} terms/s, "
        f"{summary.rows / max(seconds, 1e-9):,.0f} rows/s",
        highlight=False,
    )
    out.print(f"status: {counts or 'no rows'}", highlight=False)
    out.print(f"sources: {', '.join(s.name for s in mapper.sources)}", highlight=False)
    print_model_stats(mapper.sources)
    out.print(f"wrote {summary.output}", highlight=False)
    if summary.sssom is not None:
        out.print(f"wrote {summary.sssom} ({summary.sssom_rows:,} mappings)", highlight=False)


def _threads_per_worker(workers: int) -> int:
    """OMP_NUM_THREADS when set (the usual way to say so), else the cores shared out."""
    import os

    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    return max(1, (os.cpu_count() or 1) // workers)


def _map_on_engine(
    input: Path, column: str, output: Path, ontology: str | None, ontology_column: str | None,
    context_column: str | None, sheet: str | None, sssom: Path | None, top_k: int,
    config: MappingConfig, servers: tuple[str, ...], engine: str | None, address: str | None,
    workers: int | None, output_format: str,
) -> None:  # fmt: skip
    """`term2id map --engine dask`: the same mapping on a Dask cluster (term2id/scale)."""
    if (engine or "dask") != "dask":
        raise Term2IdError(f"--engine must be dask, not {engine!r}")
    if ontology_column is not None or sheet is not None:
        raise Term2IdError(
            "--engine maps one target ontology (--ontology) of CSV, TSV or Parquet input; "
            "--ontology-column and --sheet work without it"
        )
    if address is not None and workers is not None:
        raise Term2IdError("give --address (an existing cluster) or --workers (a local one)")
    try:
        from distributed import Client

        from term2id.scale.engine import (
            ScaleJob,
            check_input,
            map_on_cluster,
            starting_local_cluster,
        )
    except ImportError as exc:
        raise Term2IdError(
            f"--engine dask needs the scale extra ({exc}): pip install 'term2id[scale]'"
        ) from exc
    # Dask logs every scheduler and worker event at INFO; the terminal shows the progress bar.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if config.model is not None:
        err.print(f"[yellow]note:[/] {UNTRUSTED_GGUF_WARNING}", highlight=False)
    build_embedded_store_if_needed((ontology or "hp").split(","))
    count = workers or 2
    job = ScaleJob(
        input=input, output=output, column=column, ontology=ontology or "hp",
        context_column=context_column, config=config, data_dir=common.catalog().data_dir, top_k=top_k,
        output_format=output_format, sssom=sssom, servers=servers if len(servers) > 1 else (),
        threads=None if address else _threads_per_worker(count),
    )  # fmt: skip

    check_input(job)  # before minutes of starting workers and preparing, not after

    def note(message: str) -> None:
        err.print(f"[yellow]note:[/] {escape(message)}", highlight=False)

    with contextlib.ExitStack() as stack:
        if address is not None:
            try:
                client = stack.enter_context(Client(address, timeout="20s"))
            except OSError as exc:
                raise Term2IdError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        else:
            # Started in the background: the workers start while the driver prepares.
            client = stack.enter_context(starting_local_cluster(count))
        with progress_bar(f"mapping {input.name} on {engine or 'dask'}") as progress:
            summary = map_on_cluster(job, client, progress, warn=note)
    for warning in summary.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    counts = ", ".join(f"{status} {n:,}" for status, n in sorted(summary.status_counts.items()))
    seconds = max(summary.seconds, 1e-9)
    out.print(
        f"mapped {summary.rows:,} rows ({summary.distinct_terms:,} distinct terms) in "
        f"{summary.seconds:.1f} s on {summary.workers} workers, "
        f"{summary.distinct_terms / seconds:,.0f} terms/s, {summary.rows / seconds:,.0f} rows/s",
        highlight=False,
    )
    earlier = summary.partitions - summary.partitions_now
    out.print(
        f"this run mapped {summary.mapped_now:,} of {summary.distinct_keys:,} distinct keys and wrote "
        f"{summary.partitions_now:,} of {summary.partitions:,} partitions"
        + (f" ({earlier:,} were written by an earlier run)" if earlier else ""),
        highlight=False,
    )
    out.print(f"status: {counts or 'no rows'}", highlight=False)
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.phase_seconds.items())
    out.print(f"steps: {steps}", highlight=False)
    peaks = ", ".join(f"{kib / 1024:,.0f}" for kib in summary.worker_peak_kib)
    out.print(
        f"peak memory: workers {peaks or '?'} MiB, driver {summary.driver_peak_kib / 1024:,.0f} MiB"
        f"; {job.threads or '?'} threads per worker",
        highlight=False,
    )
    out.print(f"wrote {summary.output}", highlight=False)
    if summary.sssom is not None:
        out.print(f"wrote {summary.sssom} ({summary.sssom_rows:,} mappings)", highlight=False)
