"""A session's rows and decisions through the core writers: mapped sheet, SSSOM, training data.

Qt-free. A curator's decision wins over the machine's ranking: an accepted, chosen or manual id
becomes the row's mapped id (an exactMatch with ManualMappingCuration in SSSOM, or a narrowMatch or
broadMatch when its verdict says so), a rejected row maps to nothing, and undecided or skipped rows
keep the machine's best candidate. Every exported id is verified again against the stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from term2id.core.candidates import MappingResult, MappingStatus, Query
from term2id.core.session import MAPPING, Action, CurationSession, Decision
from term2id.core.sources.index import index_of
from term2id.core.store import OntologyStore
from term2id.core.verification import recheck_result

DECISION_COLUMNS = ("curator_decision", "curator", "curator_comment")


def curated_result(
    result: MappingResult | None,
    query: Query,
    decision: Decision | None,
    stores: Mapping[str, OntologyStore] | None = None,
) -> MappingResult:
    """The row's result as the curator left it: the decided id first, with its verdict.

    Every exported id is verified again (`recheck_result`, which goes through `verify_id`), so a
    sheet says what the id is now: an id chosen by hand, an obsolete one or another store's is
    exported with its real verdict, never as verified unless its names say what the term says.
    """
    if result is None:
        result = MappingResult(query, (), MappingStatus.NO_MATCH, ("not mapped",))
    if decision is not None and decision.action is Action.REJECT:
        return replace(result, candidates=(), status=MappingStatus.NO_MATCH)
    stores = stores or {}
    requested = [stores[n] for n in query.ontology.split(",") if n.strip() in stores]
    others = {n: s for n, s in stores.items() if s not in requested}

    def elsewhere(curie: str) -> tuple[str, str] | None:
        for name, store in others.items():
            found = index_of(store).resolve(curie)
            if found is not None:
                return name, found[0].label
        return None

    if decision is None or decision.action not in MAPPING:
        return recheck_result(result, requested, elsewhere)
    return recheck_result(
        result, requested, elsewhere, decided=decision.curie or "", decided_label=decision.label
    )


def _curator_text(decision: Decision | None) -> str:
    if decision is None:
        return ""
    return f"{decision.curator} ({decision.orcid})" if decision.orcid else decision.curator


def export_sheet(
    session: CurationSession,
    path: Path | str,
    threshold: float = 0.9,
    stores: dict[str, OntologyStore] | None = None,
) -> int:
    """The input sheet with the mapped columns and the curator's decision; returns rows written.

    `stores` (by name) verify every exported id again; without them ids keep the verdicts the
    session holds, and an id chosen by hand is exported as unchecked.
    """
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
                [*own, *extra, *cells[width:]],
                curated_result(result, queries[row], decision, stores),
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
                    result = curated_result(result, queries[row], None, stores)
                    mapping = sssom_mapping_for(result, release, comment=comments.get(row))
                    if mapping is not None:
                        writer.add(mapping)
                continue
            curated = curated_result(result, queries[row], decision, stores)
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
