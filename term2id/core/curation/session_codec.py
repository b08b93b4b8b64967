"""How the session file writes values as text: compact JSON, timestamps, and candidates and
mapping results as JSON (by field name, so that fields added later round-trip too).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from term2id.core.candidates import (
    Candidate,
    Evidence,
    MappingResult,
    MappingStatus,
    Query,
    Verdict,
)

_CANDIDATE_FIELDS = tuple(f.name for f in fields(Candidate))
_EVIDENCE_FIELDS = tuple(f.name for f in fields(Evidence))

# One row of the results table, ready to insert.
ResultRecord = tuple[
    int, str, str | None, str | None, float | None, str, str, str, str, str | None, str,
    str | None,
]  # fmt: skip


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def candidate_to_json(candidate: Candidate) -> dict:
    # By field name, so that fields added to Evidence or Candidate later round-trip too.
    data = {name: getattr(candidate, name) for name in _CANDIDATE_FIELDS}
    data["verdict"] = candidate.verdict.value
    data["evidence"] = [
        {name: getattr(e, name) for name in _EVIDENCE_FIELDS} for e in candidate.evidence
    ]
    data["replaced_by"] = list(candidate.replaced_by)
    return data


def result_records(
    results: Iterable[tuple[int, MappingResult]],
    releases: dict[str, str],
    model: str | None = None,
    sources: Sequence[str] | None = None,
) -> list[ResultRecord]:
    """Results as rows of the session's results table. Pure: safe to call in any thread.

    `sources` names the candidate sources that produced the results (the mapper's), so that
    rows mapped before a source was ready can be found and mapped again once it is.
    """
    at = now()
    sources_json = dumps(list(sources)) if sources is not None else None
    records = []
    for row, result in results:
        best = result.best
        ontology = result.query.ontology
        records.append(
            (
                row,
                result.status.value,
                best.curie if best else None,
                best.label if best else None,
                best.confidence if best else None,
                dumps([candidate_to_json(c) for c in result.candidates]),
                dumps(list(result.notes)),
                ontology,
                releases.get(ontology, ""),
                model,
                at,
                sources_json,
            )
        )
    return records


def candidate_from_json(data: dict) -> Candidate:
    known_evidence = {f.name for f in fields(Evidence)}
    known_candidate = {f.name for f in fields(Candidate)}
    values = {k: v for k, v in data.items() if k in known_candidate}
    values["verdict"] = Verdict(data["verdict"])
    values["evidence"] = tuple(
        Evidence(**{k: v for k, v in e.items() if k in known_evidence}) for e in data["evidence"]
    )
    values["replaced_by"] = tuple(data.get("replaced_by", ()))
    return Candidate(**values)


def result_from_json(query: Query, status: str, candidates: str, notes: str) -> MappingResult:
    """A mapping result read back from its row of the results table."""
    return MappingResult(
        query=query,
        candidates=tuple(candidate_from_json(c) for c in json.loads(candidates)),
        status=MappingStatus(status),
        notes=tuple(json.loads(notes)),
    )
