"""`term2id gui`: open the curation window."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from term2id.cli.common import State, data_dir_option
from term2id.cli.options import DataDirOption
from term2id.core.errors import Term2IdError
from term2id.core.ontology import DATA_DIR_ENV


def gui_command(
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
