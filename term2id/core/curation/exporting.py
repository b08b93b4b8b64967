"""A session's rows and decisions through the core writers: mapped sheet, SSSOM, training data.

Qt-free. A curator's decision wins over the machine's ranking: an accepted, chosen or manual id
becomes the row's mapped id (with the curator's predicate in SSSOM, ManualMappingCuration; left at
exact, a narrowMatch or broadMatch when its verdict says so), a rejected row maps to nothing, and
undecided or skipped rows keep the machine's best candidate. Every exported id is verified again
against the stores. A row mapped to several ids keeps the first in `mapped_id`, all of them in
`mapped_ids`, is flagged in `one_to_many`, and gets one SSSOM row per id.

Two curators (see `term2id.core.curation.review`): a settled decision wins, else the first curator's, else
the second's (a row only the second curator decided). In SSSOM a row decided by one curator has
that curator as author_id; a row both decided alike, or settled after review, has the first
curator as author_id and the second as reviewer_id. `only_reviewed` limits an export to those
rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from term2id.core.candidates import MappingResult, MappingStatus, Query
from term2id.core.curation.decision_log import MAPPING, Action, Decision
from term2id.core.curation.review import RowReview, review_rows
from term2id.core.curation.session import CurationSession
from term2id.core.mapping.lexical_index import index_of
from term2id.core.mapping.verification import recheck_result
from term2id.core.ontology.store import OntologyStore

DECISION_COLUMNS = ("curator_decision", "curator", "curator_comment")
# After the mapped columns: how the curator says the row maps, and every id it maps to.
CURATED_COLUMNS = ("mapping_predicate", "mapped_ids", "one_to_many")
MAPPED_IDS_SEPARATOR = "|"


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


def _reviewed(review: RowReview | None) -> bool:
    """Both curators decided the row alike, or it was settled after review."""
    return review is not None and (review.settled is not None or review.agreed)


def export_sheet(
    session: CurationSession,
    path: Path | str,
    stores: dict[str, OntologyStore] | None = None,
    only_reviewed: bool = False,
) -> int:
    """The input sheet with the mapped columns and the curator's decision; returns rows written.

    `stores` (by name) verify every exported id again; without them ids keep the verdicts the
    session holds, and an id chosen by hand is exported as unchecked. `only_reviewed` writes only
    rows both curators decided alike or that were settled.
    """
    from term2id.core.exports.sheet_writer import MappedSheetWriter
    from term2id.core.exports.sssom_writer import curated_predicate

    decided = session.current_decisions()
    comments = session.current_comments()
    reviews = review_rows(session.decisions()) if only_reviewed else {}
    inputs = [session.source_path] if session.source_path else []
    header = [*session.header, *DECISION_COLUMNS]
    width = len(session.header)
    queries = session.queries()
    with MappedSheetWriter(path, header, inputs=inputs, trailing_columns=CURATED_COLUMNS) as writer:
        for row, cells, result in session.iter_rows():
            if only_reviewed and not _reviewed(reviews.get(row)):
                continue
            decision = decided.get(row)
            own = [c or "" for c in cells[:width]] + [""] * (width - len(cells))
            extra = [
                decision.action.value if decision else "",
                _curator_text(decision),
                comments.get(row, ""),
            ]
            curated = curated_result(result, queries[row], decision, stores)
            trailing = ["", curated.best.curie if curated.best else "", ""]
            if decision is not None and decision.action in MAPPING and curated.best is not None:
                ids = (curated.best.curie, *decision.also)
                predicate = curated_predicate(decision.predicate, curated.best.verdict)
                trailing = [
                    predicate.value,
                    MAPPED_IDS_SEPARATOR.join(ids),
                    "yes" if len(ids) > 1 else "",
                ]
            writer.write([*own, *extra, *cells[width:]], curated, trailing)
    return writer.rows_written - 1  # the header


def _orcid_id(decision: Decision) -> str | None:
    return f"orcid:{decision.orcid}" if decision.orcid else None


def export_sssom(
    session: CurationSession,
    path: Path | str,
    stores: dict[str, OntologyStore] | None = None,
    only_reviewed: bool = False,
) -> int:
    """An SSSOM TSV: curated rows with their curators as author (and reviewer, after a second
    review), one mapping per id; undecided rows with the machine's best candidate."""
    from term2id.core.exports.sssom_writer import SSSOMSetMetadata, SSSOMWriter, sssom_mapping_for

    decided = session.current_decisions()
    comments = session.current_comments()
    reviews = review_rows(session.decisions())
    releases = session.releases()
    queries = session.queries()
    title = Path(session.source_path).name if session.source_path else session.path.name
    metadata = SSSOMSetMetadata(mapping_set_title=f"term2id mappings of {title}")
    inputs = [session.source_path] if session.source_path else []
    with SSSOMWriter(path, metadata, inputs=inputs) as writer:
        for row, _cells, result in session.iter_rows():
            review = reviews.get(row)
            if only_reviewed and not _reviewed(review):
                continue
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
            # Who: the first curator wrote it and the second reviewed it when both decided alike
            # or it was settled; otherwise whoever decided it alone is its author.
            if _reviewed(review) and review.first is not None and review.second is not None:
                author, reviewer = review.first, review.second
            else:
                author, reviewer = decision, None
            notes = [comments.get(row) or None]
            notes += [f"curator: {d.curator}" for d in (author, reviewer) if d and not d.orcid]
            if review is not None and review.disagreed and review.settled is None:
                notes.append("the second curator decided otherwise; not settled")
            note = "; ".join(n for n in notes if n) or None
            for curie in decision.curies:
                one = (
                    decision
                    if curie == decision.curie
                    else replace(decision, curie=curie, label=None)
                )
                curated = curated_result(result, queries[row], one, stores)
                mapping = sssom_mapping_for(
                    curated,
                    release,
                    candidate=curated.candidates[0],
                    accepted=True,
                    author_id=_orcid_id(author),
                    reviewer_id=_orcid_id(reviewer) if reviewer else None,
                    comment=note,
                    predicate=decision.predicate,
                )
                if mapping is not None:
                    writer.add(mapping)
    return writer.rows_written


def export_training(session: CurationSession, path: Path | str, paraphrases: int = 1) -> int:
    """Accepted and rejected decisions as training records (JSON lines)."""
    from term2id.core.curation.training_records import records_from_decisions, write_jsonl

    records = records_from_decisions(session.training_decisions(), paraphrases=paraphrases)
    return write_jsonl(records, path)
