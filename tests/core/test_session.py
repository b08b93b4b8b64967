"""The curation session file: input, results, decision log with undo/redo, kills, versions."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from term2id.core.candidates import (
    Candidate,
    Evidence,
    MappingPredicate,
    MappingResult,
    MappingStatus,
    Query,
    Verdict,
)
from term2id.core.curation.decision_log import Action, Curator, ReviewRound
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput
from term2id.core.curation.session_schema import SCHEMA_VERSION, SessionError
from term2id.core.errors import SchemaVersionError

CURATOR = Curator("Ada Curator", "0000-0002-1825-0097")


def make_input(terms: list[str]) -> SessionInput:
    return SessionInput(
        header=("id", "phenotype", "note"),
        rows=[[str(i), term, f"note {i}"] for i, term in enumerate(terms)],
        term_column="phenotype",
        context_column="note",
        default_ontology="tiny",
        source_path="/data/input.csv",
        source_sha256="ab" * 32,
    )


def result(
    term: str, *curies: str, status: MappingStatus = MappingStatus.VERIFIED
) -> MappingResult:
    return MappingResult(
        query=Query(term, "tiny"),
        candidates=tuple(
            Candidate(
                curie=c,
                label=f"label of {c}",
                ontology="tiny",
                verdict=Verdict.VERIFIED,
                confidence=0.9 - 0.1 * i,
                evidence=(Evidence("exact", 1.0, 1, term, "label"),),
            )
            for i, c in enumerate(curies)
        ),
        status=status,
    )


@pytest.fixture
def session(tmp_path: Path) -> CurationSession:
    session = CurationSession.create(
        tmp_path / "review.t2id", make_input(["Seizure", "Anemia", "x"])
    )
    session.record_results(
        [(0, result("Seizure", "TP:0000003", "TP:0000004")), (1, result("Anemia", "TP:0000005"))],
        {"tiny": "tiny/releases/2024-01-01"},
        model=None,
    )
    yield session
    session.close()


def test_input_and_results_survive_reopening(session: CurationSession) -> None:
    session.close()
    reopened = CurationSession.open(session.path)
    assert reopened.header == ["id", "phenotype", "note"]
    assert reopened.input_cells(2) == ["2", "x", "note 2"]
    assert reopened.query(0) == Query("Seizure", "tiny", "note 0")
    mapped = reopened.result(0)
    assert mapped is not None
    assert [c.curie for c in mapped.candidates] == ["TP:0000003", "TP:0000004"]
    assert mapped.candidates[0].evidence[0].detail == "label"
    assert reopened.result(2) is None
    assert reopened.mapping_provenance() == {"tiny": ("tiny/releases/2024-01-01", None)}
    reopened.close()


def test_row_summaries_show_best_candidate_and_decision(session: CurationSession) -> None:
    session.decide(1, Action.REJECT, CURATOR)
    rows = session.row_summaries()
    assert rows.terms == ["Seizure", "Anemia", "x"]
    assert rows.best_curies == ["TP:0000003", "TP:0000005", None]
    assert rows.statuses == ["verified", "verified", None]
    assert rows.decisions == [None, "reject", None]


def test_undo_and_redo_are_log_entries(session: CurationSession) -> None:
    first = session.decide(0, Action.ACCEPT, CURATOR, "TP:0000003", "Seizure")
    second = session.decide(0, Action.CHOOSE, CURATOR, "TP:0000004", "Focal seizure")
    assert session.current_decision(0) == second
    session.undo([second.id], CURATOR)
    assert session.current_decision(0).id == first.id
    session.redo([second.id], CURATOR)
    assert session.current_decision(0).curie == "TP:0000004"
    session.undo([second.id, first.id], CURATOR)
    assert session.current_decision(0) is None
    actions = [d.action for d in session.decisions(0)]
    assert actions == [
        Action.ACCEPT,
        Action.CHOOSE,
        Action.UNDO,
        Action.REDO,
        Action.UNDO,
        Action.UNDO,
    ]


def test_decision_records_curator_time_and_evidence(session: CurationSession) -> None:
    session.decide(
        0, "accept", CURATOR, "TP:0000003", "Seizure", evidence={"shown": ["TP:0000003"]}
    )
    session.decide(0, Action.COMMENT, CURATOR, comment="checked with the clinician")
    session.close()
    reopened = CurationSession.open(session.path)
    accept, comment = reopened.decisions(0)
    assert (accept.curator, accept.orcid) == ("Ada Curator", "0000-0002-1825-0097")
    assert accept.evidence == {"shown": ["TP:0000003"]}
    assert accept.at.endswith("+00:00")
    assert reopened.current_decision(0).action is Action.ACCEPT  # a comment decides nothing
    assert reopened.row_summaries().comments[0] == "checked with the clinician"
    reopened.close()


def test_view_state_is_restored(session: CurationSession) -> None:
    session.save_view_state({"current_row": 2, "filter": {"status": ["verified"], "text": "ane"}})
    session.close()
    reopened = CurationSession.open(session.path)
    assert reopened.view_state()["current_row"] == 2
    assert reopened.view_state()["filter"]["text"] == "ane"
    reopened.close()


def test_session_from_a_newer_version_is_refused(session: CurationSession) -> None:
    session.close()
    conn = sqlite3.connect(session.path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaVersionError, match="newer version"):
        CurationSession.open(session.path)


def test_each_result_records_the_sources_that_produced_it(session: CurationSession) -> None:
    session.record_results(
        [(2, result("x", "TP:0000001"))], {"tiny": "r1"}, sources=("exact", "fuzzy", "semantic")
    )
    assert session.result_sources(2) == ("exact", "fuzzy", "semantic")
    assert session.result_sources(0) is None  # recorded without saying which sources
    assert session.rows_mapped_without("semantic") == [0, 1]
    session.record_results([(0, result("Seizure", "TP:0000003"))], {"tiny": "r1"},
                           sources=("exact", "fuzzy"))  # fmt: skip
    session.close()
    reopened = CurationSession.open(session.path)
    assert reopened.result_sources(0) == ("exact", "fuzzy")
    assert reopened.rows_mapped_without("semantic") == [0, 1]
    assert reopened.rows_mapped_without("fuzzy") == [1]
    reopened.close()


def test_a_session_saved_by_the_previous_version_opens_with_nothing_lost(
    session: CurationSession,
) -> None:
    session.decide(0, Action.ACCEPT, CURATOR, "TP:0000003", "Seizure", evidence={"shown": [1]})
    session.save_view_state({"current_row": 1})
    session.close()
    # Schema 1, as term2id wrote it before results said which sources produced them and
    # before decisions had predicates, several ids and review rounds.
    conn = sqlite3.connect(session.path)
    conn.executescript(
        "ALTER TABLE results DROP COLUMN sources; ALTER TABLE decisions DROP COLUMN predicate;"
        "ALTER TABLE decisions DROP COLUMN also; ALTER TABLE decisions DROP COLUMN review_round;"
        "DELETE FROM meta WHERE key = 'session_id'; PRAGMA user_version = 1;"
    )
    conn.close()

    reopened = CurationSession.open(session.path)
    assert [c.curie for c in reopened.result(0).candidates] == ["TP:0000003", "TP:0000004"]
    assert reopened.current_decision(0).curie == "TP:0000003"
    assert reopened.current_decision(0).evidence == {"shown": [1]}
    assert reopened.current_decision(0).predicate is MappingPredicate.EXACT
    assert reopened.current_decision(0).review_round is ReviewRound.FIRST
    assert len(reopened.session_id) == 32
    assert reopened.view_state() == {"current_row": 1}
    assert reopened.result_sources(0) is None
    assert reopened.rows_mapped_without("semantic") == [0, 1]  # mapped before it was recorded
    reopened.record_results([(2, result("x", "TP:0000001"))], {"tiny": "r1"}, sources=["exact"])
    assert reopened.result_sources(2) == ("exact",)
    reopened.close()
    conn = sqlite3.connect(session.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    conn.close()
    # Migrated once: the identity given on the first opening stays.
    again = CurationSession.open(session.path)
    assert again.session_id == reopened.session_id
    again.close()


def test_a_session_saved_by_schema_2_opens_with_nothing_lost(session: CurationSession) -> None:
    session.record_results([(2, result("x", "TP:0000001"))], {"tiny": "r1"}, sources=["exact"])
    session.decide(0, Action.CHOOSE, CURATOR, "TP:0000004", "Focal seizure", comment="focal")
    rejected = session.decide(1, Action.REJECT, CURATOR)
    session.undo([rejected.id], CURATOR)
    session.close()
    # Schema 2, as term2id wrote it once results recorded their sources, before decisions had
    # predicates, several ids and review rounds, and before sessions had an id.
    conn = sqlite3.connect(session.path)
    conn.executescript(
        "ALTER TABLE decisions DROP COLUMN predicate; ALTER TABLE decisions DROP COLUMN also;"
        "ALTER TABLE decisions DROP COLUMN review_round;"
        "DELETE FROM meta WHERE key = 'session_id'; PRAGMA user_version = 2;"
    )
    conn.close()

    reopened = CurationSession.open(session.path)
    assert reopened.result_sources(2) == ("exact",)
    chosen = reopened.current_decision(0)
    assert (chosen.action, chosen.curie, chosen.comment) == (Action.CHOOSE, "TP:0000004", "focal")
    assert (chosen.predicate, chosen.also, chosen.curies) == (
        MappingPredicate.EXACT, (), ("TP:0000004",),
    )  # fmt: skip
    assert reopened.current_decision(1) is None  # the undo is kept
    assert reopened.row_summaries().decided_predicates[:2] == ["exact", None]
    assert len(reopened.decisions()) == 3
    reopened.close()
    conn = sqlite3.connect(session.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_decision_keeps_its_predicate_its_further_ids_and_its_review_round(
    session: CurationSession,
) -> None:
    made = session.decide(
        0, Action.CHOOSE, CURATOR, "TP:0000003", "Seizure",
        predicate="broad", also=["TP:0000004", "TP:0000003"],
    )  # fmt: skip
    assert made.curies == ("TP:0000003", "TP:0000004")  # the repeated id is kept once
    second = Curator("Bea")
    session.decide(1, Action.REJECT, second, review_round=ReviewRound.SECOND)
    path = session.path
    session.close()
    reopened = CurationSession.open(path)
    first, rejected = reopened.decisions()
    assert (first.predicate, first.also) == (MappingPredicate.BROAD, ("TP:0000004",))
    assert (rejected.predicate, rejected.review_round) == (
        MappingPredicate.EXACT,
        ReviewRound.SECOND,
    )
    assert reopened.row_summaries().decided_curies[0] == "TP:0000003"
    with pytest.raises(ValueError, match="takes no predicate"):
        reopened.decide(1, Action.REJECT, CURATOR, predicate="narrow")
    reopened.close()


def test_a_file_that_is_not_a_session_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.t2id"
    path.write_text("just some text, not a database\n" * 20)
    with pytest.raises(SessionError, match="not a term2id session"):
        CurationSession.open(path)


def test_create_refuses_an_unknown_column_and_leaves_nothing(tmp_path: Path) -> None:
    bad = SessionInput(header=("a",), rows=[["x"]], term_column="b", default_ontology="tiny")
    with pytest.raises(SessionError, match="term column 'b'"):
        CurationSession.create(tmp_path / "s.t2id", bad)
    assert list(tmp_path.iterdir()) == []


def test_reverify_flags_ids_obsolete_in_a_newer_release(tmp_path: Path, catalog) -> None:
    newer = tmp_path / "tiny2.obo"
    text = (Path(__file__).parents[1] / "data" / "tiny.obo").read_text()
    # In the new release Anemia (TP:0000005) is obsolete, replaced by Edema's id for the test.
    text = text.replace(
        "id: TP:0000005\nname: Anemia\n",
        "id: TP:0000005\nname: Anemia\nis_obsolete: true\nreplaced_by: TP:0000006\n",
    ).replace("data-version: tiny/releases/2024-01-01", "data-version: tiny/releases/2025-01-01")
    newer.write_text(text)
    catalog.import_file(newer, "tiny")
    store = catalog.open("tiny")
    session = CurationSession.create(tmp_path / "s.t2id", make_input(["Seizure", "Anemia"]))
    session.record_results(
        [(0, result("Seizure", "TP:0000003")), (1, result("Anemia", "TP:0000005"))],
        {"tiny": "tiny/releases/2024-01-01"},
    )
    session.decide(0, Action.MANUAL, CURATOR, "TP:0000099", "Seizure")  # an alt id
    assert session.releases_behind({"tiny": store}) == {
        "tiny": ("tiny/releases/2024-01-01", "tiny/releases/2025-01-01")
    }
    flags = {f.row: f for f in session.reverify({"tiny": store})}
    assert flags[1].problem == "replaced" and flags[1].replacements == ("TP:0000006",)
    assert flags[0].problem == "alt_id" and flags[0].replacements == ("TP:0000003",)
    session.close()


_DECIDE_FOREVER = textwrap.dedent(
    """
    import sys
    from term2id.core.curation.decision_log import Action, Curator
    from term2id.core.curation.session import CurationSession
    session = CurationSession.open(sys.argv[1])
    curator = Curator("Kill Test")
    n = 0
    while True:
        decision = session.decide(n % 50, Action.SKIP, curator, comment=str(n))
        print(decision.id, session.synchronous, flush=True)
        n += 1
        if n % 20 == 0:  # result batches switch the connection to NORMAL while they run
            session.record_results([], {})
    """
)


@pytest.mark.slow
def test_killing_the_process_loses_no_committed_decision(tmp_path: Path) -> None:
    path = tmp_path / "kill.t2id"
    CurationSession.create(path, make_input([f"term {i}" for i in range(50)])).close()
    process = subprocess.Popen(
        [sys.executable, "-c", _DECIDE_FOREVER, str(path)], stdout=subprocess.PIPE, text=True
    )
    printed = []
    modes = set()
    try:
        for line in process.stdout:
            decision_id, mode = line.split()
            printed.append(int(decision_id))
            modes.add(mode)
            if len(printed) == 200:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    # SIGKILL keeps what the OS had buffered, so surviving it does not show FULL: ask for it.
    assert modes == {"FULL"}
    reopened = CurationSession.open(path)
    stored = {d.id for d in reopened.decisions()}
    assert set(printed) <= stored
    assert len(printed) == 200
    reopened.close()


def test_every_decision_is_committed_with_synchronous_full(tmp_path: Path) -> None:
    with CurationSession.create(tmp_path / "s.t2id", make_input(["Seizure", "Anemia"])) as session:
        assert session.synchronous == "FULL"
        session.record_results([(0, result("Seizure", "TP:0000003"))], {"tiny": "r1"})
        assert session.synchronous == "FULL"  # result batches run at NORMAL, then switch back
        session.decide(0, Action.ACCEPT, CURATOR, "TP:0000003", "Seizure")
        session.undo([session.decisions()[-1].id], CURATOR)
        assert session.synchronous == "FULL"


def _old_style(session: CurationSession) -> None:
    """Make the session's results look as they were written before verdicts tracked meaning:
    candidates without a `reason`, Edema recorded "verified" for Anemia (a spelling test's
    verdict the store does not support)."""
    import json

    conn = sqlite3.connect(session.path)
    for row, candidates in conn.execute("SELECT row, candidates FROM results").fetchall():
        old = [{k: v for k, v in c.items() if k != "reason"} for c in json.loads(candidates)]
        conn.execute("UPDATE results SET candidates = ? WHERE row = ?", (json.dumps(old), row))
    conn.commit()
    conn.close()


def test_verdicts_recorded_before_they_tracked_meaning_are_checked_again(
    tmp_path: Path, tiny_catalog
) -> None:
    store = tiny_catalog.open("tiny")
    path = tmp_path / "old.t2id"
    session = CurationSession.create(path, make_input(["Seizure", "Anemia", "x"]))
    session.record_results(
        [(0, result("Seizure", "TP:0000003")), (1, result("Anemia", "TP:0000006"))],
        {"tiny": store.release},
    )
    assert session.stale_verdict_rows() == []  # written now: verdicts with reasons
    session.close()
    _old_style(CurationSession.open(path))
    reopened = CurationSession.open(path)
    assert reopened.stale_verdict_rows() == [0, 1]
    # Without the store nothing can be checked: the rows stay flagged as stale.
    assert reopened.refresh_verdicts({}) == ([], [])
    assert reopened.stale_verdict_rows() == [0, 1]
    # The stale "verified" of Edema for Anemia flags the row when re-verified against the store.
    flags = reopened.reverify({"tiny": store})
    assert [(f.row, f.problem, f.verdict) for f in flags] == [(1, "changed", "label_mismatch")]
    rechecked, changed = reopened.refresh_verdicts({"tiny": store})
    assert rechecked == [0, 1] and changed == [1]
    assert reopened.stale_verdict_rows() == []
    anemia = reopened.result(1)
    assert anemia.best.verdict is Verdict.LABEL_MISMATCH and anemia.status is MappingStatus.MISMATCH
    assert "names something else: 'Edema'" in anemia.best.note
    assert reopened.result(0).status is MappingStatus.VERIFIED
    assert reopened.row_summaries().statuses[:2] == ["verified", "mismatch"]
    assert reopened.reverify({"tiny": store}) == []
    reopened.close()
