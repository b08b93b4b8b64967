"""The mapping memory on a real sheet: map it, decide every row, map a fresh copy.

The sheet is real mentions of HPO terms (../shared/benchmarks/external/hpo_*.tsv, every row,
repeats included), mapped with exact+fuzzy against HPO. A scripted curator decides every row
of the first session by its gold id: accept when the best candidate is it, choose it when it is
among the candidates; when no candidate is it, every other such row is rejected (no candidate
is right: every id shown is rejected for the term) and the rest are mapped by hand (manual), as
is a row whose gold id the store lacks. The memory takes the decisions in from
the session's log, as the window does. A fresh copy of the sheet is then mapped with the memory.

Printed: rows; decided rows whose decided id comes back first (all are expected, except that
when one term was decided differently in two rows only the latest decision can come first);
rejected (term, id) pairs, and how many of those proposed again stay below the auto-accept
threshold (all are expected); mapping time of the fresh copy with and without the memory
(exact+fuzzy, best of --repeats, alternating), the lookups' own time, and the ratios.

The memory is written in a temporary data folder whose `stores` link to the given one: the
benchmark never touches a real memory.

    .venv/bin/python benchmarks/memory.py [--data-dir DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from term2id.core.candidates import Query
from term2id.core.curation.decision_log import Action, Curator, NewDecision
from term2id.core.curation.memory_sync import catch_up
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput
from term2id.core.mapping.config import MappingConfig, build_mapper
from term2id.core.mapping.memory import MappingMemory, recall_of, store_spec, term_key
from term2id.core.ontology.catalog import StoreCatalog

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the clone (or beside the folder of worktrees holding it).
SHARED = (
    next(
        (p / "shared" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
        ROOT.parent / "shared",
    )
    / "benchmarks"
    / "external"
)
SETS = ("hpo_id68.tsv", "hpo_genereviews.tsv", "hpo_omim_val.tsv")
CURATOR = Curator("Benchmark Curator", "0000-0002-1825-0097")


def read_sheet() -> list[tuple[str, str]]:
    rows = []
    for name in SETS:
        with (SHARED / name).open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            rows += [(r["term"], r["expected_curie"]) for r in reader if r["term"].strip()]
    return rows


def new_session(path: Path, rows: list[tuple[str, str]]) -> CurationSession:
    return CurationSession.create(
        path,
        SessionInput(
            header=("term", "expected"), rows=[list(r) for r in rows], term_column="term",
            default_ontology="hp",
        ),
    )  # fmt: skip


def timed_map(mapper, queries: list[Query]) -> tuple[float, list]:  # noqa: ANN001
    started = time.perf_counter()
    results = list(mapper.map_many(queries))
    return time.perf_counter() - started, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "term2id-memory-benchmark"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sheet = read_sheet()
    real = StoreCatalog(args.data_dir)
    store = real.open("hp")
    folder = Path(tempfile.mkdtemp(prefix="term2id-memory-bench-"))
    (folder / "data").mkdir()
    (folder / "data" / "stores").symlink_to(real.stores_dir.resolve())
    catalog = StoreCatalog(folder / "data")
    week1 = build_mapper(MappingConfig(sources=("exact", "fuzzy"), memory=True), catalog)
    week1.prepare("hp")
    threshold = week1.threshold

    # Week 1: map, decide every row, the memory catches up from the log.
    first = new_session(folder / "week1.t2id", sheet)
    queries = first.queries()
    _, results = timed_map(week1, queries)
    first.record_results(enumerate(results), {"hp": store.release})
    drafts = []
    kinds = dict.fromkeys(("accept", "choose", "manual", "reject"), 0)
    for row, ((_term, gold), result) in enumerate(zip(sheet, results, strict=True)):
        found = store.term(gold)
        gold_id = found.curie if found is not None else None
        ids = [c.curie for c in result.candidates]
        shown = {"shown": [[c.curie, c.label] for c in result.candidates]}
        if gold_id is not None and ids[:1] == [gold_id]:
            drafts.append(NewDecision(row, Action.ACCEPT, gold_id, found.label, shown))
            kinds["accept"] += 1
        elif gold_id is not None and gold_id in ids:
            drafts.append(NewDecision(row, Action.CHOOSE, gold_id, found.label, shown))
            kinds["choose"] += 1
        elif ids and (gold_id is None or kinds["manual"] >= kinds["reject"]):
            drafts.append(NewDecision(row, Action.REJECT, None, None, shown))
            kinds["reject"] += 1
        else:
            drafts.append(NewDecision(row, Action.MANUAL, gold_id, found.label, shown))
            kinds["manual"] += 1
    first.decide_many(drafts, CURATOR)
    memory = MappingMemory.in_folder(catalog.data_dir)
    started = time.perf_counter()
    catch_up(memory, first)
    catch_up_seconds = time.perf_counter() - started

    # What the memory must say: per term key, the latest word on each id.
    by_key: dict[str, list] = {}
    for entry in memory.entries():
        by_key.setdefault(entry.key, []).append(entry)
    latest = {key: recall_of(entries) for key, entries in by_key.items()}

    # Week 2: a fresh copy of the sheet, mapped with and without the memory.
    second = new_session(folder / "week2.t2id", sheet)
    fresh = second.queries()
    plain = build_mapper(MappingConfig(sources=("exact", "fuzzy")), catalog)
    remembering = build_mapper(MappingConfig(sources=("exact", "fuzzy"), memory=True), catalog)
    timed_map(plain, fresh)  # both warm (the verification caches) before anything is timed
    timed_map(remembering, fresh)
    with_times, without_times = [], []
    for repeat in range(args.repeats):
        for mapper in (plain, remembering) if repeat % 2 == 0 else (remembering, plain):
            seconds, results = timed_map(mapper, fresh)
            if mapper is plain:
                without_times.append(seconds)
            else:
                with_times.append(seconds)
                with_memory = results
    distinct = list(dict.fromkeys((q.text, q.ontology) for q in fresh))
    lookup_times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for text, ontology in distinct:
            memory.lookup(text, ontology)
        lookup_times.append(time.perf_counter() - started)

    decided = back_first = conflicting = conflicting_first = 0
    rejected_pairs: set[tuple[str, str]] = set()
    proposed_again = below = 0
    for row, draft in enumerate(drafts):
        result = with_memory[row]
        key = term_key(sheet[row][0])
        recall = latest[key]
        if draft.action in (Action.ACCEPT, Action.CHOOSE, Action.MANUAL):
            decided += 1
            first_id = result.best.curie if result.best else None
            if recall.accepted[0][0] == draft.curie:
                back_first += first_id == draft.curie
            else:  # the same term decided otherwise in a later row: that one comes first
                conflicting += 1
                conflicting_first += first_id == recall.accepted[0][0]
        for curie in recall.rejected:
            if (key, curie) in rejected_pairs:
                continue
            rejected_pairs.add((key, curie))
            found = next((c for c in result.candidates if c.curie == curie), None)
            if found is not None:
                proposed_again += 1
                below += found.confidence < threshold
    spec = store_spec("hp")
    assert all(e.spec == spec for e in memory.entries())

    without_s, with_s, lookup_s = min(without_times), min(with_times), min(lookup_times)
    print(f"sheet: {len(sheet):,} rows ({len(distinct):,} distinct terms) of real HPO mentions")
    print(f"store: hp {store.release}; sources exact+fuzzy; threshold {threshold}")
    print(
        "decisions: "
        + ", ".join(f"{kind} {n:,}" for kind, n in kinds.items())
        + f"; memory entries {len(memory):,} (taken in from the log in {catch_up_seconds:.2f} s)"
    )
    print(
        f"decided rows back with the decided id first: {back_first:,} of "
        f"{decided - conflicting:,}"
        + (
            f" (+ {conflicting:,} rows whose term was decided otherwise in a later row: the "
            f"later id first in {conflicting_first:,})"
            if conflicting
            else ""
        )
    )
    print(
        f"rejected (term, id) pairs: {len(rejected_pairs):,}; proposed again {proposed_again:,}, "
        f"below the auto-accept threshold {below:,} of {proposed_again:,}"
    )
    print(
        f"mapping the fresh copy (best of {args.repeats}): without memory {without_s:.3f} s, "
        f"with memory {with_s:.3f} s, ratio {with_s / without_s:.3f} "
        f"({(with_s - without_s) / without_s:+.1%})"
    )
    print(
        f"memory lookups alone: {lookup_s * 1000:.1f} ms for {len(distinct):,} terms "
        f"({lookup_s / len(distinct) * 1e6:.0f} µs each) = {lookup_s / without_s:.1%} of the "
        "mapping time without memory"
    )
    first.close()
    second.close()
    memory.close()


if __name__ == "__main__":
    main()
