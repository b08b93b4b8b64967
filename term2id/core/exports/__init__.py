"""What mapping produces, written: the mapped sheet, SSSOM tables, `term2id map`'s run over a
table, and the report of what changed between two releases.

Its public names (the GUI and the CLI import only these) load on first use: term2id.core.public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from term2id.core.public import load_on_first_use

if TYPE_CHECKING:
    from term2id.core.exports.mapped_table import map_table
    from term2id.core.exports.release_diff import diff_stores
    from term2id.core.exports.sheet_writer import (
        MAPPED_COLUMNS,
        check_output_path,
        mapped_cells,
        neutralise,
    )
    from term2id.core.exports.sssom_writer import (
        SSSOMMapping,
        SSSOMSetMetadata,
        SSSOMWriter,
        sssom_mapping_for,
    )

_PUBLIC = {
    "check_output_path": "sheet_writer",
    "diff_stores": "release_diff",
    "map_table": "mapped_table",
    "mapped_cells": "sheet_writer",
    "MAPPED_COLUMNS": "sheet_writer",
    "neutralise": "sheet_writer",
    "sssom_mapping_for": "sssom_writer",
    "SSSOMMapping": "sssom_writer",
    "SSSOMSetMetadata": "sssom_writer",
    "SSSOMWriter": "sssom_writer",
}
__all__ = [
    "MAPPED_COLUMNS",
    "SSSOMMapping",
    "SSSOMSetMetadata",
    "SSSOMWriter",
    "check_output_path",
    "diff_stores",
    "map_table",
    "mapped_cells",
    "neutralise",
    "sssom_mapping_for",
]

__getattr__ = load_on_first_use(__name__, _PUBLIC)
