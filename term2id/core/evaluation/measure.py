"""Evaluation: how well the mapper finds known answers, as a curator would measure it.

Two ways in:

- a gold file (TSV or CSV with columns `term` and `expected_curie`), mapped against a store;
- held-out synonyms: N synonyms of a store, sampled with a seed, removed from a temporary copy of
  the store and then looked up in it. The copy keeps every other name of each term, so this
  measures how the sources generalise to phrasings the dictionary does not contain, with no gold
  file needed.

The report gives top-1 and top-5 accuracy, mean reciprocal rank, coverage (rows with any
candidate), the precision of what would be accepted automatically (status verified, i.e. verified
and confidence at or above the mapper's threshold), terms per second, and the worst misses: the
wrong answers given with the highest confidence, which are the ones a threshold lets through.

It also says what the verdict and the confidence are worth: `verified_precision` is the share of
rows whose best candidate is verified (whatever its confidence) where that candidate is right,
and the reliability table puts each row's best candidate in a confidence bin of 0.1 with the share
of them that is right; the expected calibration error (ECE) is the gap between confidence and that
share, averaged over the bins weighted by their rows.
"""

from __future__ import annotations

import csv
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from term2id.core.candidates import MappingStatus, Query, Verdict
from term2id.core.curie import canonical_curie
from term2id.core.errors import InputFileError, Term2IdError
from term2id.core.mapping.lexical_index import index_of
from term2id.core.mapping.mapper import Mapper
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.store import OntologyStore, build_store, releases_of
from term2id.core.ontology.terms import ParsedOntology, TermRecord
from term2id.core.progress import Progress

log = logging.getLogger(__name__)

GOLD_COLUMNS = ("term", "expected_curie")
WORST_MISSES = 10
RELIABILITY_BINS = 10  # confidence bins of 0.1


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """Rows whose best candidate's confidence is in [low, high), and how many of them are right."""

    low: float
    high: float
    rows: int
    right: int
    mean_confidence: float  # of those rows; 0.0 when there are none

    @property
    def share_right(self) -> float | None:
        return round(self.right / self.rows, 4) if self.rows else None


def reliability(pairs: Sequence[tuple[float, bool]]) -> tuple[tuple[ReliabilityBin, ...], float]:
    """The reliability table of (confidence, right) pairs and its expected calibration error."""
    counts = [[0, 0, 0.0] for _ in range(RELIABILITY_BINS)]
    for confidence, right in pairs:
        at = min(RELIABILITY_BINS - 1, max(0, int(confidence * RELIABILITY_BINS)))
        counts[at][0] += 1
        counts[at][1] += right
        counts[at][2] += confidence
    bins = tuple(
        ReliabilityBin(
            round(i / RELIABILITY_BINS, 1), round((i + 1) / RELIABILITY_BINS, 1), rows, right,
            round(total / rows, 4) if rows else 0.0,
        )
        for i, (rows, right, total) in enumerate(counts)
    )  # fmt: skip
    n = sum(b.rows for b in bins)
    ece = sum(b.rows * abs(b.mean_confidence - b.right / b.rows) for b in bins if b.rows)
    return bins, round(ece / n, 4) if n else 0.0


@dataclass(frozen=True, slots=True)
class GoldItem:
    term: str
    expected_curie: str
    line: int = 0  # line in the gold file; 0 for generated items


@dataclass(frozen=True, slots=True)
class Miss:
    term: str
    expected_curie: str
    expected_label: str | None
    found_curie: str | None
    found_label: str | None
    confidence: float
    rank: int | None  # where the expected id came, if among the candidates


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    ontology: str
    release: str
    sources: tuple[str, ...]
    threshold: float
    n: int
    top1: float
    top5: float
    mrr: float
    coverage: float
    accepted: int  # rows that would be accepted automatically (status verified)
    precision_at_threshold: float | None  # None when nothing was accepted
    recall_at_threshold: float  # correct and accepted, over all rows
    terms_per_s: float
    seconds: float  # mapping time
    setup_seconds: float  # indexes and embeddings built before mapping
    expected_unknown: int  # gold ids the store does not know (they can never be found)
    expected_obsolete: int  # gold ids obsolete in this release (their replacements count as right)
    top1_known: float  # top-1 over the rows whose expected id the store knows
    top5_known: float
    worst_misses: tuple[Miss, ...] = field(default=())
    verified_rows: int = 0  # rows whose best candidate's verdict is verified
    verified_right: int = 0  # of those, rows whose best candidate is right
    verified_precision: float | None = None  # verified_right / verified_rows; None when none
    reliability: tuple[ReliabilityBin, ...] = field(default=())  # rows with a candidate
    ece: float = 0.0  # expected calibration error of the best candidates' confidence

    def to_dict(self) -> dict:
        data = asdict(self)
        data["reliability"] = [
            {"bin": f"{b.low:.1f}-{b.high:.1f}", "rows": b.rows, "share_right": b.share_right,
             "mean_confidence": b.mean_confidence}
            for b in self.reliability
        ]  # fmt: skip
        return data


