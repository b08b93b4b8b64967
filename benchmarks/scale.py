"""`term2id map --engine dask` against plain `term2id map`: speed, memory, identical results.

Two parts, each a set of separate `term2id` processes on the same input (wall time over the
whole process, start-up, cluster start and preparation included; peak memory from os.wait4 for
plain map, and as each worker and the driver report it for the engine):

- semantic: `--semantic-distinct` distinct phrases (each on two rows) mapped with the default
  sources (exact, fuzzy, semantic): plain map (its sentence model on every core), the engine
  with 1 worker and with 2 workers (OMP_NUM_THREADS threads each, default 1), and the ratios;
  the per-worker rate (distinct terms/s) is what docs/scale.md sizes clusters with;
- rows: `--rows` generated rows drawn with Zipf-like repeats from `--distinct` phrases, mapped
  with exact+fuzzy; and `--rows` rows drawn from the `--semantic-distinct` subset, mapped with
  the default sources: plain map against the engine with 2 workers.

Every engine run is compared with plain map's output row by row: the same ids and statuses in
the same order, confidences within 1e-4. The phrases are HPO labels and synonyms (the embedded
store) and, where ../shared is present, mentions people wrote (benchmarks/external), in a few
spellings.

    .venv/bin/python benchmarks/scale.py [--rows 10000000] [--distinct 100000]
        [--semantic-distinct 10000] [--parts semantic,rows] [--data-dir DIR] [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from term2id.core.ontology.catalog import StoreCatalog

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "benchmarks" / "external"


def phrases(catalog: StoreCatalog, count: int, seed: int) -> list[str]:
    """`count` distinct phrases: real mentions first, then HPO names, in a few spellings."""
    names: list[str] = []
    for path in sorted(SHARED.glob("hpo_*.tsv")) if SHARED.is_dir() else []:
        with path.open(encoding="utf-8", newline="") as handle:
            names += [row["term"] for row in csv.DictReader(handle, delimiter="\t")]
    store = catalog.open("hp")
    lexicon: list[str] = []
    for term in store.terms(include_obsolete=False):
        lexicon.append(term.label)
        lexicon.extend(s.text for s in term.synonyms)
    rng = random.Random(seed)
    rng.shuffle(lexicon)
    pool: list[str] = []
    seen: set[str] = set()
    for spelling in (lambda n: n, str.lower, lambda n: n + "s", str.upper, lambda n: "no " + n):
        for name in names + lexicon:
            variant = spelling(name).strip()
            if variant and variant not in seen:
                seen.add(variant)
                pool.append(variant)
            if len(pool) == count:
                rng.shuffle(pool)
                return pool
    raise SystemExit(f"only {len(pool):,} distinct phrases to draw from, not {count:,}")


def write_rows(path: Path, pool: list[str], rows: int, seed: int, zipf: bool = True) -> int:
    """A CSV of `rows` rows (patient_id, term, note) drawn from `pool`; its distinct terms."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(pool))] if zipf else None
    distinct: set[str] = set()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["patient_id", "term", "note"])
        chunk = 100_000
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            # Every phrase appears at least once when rows allow (the first pass in order).
            first = pool[start : start + n] if start < len(pool) else []
            terms = first + rng.choices(pool, weights, k=n - len(first))
            distinct.update(terms)
            writer.writerows(
                (f"P{(start + i) // 7:07d}", term, f"visit {(start + i) % 5}")
                for i, term in enumerate(terms)
            )
    return len(distinct)


def run(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall time, peak RSS (KiB, the process itself) and stdout of one command."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, stdout=out, stderr=err, text=True, env={**os.environ, **(env or {})}
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{' '.join(command[2:5])} failed: {err.read()[-3000:]}")
        return wall, usage.ru_maxrss, out.read()


def plain(
    source: Path, output: Path, data_dir: Path, sources: str | None
) -> tuple[float, int, str]:
    command = [sys.executable, "-m", "term2id.cli", "map", str(source), "--column", "term",
               "--ontology", "hp", "-o", str(output), "--data-dir", str(data_dir)]  # fmt: skip
    if sources:
        command += ["--sources", sources]
    return run(command)


def engine(
    source: Path, output: Path, data_dir: Path, sources: str | None, workers: int, threads: int
) -> tuple[float, int, str]:
    command = [sys.executable, "-m", "term2id.cli", "map", str(source), "--column", "term",
               "--ontology", "hp", "-o", str(output), "--data-dir", str(data_dir),
               "--engine", "dask", "--workers", str(workers)]  # fmt: skip
    if sources:
        command += ["--sources", sources]
    return run(command, {"OMP_NUM_THREADS": str(threads)})


RATES: dict[str, float] = {}  # per worker (one core): what the sizing uses


def steps(stdout: str) -> dict[str, float]:
    found = re.search(r"^steps: (.*)$", stdout, re.MULTILINE)
    if not found:
        return {}
    return {
        name.strip(): float(seconds)
        for name, seconds in re.findall(r"([a-z ]+?) ([0-9.]+) s(?:,|$)", found.group(1).strip())
    }


def worker_peaks(stdout: str) -> str:
    found = re.search(r"peak memory: workers ([^;]+);", stdout)
    return found.group(1) if found else "?"


def compare(plain_csv: Path, engine_folder: Path) -> str:
    """'identical' or what differs: ids, statuses, order, confidences within 1e-4.

    In a child process: reading millions of rows here would raise this process's peak memory,
    which Linux carries over to every process it starts later (ru_maxrss survives fork and
    exec), so the next runs' peaks would report it instead of their own.
    """
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_compare, (plain_csv, engine_folder))


