"""Checking a session's mapped ids again: against a newer release of their ontology (ids gone,
obsolete, replaced, secondary, or judged otherwise now), and verdicts recorded before verdicts
tracked meaning. The verdicts themselves come from core.mapping.verification.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from term2id.core.candidates import Verdict
from term2id.core.curation.decision_log import MAPPING, Action, DecisionLog
from term2id.core.curation.session_codec import candidate_to_json, dumps

if TYPE_CHECKING:
    from term2id.core.ontology.store import OntologyStore


@dataclass(frozen=True, slots=True)
class ReverifyFlag:
    """A row whose id changed meaning in another release of its ontology."""

    row: int
    curie: str
    # "obsolete", "replaced", "alt_id" (now a secondary id), "missing", or "changed" (its verdict
    # for the row's term is not the one recorded: `verdict` says what it is now)
    problem: str
    replacements: tuple[str, ...] = ()
    verdict: str = ""


class Reverification(DecisionLog):
    """Re-verification of the session's rows. Part of CurationSession (whose results and input
    it reads)."""

    def mapped_ids(self) -> dict[int, str]:
        """row -> the id the row maps to now: the curator's choice, else the best candidate."""
        ids = {
            row: curie
            for row, curie in self._conn.execute(
                "SELECT row, best_curie FROM results WHERE best_curie IS NOT NULL"
            )
        }
        for row, decision in self.current_decisions().items():
            if decision.action in MAPPING:
                ids[row] = decision.curie
            elif decision.action is Action.REJECT:
                ids.pop(row, None)
        return ids

    def releases_behind(self, stores: dict[str, OntologyStore]) -> dict[str, tuple[str, str]]:
        """store name -> (release in the session, release of the store) where they differ."""
        behind = {}
        for name, (release, _model) in self.mapping_provenance().items():
            store = stores.get(name)
            if store is not None and store.release != release:
                behind[name] = (release, store.release)
        return behind

    def reverify(self, stores: dict[str, OntologyStore]) -> list[ReverifyFlag]:
        """Rows whose mapped id is obsolete, replaced, secondary, gone, or judged otherwise now.

        Each mapped id goes through `verify_id` against `stores`, with the row's term and context:
        "changed" flags an id whose verdict differs from the one the row recorded for it.
        """
        from term2id.core.mapping.verification import verify_id

        recorded = {
            row: {c["curie"]: c["verdict"] for c in json.loads(candidates)}
            for row, candidates in self._conn.execute("SELECT row, candidates FROM results")
        }
        queries = self.queries()
        flags = []
        for row, curie in sorted(self.mapped_ids().items()):
            query = queries[row]
            store = stores.get(query.ontology)
            if store is None:
                continue
            checked = verify_id(curie, query.text, [store], context=query.context)
            if checked.verdict is Verdict.UNKNOWN_ID or checked.verdict is Verdict.WRONG_ONTOLOGY:
                flags.append(ReverifyFlag(row, curie, "missing"))
            elif checked.verdict is Verdict.OBSOLETE:
                problem = "replaced" if checked.replaced_by else "obsolete"
                flags.append(ReverifyFlag(row, curie, problem, checked.replaced_by))
            elif checked.curie != curie:
                flags.append(ReverifyFlag(row, curie, "alt_id", (checked.curie,)))
            elif recorded.get(row, {}).get(curie, checked.verdict.value) != checked.verdict.value:
                flags.append(ReverifyFlag(row, curie, "changed", verdict=checked.verdict.value))
        return flags

    def stale_verdict_rows(self) -> list[int]:
        """Rows whose verdicts were recorded before verdicts tracked meaning.

        Those verdicts came from a spelling test (names 0.8 alike were "verified", opposites
        included); such rows' candidates carry no `reason`. Found without a schema change.
        """
        return [
            row
            for (row,) in self._conn.execute(
                "SELECT row FROM results WHERE candidates != '[]' "
                "AND instr(candidates, '\"reason\":') = 0 ORDER BY row"
            )
        ]

    def refresh_verdicts(self, stores: dict[str, OntologyStore]) -> tuple[list[int], list[int]]:
        """Decide the verdicts of rows with stale ones again (`verify_id`), in one transaction.

        Returns (rows re-checked, rows whose best candidate's verdict changed). Rows whose store
        is not in `stores` keep their stale verdicts: `stale_verdict_rows` still lists them.
        """
        from term2id.core.mapping.verification import recheck_result

        rechecked, changed, updates = [], [], []
        for row in self.stale_verdict_rows():
            result = self.result(row)
            names = [n.strip() for n in (result.query.ontology if result else "").split(",")]
            requested = [stores[n] for n in names if n in stores]
            if result is None or len(requested) != len(names):
                continue
            fresh = recheck_result(result, requested, every_candidate=True)
            rechecked.append(row)
            if fresh.best is not None and fresh.best.verdict is not result.best.verdict:
                changed.append(row)
            best = fresh.best
            updates.append(
                (
                    fresh.status.value,
                    best.label if best else None,
                    dumps([candidate_to_json(c) for c in fresh.candidates]),
                    row,
                )
            )
        if updates:
            with self._transaction():
                self._conn.executemany(
                    "UPDATE results SET status = ?, best_label = ?, candidates = ? WHERE row = ?",
                    updates,
                )
        return rechecked, changed
