"""How well the mapper finds known answers: gold files, held-out synonyms, and the measures a
curator would use.

The names below are its public face (the GUI and the CLI import only these); each is loaded on
first use, so that importing one does not load the libraries of all (the window must appear
before the mapper's libraries are loaded).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from term2id.core.evaluation.measure import (
        evaluate,
        held_out_synonyms_seen,
        hold_out_synonyms,
        read_gold,
    )
    from term2id.core.evaluation.run import EvaluationRequest, EvaluationRun

_PUBLIC = {
    "EvaluationRequest": "run",
    "EvaluationRun": "run",
    "evaluate": "measure",
    "held_out_synonyms_seen": "measure",
    "hold_out_synonyms": "measure",
    "read_gold": "measure",
}
__all__ = [
    "EvaluationRequest",
    "EvaluationRun",
    "evaluate",
    "held_out_synonyms_seen",
    "hold_out_synonyms",
    "read_gold",
]


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    globals()[name] = value
    return value
