"""`term2id session`: a curation session file from the command line: how far two curators agree,
and its exports (the same writers as the window's File menu)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from term2id.cli import common
from term2id.cli.common import data_dir_option, out
from term2id.cli.options import DataDirOption
from term2id.core.errors import Term2IdError

session_app = typer.Typer(
    help="Curation sessions (.t2id): agreement of two curators, exports.", no_args_is_help=True
)

SessionArgument = Annotated[Path, typer.Argument(help="A session file (.t2id).")]


def _open(path: Path):  # noqa: ANN202 - a CurationSession
    from term2id.core.curation import CurationSession

    return CurationSession.open(path)


@session_app.command("agreement")
def agreement_command(path: SessionArgument) -> None:
    """Raw agreement and Cohen's kappa of a first and a blind second curator, with the
    disagreements and how each was settled."""
    from term2id.core.curation import (
        CATEGORIES,
        CATEGORY_TEXT,
        decision_text,
        review_rows,
        session_agreement,
    )

    with _open(path) as session:
        agreement = session_agreement(session)
        terms = [q.text for q in session.queries()]
        reviews = review_rows(session.decisions())
    second = sum(1 for r in reviews.values() if r.second is not None)
    out.print(f"rows decided by the second curator: {second:,}")
    out.print(f"rows decided by both: {agreement.rows_compared:,}")
    if not agreement.rows_compared:
        return
    kappa = agreement.kappa
    out.print(
        f"same outcome: {agreement.rows_agreed:,} · raw agreement {agreement.raw_agreement:.1%}"
        f" · Cohen's kappa {'undefined' if kappa is None else f'{kappa:.3f}'}"
    )
    table = Table("first ↓ / second →", *(CATEGORY_TEXT[c] for c in CATEGORIES))
    for a in CATEGORIES:
        table.add_row(CATEGORY_TEXT[a], *(str(agreement.table.get((a, b), 0)) for b in CATEGORIES))
    out.print(table)
    out.print(
        f"disagreements: {len(agreement.disagreements):,} ({agreement.settled:,} settled, "
        f"{len(agreement.unsettled):,} to settle)"
    )
    # One line per disagreement, tab-separated: grep and scripts read them as they are.
    for review in agreement.disagreements:
        settled = decision_text(review.settled) if review.settled else "not settled"
        typer.echo(
            f"row {review.row + 1}\t{terms[review.row]}\tfirst: {decision_text(review.first)}"
            f"\tsecond: {decision_text(review.second)}\tsettled: {settled}"
        )


@session_app.command("export")
def export_command(
    path: SessionArgument,
    output: Annotated[
        Path,
        typer.Argument(
            help="The file to write: a sheet (.csv, .tsv, .xlsx) or, with --sssom or a name "
            "ending in .sssom.tsv, an SSSOM mapping table."
        ),
    ],
    sssom: Annotated[bool, typer.Option("--sssom", help="Write an SSSOM mapping table.")] = False,
    only_reviewed: Annotated[
        bool,
        typer.Option(
            "--only-reviewed",
            help="Only rows both curators decided alike, or settled after review.",
        ),
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Export a session as the window does: the curators' decisions win over the machine's
    ranking, and every id is verified again against the stores installed here."""
    from term2id.core.curation import export_sheet, export_sssom, has_second_review

    data_dir_option(data_dir)
    with _open(path) as session:
        if only_reviewed and not has_second_review(session):
            raise Term2IdError(
                f"{path}: no second curator has reviewed this session, so no row is agreed or "
                "settled; leave out --only-reviewed"
            )
        stores = {}
        for name in session.mapping_provenance():
            if common.catalog().exists(name):
                stores[name] = common.catalog().open(name)
        if sssom or output.name.endswith(".sssom.tsv"):
            count = export_sssom(session, output, stores, only_reviewed=only_reviewed)
            what = "mappings"
        else:
            count = export_sheet(session, output, stores=stores, only_reviewed=only_reviewed)
            what = "rows"
    out.print(f"wrote {count:,} {what} to {output}")
