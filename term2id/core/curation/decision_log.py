"""The decision log: what a curator decided, appended and never overwritten.

The current decision of a row is derived from the log: undo and redo are log entries too, so
nothing a curator did is ever overwritten. In a two-curator review each entry carries its round,
and a view says whose entries a reader sees.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, NamedTuple

from term2id.core.candidates import MappingPredicate
from term2id.core.curation.session_codec import dumps, now
from term2id.core.curation.session_schema import SessionConnection


class Action(StrEnum):
    ACCEPT = "accept"  # the best candidate is right
    REJECT = "reject"  # no candidate is right
    CHOOSE = "choose"  # another candidate than the best one is right
    SKIP = "skip"  # look at it later
    MANUAL = "manual"  # an id no source proposed, found by the curator
    COMMENT = "comment"  # a note; does not change the row's decision
    UNDO = "undo"  # revokes the decision `target`
    REDO = "redo"  # reinstates the decision `target`


# Actions that set a row's decision (the last effective one wins).
DECIDING = frozenset({Action.ACCEPT, Action.REJECT, Action.CHOOSE, Action.SKIP, Action.MANUAL})
# Actions whose curie is the row's mapped id.
MAPPING = frozenset({Action.ACCEPT, Action.CHOOSE, Action.MANUAL})


class ReviewRound(IntEnum):
    """Who made a decision when two curators review one session."""

    FIRST = 1  # the curator who curates the session (every decision of a one-curator review)
    SECOND = 2  # a second curator deciding blind, without seeing the first one's decisions
    SETTLED = 3  # a disagreement between the two, settled after review


class ReviewView(StrEnum):
    """Whose decisions a reader of the log sees, when two curators review one session."""

    FIRST = "first"  # the first curator: own decisions and settled ones
    SECOND = "second"  # the second curator, blind: own decisions and settled ones only
    # exports, training data, re-verification: settled, else the first curator's, else the
    # second's (a row only the second curator decided is still a curator's decision)
    EXPORT = "export"


# Per view, groups of rounds in order of precedence: within a group the latest entry wins (a
# curator may change a settled row again), and a row takes its decision from the first group
# that has one.
VIEW_ROUNDS = {
    ReviewView.FIRST: ((ReviewRound.FIRST, ReviewRound.SETTLED),),
    ReviewView.SECOND: ((ReviewRound.SECOND, ReviewRound.SETTLED),),
    ReviewView.EXPORT: ((ReviewRound.FIRST, ReviewRound.SETTLED), (ReviewRound.SECOND,)),
}


@dataclass(frozen=True, slots=True)
class Curator:
    name: str
    orcid: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    id: int
    row: int
    action: Action
    curie: str | None
    label: str | None
    curator: str
    orcid: str | None
    at: str
    evidence: Any = None
    comment: str | None = None
    target: int | None = None
    predicate: MappingPredicate = MappingPredicate.EXACT
    also: tuple[str, ...] = ()  # further ids of a one-to-many mapping, after `curie`
    review_round: ReviewRound = ReviewRound.FIRST

    @property
    def curies(self) -> tuple[str, ...]:
        """Every id the decision maps the row to, `curie` first."""
        return ((self.curie,) if self.curie else ()) + self.also


class NewDecision(NamedTuple):
    """One decision to append: what `decide_many` takes."""

    row: int
    action: Action
    curie: str | None = None
    label: str | None = None
    evidence: Any = None
    comment: str | None = None
    predicate: MappingPredicate | None = None  # None: exact, for mapping decisions
    also: tuple[str, ...] = ()
    review_round: ReviewRound = ReviewRound.FIRST


def replay_log(
    log_entries: list[Decision], view: ReviewView = ReviewView.EXPORT
) -> tuple[dict[int, Decision], dict[int, Decision]]:
    """Replay the log: (row -> current decision, row -> current comment), as `view` sees it.

    A session reviewed by one curator has first-round entries only: every view sees them all.
    """
    groups = VIEW_ROUNDS[view]
    decided: dict[int, Decision] = {}
    commented: dict[int, Decision] = {}
    for rounds in reversed(groups):  # the group that takes precedence is applied last
        group_decided, group_commented = replay_rounds(log_entries, frozenset(rounds))
        decided.update(group_decided)
        commented.update(group_commented)
    return decided, commented


def replay_rounds(
    log_entries: list[Decision], rounds: frozenset[ReviewRound] | None = None
) -> tuple[dict[int, Decision], dict[int, Decision]]:
    """Replay the entries of `rounds` only (None: all): the latest entry not undone wins."""
    revoked: set[int] = set()
    for entry in log_entries:
        if entry.action is Action.UNDO:
            revoked.add(entry.target)  # type: ignore[arg-type]
        elif entry.action is Action.REDO:
            revoked.discard(entry.target)  # type: ignore[arg-type]
    decided: dict[int, Decision] = {}
    commented: dict[int, Decision] = {}
    for entry in log_entries:
        if entry.id in revoked or (rounds is not None and entry.review_round not in rounds):
            continue
        if entry.action in DECIDING:
            decided[entry.row] = entry
        elif entry.action is Action.COMMENT:
            commented[entry.row] = entry
    return decided, commented


class DecisionLog(SessionConnection):
    """The session's decisions: appending them (one transaction each call), undo and redo, and
    the log read back. Part of CurationSession."""

    def decide(
        self,
        row: int,
        action: Action | str,
        curator: Curator,
        curie: str | None = None,
        label: str | None = None,
        evidence: Any = None,
        comment: str | None = None,
        *,
        predicate: MappingPredicate | str | None = None,
        also: Sequence[str] = (),
        review_round: ReviewRound = ReviewRound.FIRST,
    ) -> Decision:
        """Append one decision and commit it before returning."""
        draft = NewDecision(
            row, Action(action), curie, label, evidence, comment,
            MappingPredicate(predicate) if predicate else None, tuple(also), review_round,
        )  # fmt: skip
        return self.decide_many([draft], curator)[0]

    def decide_many(
        self, decisions: Sequence[NewDecision | tuple], curator: Curator
    ) -> list[Decision]:
        """Append several decisions at once, in one transaction.

        Each is a `NewDecision`, or a tuple in its order (row, action, curie, label, evidence,
        comment, ...).
        """
        at = now()
        made = []
        with self._transaction():
            for item in decisions:
                draft = NewDecision(*item)
                action = Action(draft.action)
                if action in (Action.UNDO, Action.REDO):
                    raise ValueError("use undo() and redo()")
                if action in MAPPING and not draft.curie:
                    raise ValueError(f"{action} needs an id")
                if action not in MAPPING and (draft.predicate or draft.also):
                    raise ValueError(f"{action} maps to no id: it takes no predicate or ids")
                if not 0 <= draft.row < len(self):
                    raise IndexError(draft.row)
                predicate = (
                    MappingPredicate(draft.predicate or MappingPredicate.EXACT)
                    if action in MAPPING
                    else MappingPredicate.EXACT
                )
                also = tuple(c for c in draft.also if c and c != draft.curie)
                review_round = ReviewRound(draft.review_round)
                cursor = self._conn.execute(
                    "INSERT INTO decisions (row, action, curie, label, curator, orcid, at, "
                    "evidence, comment, predicate, also, review_round) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (draft.row, action.value, draft.curie, draft.label, curator.name,
                     curator.orcid, at, dumps(draft.evidence), draft.comment,
                     predicate.value if action in MAPPING else None,
                     dumps(list(also)) if also else None, int(review_round)),
                )  # fmt: skip
                made.append(
                    Decision(cursor.lastrowid, draft.row, action, draft.curie, draft.label,
                             curator.name, curator.orcid, at, draft.evidence, draft.comment,
                             None, predicate, also, review_round)
                )  # fmt: skip
        return made

    def undo(self, decision_ids: Sequence[int], curator: Curator) -> None:
        """Revoke decisions (one transaction): appends an `undo` entry for each."""
        self._revoke(decision_ids, curator, Action.UNDO)

    def redo(self, decision_ids: Sequence[int], curator: Curator) -> None:
        """Reinstate decisions revoked by undo()."""
        self._revoke(decision_ids, curator, Action.REDO)

    def _revoke(self, decision_ids: Sequence[int], curator: Curator, action: Action) -> None:
        at = now()
        with self._transaction():
            for target in decision_ids:
                found = self._conn.execute(
                    "SELECT row FROM decisions WHERE id = ?", (target,)
                ).fetchone()
                if found is None:
                    raise ValueError(f"no decision {target}")
                self._conn.execute(
                    "INSERT INTO decisions (row, action, curator, orcid, at, evidence, target) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (found[0], action.value, curator.name, curator.orcid, at, "null", target),
                )

    def decisions(self, row: int | None = None) -> list[Decision]:
        """The log, oldest first (for one row, or all)."""
        sql = (
            "SELECT id, row, action, curie, label, curator, orcid, at, evidence, comment, target, "
            "predicate, also, review_round FROM decisions"
        )
        cursor = (
            self._conn.execute(sql + " WHERE row = ? ORDER BY id", (row,))
            if row is not None
            else self._conn.execute(sql + " ORDER BY id")
        )
        return [
            Decision(i, r, Action(a), c, lb, cu, o, at, json.loads(ev), cm, t,
                     MappingPredicate(p or MappingPredicate.EXACT),
                     tuple(json.loads(al)) if al else (), ReviewRound(rr or 1))
            for i, r, a, c, lb, cu, o, at, ev, cm, t, p, al, rr in cursor
        ]  # fmt: skip

    def _light_decisions(self, where: str = "") -> list[Decision]:
        # Without the evidence JSON: the table does not need it and it is the bulk of the log.
        return [
            Decision(i, r, Action(a), c, lb, cu, None, "", None, cm, t,
                     MappingPredicate(p or MappingPredicate.EXACT),
                     tuple(json.loads(al)) if al else (), ReviewRound(rr or 1))
            for i, r, a, c, lb, cu, cm, t, p, al, rr in self._conn.execute(
                "SELECT id, row, action, curie, label, curator, comment, target, predicate, also, "
                f"review_round FROM decisions {where} ORDER BY id"
            )
        ]  # fmt: skip

    def decisions_after(self, decision_id: int) -> list[Decision]:
        """The log entries after `decision_id`, oldest first, without their evidence: what a
        record kept outside the file (the mapping memory) has not taken in yet."""
        return [
            Decision(i, r, Action(a), c, None, "", None, "", None, None, t)
            for i, r, a, c, t in self._conn.execute(
                "SELECT id, row, action, curie, target FROM decisions WHERE id > ? ORDER BY id",
                (decision_id,),
            )
        ]

    def current_decisions(self, view: ReviewView = ReviewView.EXPORT) -> dict[int, Decision]:
        """row -> its decision now (the last deciding entry not revoked by undo), as `view`
        sees the log."""
        return replay_log(self.decisions(), view)[0]

    def current_decision(self, row: int, view: ReviewView = ReviewView.EXPORT) -> Decision | None:
        return replay_log(self.decisions(row), view)[0].get(row)

    def current_comments(self, view: ReviewView = ReviewView.EXPORT) -> dict[int, str]:
        return {row: d.comment or "" for row, d in replay_log(self.decisions(), view)[1].items()}

    def training_decisions(self) -> list[tuple[str, str, str | None, list[str], list[tuple]]]:
        """Decisions in the form `training_records.records_from_decisions` reads:
        (term, ontology, accepted id or None, rejected ids, candidates shown as (id, label))."""
        queries = self.queries()
        decided = []
        for row, decision in sorted(self.current_decisions().items()):
            if decision.action not in MAPPING and decision.action is not Action.REJECT:
                continue
            evidence = decision.evidence if isinstance(decision.evidence, dict) else {}
            shown = [(s[0], s[1]) for s in evidence.get("shown", []) if s]
            query = queries[row]
            if decision.action is Action.REJECT:
                decided.append((query.text, query.ontology, None, [c for c, _ in shown], shown))
            else:
                decided.append((query.text, query.ontology, decision.curie, [], shown))
        return decided
