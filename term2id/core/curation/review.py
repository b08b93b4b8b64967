"""Two curators on one session: what each decided, how far they agree, and what is left to settle.

The first curator reviews a session as usual; a second curator opens it blind and decides the
rows again (their entries carry `ReviewRound.SECOND`); a disagreement is settled with a third
entry (`ReviewRound.SETTLED`). All three live in the one decision log, so undo, redo and a kill at
any moment behave as for every other decision.

Agreement is measured over the rows both curators decided (accepted, chose, searched by hand or
rejected; a skipped row is not decided). Two figures:

- raw agreement: the share of those rows on which both reached the same outcome, that is both
  rejected it, or both mapped it to the same ids with the same predicate;
- Cohen's kappa over three categories per curator and row: *accepted* the best candidate,
  *rejected* every candidate, or mapped the row to *a different id* (another candidate or one
  found by searching). Kappa = (p_o - p_e) / (1 - p_e), with p_o the share of rows whose two
  categories agree and p_e the agreement expected by chance from each curator's category shares.

Kappa's categories are coarser than raw agreement: two curators who both picked another id than
the best, but not the same one, agree in category (kappa counts it) and disagree in outcome (raw
agreement does not, and the row is in the disagreement queue).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from term2id.core.candidates import MappingPredicate
from term2id.core.curation.decision_log import (
    MAPPING,
    Action,
    Curator,
    Decision,
    NewDecision,
    ReviewRound,
    replay_rounds,
)
from term2id.core.curation.session import CurationSession


class AgreementCategory(StrEnum):
    """What a curator did with a row, as kappa counts it."""

    ACCEPTED = "accepted"  # the best candidate is right
    REJECTED = "rejected"  # no id is right
    DIFFERENT_ID = "different_id"  # another id is right: another candidate, or one searched


CATEGORIES = tuple(AgreementCategory)
CATEGORY_TEXT = {
    AgreementCategory.ACCEPTED: "accepted the best",
    AgreementCategory.REJECTED: "rejected",
    AgreementCategory.DIFFERENT_ID: "a different id",
}
_ACTION_TEXT = {
    Action.ACCEPT: "accepted",
    Action.CHOOSE: "chosen",
    Action.MANUAL: "manual",
    Action.REJECT: "rejected",
    Action.SKIP: "skipped",
}


def decision_text(decision: Decision | None) -> str:
    """A decision in a few words: "accepted TP:0000003 Seizure", "chosen TP:4 + TP:6 · broad"."""
    if decision is None:
        return "not decided"
    text = _ACTION_TEXT.get(decision.action, decision.action.value)
    if decision.action in MAPPING:
        text = f"{text} {decision.curie}"
        if decision.label:
            text = f"{text} {decision.label}"
        if decision.also:
            text = f"{text} + {', '.join(decision.also)}"
        if decision.predicate is not MappingPredicate.EXACT:
            text = f"{text} · {decision.predicate.value}"
    return text


def category_of(decision: Decision) -> AgreementCategory | None:
    """The kappa category of a decision; None for one that decides nothing (skip)."""
    if decision.action is Action.ACCEPT:
        return AgreementCategory.ACCEPTED
    if decision.action is Action.REJECT:
        return AgreementCategory.REJECTED
    if decision.action in MAPPING:
        return AgreementCategory.DIFFERENT_ID
    return None


def outcome_of(decision: Decision) -> tuple:
    """What a decision says about the row, for comparing two curators: the ids it maps to (in
    any order) with the predicate, or that it maps to nothing."""
    if decision.action in MAPPING:
        return ("mapped", frozenset(decision.curies), decision.predicate)
    return (decision.action.value,)


def same_outcome(first: Decision, second: Decision) -> bool:
    return outcome_of(first) == outcome_of(second)


@dataclass(frozen=True, slots=True)
class RowReview:
    """One row's decisions in a two-curator review (None where that round has none)."""

    row: int
    first: Decision | None
    second: Decision | None
    settled: Decision | None

    @property
    def both_decided(self) -> bool:
        return (
            self.first is not None
            and self.second is not None
            and category_of(self.first) is not None
            and category_of(self.second) is not None
        )

    @property
    def agreed(self) -> bool:
        """Both decided the row and reached the same outcome."""
        return self.both_decided and same_outcome(self.first, self.second)  # type: ignore[arg-type]

    @property
    def disagreed(self) -> bool:
        return self.both_decided and not self.agreed


