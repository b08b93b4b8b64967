"""`term2id demo`: map the example sheet shipped with term2id against the embedded HPO, and
show the result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from term2id.cli import common
from term2id.cli.common import build_embedded_store_if_needed, data_dir_option, out, progress_bar
from term2id.cli.mapper import make_mapper, mapping_config, prepare
from term2id.cli.options import DataDirOption, SourcesOption, TunedEmbeddingsOption


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
    mapper = make_mapper(mapping_config(sources, top_k=5, tuned_embeddings=tuned_embeddings))
    build_embedded_store_if_needed(["hp"])
    prepare(mapper, "hp")
    with as_file(files("term2id") / "resources" / "example_terms.csv") as example:
        table = open_table(example)
        with progress_bar("mapping the example terms") as progress:
            summary = map_table(
                table, mapper, output, column="term", ontology="hp", progress=progress
            )
        out.print(
            f"[bold]{example.name}[/]: {summary.rows} rows, {summary.distinct_terms} distinct "
            f"terms, mapped against HPO ({common.catalog().open('hp').release}) with "
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
