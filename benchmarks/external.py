"""term2id and its peers on real mentions from public corpora (../shared/benchmarks/external).

    .venv/bin/python benchmarks/external.py [--data-dir DIR] [--sets hpo_id68,...]
                                            [--rapidfuzz-n N] [--threshold 0.9]

For each set, in one run: the default engine (exact+fuzzy+semantic, the packaged sentence
model), exact+fuzzy, Gilda (its Grounder built from the same store's names) and plain rapidfuzz
(WRatio over every name), as benchmarks/peers.py runs them. Prints top-1, top-5, the precision
of what the mapper would accept at the threshold (with how many rows it accepted; the peers have
no such threshold) and distinct terms per second. HPO sets map against the embedded HPO; GO sets
against GO 2019 (../shared/data/go-2019-01-27.obo.gz, imported on the first run; embedding its
~220,000 names and definitions for the semantic source takes a while the first time).

No constant of term2id was chosen on these sets: they are for measuring only.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from peers import run_gilda, run_rapidfuzz

from term2id.core.evaluation.measure import GoldItem, evaluate, read_gold
from term2id.core.mapping.mapper import Mapper
from term2id.core.mapping.sources import ExactSource, FuzzySource
from term2id.core.mapping.sources.semantic import SemanticSource
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the clone (or beside the folder of worktrees holding it).
SHARED = next(
    (p / "shared" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
    ROOT.parent / "shared",
)
EXTERNAL = SHARED / "benchmarks" / "external"
GO_FILE = SHARED / "data" / "go-2019-01-27.obo.gz"
GO_STORE = "go-2019"
SETS = ("hpo_id68", "hpo_genereviews", "hpo_omim_val", "go_bp_craft_dev", "go_cc_craft_dev")


def store_for(catalog: StoreCatalog, set_name: str) -> str:
    if not set_name.startswith("go_"):
        return "hp"
    if not catalog.exists(GO_STORE):
        catalog.import_file(GO_FILE, GO_STORE)
    return GO_STORE


def run_engine(
    catalog: StoreCatalog, gold: list[GoldItem], ontology: str, name: str, sources
) -> dict:  # noqa: ANN001
    mapper = Mapper(catalog, sources, threshold=THRESHOLD)
    report = evaluate(mapper, gold, ontology)
    terms = len({g.term for g in gold})
    return {"system": name, "n": report.n, "top1": report.top1, "top5": report.top5,
            "precision": report.precision_at_threshold, "accepted": report.accepted,
            "terms_per_s": terms / report.seconds if report.seconds else 0.0}  # fmt: skip


def distinct_speed(row: dict, gold: list[GoldItem]) -> dict:
    """The peers report rows/s; all figures here are distinct terms per second."""
    terms = len({g.term for g in gold})
    return {**row, "terms_per_s": row["terms_per_s"] * terms / row["n"]}


THRESHOLD = 0.9


def main() -> None:
    global THRESHOLD
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/term2id-bench"))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument(
        "--skip-semantic-go",
        action="store_true",
        help="GO sets without the default engine (embedding GO's names the first time is long)",
    )
    parser.add_argument("--rapidfuzz-n", type=int, default=0, help="rows for rapidfuzz (0: all)")
    args = parser.parse_args()
    THRESHOLD = args.threshold
    logging.basicConfig(level=logging.WARNING)
    os.environ["HF_HUB_OFFLINE"] = "1"
    catalog = StoreCatalog(args.data_dir)
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"accept threshold {THRESHOLD}")  # fmt: skip
    print(f"\n| set (rows) | system | top-1 | top-5 | precision at {THRESHOLD} (accepted) | "
          "distinct terms/s |\n|---|---|---|---|---|---|")  # fmt: skip
    for set_name in [s for s in args.sets.split(",") if s]:
        gold = read_gold(EXTERNAL / f"{set_name}.tsv")
        ontology = store_for(catalog, set_name)
        store = catalog.open(ontology)
        rows = []
        prepared = None
        if not (args.skip_semantic_go and ontology == GO_STORE):
            semantic = SemanticSource(use_tuned=False)
            started = time.perf_counter()
            semantic.prepare(store, Progress())
            prepared = time.perf_counter() - started
            rows.append(
                run_engine(catalog, gold, ontology, "term2id exact+fuzzy+semantic",
                           [ExactSource(), FuzzySource(), semantic])
            )  # fmt: skip
        rows.append(
            run_engine(
                catalog, gold, ontology, "term2id exact+fuzzy", [ExactSource(), FuzzySource()]
            )
        )
        rows.append(distinct_speed(run_gilda(store, gold), gold))
        rapid = gold[: args.rapidfuzz_n] if args.rapidfuzz_n else gold
        rows.append(distinct_speed(run_rapidfuzz(store, rapid), rapid))
        for r in rows:
            precision = (
                f"{r['precision']:.3f} ({r['accepted']})" if r.get("precision") is not None
                else ("– (0)" if "accepted" in r else "")
            )  # fmt: skip
            n = f" (first {r['n']})" if r["n"] != len(gold) else ""
            print(f"| {set_name} ({len(gold)}){n} | {r['system']} | {r['top1']:.3f} | "
                  f"{r['top5']:.3f} | {precision} | {r['terms_per_s']:,.{0 if r['terms_per_s'] >= 10 else 1}f} |")  # fmt: skip
        ready = (
            f"semantic index ready in {prepared:.1f} s" if prepared is not None else "no semantic"
        )
        print(f"<!-- {set_name}: {store.name} {store.release}; {ready} -->")


if __name__ == "__main__":
    main()
