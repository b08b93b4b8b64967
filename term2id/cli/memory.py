"""`term2id memory`: the mapping memory, imported from and exported to files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from term2id.cli import common
from term2id.cli.common import data_dir_option, out
from term2id.cli.options import DataDirOption

memory_app = typer.Typer(
    help="The mapping memory: what curators decided before, proposed first when mapping.",
    no_args_is_help=True,
)


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
    with MappingMemory.in_folder(common.catalog().data_dir) as memory:
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
    with MappingMemory.in_folder(common.catalog().data_dir) as memory:
        rows = export_memory(memory, output, ontology)
    out.print(f"wrote {output} ({rows:,} mappings)", highlight=False)
