"""Keeping the mapping memory in step with a session's decision log.

A decision is committed to the session file first; the memory then catches up from the log.
The two are separate SQLite files and cannot share a transaction, so the memory notes the last
log entry it has taken in, per session, in the same transaction as the entries themselves:
catching up again (when the session is opened, and after every decision, undo or redo) takes in
whatever a process killed between the two writes left out, and changes nothing otherwise.

For every row the log touched since then, the memory holds exactly the row's current decision
when it maps the row or rejects its candidates, and nothing for the row otherwise: an undo
removes the entry, a redo restores it, a later decision replaces it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from term2id.core.curation.decision_log import Action, Decision
from term2id.core.curation.session import CurationSession
from term2id.core.mapping.memory import MappingMemory, MemoryAction, MemoryEntry, store_spec

log = logging.getLogger(__name__)

# Above this many touched rows, the whole log is replayed once instead of row by row.
_ROW_BY_ROW = 64

_MEMORY_ACTION = {
    Action.ACCEPT: MemoryAction.ACCEPTED,
    Action.CHOOSE: MemoryAction.CHOSEN,
    Action.MANUAL: MemoryAction.MANUAL,
    Action.REJECT: MemoryAction.REJECTED,
}


def catch_up(memory: MappingMemory, session: CurationSession) -> int:
    """Bring `memory` up to date with `session`'s log; returns the rows whose entry was written.

    Idempotent: entries are keyed by (session id, decision id).
    """
    session_id = session.session_id
    seen = memory.synced_to(session_id)
    new = session.decisions_after(seen)
    if not new:
        return 0
    rows = sorted({entry.row for entry in new})
    if len(rows) > _ROW_BY_ROW:
        current = session.current_decisions()
    else:
        current = {}
        for row in rows:
            decision = session.current_decision(row)
            if decision is not None:
                current[row] = decision
    releases = session.releases(rows)
    entries = {row: entry_of(session, row, current.get(row), releases.get(row)) for row in rows}
    memory.replace_rows(session_id, entries, new[-1].id)
    log.debug("memory: %d rows of session %s taken in", len(rows), session_id)
    return len(rows)


def entry_of(
    session: CurationSession, row: int, decision: Decision | None, release: str | None
) -> MemoryEntry | None:
    """The memory entry a row's current decision stands for (None: nothing to remember)."""
    if decision is None or decision.action not in _MEMORY_ACTION:
        return None
    query = session.query(row)
    if not query.text.strip():
        return None
    action = _MEMORY_ACTION[decision.action]
    evidence = decision.evidence if isinstance(decision.evidence, dict) else {}
    if action is MemoryAction.REJECTED:
        # "No candidate is right": every id the curator was shown is rejected for the term.
        curies = (decision.curie,) if decision.curie else tuple(_shown(evidence))
    else:
        curies = decision.curies
    if not curies:
        return None
    return MemoryEntry(
        term=query.text.strip(),
        spec=store_spec(query.ontology),
        action=action,
        curies=tuple(dict.fromkeys(curies)),
        curator=decision.curator,
        at=decision.at,
        session_id=session.session_id,
        decision_id=decision.id,
        predicate=decision.predicate,
        label=decision.label if action is not MemoryAction.REJECTED else None,
        orcid=decision.orcid,
        row=row,
        release=release,
        bulk=bool(evidence.get("bulk")),
        review_round=int(decision.review_round),
    )


def _shown(evidence: dict) -> Iterable[str]:
    for item in evidence.get("shown") or ():
        if item and isinstance(item[0], str) and item[0]:
            yield item[0]
