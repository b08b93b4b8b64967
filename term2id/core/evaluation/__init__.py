"""How well the mapper finds known answers: gold files, held-out synonyms, and the measures a
curator would use.

Its public names (the GUI and the CLI import only these) load on first use: term2id.core.public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from term2id.core.public import load_on_first_use

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

__getattr__ = load_on_first_use(__name__, _PUBLIC)
