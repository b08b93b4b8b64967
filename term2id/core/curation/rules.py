"""The rules a curator's decisions follow, apart from any window: which rows bulk accept takes,
what a decision records of what the curator saw, the predicate a mapping starts with, how a
chosen id is checked and which checked ids are mapped only after a warning."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from term2id.core.candidates import (
    MappingPredicate,
    MappingResult,
    MappingStatus,
    Query,
    Verdict,
)
from term2id.core.curation.decision_log import Action, Decision, NewDecision, ReviewRound
from term2id.core.curation.row_summaries import RowSummaries
from term2id.core.curation.session import CurationSession

if TYPE_CHECKING:
    from term2id.core.mapping.verification import Verification
    from term2id.core.ontology.store import OntologyStore

# Checked ids that are mapped only after the curator says so again, with what is wrong in words.
CHOICE_WARNINGS = {
    Verdict.OBSOLETE: "is obsolete",
    Verdict.UNKNOWN_ID: "is not in the row's ontology",
    Verdict.WRONG_ONTOLOGY: "belongs to another ontology",
}

# How a decision is named when it is applied to the rows with the same term.
_DECISION_PHRASE = {
    Action.ACCEPT: "accept",
    Action.CHOOSE: "choose",
    Action.MANUAL: "map to",
    Action.REJECT: "reject every candidate",
    Action.SKIP: "skip",
}


def bulk_accept_rows(rows: RowSummaries, threshold: float) -> list[int]:
    """Undecided rows whose best candidate is verified at or above `threshold`."""
    return [
        i
        for i, (status, confidence, decision) in enumerate(
            zip(rows.statuses, rows.confidences, rows.decisions, strict=True)
        )
        if status == MappingStatus.VERIFIED.value
        and confidence is not None
        and confidence >= threshold
        and decision is None
    ]


def bulk_accept_decisions(
    rows: RowSummaries, picked: Sequence[int], threshold: float, review_round: ReviewRound
) -> list[NewDecision]:
    """Accepting the best candidate of each of the `picked` rows, with the evidence of a bulk
    accept (the threshold, and the one candidate the table showed)."""
    return [
        NewDecision(row, Action.ACCEPT, rows.best_curies[row], rows.best_labels[row],
         {"status": "verified", "bulk": True, "threshold": threshold,
          "shown": [[rows.best_curies[row], rows.best_labels[row], "verified",
                     rows.confidences[row], []]]}, None,
         review_round=review_round)
        for row in picked
    ]  # fmt: skip


def evidence_shown(result: MappingResult | None) -> dict[str, Any]:
    """What the curator saw when deciding: the candidates, in order, with their verdicts."""
    if result is None:
        return {"status": None, "shown": []}
    return {
        "status": result.status.value,
        "shown": [
            [c.curie, c.label, c.verdict.value, round(c.confidence, 4), list(c.sources)]
            for c in result.candidates
        ],
        "notes": list(result.notes),
    }


def starting_predicate(verdict: Verdict | None) -> MappingPredicate | None:
    """The predicate a mapping starts with: narrow or broad for a candidate the store judges
    narrower or broader than the term, else exact (None). The curator changes it with P."""
    if verdict is Verdict.NARROWER:
        return MappingPredicate.NARROW
    if verdict is Verdict.BROADER:
        return MappingPredicate.BROAD
    return None


def next_predicate(predicate: MappingPredicate, step: int) -> MappingPredicate:
    """The predicate `step` places on from `predicate`, round the order of MappingPredicate."""
    order = list(MappingPredicate)
    return order[(order.index(predicate) + step) % len(order)]


def mapping_action(first: str, candidates: Iterable[str], best: str | None) -> Action:
    """The action of mapping a row to `first`: accept for its best candidate, choose for another
    candidate, a manual mapping for an id no source proposed."""
    if first not in set(candidates):
        return Action.MANUAL
    return Action.ACCEPT if first == best else Action.CHOOSE


def decision_phrase(decision: Decision) -> str:
    """The decision in words, as the same-term question names it ("accept HP:1 (Seizure)")."""
    what = _DECISION_PHRASE[decision.action] + (f" {decision.curie}" if decision.curie else "")
    if decision.label:
        what += f" ({decision.label})"
    if decision.curie and decision.predicate is not MappingPredicate.EXACT:
        what += f" as a {decision.predicate.value} match"
    return what


def store_names(specs: Iterable[str]) -> set[str]:
    """The store names in target ontologies such as "hp,go"."""
    return {n.strip() for spec in specs for n in spec.split(",") if n.strip()}


def missing_stores(specs: Iterable[str], exists: Callable[[str], bool]) -> list[str]:
    """The stores `specs` name that are not installed (the embedded default never is missing:
    it is built on first use)."""
    # Imported here: the catalog's module loads the store's libraries, which the window must
    # not wait for.
    from term2id.core.ontology.catalog import DEFAULT_STORE

    return sorted(n for n in store_names(specs) if n != DEFAULT_STORE and not exists(n))


def verify_choice(
    curie: str,
    query: Query,
    open_store: Callable[[str], OntologyStore | None],
    installed: Callable[[], Iterable[str]],
) -> Verification | None:
    """The id a curator is putting on the row of `query`, through `verify_id` against the row's
    stores (another of the `installed` stores is named when the id is one of its); None when no
    store of the row is open. `open_store` gives a store by name, or None."""
    from term2id.core.mapping.verification import verify_id

    stores = [s for n in query.ontology.split(",") if (s := open_store(n.strip()))]
    if not stores:
        return None
    requested = {s.name for s in stores}

    def elsewhere(other: str) -> tuple[str, str] | None:
        for name in installed():
            store = open_store(name) if name not in requested else None
            term = store.term(other) if store is not None else None
            if term is not None:
                return name, term.label
        return None

    return verify_id(curie, query.text, stores, elsewhere, context=query.context)


def prepare_same_term(session: CurationSession, rows: RowSummaries, progress) -> None:
    """Build the session's same-term groups from the table's summaries (a worker's job)."""
    session.prepare_same_term(rows)