def _compare(plain_csv: Path, engine_folder: Path) -> str:
    want = pd.read_csv(plain_csv, dtype=str, keep_default_na=False, na_filter=False)
    parts = sorted(engine_folder.glob("part-*.parquet"))
    got = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    if len(got) != len(want):
        return f"DIFFERENT row counts: {len(got):,} vs {len(want):,}"
    problems = []
    for name in ("patient_id", "term", "mapped_id", "status"):
        differ = int((got[name].astype(str).to_numpy() != want[name].to_numpy()).sum())
        if differ:
            problems.append(f"{name} differs on {differ:,} rows")
    confidence = pd.to_numeric(want["confidence"], errors="coerce")  # a blank cell: NaN
    gap = (got["confidence"].astype(float) - confidence).abs()
    both_missing = got["confidence"].isna() & confidence.isna()
    far = int(((gap > 1e-4) | (gap.isna() & ~both_missing)).sum())
    if far:
        problems.append(f"confidence differs by more than 1e-4 on {far:,} rows")
    differing = (got["mapped_id"].astype(str).to_numpy() != want["mapped_id"].to_numpy()) | (
        (gap > 1e-4).to_numpy()
    )
    for at in list(differing.nonzero()[0])[:3]:  # what a reader needs to judge the difference
        problems.append(
            f"e.g. {want['term'][at]!r}: plain {want['mapped_id'][at]} {want['confidence'][at]}"
            f" {want['status'][at]}, engine {got['mapped_id'][at]} {got['confidence'][at]}"
            f" {got['status'][at]}"
        )
    return (
        "; ".join(problems) or f"identical ({len(got):,} rows: ids, statuses, order, confidences)"
    )


def report(name: str, wall: float, terms: int, rows: int, stdout: str, peak: str) -> None:
    print(
        f"  {name:<28} wall {wall:7.1f} s  {terms / wall:8,.1f} distinct terms/s  "
        f"{rows / wall:10,.0f} rows/s  peak {peak}"
    )
    for line in stdout.strip().splitlines():
        if line.startswith(("mapped ", "peak memory", "this run", "steps")):
            print(f"      term2id: {line}")


def semantic_part(args: argparse.Namespace, work: Path, data_dir: Path, pool: list[str]) -> None:
    subset = pool[: args.semantic_distinct]
    source = work / "semantic.csv"
    rows = 2 * len(subset)
    distinct = write_rows(source, subset, rows, args.seed, zipf=False)
    print(f"\n## semantic: {distinct:,} distinct terms on {rows:,} rows, default sources")
    wall_plain, peak, out = plain(source, work / "semantic-plain.csv", data_dir, None)
    report("plain map (2 threads)", wall_plain, distinct, rows, out, f"{peak / 1024:,.0f} MiB")
    walls = {}
    for workers in (1, 2):
        folder = work / f"semantic-engine-{workers}"
        wall, _, out = engine(source, folder, data_dir, None, workers, args.threads)
        walls[workers] = wall
        took = steps(out)
        if workers == 1 and took.get("mapping"):
            RATES["semantic terms/s"] = distinct / took["mapping"]
            print(
                f"      per worker: {RATES['semantic terms/s']:,.1f} distinct terms/s (mapping step)"
            )
        report(
            f"engine {workers} worker(s) x {args.threads} thr", wall, distinct, rows, out,
            f"workers {worker_peaks(out)}",
        )  # fmt: skip
        print(f"      vs plain map: {compare(work / 'semantic-plain.csv', folder)}")
    print(
        f"  2 workers / 1 worker: {walls[1] / walls[2]:.2f}x; 2 workers / plain map: "
        f"{wall_plain / walls[2]:.2f}x; per-worker rate {distinct / walls[1]:,.1f} distinct "
        f"terms/s (whole run, {args.threads} thread)"
    )


