"""A curator's review: the session file and its decision log, the curation rules, two-curator
review, the mapping memory kept in step, and exports and training records from decisions.

Its public names (the GUI and the CLI import only these) load on first use: term2id.core.public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from term2id.core.public import load_on_first_use

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
    from term2id.core.curation.rules import (
        CHOICE_WARNINGS,
        bulk_accept_decisions,
        bulk_accept_rows,
        decision_phrase,
        evidence_shown,
        mapping_action,
        missing_stores,
        next_predicate,
        prepare_same_term,
        starting_predicate,
        store_names,
        verify_choice,
    )
    from term2id.core.curation.session import CurationSession
    from term2id.core.curation.session_schema import SESSION_SUFFIX
    from term2id.core.curation.training_records import TrainingRecord, read_jsonl, write_jsonl

_PUBLIC = {
    "Action": "decision_log",
    "Agreement": "review",
    "bulk_accept_decisions": "rules",
    "bulk_accept_rows": "rules",
    "catch_up": "memory_sync",
    "CATEGORIES": "review",
    "CATEGORY_TEXT": "review",
    "CHOICE_WARNINGS": "rules",
    "create_session": "jobs",
    "CurationSession": "session",
    "Curator": "decision_log",
    "Decision": "decision_log",
    "decision_phrase": "rules",
    "decision_text": "review",
    "evidence_shown": "rules",
    "export_memory": "memory_files",
    "export_sheet": "exporting",
    "export_sssom": "exporting",
    "export_training": "exporting",
    "has_second_review": "review",
    "import_file": "memory_files",
    "map_rows": "jobs",
    "MAPPING": "decision_log",
    "mapping_action": "rules",
    "missing_stores": "rules",
    "NewDecision": "decision_log",
    "next_predicate": "rules",
    "prepare_same_term": "rules",
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
    "starting_predicate": "rules",
    "store_names": "rules",
    "TrainingRecord": "training_records",
    "verify_choice": "rules",
    "write_jsonl": "training_records",
}
__all__ = [
    "Action",
    "Agreement",
    "CATEGORIES",
    "CATEGORY_TEXT",
    "CHOICE_WARNINGS",
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
    "bulk_accept_decisions",
    "bulk_accept_rows",
    "catch_up",
    "create_session",
    "decision_phrase",
    "decision_text",
    "evidence_shown",
    "export_memory",
    "export_sheet",
    "export_sssom",
    "export_training",
    "has_second_review",
    "import_file",
    "map_rows",
    "mapping_action",
    "missing_stores",
    "next_predicate",
    "prepare_same_term",
    "prepare_semantic",
    "read_jsonl",
    "replay_log",
    "review_rows",
    "same_outcome",
    "search_terms",
    "session_agreement",
    "session_path_for",
    "settle",
    "starting_predicate",
    "store_names",
    "verify_choice",
    "write_jsonl",
]

__getattr__ = load_on_first_use(__name__, _PUBLIC)
