"""Deciding once for identical terms, at the size the issue names: a 100,000-row session in which
one term fills 1,000 rows; the curator decides one and copies the decision to the other 999.

    .venv/bin/python benchmarks/decide_once.py [--rows 100000] [--same 1000] [--logged 20000]

Timed, each on a fresh session file: finding the undecided rows with the same term (the first
time builds the matching keys of every row; the window builds them in the background when it
opens a session, so a curator meets the second figure), applying the decision (one transaction, committed
with synchronous FULL), and the one undo that reverts it. `--logged` puts that many decisions in
the log first (a session well under way), since finding the undecided rows replays the log.
The terms are drawn from HPO-like phrases made up here; nothing is read from outside.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from term2id.core.curation.decision_log import Action, Curator
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput

WORDS = [
    "abnormal", "absent", "brain", "cardiac", "delayed", "dental", "ear", "eye", "facial",
    "global", "hand", "heart", "kidney", "large", "liver", "long", "low", "muscle", "short",
    "small", "speech", "skin", "thin", "weak", "wide",
]  # fmt: skip


def make_terms(rows: int, same: int, seed: int) -> tuple[list[str], list[int]]:
    rng = random.Random(seed)
    terms = [f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i}" for i in range(rows)]
    positions = sorted(rng.sample(range(rows), same))
    for at in positions:
        terms[at] = rng.choice(["Hypotonia", "hypotonia", "HYPOTONIA", "Hypotonia."])
    return terms, positions


def one_run(folder: Path, terms: list[str], positions: list[int], logged: int) -> dict:
    path = folder / f"bench-{time.monotonic_ns()}.t2id"
    source = SessionInput(
        header=("term",), rows=[[t] for t in terms], term_column="term", default_ontology="hp"
    )
    curator = Curator("Bench Curator")
    CurationSession.create(path, source).close()
    with CurationSession.open(path) as session:
        others = [r for r in range(len(terms)) if r not in set(positions)][:logged]
        session.decide_many(
            [(r, Action.SKIP, None, None, {"shown": []}, None) for r in others], curator
        )
    with CurationSession.open(path) as session:  # opened afresh: no keys built yet
        first = session.decide(positions[0], Action.ACCEPT, curator, "HP:0001252", "Hypotonia")
        t0 = time.perf_counter()
        rows = session.undecided_same_term_rows(first.row)
        t1 = time.perf_counter()
        made = session.apply_to_same_term(first, curator, rows)
        t2 = time.perf_counter()
        session.undo([d.id for d in made], curator)
        t3 = time.perf_counter()
        t4 = time.perf_counter()
        left = session.undecided_same_term_rows(first.row)
        t5 = time.perf_counter()
    path.unlink()
    return {
        "found": len(rows),
        "applied": len(made),
        "restored": len(left),
        "find_s": t1 - t0,
        "apply_s": t2 - t1,
        "undo_s": t3 - t2,
        "find_again_s": t5 - t4,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--same", type=int, default=1_000)
    parser.add_argument("--logged", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    terms, positions = make_terms(args.rows, args.same, seed=7)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            runs.append(one_run(Path(tmp), terms, positions, args.logged))
    print(
        f"session: {args.rows:,} rows, {args.same:,} of them one term (4 spellings), "
        f"{args.logged:,} decisions logged before; {args.repeat} runs, medians"
    )
    last = runs[-1]
    print(
        f"rows found with the same term: {last['found']:,} (expected {args.same - 1:,}); "
        f"decided: {last['applied']:,}; undecided again after one undo: {last['restored']:,}"
    )
    for what, key in (
        ("find the undecided rows (builds every row's key)", "find_s"),
        ("apply the decision (one transaction)", "apply_s"),
        ("undo it (one transaction)", "undo_s"),
        ("find them again (keys built on the first D)", "find_again_s"),
    ):
        print(f"  {what:<52} {statistics.median(r[key] for r in runs) * 1000:8.1f} ms")
    cold = statistics.median(r["find_s"] + r["apply_s"] for r in runs)
    warm = statistics.median(r["find_again_s"] + r["apply_s"] for r in runs)
    print(f"  {'D, find + apply, keys not built yet':<52} {cold * 1000:8.1f} ms")
    print(
        f"  {'D, find + apply, keys built (the window builds them':<52} {warm * 1000:8.1f} ms\n"
        "   in the background when it opens a session)"
    )


if __name__ == "__main__":
    main()