def read_gold(path: Path | str) -> list[GoldItem]:
    """Read a gold file: TSV or CSV (sniffed), with `term` and `expected_curie` columns."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such gold file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputFileError(
            path, "the gold file is empty; expected a header with columns term and expected_curie"
        )
    header_line = lines[0]
    delimiter = (
        "\t"
        if "\t" in header_line
        else ("," if "," in header_line else ";" if ";" in header_line else "\t")
    )
    reader = csv.reader(lines, delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in GOLD_COLUMNS if c not in header]
    if missing:
        raise InputFileError(
            path,
            f"missing column(s) {', '.join(missing)}; the gold file needs columns "
            f"{', '.join(GOLD_COLUMNS)}, found: {', '.join(h for h in header if h) or 'none'}",
            1,
        )
    term_at, expected_at = header.index("term"), header.index("expected_curie")
    items = []
    for line_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(term_at, expected_at):
            raise InputFileError(
                path,
                f"expected at least {max(term_at, expected_at) + 1} columns, found {len(row)}",
                line_number,
            )
        expected = row[expected_at].strip()
        if not expected:
            raise InputFileError(path, "no expected_curie on this row", line_number)
        items.append(GoldItem(row[term_at], canonical_curie(expected) or expected, line_number))
    return items


def evaluate(
    mapper: Mapper, gold: Sequence[GoldItem], ontology: str, progress: Progress | None = None
) -> EvaluationReport:
    """Map every gold term against `ontology` and score the answers.

    Never with the mapping memory: gold terms curators decided before would leak their answers
    into the score.
    """
    if any(source.name == "curated" for source in mapper.sources):
        raise Term2IdError(
            "an evaluation never uses the mapping memory (the curated source): answers decided "
            "before would leak into the score"
        )
    started = time.perf_counter()
    mapper.prepare(ontology, progress)
    stores = mapper.stores_for(ontology)
    setup_seconds = time.perf_counter() - started
    indexes = [index_of(s) for s in stores]

    def resolve(curie: str) -> tuple[str, str | None, tuple[str, ...]] | None:
        """The expected id's primary id, label, and replacements if it is obsolete."""
        for index in indexes:
            found = index.resolve(curie)
            if found is not None:
                term = found[0]
                return term.curie, term.label, term.replaced_by if term.obsolete else ()
        return None

    queries = [Query(item.term, ontology) for item in gold]
    started = time.perf_counter()
    results = list(mapper.map_many(queries, progress))
    seconds = time.perf_counter() - started

    hits1 = hits5 = known = known1 = known5 = covered = accepted = accepted_right = 0
    expected_obsolete = verified = verified_right = 0
    calibration: list[tuple[float, bool]] = []
    reciprocal = 0.0
    misses: list[Miss] = []
    for item, result in zip(gold, results, strict=True):
        resolved = resolve(item.expected_curie)
        expected, expected_label, replacements = resolved or (item.expected_curie, None, ())
        if replacements:
            expected_obsolete += 1
        # A gold id made obsolete since the gold was written: its replacement is right too.
        right = {expected, *replacements}
        ids = [c.curie for c in result.candidates]
        rank = next((i for i, curie in enumerate(ids, start=1) if curie in right), None)
        if result.candidates:
            covered += 1
        if rank is not None:
            reciprocal += 1 / rank
        hit1, hit5 = rank == 1, rank is not None and rank <= 5
        hits1 += hit1
        hits5 += hit5
        if resolved is not None:
            known += 1
            known1 += hit1
            known5 += hit5
        if result.status is MappingStatus.VERIFIED:
            accepted += 1
            accepted_right += hit1
        if result.best is not None:
            calibration.append((result.best.confidence, hit1))
            if result.best.verdict is Verdict.VERIFIED:
                verified += 1
                verified_right += hit1
        if not hit1:
            best = result.best
            misses.append(
                Miss(
                    item.term[:200], expected, expected_label,
                    best.curie if best else None, best.label if best else None,
                    best.confidence if best else 0.0, rank,
                )
            )  # fmt: skip
    n = len(gold)
    misses.sort(key=lambda m: -m.confidence)
    bins, ece = reliability(calibration)
    return EvaluationReport(
        ontology=ontology,
        release=releases_of(stores),
        sources=tuple(s.name for s in mapper.sources),
        threshold=mapper.threshold,
        n=n,
        top1=_ratio(hits1, n),
        top5=_ratio(hits5, n),
        mrr=round(reciprocal / n, 4) if n else 0.0,
        coverage=_ratio(covered, n),
        accepted=accepted,
        precision_at_threshold=_ratio(accepted_right, accepted) if accepted else None,
        recall_at_threshold=_ratio(accepted_right, n),
        terms_per_s=round(n / seconds, 1) if seconds > 0 else 0.0,
        seconds=round(seconds, 3),
        setup_seconds=round(setup_seconds, 3),
        expected_unknown=n - known,
        expected_obsolete=expected_obsolete,
        top1_known=_ratio(known1, known),
        top5_known=_ratio(known5, known),
        worst_misses=tuple(misses[:WORST_MISSES]),
        verified_rows=verified,
        verified_right=verified_right,
        verified_precision=_ratio(verified_right, verified) if verified else None,
        reliability=bins,
        ece=ece,
    )


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


