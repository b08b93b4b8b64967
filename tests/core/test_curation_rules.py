"""The curation rules without a window: which rows bulk accept takes, the evidence a decision
records, the predicate a mapping starts with, how a chosen id is checked against the stores."""

from __future__ import annotations

from pathlib import Path

from term2id.core.candidates import (
    Candidate,
    Evidence,
    MappingPredicate,
    MappingResult,
    MappingStatus,
    Query,
    Verdict,
)
from term2id.core.curation import (
    CHOICE_WARNINGS,
    Action,
    CurationSession,
    Decision,
    ReviewRound,
    RowSummaries,
    bulk_accept_decisions,
    bulk_accept_rows,
    decision_phrase,
    evidence_shown,
    mapping_action,
    missing_stores,
    next_predicate,
    prepare_same_term,
    starting_predicate,
    verify_choice,
)
from term2id.core.curation.session_input import SessionInput
from term2id.core.ontology import StoreCatalog


def summaries() -> RowSummaries:
    return RowSummaries(
        terms=["Seizure", "Anaemia", "Oedema", "Tumour", "Ataxia", "nothing"],
        best_curies=["TP:3", "TP:5", "TP:6", "TP:7", "TP:11", None],
        best_labels=["Seizure", "Anemia", "Edema", "Tumor", "Ataxia", None],
        confidences=[0.95, 0.9, 0.99, 0.97, 0.89, None],
        statuses=["verified", "verified", "review", "verified", "verified", "no_match"],
        decisions=[None, None, None, "reject", None, None],
    )


def test_bulk_accept_takes_undecided_verified_rows_at_or_above_the_threshold() -> None:
    # Oedema is not verified, Tumour is decided already, Ataxia is below, the last has no result.
    assert bulk_accept_rows(summaries(), 0.9) == [0, 1]
    assert bulk_accept_rows(summaries(), 0.96) == []
    assert bulk_accept_rows(summaries(), 0.0) == [0, 1, 4]


def test_bulk_accept_decisions_record_the_threshold_and_the_candidate_shown() -> None:
    made = bulk_accept_decisions(summaries(), [1], 0.9, ReviewRound.SECOND)
    assert len(made) == 1
    decision = made[0]
    assert (decision.row, decision.action, decision.curie, decision.label) == (
        1, Action.ACCEPT, "TP:5", "Anemia",
    )  # fmt: skip
    assert decision.review_round is ReviewRound.SECOND
    assert decision.evidence == {
        "status": "verified",
        "bulk": True,
        "threshold": 0.9,
        "shown": [["TP:5", "Anemia", "verified", 0.9, []]],
    }


def test_the_evidence_lists_the_candidates_in_order_with_verdicts_and_sources() -> None:
    query = Query("Seizures", "tiny")
    result = MappingResult(
        query,
        (
            Candidate("TP:3", "Seizure", "tiny", Verdict.VERIFIED, 0.912345,
                      (Evidence("exact", 1.0, 1), Evidence("fuzzy", 0.9, 1))),
            Candidate("TP:4", "Focal seizure", "tiny", Verdict.NARROWER, 0.5),
        ),
        MappingStatus.VERIFIED,
        ("model unavailable",),
    )  # fmt: skip
    assert evidence_shown(result) == {
        "status": "verified",
        "shown": [
            ["TP:3", "Seizure", "verified", 0.9123, ["exact", "fuzzy"]],
            ["TP:4", "Focal seizure", "narrower", 0.5, []],
        ],
        "notes": ["model unavailable"],
    }
    assert evidence_shown(None) == {"status": None, "shown": []}


def test_a_mapping_starts_narrow_or_broad_as_the_store_judged_it_and_p_goes_round() -> None:
    assert starting_predicate(Verdict.NARROWER) is MappingPredicate.NARROW
    assert starting_predicate(Verdict.BROADER) is MappingPredicate.BROAD
    assert starting_predicate(Verdict.VERIFIED) is None  # exact
    assert starting_predicate(None) is None
    order = list(MappingPredicate)
    assert next_predicate(order[0], 1) is order[1]
    assert next_predicate(order[-1], 1) is order[0]
    assert next_predicate(order[0], -1) is order[-1]


def test_the_action_of_mapping_to_an_id_says_whether_a_source_proposed_it() -> None:
    candidates = ["TP:3", "TP:4"]
    assert mapping_action("TP:3", candidates, "TP:3") is Action.ACCEPT
    assert mapping_action("TP:4", candidates, "TP:3") is Action.CHOOSE
    assert mapping_action("TP:8", candidates, "TP:3") is Action.MANUAL


def test_a_decision_in_words_names_its_id_label_and_a_predicate_other_than_exact() -> None:
    def decision(action: Action, curie=None, label=None, predicate=MappingPredicate.EXACT):
        return Decision(1, 0, action, curie, label, "Ada", None, "now", predicate=predicate)

    assert decision_phrase(decision(Action.ACCEPT, "TP:3", "Seizure")) == "accept TP:3 (Seizure)"
    assert (
        decision_phrase(decision(Action.MANUAL, "TP:4", None, MappingPredicate.BROAD))
        == "map to TP:4 as a broad match"
    )
    assert decision_phrase(decision(Action.REJECT)) == "reject every candidate"


def test_missing_stores_leave_out_the_installed_and_the_default() -> None:
    installed = {"tiny"}
    specs = ["tiny", "tiny, genes", "hp", " "]
    assert missing_stores(specs, installed.__contains__) == ["genes"]


def test_a_chosen_id_is_checked_against_the_rows_stores_and_another_is_named(
    tiny_catalog: StoreCatalog,
) -> None:
    def open_store(name: str):
        return tiny_catalog.open(name) if tiny_catalog.exists(name) else None

    query = Query("Anaemia", "tiny")
    checked = verify_choice("TP:0000005", query, open_store, tiny_catalog.names)
    assert checked is not None and checked.verdict is Verdict.VERIFIED
    assert checked.label == "Anemia"
    obsolete = verify_choice("TP:0000009", Query("Fits", "tiny"), open_store, tiny_catalog.names)
    assert obsolete is not None and obsolete.verdict is Verdict.OBSOLETE
    other = verify_choice("HGNC:11998", Query("TP53", "tiny"), open_store, tiny_catalog.names)
    assert other is not None and other.verdict is Verdict.WRONG_ONTOLOGY
    assert "genes" in other.note
    assert {obsolete.verdict, other.verdict} <= set(CHOICE_WARNINGS)
    assert checked.verdict not in CHOICE_WARNINGS
    # No store of the row is open: nothing to check against.
    assert verify_choice("TP:0000005", Query("Anaemia", "absent"), open_store, list) is None


def test_same_term_groups_are_prepared_from_the_tables_summaries(tmp_path: Path) -> None:
    source = SessionInput(
        header=("term",), rows=[["Seizure"], ["seizures"], ["Anaemia"], ["SEIZURE"]],
        term_column="term", default_ontology="tiny",
    )  # fmt: skip
    session = CurationSession.create(tmp_path / "s.t2id", source)
    try:
        prepare_same_term(session, session.row_summaries(), None)
        assert session.same_term_rows(0) == [0, 1, 3]  # "Anaemia" is another term
        assert session.same_term_rows(2) == [2]
    finally:
        session.close()
