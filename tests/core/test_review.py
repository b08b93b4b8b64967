"""Two curators on one session: blind views of the log, agreement figures, settling."""

from __future__ import annotations

from pathlib import Path

import pytest

from term2id.core.curation.decision_log import Action, Curator, ReviewRound, ReviewView
from term2id.core.curation.review import (
    AgreementCategory,
    agreed_or_settled_rows,
    has_second_review,
    review_rows,
    session_agreement,
    settle,
)
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput

FIRST = Curator("Ada First", "0000-0002-1825-0097")
SECOND = Curator("Bea Second", "0000-0001-5109-3700")
A, R, S = Action.ACCEPT, Action.REJECT, Action.SKIP


def new_session(tmp_path: Path, count: int) -> CurationSession:
    source = SessionInput(
        header=("term",), rows=[[f"term {i}"] for i in range(count)], term_column="term",
        default_ontology="tiny",
    )  # fmt: skip
    return CurationSession.create(tmp_path / "two.t2id", source)


def test_agreement_figures_match_a_hand_computed_example(tmp_path: Path) -> None:
    session = new_session(tmp_path, 13)
    second = ReviewRound.SECOND

    def both(row: int, first: tuple, other: tuple) -> None:
        for curator, (action, curie, *rest), review_round in (
            (FIRST, first, ReviewRound.FIRST),
            (SECOND, other, second),
        ):
            predicate = rest[0] if rest else None
            session.decide(
                row, action, curator, curie, predicate=predicate, review_round=review_round
            )

    best, other, third = "TP:0000003", "TP:0000004", "TP:0000005"
    for row in range(4):  # (accepted, accepted), the same id: 4 rows agree
        both(row, (A, best), (A, best))
    both(4, (A, best), (R, None))
    both(5, (R, None), (R, None))  # agree
    both(6, (R, None), (A, best))
    both(7, (Action.CHOOSE, other), (Action.CHOOSE, other))  # agree
    both(8, (Action.CHOOSE, other), (Action.MANUAL, third))  # same category, other ids
    both(9, (A, best), (Action.CHOOSE, other))
    session.decide(10, A, FIRST, best)  # the second curator has not decided it: not compared
    both(11, (S, None), (A, best))  # skipped: not decided, not compared
    both(12, (A, best, "exact"), (A, best, "broad"))  # same id, another predicate

    agreement = session_agreement(session)
    # By hand: 11 rows compared (0-9 and 12); same outcome on rows 0-3, 5 and 7: 6 of 11.
    assert agreement.rows_compared == 11
    assert agreement.rows_agreed == 6
    assert agreement.raw_agreement == pytest.approx(6 / 11)
    acc, rej, dif = (
        AgreementCategory.ACCEPTED,
        AgreementCategory.REJECTED,
        AgreementCategory.DIFFERENT_ID,
    )
    assert agreement.table == {
        (acc, acc): 5, (acc, rej): 1, (rej, rej): 1, (rej, acc): 1, (dif, dif): 2, (acc, dif): 1,
    }  # fmt: skip
    # Categories agree on 5 + 1 + 2 = 8 rows: p_o = 8/11. Marginals: first curator accepted 7,
    # rejected 2, other id 2; second accepted 6, rejected 2, other id 3.
    # p_e = (7*6 + 2*2 + 2*3) / 11² = 52/121; kappa = (88/121 - 52/121) / (69/121) = 36/69.
    assert agreement.observed == pytest.approx(8 / 11)
    assert agreement.expected == pytest.approx(52 / 121)
    assert agreement.kappa == pytest.approx(36 / 69)
    assert round(agreement.kappa, 3) == 0.522
    assert [r.row for r in agreement.disagreements] == [4, 6, 8, 9, 12]
    assert agreement.settled == 0
    session.close()


def test_kappa_is_undefined_when_chance_explains_everything(tmp_path: Path) -> None:
    session = new_session(tmp_path, 2)
    for row in range(2):
        session.decide(row, A, FIRST, "TP:0000003")
        session.decide(row, A, SECOND, "TP:0000003", review_round=ReviewRound.SECOND)
    agreement = session_agreement(session)
    assert agreement.raw_agreement == 1.0
    assert agreement.kappa is None  # every row in one category: p_e = 1
    session.close()


def test_each_curator_sees_own_decisions_and_export_takes_settled_then_first(
    tmp_path: Path,
) -> None:
    session = new_session(tmp_path, 4)
    session.decide(0, A, FIRST, "TP:0000003")
    session.decide(1, A, FIRST, "TP:0000003")
    blind = session.decide(1, R, SECOND, review_round=ReviewRound.SECOND)
    session.decide(2, Action.MANUAL, SECOND, "TP:0000007", review_round=ReviewRound.SECOND)
    session.decide(3, Action.COMMENT, SECOND, comment="ask", review_round=ReviewRound.SECOND)

    # The blind second curator sees only their own decisions and comments.
    assert {r: d.action for r, d in session.current_decisions(ReviewView.SECOND).items()} == {
        1: R,
        2: Action.MANUAL,
    }
    assert session.row_summaries(ReviewView.SECOND).decisions == [None, "reject", "manual", None]
    assert session.row_summaries(ReviewView.SECOND).comments[3] == "ask"
    # The first curator sees only their own.
    assert session.row_summaries(ReviewView.FIRST).decisions == ["accept", "accept", None, None]
    assert session.row_summaries(ReviewView.FIRST).comments[3] is None
    # Exports: the first curator's, and the second's where only the second decided.
    exported = session.current_decisions()
    assert (exported[1].action, exported[2].curie) == (A, "TP:0000007")

    # Settled with the second curator's rejection: every view now sees it.
    made = settle(session, 1, blind, FIRST, comment="not an anaemia")
    assert made.review_round is ReviewRound.SETTLED
    for view in ReviewView:
        assert session.current_decisions(view)[1].action is R
    reviews = review_rows(session.decisions())
    assert (reviews[1].first.action, reviews[1].second.action) == (A, R)
    assert agreed_or_settled_rows(session) == {1}
    agreement = session_agreement(session)
    assert (agreement.settled, agreement.unsettled) == (1, ())
    # Undoing the settlement brings the disagreement back.
    session.undo([made.id], FIRST)
    assert session.current_decisions()[1].action is A
    assert len(session_agreement(session).unsettled) == 1
    assert has_second_review(session)
    session.close()


def test_a_one_curator_session_reads_as_before(tmp_path: Path) -> None:
    session = new_session(tmp_path, 2)
    accepted = session.decide(0, A, FIRST, "TP:0000003")
    session.decide(0, R, FIRST)
    session.undo([accepted.id + 1], FIRST)
    for view in (ReviewView.FIRST, ReviewView.EXPORT):
        assert session.current_decisions(view)[0].id == accepted.id
    assert session.current_decisions(ReviewView.SECOND) == {}  # blind: nothing shown
    assert not has_second_review(session)
    assert session_agreement(session).rows_compared == 0
    assert session_agreement(session).raw_agreement is None
    session.close()
