"""Command-line options shared by `term2id` and `term2id train` (one definition for both)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from term2id.core.ontology import DATA_DIR_ENV

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help=f"Folder holding the ontology stores (default: ${DATA_DIR_ENV}, or the platform's user data folder).",
        envvar=DATA_DIR_ENV,
        show_default=False,
    ),
]