# -- held-out synonyms ------------------------------------------------------------------------


def sample_synonyms(store: OntologyStore, n: int, seed: int) -> list[tuple[str, str]]:
    """`n` (curie, synonym) pairs of live terms, sampled reproducibly with `seed`."""
    pool = [
        (term.curie, synonym.text)
        for term in store.terms(include_obsolete=False)
        for synonym in dict.fromkeys(term.synonyms)
        if synonym.text.strip()
    ]
    pool = list(dict.fromkeys(pool))
    if n > len(pool):
        raise Term2IdError(
            f"cannot hold out {n} synonyms: {store.name} has only {len(pool)} synonyms of live terms"
        )
    return random.Random(seed).sample(pool, n)


def hold_out_synonyms(
    store: OntologyStore, n: int, seed: int, folder: Path | str, progress: Progress | None = None
) -> tuple[StoreCatalog, list[GoldItem]]:
    """A catalog in `folder` holding a copy of `store` without `n` sampled synonyms, and the gold.

    The copy has the same name as `store`, so a Mapper over the returned catalog maps against it.
    Sources that keep per-store caches keyed by text (the semantic source's embeddings) may copy
    them from `store` into the new store.
    """
    held = sample_synonyms(store, n, seed)
    removed: dict[str, set[str]] = {}
    for curie, text in held:
        removed.setdefault(curie, set()).add(text)
    records, popularity = [], {}
    for term in store.terms(include_obsolete=True):
        dropped = removed.get(term.curie, set())
        records.append(
            TermRecord(
                curie=term.curie, label=term.label, definition=term.definition,
                namespace=term.namespace, obsolete=term.obsolete,
                replaced_by=list(term.replaced_by), consider=list(term.consider),
                alt_ids=list(term.alt_ids),
                synonyms=[(s.text, s.scope, s.type) for s in term.synonyms if s.text not in dropped],
                parents=list(term.parents), xrefs=list(term.xrefs),
            )
        )  # fmt: skip
        if term.popularity is not None:
            popularity[term.curie] = term.popularity
    info = store.info
    parsed = ParsedOntology(
        records=records,
        source_path=Path(info.source_path),
        source_format=info.source_format,
        sha256=info.source_sha256,
        ontology_id=info.ontology_id,
        title=info.title,
        data_version=f"{store.release} without {n} held-out synonyms (seed {seed})",
    )
    catalog = StoreCatalog(folder)
    build_store(
        parsed,
        catalog.path_of(store.name),
        store.name,
        popularity,
        info.popularity_source,
        progress,
    )
    copied = catalog.open(store.name)
    copy = getattr(copied, "copy_embeddings_from", None)
    if copy is not None:
        copy(store)
        # Definitions are embedded too (the semantic source); numpy only, no model is loaded.
        from term2id.core.mapping.sources.semantic import copy_definition_vectors

        copy_definition_vectors(store, copied)
    gold = [GoldItem(text, curie) for curie, text in held]
    return catalog, gold


# Training tasks whose prompts carry a term's synonyms (term2id.training.datasets builds them).
SYNONYM_TASKS = frozenset({"synonym2id", "choose"})


def held_out_synonyms_seen(
    model_file: Path, manifest: Mapping[str, Any], store_name: str
) -> tuple[str, bool]:
    """What a model's training manifest says about evaluating it on held-out synonyms of
    `store_name`: (the message, whether to refuse).

    Training datasets are drawn from a whole store, never from a held-out copy: a model trained on
    the synonyms of this very store has seen the ones held out, and would only recite them.
    """
    if not manifest:
        return (
            f"{model_file} has no training manifest ({model_file.name}.json), so what it was "
            f"trained on is unknown: if that included {store_name}'s synonyms, it has seen the "
            "held-out ones and these figures overstate it",
            False,
        )
    config = manifest.get("config")
    data = config.get("data") if isinstance(config, Mapping) else None
    dataset = data.get("train_file") if isinstance(data, Mapping) else None
    trained_on = manifest.get("ontology")
    release = manifest.get("release")
    tasks = [str(t) for t in manifest.get("tasks") or ()]
    named = (
        f"{dataset or 'a dataset'} ({trained_on or 'store not recorded'}"
        f"{f' release {release}' if release else ''}; tasks {', '.join(tasks) or 'not recorded'})"
    )
    if trained_on == store_name and SYNONYM_TASKS & set(tasks):
        return (
            f"{model_file} was trained on {named}, drawn from the whole {store_name} store with "
            "its synonyms: it has seen the synonyms --hold-out-synonyms would hold out. Evaluate "
            "it with a gold file of terms kept out of its training data instead",
            True,
        )
    return (
        f"{model_file} was trained on {named}, drawn from a whole store and not from the held-out "
        "copy: the terms the held-out synonyms name were in its training data",
        False,
    )