def rows_part(args: argparse.Namespace, work: Path, data_dir: Path, pool: list[str]) -> None:
    for name, phrases_used, sources in (
        ("exact+fuzzy", pool[: args.distinct], "exact,fuzzy"),
        ("default sources", pool[: args.rows_semantic_distinct or args.semantic_distinct], None),
    ):
        source = work / "rows.csv"
        started = time.perf_counter()
        distinct = write_rows(source, phrases_used, args.rows, args.seed)
        print(
            f"\n## {args.rows:,} rows, {distinct:,} distinct terms, {name} "
            f"(input {source.stat().st_size / 1e6:,.0f} MB, written in "
            f"{time.perf_counter() - started:.0f} s)"
        )
        plain_csv = work / "rows-plain.csv"
        wall_plain, peak, out = plain(source, plain_csv, data_dir, sources)
        report("plain map", wall_plain, distinct, args.rows, out, f"{peak / 1024:,.0f} MiB")
        folder = work / "rows-engine"
        wall, _, out = engine(source, folder, data_dir, sources, 2, args.threads)
        report(
            f"engine 2 workers x {args.threads} thr", wall, distinct, args.rows, out,
            f"workers {worker_peaks(out)}",
        )  # fmt: skip
        print(f"      vs plain map: {compare(plain_csv, folder)}")
        print(f"  engine / plain map: {wall_plain / wall:.2f}x")
        took = steps(out)
        rows_s = took.get("distinct terms", 0) + took.get("rows written", 0)
        if rows_s and sources is not None:  # the rows' own cost: reading, de-duplicating, writing
            RATES["rows/s"] = args.rows / (2 * rows_s)
            RATES["fuzzy terms/s"] = distinct / (2 * took["mapping"])
            print(
                f"      per worker: {RATES['rows/s']:,.0f} rows/s read, joined and written; "
                f"{RATES['fuzzy terms/s']:,.0f} distinct terms/s mapped with exact+fuzzy"
            )
        subprocess.run(["rm", "-rf", str(folder), str(plain_csv), str(source)], check=True)


def sizing(rows: float = 1e8, distinct: float = 1e6, hours: float = 1.0) -> None:
    """Workers (one core each) for `rows` rows with `distinct` distinct terms in `hours`."""
    if "rows/s" not in RATES:
        return
    budget = hours * 3600
    print(f"\n## sizing: {rows:.0e} rows, {distinct:.0e} distinct terms, {hours:g} h")
    row_seconds = rows / RATES["rows/s"]
    for name in ("fuzzy terms/s", "semantic terms/s"):
        if name in RATES:
            seconds = row_seconds + distinct / RATES[name]
            print(
                f"  {name.split()[0]:>8}: {row_seconds / 3600:,.1f} core-hours of rows + "
                f"{distinct / RATES[name] / 3600:,.1f} of mapping = {-(-seconds // budget):,.0f} "
                "one-core workers"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--distinct", type=int, default=100_000)
    parser.add_argument("--semantic-distinct", type=int, default=10_000)
    parser.add_argument(
        "--rows-semantic-distinct", type=int, default=0,
        help="distinct terms of the rows part's semantic run (default: --semantic-distinct)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="threads per engine worker")
    parser.add_argument("--parts", default="semantic,rows")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, help="A data folder holding the hp store.")
    parser.add_argument("--work", type=Path, help="Folder for inputs and outputs (default: temp).")
    args = parser.parse_args()
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="term2id-scale-", dir=args.work) as folder:
        work = Path(folder)
        data_dir = args.data_dir or work / "data"
        catalog = StoreCatalog(data_dir)
        catalog.open("hp")
        print(f"machine: {os.cpu_count()} cores; load {os.getloadavg()}")
        pool = phrases(catalog, max(args.distinct, args.semantic_distinct), args.seed)
        # Indexes, embeddings and the ONNX export are built once per store, before any timing.
        warm = work / "warm.csv"
        write_rows(warm, pool[:50], 50, args.seed)
        wall, _, _ = plain(warm, work / "warm-out.csv", data_dir, None)
        print(f"store prepared (first use) in {wall:.0f} s")
        parts = {p.strip() for p in args.parts.split(",")}
        if "semantic" in parts:
            semantic_part(args, work, data_dir, pool)
        if "rows" in parts:
            rows_part(args, work, data_dir, pool)
        sizing()
        print(f"\nload at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
