"""What every `term2id` command shares: the two consoles, the data folder and its catalog, the
progress bar, and the embedded HPO store built on first use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

from term2id.core.ontology import StoreCatalog
from term2id.core.progress import Progress

# soft_wrap: piped output stays one line per record, for grep and scripts. emoji off: a user's
# text is printed as written ("x:y:z" stays, no ":x:" turned into a cross mark).
out = Console(soft_wrap=True, emoji=False)
err = Console(stderr=True, soft_wrap=True, emoji=False)


class State:
    """Options shared by every command (set by the root callback)."""

    data_dir: Path | None = None
    catalog: StoreCatalog | None = None


def catalog() -> StoreCatalog:
    if State.catalog is None:
        State.catalog = StoreCatalog(State.data_dir)
    return State.catalog


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


def build_embedded_store_if_needed(names: list[str]) -> None:
    """The embedded HPO store is built on first use: show that as progress, not as a pause."""
    from term2id.core.ontology import DEFAULT_STORE

    if DEFAULT_STORE in (n.strip() for n in names) and not catalog().exists(DEFAULT_STORE):
        with progress_bar("building the embedded HPO store (once)") as progress:
            catalog().open(DEFAULT_STORE, progress)
