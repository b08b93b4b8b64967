"""Deciding once for identical terms: which rows count as the same term, and applying a decision
to all of them in one transaction that one undo reverts."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from term2id.core.candidates import MappingPredicate
from term2id.core.curation.decision_log import Action, Curator, ReviewRound
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput

CURATOR = Curator("Ada Curator", "0000-0002-1825-0097")


def make_session(path: Path, rows: list[list[str]]) -> CurationSession:
    header = ("term", "context", "ontology")
    source = SessionInput(
        header=header,
        rows=rows,
        term_column="term",
        context_column="context",
        ontology_column="ontology",
        default_ontology="hp",
    )
    return CurationSession.create(path, source)


def test_the_same_term_is_the_same_matching_key_in_the_same_stores(tmp_path: Path) -> None:
    session = make_session(
        tmp_path / "s.t2id",
        [
            ["Seizures", "", ""],  # 0
            ["seizure", "", ""],  # 1: plural and case fold to the same key
            [" SEIZURE ", "", "go"],  # 2: the same words, another store
            ["Seizure.", "", "hp"],  # 3: punctuation is no word
            ["Febrile seizure", "", ""],  # 4: more words, another term
            ["HP:0001250", "epilepsy", ""],  # 5: an id in a cell: its context counts too
            ["HP:0001250", "fits", ""],  # 6
            ["HP:0001250", "epilepsy", ""],  # 7
            ["???", "", ""],  # 8: no letters or digits: matches only itself
            ["!!", "", ""],  # 9
        ],
    )
    assert session.same_term_rows(1) == [0, 1, 3]
    assert session.same_term_rows(2) == [2]
    assert session.same_term_rows(4) == [4]
    assert session.same_term_rows(5) == [5, 7]
    assert session.same_term_rows(8) == [8]
    with pytest.raises(IndexError):
        session.same_term_rows(10)
    session.close()


def test_a_decision_reaches_only_the_undecided_rows_and_one_undo_reverts_it(
    tmp_path: Path,
) -> None:
    session = make_session(tmp_path / "s.t2id", [["Hypotonia", "", ""]] * 6 + [["Ataxia", "", ""]])
    session.decide(2, Action.REJECT, CURATOR)  # decided before: stays as it is
    decision = session.decide(
        0, Action.CHOOSE, CURATOR, "HP:0001252", "Hypotonia", {"shown": [["HP:0001252"]]},
        predicate="narrow",
    )  # fmt: skip
    assert session.undecided_same_term_rows(0) == [1, 3, 4, 5]
    # Row 5 was decided after the curator saw the count: the rows shown limit what changes.
    session.decide(5, Action.SKIP, CURATOR)
    made = session.apply_to_same_term(decision, CURATOR, rows=[1, 3, 4, 5])
    assert [d.row for d in made] == [1, 3, 4]
    now = session.current_decisions()
    for row in (1, 3, 4):
        assert (now[row].action, now[row].curie, now[row].predicate) == (
            Action.CHOOSE, "HP:0001252", MappingPredicate.NARROW,
        )  # fmt: skip
        assert now[row].evidence["same_term_as"] == {"row": 0, "decision": decision.id}
        assert now[row].evidence["bulk"] is True
        assert now[row].evidence["shown"] == [["HP:0001252"]]
    assert now[2].action is Action.REJECT and now[5].action is Action.SKIP
    assert 6 not in now  # another term
    assert session.undecided_same_term_rows(0) == []

    session.undo([d.id for d in made], CURATOR)
    now = session.current_decisions()
    assert not {1, 3, 4} & set(now)
    assert now[0].curie == "HP:0001252" and now[2].action is Action.REJECT
    session.close()


def test_a_comment_is_not_applied_and_rounds_are_kept_apart(tmp_path: Path) -> None:
    session = make_session(tmp_path / "s.t2id", [["Ataxia", "", ""]] * 3)
    comment = session.decide(0, Action.COMMENT, CURATOR, comment="check the chart")
    with pytest.raises(ValueError, match="decides no row"):
        session.apply_to_same_term(comment, CURATOR)
    session.decide(1, Action.ACCEPT, CURATOR, "HP:0001251", "Ataxia")
    second = Curator("Bea Reviewer")
    blind = session.decide(0, Action.REJECT, second, review_round=ReviewRound.SECOND)
    # The first curator's decision on row 1 does not count as the second curator's.
    assert [d.row for d in session.apply_to_same_term(blind, second)] == [1, 2]
    session.close()


_APPLY_FOREVER = textwrap.dedent(
    """
    import sys
    from term2id.core.curation.decision_log import Action, Curator
    from term2id.core.curation.session import CurationSession
    session = CurationSession.open(sys.argv[1])
    curator = Curator("Ada")
    group = 0
    while True:
        first = group * 500
        made = session.decide(first, Action.ACCEPT, curator, f"HP:{group:07d}", "x")
        copies = session.apply_to_same_term(made, curator)
        print(group, len(copies), flush=True)
        group += 1
    """
)


@pytest.mark.slow
def test_killing_the_process_while_applying_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "kill.t2id"
    # 40 terms, each on 500 rows in a block: every apply writes 499 decisions at once.
    make_session(path, [[f"term {i // 500}", "", ""] for i in range(20_000)]).close()
    process = subprocess.Popen(
        [sys.executable, "-c", _APPLY_FOREVER, str(path)], stdout=subprocess.PIPE, text=True
    )
    printed = []
    try:
        for line in process.stdout:
            group, copies = map(int, line.split())
            printed.append((group, copies))
            if len(printed) == 5:
                break
    finally:
        process.send_signal(signal.SIGKILL)  # most likely inside the next group's transaction
        process.wait()
    reopened = CurationSession.open(path)
    decided = reopened.current_decisions()
    for group in range(40):
        rows = [r for r in range(group * 500, group * 500 + 500) if r in decided]
        # Each group is all or nothing beyond its first row; the printed ones are all there.
        assert len(rows) in (0, 1, 500), group
        if any(g == group for g, _ in printed):
            assert len(rows) == 500
            assert {decided[r].curie for r in rows} == {f"HP:{group:07d}"}
    assert [c for _, c in printed] == [499] * 5
    reopened.close()
