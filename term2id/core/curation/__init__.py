"""A curator's review: the session file and its decision log, the curation rules, two-curator
review, the mapping memory kept in step, and exports and training records from decisions.

The names below are its public face (the GUI and the CLI import only these); each is loaded on
first use, so that importing one does not load the libraries of all (the window must appear
before the mapper's libraries are loaded).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from term2id.core.curation.decision_log import (
        MAPPING,
        Action,
        Curator,
        Decision,
        NewDecision,
        ReviewRound,
        ReviewView,
        replay_log,
    )
    from term2id.core.curation.exporting import export_sheet, export_sssom, export_training
    from term2id.core.curation.jobs import (
        create_session,
        map_rows,
        prepare_semantic,
        search_terms,
        session_path_for,
    )
    from term2id.core.curation.memory_files import export_memory, import_file
    from term2id.core.curation.memory_sync import catch_up
    from term2id.core.curation.review import (
        CATEGORIES,
        CATEGORY_TEXT,
        Agreement,
        RowReview,
        decision_text,
        has_second_review,
        review_rows,
        same_outcome,
        session_agreement,
        settle,
    )
    from term2id.core.curation.row_summaries import RowSummaries
    from term2id.core.curation.session import CurationSession
    from term2id.core.curation.session_schema import SESSION_SUFFIX
    from term2id.core.curation.training_records import TrainingRecord, read_jsonl, write_jsonl

_PUBLIC = {
    "Action": "decision_log",
    "Agreement": "review",
    "catch_up": "memory_sync",
    "CATEGORIES": "review",
    "CATEGORY_TEXT": "review",
    "create_session": "jobs",
    "CurationSession": "session",
    "Curator": "decision_log",
    "Decision": "decision_log",
    "decision_text": "review",
    "export_memory": "memory_files",
    "export_sheet": "exporting",
    "export_sssom": "exporting",
    "export_training": "exporting",
    "has_second_review": "review",
    "import_file": "memory_files",
    "map_rows": "jobs",
    "MAPPING": "decision_log",
    "NewDecision": "decision_log",
    "prepare_semantic": "jobs",
    "read_jsonl": "training_records",
    "replay_log": "decision_log",
    "review_rows": "review",
    "ReviewRound": "decision_log",
    "ReviewView": "decision_log",
    "RowReview": "review",
    "RowSummaries": "row_summaries",
    "same_outcome": "review",
    "search_terms": "jobs",
    "session_agreement": "review",
    "session_path_for": "jobs",
    "SESSION_SUFFIX": "session_schema",
    "settle": "review",
    "TrainingRecord": "training_records",
    "write_jsonl": "training_records",
}
__all__ = [
    "Action",
    "Agreement",
    "CATEGORIES",
    "CATEGORY_TEXT",
    "CurationSession",
    "Curator",
    "Decision",
    "MAPPING",
    "NewDecision",
    "ReviewRound",
    "ReviewView",
    "RowReview",
    "RowSummaries",
    "SESSION_SUFFIX",
    "TrainingRecord",
    "catch_up",
    "create_session",
    "decision_text",
    "export_memory",
    "export_sheet",
    "export_sssom",
    "export_training",
    "has_second_review",
    "import_file",
    "map_rows",
    "prepare_semantic",
    "read_jsonl",
    "replay_log",
    "review_rows",
    "same_outcome",
    "search_terms",
    "session_agreement",
    "session_path_for",
    "settle",
    "write_jsonl",
]


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    globals()[name] = value
    return value
