"""The Mapper: a term and a target ontology (or several) in, verified and ranked candidates out.

For each query every source proposes ids in each requested store; every proposed id goes through
`verification.verify_id`; obsolete ids bring their replacements in as further candidates (source
"replacement"); `ranking.rank` fuses the evidence into one confidence per candidate; the row gets
a MappingStatus:

- empty: the cell is empty or whitespace (no source is asked);
- verified: the best candidate is verified, proven (its fused score reached AUTO_ACCEPT_FLOOR:
  the term's own name; where the threshold is set below that floor, any verified name will do)
  and its confidence is at or above `threshold` (never when several terms share the name the
  term matched exactly: those are capped below it, and each notes the others: "ambiguous: also
  HP:0000729 Autistic behavior");
- narrower / broader / contradicts / unchecked / obsolete / mismatch: the best candidate's verdict
  (status_of_verdict), so the sheet says why the row was not accepted;
- needs_review: anything else that found a candidate;
- model_unavailable: a source could not answer (SourceUnavailable) and no other source found
  anything; when others did, the row keeps their candidates and only a note says what failed;
- no_match: nothing was found.

Terms longer than MAX_SCORED_CHARS are cut before scoring (the evidence says so), so a 100 kB
cell costs no more than a sentence.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from itertools import islice
from typing import Protocol

from term2id.core.candidates import (
    Candidate,
    Evidence,
    MappingResult,
    MappingStatus,
    Query,
    Verdict,
    status_of_verdict,
)
from term2id.core.curie import canonical_curie
from term2id.core.errors import SourceUnavailable, StoreError, Term2IdError
from term2id.core.mapping.calibration import (
    AUTO_ACCEPT_FLOOR,
    engine_of,
    most_likely_first,
    split_between_alike,
)
from term2id.core.mapping.lexical_index import MAX_SCORED_CHARS, index_of
from term2id.core.mapping.name_rules import interchangeable_words, vocabulary_of
from term2id.core.mapping.ranking import (
    DEFAULT_FUSION,
    TUNED_FUSION,
    FusionWeights,
    apply_curation,
    cap_shared_names,
    combined_vote,
    curated_first,
    rank,
    score_of,
    sharing_the_name,
)
from term2id.core.mapping.sources import CandidateSource, default_sources
from term2id.core.mapping.verification import (
    REWORDED_NOTE,
    ElsewhereLookup,
    Verification,
    verify_id,
)
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.store import OntologyStore
from term2id.core.progress import Progress

log = logging.getLogger(__name__)

CURATED = "curated"  # the mapping memory's source (sources/curated.py)

__all__ = ["Mapper", "default_sources"]

# Distinct (term, ontology) pairs whose results map_many keeps for repeats, least recently used
# dropped first: bounded, so a file of millions of distinct terms never holds them all (a result
# with its candidates is about 5 KB, so a full cache is about 500 MB), yet large enough for the
# ~100,000 distinct phrases of a biobank-sized column, whose rare phrases would otherwise be
# mapped again on every return.
RESULT_CACHE_SIZE = 100_000
# Each source is asked for at least this many candidates: fusion can then lift a candidate that
# one source ranks low and another high, before the list is cut to top_k.
CANDIDATE_POOL = 20
# map_many reads this many rows ahead, so that batch-friendly sources can prefetch them.
PREFETCH_CHUNK = 256


class Reranker(Protocol):
    """Reorders a row's ranked candidates (e.g. the local model choosing among them).

    Returns the new order and notes for the row; may raise SourceUnavailable, which is noted
    on the row like an unavailable source and leaves the ranking as it was.
    """

    name: str

    def rerank(
        self, query: Query, candidates: Sequence[Candidate], stores: Sequence[OntologyStore]
    ) -> tuple[list[Candidate], list[str]]: ...


class Mapper:
    """Maps terms to verified, ranked candidates from the stores of a catalog.

    The sources are given explicitly; `config.build_mapper` builds the default set.
    """

    def __init__(
        self,
        catalog: StoreCatalog,
        sources: Sequence[CandidateSource],
        threshold: float = 0.9,
        top_k: int = 10,
        rerankers: Sequence[Reranker] = (),
        calibration: bool = True,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise Term2IdError(f"the auto-accept threshold must be within [0, 1], not {threshold}")
        if top_k < 1:
            raise Term2IdError(f"top_k must be at least 1, not {top_k}")
        self.catalog = catalog
        self.sources = list(sources)
        self.threshold = threshold
        self.top_k = top_k
        self.rerankers = list(rerankers)
        # False: confidences as fused, before calibration (for fitting the curves).
        self.calibration = calibration
        # The curated source (the mapping memory) does not change what the other sources'
        # scores mean: the calibration curves of the rest still apply.
        self._engine = engine_of(s.name for s in self.sources if s.name != CURATED)
        self._elsewhere_cache: dict[str, tuple[str, str] | None] = {}
        self._fusion_cache: dict[tuple[str, ...], FusionWeights] = {}
        # A deeper pool pays off only when several sources rank by similarity and fusion can
        # combine them; with exact and fuzzy alone it would only cost time.
        rankers = sum(s.name not in ("exact", CURATED) for s in self.sources)
        self._pool = max(top_k, CANDIDATE_POOL) if rankers > 1 else top_k

    # -- stores -------------------------------------------------------------------------------

    def stores_for(self, ontology: str) -> list[OntologyStore]:
        """The stores named in `ontology` ("hp" or "hp,go"); unknown names raise StoreNotFoundError."""
        names = [n.strip() for n in ontology.split(",") if n.strip()]
        if not names:
            raise Term2IdError("no target ontology given")
        return [self.catalog.open(name) for name in dict.fromkeys(names)]

    def prepare(self, ontology: str, progress: Progress | None = None) -> None:
        """Build what the sources need for `ontology` now (indexes, embeddings), not on the first row.

        Sources with a `prepare(store, progress)` method get it called once per store.
        """
        for store in self.stores_for(ontology):
            index = index_of(store)
            # What verdicts learn from the store's names (GO: about 2.5 s), before the first row.
            interchangeable_words(index)
            vocabulary_of(index)
            for source in self.sources:
                prepare = getattr(source, "prepare", None)
                if prepare is not None:
                    try:
                        prepare(store, progress)
                    except SourceUnavailable as exc:
                        log.warning("%s", exc)  # mapping will note it on each row

    def fusion_for(self, stores: Sequence[OntologyStore]) -> FusionWeights:
        """The fusion weights for `stores`: TUNED_FUSION when a source uses a model tuned on one.

        A source says so with `tuned_for(store)` (the semantic source, when the store has its
        own tuned sentence model).
        """
        key = tuple(store.name for store in stores)
        found = self._fusion_cache.get(key)
        if found is None:
            tuned = False
            for source in self.sources:
                tuned_for = getattr(source, "tuned_for", None)
                if tuned_for is None:
                    continue
                try:
                    tuned = tuned or any(tuned_for(store) for store in stores)
                except SourceUnavailable:
                    continue  # the source will say so on each row
            found = self._fusion_cache[key] = TUNED_FUSION if tuned else DEFAULT_FUSION
        return found

    def _elsewhere(self, requested: list[str]) -> ElsewhereLookup:
        def lookup(curie: str) -> tuple[str, str] | None:
            key = f"{','.join(requested)}|{curie}"
            if key not in self._elsewhere_cache:
                self._elsewhere_cache[key] = self._find_elsewhere(curie, requested)
            return self._elsewhere_cache[key]

        return lookup

    def _find_elsewhere(self, curie: str, requested: list[str]) -> tuple[str, str] | None:
        for name in self.catalog.names():
            if name in requested:
                continue
            try:
                found = index_of(self.catalog.open(name)).resolve(curie)
            except StoreError as exc:
                log.warning("skipping store %s: %s", name, exc)
                continue
            if found is not None:
                return name, found[0].label
        return None

    # -- mapping ------------------------------------------------------------------------------

    def map(self, query: Query) -> MappingResult:
        if not query.text or not query.text.strip():
            return MappingResult(query, (), MappingStatus.EMPTY)
        stores = self.stores_for(query.ontology)
        notes: list[str] = []
        if len(query.text) > MAX_SCORED_CHARS:
            notes.append(
                f"term cut to its first {MAX_SCORED_CHARS} of {len(query.text):,} characters"
            )
        proposals: list[tuple[str, Evidence]] = []
        unavailable = False
        for source in self.sources:
            for store in stores:
                try:
                    found = source.propose(query, store, self._pool)
                except SourceUnavailable as exc:
                    unavailable = True
                    notes.append(str(exc))
                    log.warning("%s", exc)
                    break  # one note per source, not one per store
                proposals.extend((p.curie, p.evidence) for p in found)
        rejected: dict[str, str] = {}
        for source in self.sources:
            rejections = getattr(source, "rejections", None)
            if rejections is not None:
                rejected.update(rejections(query))
        candidates = self._verify_and_rank(query, stores, proposals, rejected)
        for reranker in self.rerankers:
            try:
                candidates, reranker_notes = reranker.rerank(query, candidates, stores)
            except SourceUnavailable as exc:
                unavailable = True
                notes.append(str(exc))
                continue
            notes.extend(reranker_notes)
        if self.rerankers:  # a model choosing among candidates never overrules a curator
            candidates = curated_first(candidates, rejected)
        status = self._status(candidates, unavailable)
        if candidates:
            candidates = self._say_why_reworded(candidates, status)
        return MappingResult(query, tuple(candidates), status, tuple(notes))

    def _say_why_reworded(
        self, candidates: list[Candidate], status: MappingStatus
    ) -> list[Candidate]:
        """Where the best candidate is a verified name but none of the term's own, its note says
        why it waits for a curator when it is as likely as the threshold (a tie or a shared name
        says so itself), and names the other candidates whose names say the same, whatever the
        status: two terms of the store reworded alike ("Abnormal nasal skeleton morphology",
        "Abnormal nasal bone morphology"), between which only a curator can choose."""
        best = candidates[0]
        if (
            best.verdict is not Verdict.VERIFIED
            or best.proven
            or any(
                e.source == CURATED or (e.source == "exact" and e.name_kind in ("label", "EXACT"))
                for e in best.evidence
            )
        ):
            return candidates
        mentioned = set(re.findall(r"[^\s:;]+:[^\s;]+", best.note))
        alike = [
            f"ambiguous: also {c.curie} {c.label}"
            for c in candidates[1:]
            if c.verdict is Verdict.VERIFIED and c.curie not in mentioned
        ]
        waits = status is MappingStatus.NEEDS_REVIEW and best.confidence >= self.threshold
        reworded = REWORDED_NOTE if waits else ""
        note = "; ".join(filter(None, [reworded, best.note, *alike]))
        return [replace(best, note=note), *candidates[1:]]

    def _verify_and_rank(
        self,
        query: Query,
        stores: list[OntologyStore],
        proposals: list[tuple[str, Evidence]],
        rejected: dict[str, str] | None = None,
    ) -> list:
        elsewhere = self._elsewhere([s.name for s in stores])
        weights = self.fusion_for(stores)
        checked: dict[str, Verification] = {}
        grouped: dict[str, tuple[Verification, list[Evidence]]] = {}
        curation = bool(rejected) or any(e.source == CURATED for _curie, e in proposals)
        limit = None if curation else self.top_k
        # With more candidates than can be shown, names are compared with the term later, for
        # the candidates that can still be shown (see _compared); else at once.
        lazy = limit is not None and len({curie for curie, _e in proposals}) > limit + 1
        replacing: dict[str, str] = {}  # replacement curie -> the obsolete id it replaces
        for proposed, evidence in proposals:
            verification = checked.get(proposed)
            if verification is None:
                verification = checked[proposed] = verify_id(
                    proposed, query.text, stores, elsewhere, context=query.context, compare=not lazy
                )
            if verification.curie != proposed and verification.verdict is not Verdict.UNKNOWN_ID:
                how = f"{proposed} is a secondary id of {verification.curie}"
                if how not in evidence.detail and verification.note.startswith(how):
                    evidence = replace(evidence, detail=f"{evidence.detail}; {how}".lstrip("; "))
            entry = grouped.setdefault(verification.curie, (verification, []))
            entry[1].append(evidence)
        # Obsolete ids bring their replacements, with the obsolete term's evidence behind them.
        for verification, evidence in list(grouped.values()):
            if verification.verdict is not Verdict.OBSOLETE:
                continue
            for rank_position, replacement in enumerate(verification.replaced_by, start=1):
                offered = Evidence(
                    "replacement",
                    round(combined_vote(evidence, weights), 4),
                    rank_position,
                    verification.label,
                    f"replaces obsolete {verification.curie} ({verification.label})",
                )
                current = grouped.get(replacement)
                if current is None:
                    checked_replacement = verify_id(
                        replacement,
                        query.text,
                        stores,
                        elsewhere,
                        replacement_of=verification.curie,
                        context=query.context,
                        compare=not lazy,
                    )
                    grouped[checked_replacement.curie] = (checked_replacement, [offered])
                    replacing[checked_replacement.curie] = verification.curie
                else:
                    current[1].append(offered)
        # What curators decided before is applied to the whole list, then cut: a remembered id
        # is never lost below the cut.
        entries = list(grouped.values())
        if lazy:
            entries = self._compared(query, stores, elsewhere, grouped, replacing, limit, weights)
        ranked = rank(entries, limit, weights)
        # Proven by the fused score: the term's own name. Calibration may show a reworded name as
        # likely, but accepting it is a curator's call (see _status).
        ranked = [
            replace(c, proven=True)
            if c.verdict is Verdict.VERIFIED and c.confidence >= AUTO_ACCEPT_FLOOR
            else c
            for c in ranked
        ]
        # The curves were fitted on scores fused with DEFAULT_FUSION: a tuned model's fusion keeps
        # its scores.
        if self.calibration and weights is DEFAULT_FUSION:
            # the same candidates are shown with or without curation: the fused first top_k
            ranked = most_likely_first(ranked, self._engine, self.top_k if curation else None)
        # Several terms carrying the name the term matched: none is accepted without a look.
        # (Not without calibration, for fitting the curves: they see the score before the cap.)
        if self.calibration:
            sharing = sharing_the_name(entries)
            ranked = cap_shared_names(ranked, sharing, self.threshold)
            if weights is DEFAULT_FUSION:
                shared = set(sharing) if len(sharing) > 1 else set()  # capped as such
                # only among the candidates shown: with curation the list runs on past top_k
                shown, behind = ranked[: self.top_k], ranked[self.top_k :]
                ranked = [*split_between_alike(shown, self._engine, shared), *behind]
        if curation:
            ranked = apply_curation(ranked, rejected or {}, self.threshold)[: self.top_k]
        return ranked

    def _compared(
        self,
        query: Query,
        stores: list[OntologyStore],
        elsewhere: ElsewhereLookup,
        grouped: dict[str, tuple[Verification, list[Evidence]]],
        replacing: dict[str, str],
        limit: int,
        weights: FusionWeights,
    ) -> list[tuple[Verification, list[Evidence]]]:
        """The candidates that can be among the first `limit` (and the next, which decides
        whether the best is ambiguous), their names compared with the term in full.

        Comparing names is most of a candidate's check and only ever lowers its score, so the
        score without it bounds the true one: candidates are checked best bound first until
        the next bound falls below the last score that can be shown. The result is what checking
        every candidate would rank first. Candidates the exact source found are always checked
        (they decide whether several terms share the matched name).
        """

        def full(curie: str) -> tuple[Verification, list[Evidence]]:
            verification, evidence = grouped[curie]
            if verification.verdict in (Verdict.UNKNOWN_ID, Verdict.WRONG_ONTOLOGY):
                return verification, evidence  # no names to compare
            checked = verify_id(
                verification.proposed, query.text, stores, elsewhere,
                replacement_of=replacing.get(curie), context=query.context,
            )  # fmt: skip
            return checked, evidence

        bounds = sorted(
            ((score_of(v, ev, weights), curie) for curie, (v, ev) in grouped.items()),
            key=lambda item: -item[0],
        )
        exact = [c for c, (_v, ev) in grouped.items() if any(e.source == "exact" for e in ev)]
        done = {curie: full(curie) for curie in exact}
        scores = sorted((score_of(v, ev, weights) for v, ev in done.values()), reverse=True)
        for bound, curie in bounds:
            if curie in done:
                continue
            if len(scores) > limit and scores[limit] > bound:
                break  # neither it nor any later candidate can reach the first limit + 1
            done[curie] = full(curie)
            bisect.insort(scores, score_of(*done[curie], weights), key=lambda x: -x)
        return list(done.values())

    def _prefetch(self, queries: list[Query]) -> None:
        """Let sources that work faster in batches (embeddings) see the next terms at once.

        A source may define `prefetch(queries, store, limit)`; it is called once per store with
        the non-empty queries aimed at that store and the `limit` their `propose` calls will
        pass, before those queries are mapped one by one.
        """
        batch_sources = [s for s in self.sources if hasattr(s, "prefetch")]
        if not batch_sources:
            return
        by_ontology: dict[str, list[Query]] = {}
        for query in queries:
            if query.text.strip():
                by_ontology.setdefault(query.ontology, []).append(query)
        for ontology, batch in by_ontology.items():
            try:
                stores = self.stores_for(ontology)
            except Term2IdError:
                continue  # mapping the row reports it
            for source in batch_sources:
                for store in stores:
                    try:
                        source.prefetch(batch, store, self._pool)
                    except SourceUnavailable as exc:
                        log.warning("%s", exc)  # each row will say so when the source is asked
                        break

    def _status(self, candidates: list, unavailable: bool) -> MappingStatus:
        if not candidates:
            return MappingStatus.MODEL_UNAVAILABLE if unavailable else MappingStatus.NO_MATCH
        best = candidates[0]
        if best.verdict is Verdict.VERIFIED:
            # below the floor, the curator asked for any verified name at the threshold
            proven = best.proven or self.threshold < AUTO_ACCEPT_FLOOR
            if proven and best.confidence >= self.threshold:
                return MappingStatus.VERIFIED
            return MappingStatus.NEEDS_REVIEW
        return status_of_verdict(best.verdict)

    def map_many(
        self, queries: Iterable[Query], progress: Progress | None = None
    ) -> Iterator[MappingResult]:
        """Map each query, in input order, lazily; each distinct (text, ontology) is mapped once.

        Repeats reuse the earlier result (with their own query, context included). Progress is
        reported every 100 rows; `progress.cancel()` stops the iteration with CancelledError.
        """
        total = len(queries) if hasattr(queries, "__len__") else 0  # type: ignore[arg-type]
        cache: OrderedDict[tuple[str, str, str | None], MappingResult] = OrderedDict()
        done = 0
        iterator = iter(queries)
        while chunk := list(islice(iterator, PREFETCH_CHUNK)):
            self._prefetch([q for q in chunk if result_key(q) not in cache])
            for query in chunk:
                if progress is not None and done % 100 == 0:
                    progress.update(done, total, f"{done:,} terms mapped")
                key = result_key(query)
                result = cache.get(key)
                if result is None:
                    result = self.map(query)
                    cache[key] = result
                    if len(cache) > RESULT_CACHE_SIZE:
                        cache.popitem(last=False)
                else:
                    cache.move_to_end(key)
                    if result.query != query:
                        result = replace(result, query=query)
                done += 1
                yield result
        if progress is not None:
            progress.update(done, total or done, f"{done:,} terms mapped")


def result_key(query: Query) -> tuple[str, str, str | None]:
    """Rows with the same term share a result, except ids in cells: their context is compared.

    The key `map_many` de-duplicates on; a distributed run de-duplicates on it too.
    """
    return query.text, query.ontology, query.context if holds_id(query.text) else None


def holds_id(text: str) -> bool:
    """Whether a cell holds an identifier (its row's context then decides its result)."""
    text = text.strip()
    return len(text) < 200 and canonical_curie(text) is not None