@dataclass(frozen=True, slots=True)
class Agreement:
    """Agreement of two curators over the rows both decided."""

    rows_compared: int  # rows both curators decided
    rows_agreed: int  # of those, rows with the same outcome
    # (first curator's category, second curator's category) -> rows
    table: dict[tuple[AgreementCategory, AgreementCategory], int]
    disagreements: tuple[RowReview, ...]  # rows with different outcomes, in row order

    @property
    def raw_agreement(self) -> float | None:
        """Share of compared rows with the same outcome; None when no row was compared."""
        return self.rows_agreed / self.rows_compared if self.rows_compared else None

    @property
    def observed(self) -> float | None:
        """p_o: share of compared rows whose two categories agree."""
        if not self.rows_compared:
            return None
        return sum(self.table.get((c, c), 0) for c in CATEGORIES) / self.rows_compared

    @property
    def expected(self) -> float | None:
        """p_e: the category agreement expected by chance from each curator's shares."""
        n = self.rows_compared
        if not n:
            return None
        first = Counter()
        second = Counter()
        for (a, b), count in self.table.items():
            first[a] += count
            second[b] += count
        return sum(first[c] * second[c] for c in CATEGORIES) / (n * n)

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa over the categories. None when no row was compared, or when chance
        alone explains every agreement (both curators put every row in one category: p_e = 1),
        where kappa is undefined."""
        observed, expected = self.observed, self.expected
        if observed is None or expected is None or expected >= 1.0:
            return None
        return (observed - expected) / (1.0 - expected)

    @property
    def settled(self) -> int:
        return sum(1 for r in self.disagreements if r.settled is not None)

    @property
    def unsettled(self) -> tuple[RowReview, ...]:
        return tuple(r for r in self.disagreements if r.settled is None)


def review_rows(log_entries: list[Decision]) -> dict[int, RowReview]:
    """row -> its first, second and settled decisions, for every row any round decided."""
    first = replay_rounds(log_entries, frozenset({ReviewRound.FIRST}))[0]
    second = replay_rounds(log_entries, frozenset({ReviewRound.SECOND}))[0]
    settled = replay_rounds(log_entries, frozenset({ReviewRound.SETTLED}))[0]
    rows = sorted(set(first) | set(second) | set(settled))
    return {r: RowReview(r, first.get(r), second.get(r), settled.get(r)) for r in rows}


def agreement_of(rows: dict[int, RowReview] | list[RowReview]) -> Agreement:
    """Raw agreement, the category table for kappa and the disagreements, over `rows`."""
    reviews = rows.values() if isinstance(rows, dict) else rows
    table: Counter = Counter()
    agreed = 0
    disagreements = []
    for review in reviews:
        if not review.both_decided:
            continue
        table[(category_of(review.first), category_of(review.second))] += 1  # type: ignore[arg-type]
        if review.agreed:
            agreed += 1
        else:
            disagreements.append(review)
    compared = sum(table.values())
    return Agreement(compared, agreed, dict(table), tuple(disagreements))


def session_agreement(session: CurationSession) -> Agreement:
    return agreement_of(review_rows(session.decisions()))


def has_second_review(session: CurationSession) -> bool:
    """Whether a second curator decided any row of the session."""
    return any(r.second is not None for r in review_rows(session.decisions()).values())


def agreed_or_settled_rows(session: CurationSession) -> set[int]:
    """Rows both curators decided alike, and rows settled after review: what an export limited
    to reviewed rows keeps."""
    return {
        row
        for row, review in review_rows(session.decisions()).items()
        if review.settled is not None or review.agreed
    }


def settle(
    session: CurationSession,
    row: int,
    taken: Decision,
    curator: Curator,
    comment: str | None = None,
) -> Decision:
    """Settle `row` with the decision `taken` (the first curator's, the second's, or any other
    decision of the row): a `SETTLED` log entry with its action, ids and predicate, written by
    `curator`."""
    draft = NewDecision(
        row,
        taken.action,
        taken.curie,
        taken.label,
        {"settled_from": taken.id, "round": int(taken.review_round)},
        comment,
        taken.predicate if taken.action in MAPPING else None,
        taken.also,
        ReviewRound.SETTLED,
    )
    return session.decide_many([draft], curator)[0]
