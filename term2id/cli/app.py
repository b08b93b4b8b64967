"""The `term2id` command's root: its options (--data-dir, --verbose, --version) and its commands
and command groups, in the order `term2id --help` lists them."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from term2id import __version__
from term2id.cli.common import State, out
from term2id.cli.db import db_app
from term2id.cli.demo import demo_command
from term2id.cli.eval import eval_command
from term2id.cli.gui import gui_command
from term2id.cli.map import map_command
from term2id.cli.memory import memory_app
from term2id.cli.options import RootDataDirOption
from term2id.cli.session import session_app
from term2id.training.cli import train_app

app = typer.Typer(
    name="term2id",
    help="Map biomedical terms to verified ontology identifiers, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("map")(map_command)
app.command("demo")(demo_command)
app.command("eval")(eval_command)
app.command("gui")(gui_command)
app.add_typer(db_app, name="db")
app.add_typer(memory_app, name="memory")
app.add_typer(train_app, name="train")
app.add_typer(session_app, name="session")


def _version(value: bool) -> None:
    if value:
        out.print(f"term2id {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    data_dir: RootDataDirOption = None,
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
