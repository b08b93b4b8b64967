"""A session's rows and decisions through the core writers: mapped sheet, SSSOM, training data.

Qt-free. A curator's decision wins over the machine's ranking: an accepted, chosen or manual id
becomes the row's mapped id (and an exactMatch with ManualMappingCuration in SSSOM), a rejected
row maps to nothing, and undecided or skipped rows keep the machine's best candidate.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from term2id.core.candidates import (
    Candidate,
    Evidence,
    MappingResult,
    MappingStatus,
    Query,
    Verdict,
)
from term2id.core.session import MAPPING, Action, CurationSession, Decision
from term2id.core.store import OntologyStore

DECISION_COLUMNS = ("curator_decision", "curator", "curator_comment")


def curated_result(
    result: MappingResult | None, query: Query, decision: Decision | None
) -> MappingResult:
    """The row's result as the curator left it: the decided id first."""
    if result is None:
        result = MappingResult(query, (), MappingStatus.NO_MATCH, ("not mapped",))
    if decision is None or decision.action not in MAPPING and decision.action is not Action.REJECT:
        return result
    if decision.action is Action.REJECT:
        return replace(result, candidates=(), status=MappingStatus.NO_MATCH)
    chosen = next((c for c in result.candidates if c.curie == decision.curie), None)
    if chosen is None:  # an id found by hand: the curator is its evidence
        chosen = Candidate(
            curie=decision.curie or "",
            label=decision.label,
            ontology=query.ontology,
            verdict=Verdict.VERIFIED,
            confidence=1.0,
            evidence=(Evidence("manual", 1.0, 1, decision.label, "chosen by the curator"),),
        )
    others = tuple(c for c in result.candidates if c.curie != chosen.curie)
    return replace(result, candidates=(chosen, *others), status=MappingStatus.VERIFIED)


def _curator_text(decision: Decision | None) -> str:
    if decision is None:
        return ""
    return f"{decision.curator} ({decision.orcid})" if decision.orcid else decision.curator


def export_sheet(session: CurationSession, path: Path | str, threshold: float = 0.9) -> int:
    """The input sheet with the mapped columns and the curator's decision; returns rows written."""
    from term2id.core.exports import MappedSheetWriter

    decided = session.current_decisions()
    comments = session.current_comments()
    inputs = [session.source_path] if session.source_path else []
    header = [*session.header, *DECISION_COLUMNS]
    width = len(session.header)
    queries = session.queries()
    with MappedSheetWriter(path, header, inputs=inputs) as writer:
        for row, cells, result in session.iter_rows():
            decision = decided.get(row)
            own = [c or "" for c in cells[:width]] + [""] * (width - len(cells))
            extra = [
                decision.action.value if decision else "",
                _curator_text(decision),
                comments.get(row, ""),
            ]
            writer.write(
                [*own, *extra, *cells[width:]], curated_result(result, queries[row], decision)
            )
    return writer.rows_written - 1  # the header


def export_sssom(
    session: CurationSession, path: Path | str, stores: dict[str, OntologyStore] | None = None
) -> int:
    """An SSSOM TSV: curated rows with the curator as reviewer (or author of a manual pick)."""
    from term2id.core.exports import SSSOMSetMetadata, SSSOMWriter, sssom_mapping_for

    decided = session.current_decisions()
    comments = session.current_comments()
    releases = session.releases()
    queries = session.queries()
    title = Path(session.source_path).name if session.source_path else session.path.name
    metadata = SSSOMSetMetadata(mapping_set_title=f"term2id mappings of {title}")
    inputs = [session.source_path] if session.source_path else []
    with SSSOMWriter(path, metadata, inputs=inputs) as writer:
        for row, _cells, result in session.iter_rows():
            decision = decided.get(row)
            if decision is not None and decision.action is Action.REJECT:
                continue
            release = releases.get(row)
            if release is None and stores:
                store = stores.get(queries[row].ontology)
                release = store.release if store is not None else None
            if decision is None or decision.action not in MAPPING:
                if result is not None:
                    mapping = sssom_mapping_for(result, release, comment=comments.get(row))
                    if mapping is not None:
                        writer.add(mapping)
                continue
            curated = curated_result(result, queries[row], decision)
            who = f"orcid:{decision.orcid}" if decision.orcid else None
            note = comments.get(row) or None
            if who is None:
                note = "; ".join(n for n in (f"curator: {decision.curator}", note) if n)
            manual = decision.action is Action.MANUAL
            mapping = sssom_mapping_for(
                curated,
                release,
                candidate=curated.candidates[0],
                accepted=True,
                author_id=who if manual else None,
                reviewer_id=None if manual else who,
                comment=note,
            )
            if mapping is not None:
                writer.add(mapping)
    return writer.rows_written


def export_training(session: CurationSession, path: Path | str, paraphrases: int = 1) -> int:
    """Accepted and rejected decisions as training records (JSON lines)."""
    from term2id.core.training_data import records_from_decisions, write_jsonl

    records = records_from_decisions(session.training_decisions(), paraphrases=paraphrases)
    return write_jsonl(records, path)
