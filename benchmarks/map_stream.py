"""Does `term2id map` stream? Peak memory of a 1,000,000-row run against a 100,000-row run.

Both inputs are CSV files of (patient_id, term, note) rows whose terms are drawn, with repeats
(a Zipf-like spread, as in real sheets), from the same pool of HPO labels and synonyms, in a few
spellings. Each run is a separate `term2id map` process; its peak resident memory comes from
os.wait4. If the mapper or the writers held rows, the large run would need about ten times the
memory of the small one; streaming keeps the ratio near 1.

Speed is given twice: rows per second, and distinct terms per second (the mapper maps each
distinct term once, so with repeats rows/s flatters it; distinct terms/s is the mapping itself).
Both are over the whole process, start-up and store opening included.

    .venv/bin/python benchmarks/map_stream.py [--rows 1000000] [--distinct 10000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from term2id.core.ontology.catalog import StoreCatalog


def term_pool(catalog: StoreCatalog, distinct: int, seed: int) -> list[str]:
    """`distinct` phrasings of HPO terms: labels and synonyms, some lower-cased or plural."""
    store = catalog.open("hp")
    names: list[str] = []
    for term in store.terms(include_obsolete=False):
        names.append(term.label)
        names.extend(s.text for s in term.synonyms)
    rng = random.Random(seed)
    rng.shuffle(names)
    pool: list[str] = []
    seen: set[str] = set()
    for name in names:
        variant = rng.choice((name, name.lower(), name + "s", name.upper()))
        if variant not in seen:
            seen.add(variant)
            pool.append(variant)
        if len(pool) == distinct:
            break
    return pool


def write_input(path: Path, pool: list[str], rows: int, seed: int) -> tuple[int, int]:
    """A CSV of `rows` rows drawing terms from `pool` with Zipf-like repeats.

    Returns its size in bytes and the number of distinct non-empty terms in it.
    """
    rng = random.Random(seed)
    distinct: set[str] = set()
    weights = [1 / (rank + 1) for rank in range(len(pool))]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["patient_id", "term", "note"])
        chunk = 10_000
        for start in range(0, rows, chunk):
            terms = rng.choices(pool, weights, k=min(chunk, rows - start))
            for offset, term in enumerate(terms):
                i = start + offset
                written = "" if i % 97 == 0 else term
                distinct.add(written)
                writer.writerow([f"P{i // 7:06d}", written, f"visit {i % 5}"])
    distinct.discard("")
    return path.stat().st_size, len(distinct)


def measured_run(source: Path, output: Path, data_dir: Path) -> tuple[float, int, str]:
    """Wall time, peak RSS (KiB) and stdout of one `term2id map` run, measured with os.wait4."""
    command = [sys.executable, "-m", "term2id.cli", "map", str(source), "--column", "term"]
    command += ["--ontology", "hp", "-o", str(output), "--data-dir", str(data_dir)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.exit(f"term2id map failed ({child.returncode}): {err.read()}")
        return wall, usage.ru_maxrss, out.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--distinct", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, help="A data folder holding the hp store.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="term2id-stream-") as folder:
        work = Path(folder)
        data_dir = args.data_dir or work / "data"
        started = time.perf_counter()
        catalog = StoreCatalog(data_dir)
        catalog.open("hp")
        print(f"hp store ready in {time.perf_counter() - started:.1f} s ({data_dir})")
        pool = term_pool(catalog, args.distinct, args.seed)
        catalog.open("hp").close()

        sizes = [max(args.rows // 10, 1), args.rows]
        results = []
        for rows in sizes:
            source = work / f"terms-{rows}.csv"
            size, distinct = write_input(source, pool, rows, args.seed)
            output = work / f"mapped-{rows}.csv"
            wall, peak_kib, stdout = measured_run(source, output, data_dir)
            out_size = output.stat().st_size
            results.append((rows, wall, peak_kib, distinct))
            print(f"\n{rows:,} rows: input {size / 1e6:.1f} MB, output {out_size / 1e6:.1f} MB")
            for line in stdout.strip().splitlines():
                print(f"  term2id: {line}")
            print(
                f"  wall {wall:.1f} s, {rows / wall:,.0f} rows/s, {distinct:,} distinct terms "
                f"({distinct / wall:,.0f} distinct terms/s), peak RSS {peak_kib / 1024:.0f} MiB"
            )
            source.unlink()
            output.unlink()

        (small_rows, small_wall, small_peak, _), (big_rows, big_wall, big_peak, _) = results
        print(
            f"\n{big_rows // small_rows}x the rows: {big_wall / small_wall:.1f}x the time, "
            f"{big_peak / small_peak:.2f}x the peak memory "
            f"({small_peak / 1024:.0f} → {big_peak / 1024:.0f} MiB)"
        )


if __name__ == "__main__":
    main()
