"""What "verified" and the confidence are worth, against the verdicts of a baseline tree.

    .venv/bin/python benchmarks/verdicts.py --baseline DIR [--n 1000] [--data-dir DIR]
                                            [--engines exact,fuzzy exact,fuzzy,semantic]
                                            [--shared ../shared] [--skip-go] [--fit]
                                            [--baseline-rows FILE]

DIR is a checkout of the code to compare with (e.g. `git worktree add /tmp/base main`). Both
trees map the same gold sets against the same stores, each in its own process, and the rows they
return are scored here by one function, so the figures compare like with like:

- opposite pairs: every pair of live terms whose labels differ only by an opposing word or
  affix (name_rules.opposite_pairs: Macrocephaly / Microcephaly, Left X / Right X); each
  label is mapped with the other term forced among the candidates, in both directions; counted:
  how often the forced opposite came out verified (HPO, and GO 2019 from ../shared/data);
- held-out HPO synonyms, seed 2 (seed 1 only with --fit), the same for GO 2019, and the external
  development sets in ../shared/benchmarks/external: top-1; rows whose best candidate is
  verified, the share of them that is right (verified precision) and their number that is right;
  the auto-accept status (verified and confidence >= 0.9): precision and recall; expected
  calibration error, and this tree's reliability table. For the held-out synonyms, also the
  figures without those another live term also carries, and on those the ontology files as exact
  synonyms only (a broad, narrow or related synonym is not the same concept, and where the right
  id is found through another such name its verdict says so).

--baseline-rows FILE keeps the baseline tree's rows in FILE (by its commit, set, engine and n) and
reuses them on the next run: the baseline does not change, and its semantic runs are slow. The
rows depend on the stores too: start a new FILE for another --data-dir or another release.

--fit maps seed 1 (--fit-n synonyms of it; any also sampled in seed 2 left out) with this tree's
calibration turned off and prints the isotonic curves to put in
term2id/core/mapping/calibration.py (CURVES). Nothing else is fitted, and nothing on seed 2 or
the external sets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
# Half a right and half a wrong answer added to each block of a confidence curve: a block all
# right in the sample (exact labels) is not shown as always right ("1.00"). The order's curves
# stay as fitted: with the prior, top-1 on seed 1 fell by 0.1 to 0.3 points.
FIT_PRIOR = 0.5


# -- the worker: runs inside one tree, prints rows as JSON ------------------------------------


def worker(args: argparse.Namespace) -> None:
    import inspect

    from term2id.core.candidates import Evidence, Proposal, Query

    try:
        from term2id.core.evaluation.measure import hold_out_synonyms, read_gold
        from term2id.core.mapping.lexical_index import index_of
        from term2id.core.mapping.mapper import Mapper
        from term2id.core.mapping.sources import default_sources
        from term2id.core.mapping.verification import verify_id
        from term2id.core.ontology.catalog import StoreCatalog
    except ImportError:  # a baseline from before core was split into packages
        from term2id.core.catalog import StoreCatalog
        from term2id.core.mapper import Mapper
        from term2id.core.sources import default_sources
        from term2id.core.sources.index import index_of
        from term2id.core.verification import verify_id

        from term2id.core.evaluation import hold_out_synonyms, read_gold

    catalog = StoreCatalog(args.data_dir)
    engine = args.engine.split(",")
    options = {}
    if "calibration" in inspect.signature(Mapper).parameters:
        options["calibration"] = not args.raw
    if args.task == "pairs":
        pairs = json.loads(Path(args.pairs).read_text())

        class Forced:
            name = "forced"
            curie = ""

            def propose(self, query, store, limit):
                return [Proposal(self.curie, Evidence("forced", 0.5, 1, None, "forced"))]

        forced = Forced()
        mapper = Mapper(catalog, [*default_sources(engine), forced], **options)
        verified = []
        for a, a_label, b, b_label, _why in pairs:
            for term, other in ((a_label, b), (b_label, a)):
                forced.curie = other
                result = mapper.map(Query(term, args.ontology))
                found = (
                    next(c for c in result.candidates if c.curie == other)
                    if any(c.curie == other for c in result.candidates)
                    else None
                )
                if found is None:  # cut by top_k: judge it as the mapper would
                    verdict = verify_id(other, term, mapper.stores_for(args.ontology)).verdict
                else:
                    verdict = found.verdict
                if verdict.value == "verified":
                    verified.append([term, other])
        print(json.dumps({"mapped": 2 * len(pairs), "verified": verified}))
        return
    with tempfile.TemporaryDirectory(prefix="verdicts-") as folder:
        if args.task.startswith("seed"):
            eval_catalog, gold = hold_out_synonyms(
                catalog.open(args.ontology), args.n, int(args.task[4:]), folder
            )
            items = [(g.term, g.expected_curie) for g in gold]
        else:
            eval_catalog = catalog
            items = [(g.term, g.expected_curie) for g in read_gold(args.task)]
        mapper = Mapper(eval_catalog, default_sources(engine), **options)
        mapper.prepare(args.ontology)
        index = index_of(eval_catalog.open(args.ontology))
        started = time.perf_counter()
        results = list(mapper.map_many([Query(t, args.ontology) for t, _ in items]))
        seconds = time.perf_counter() - started
        rows = []
        for (term, expected), result in zip(items, results, strict=True):
            found = index.resolve(expected)
            right = {expected}
            if found is not None:
                right |= {found[0].curie, *(found[0].replaced_by if found[0].obsolete else ())}
            best = result.best
            rows.append(
                {
                    "right": bool(best and best.curie in right),
                    "verdict": best.verdict.value if best else None,
                    "confidence": best.confidence if best else None,
                    "status": result.status.value,
                    "term": term,
                    "expected": expected,
                    "best": best.curie if best else None,
                    "label": best.label if best else None,
                }
            )
            if args.raw:  # every candidate shown, for the fit: (fused score, verdict, right)
                rows[-1]["shown"] = [
                    (c.confidence, c.verdict.value, c.curie in right) for c in result.candidates
                ]
        print(json.dumps({"rows": rows, "seconds": seconds}))


# -- the driver ---------------------------------------------------------------------------------


def run_worker(tree: Path, args: argparse.Namespace, *extra: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--data-dir",
               str(args.data_dir), "--n", str(args.n), *extra]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"worker failed in {tree}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def commit_of(tree: Path) -> str:
    done = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=False)  # fmt: skip
    return done.stdout.strip() or str(tree)


def scores(rows: list[dict]) -> dict:
    from term2id.core.evaluation.measure import reliability

    n = len(rows)
    verified = [r for r in rows if r["verdict"] == "verified"]
    accepted = [r for r in rows if r["status"] == "verified"]
    pairs = [(r["confidence"], r["right"]) for r in rows if r["confidence"] is not None]
    bins, ece = reliability(pairs)
    return {
        "n": n,
        "top1": sum(r["right"] for r in rows) / n,
        "verified_rows": len(verified),
        "verified_right": sum(r["right"] for r in verified),
        "verified_precision": (
            sum(r["right"] for r in verified) / len(verified) if verified else float("nan")
        ),
        "accepted": len(accepted),
        "auto_precision": (
            sum(r["right"] for r in accepted) / len(accepted) if accepted else float("nan")
        ),
        "auto_recall": sum(r["right"] for r in accepted) / n,
        "ece": ece,
        "bins": bins,
        "rows": rows,
    }


def named_twice(args: argparse.Namespace, ontology: str, rows: list[dict]) -> list[bool]:
    """For each held-out synonym: whether another live term of the whole store has a name of the
    same words (any order, filler words aside). The ontology names two concepts alike there, so no
    rule on names can tell which one the held-out synonym meant."""
    from term2id.core.mapping.lexical_index import index_of
    from term2id.core.mapping.name_rules import words_of
    from term2id.core.normalize import normalize
    from term2id.core.ontology.catalog import StoreCatalog

    index = index_of(StoreCatalog(args.data_dir).open(ontology))
    owners: dict[frozenset[str], set[str]] = {}
    for term in index.terms:
        if not term.obsolete:
            for n in term.names:
                owners.setdefault(words_of(index.names[n].norm), set()).add(term.curie)
    return [bool(owners.get(words_of(normalize(r["term"])), set()) - {r["expected"]}) for r in rows]


def loose_synonyms(args: argparse.Namespace, ontology: str, rows: list[dict]) -> list[bool]:
    """For each held-out synonym: whether the ontology files it as a broad, narrow or related
    synonym of the expected term, not an exact one. Where the right id is found by another such
    name, its verdict says so (narrower, broader, only related), not verified."""
    from term2id.core.ontology.catalog import StoreCatalog

    store = StoreCatalog(args.data_dir).open(ontology)
    loose = []
    for row in rows:
        term = store.term(row["expected"])
        scopes = {s.scope for s in term.synonyms if s.text == row["term"]} if term else set()
        loose.append(bool(scopes) and not scopes & {None, "EXACT"})
    return loose


def ensure_stores(args: argparse.Namespace) -> list[str]:
    from term2id.core.mapping.mapper import Mapper
    from term2id.core.mapping.sources import default_sources
    from term2id.core.ontology.catalog import StoreCatalog

    catalog = StoreCatalog(args.data_dir)
    if not catalog.exists("hp"):
        catalog.build_default()
    ontologies = ["hp"]
    go_file = args.shared / "data" / "go-2019-01-27.obo.gz"
    if not args.skip_go and go_file.is_file():
        if not catalog.exists("go"):
            catalog.import_file(go_file, "go")
        ontologies.append("go")
    if any("semantic" in e for e in args.engines):
        for name in ontologies:  # embed every name once; held-out copies reuse the vectors
            Mapper(catalog, default_sources(["semantic"])).prepare(name)
    return ontologies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "verdicts")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder")
    parser.add_argument("--engines", nargs="+", default=["exact,fuzzy,semantic", "exact,fuzzy"])
    parser.add_argument("--skip-go", action="store_true")
    parser.add_argument("--skip-pairs", action="store_true")
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--fit-n", type=int, help="synonyms of seed 1 to fit on (default: --n)")
    parser.add_argument("--sets", nargs="*", help="only these sets (seed2, or file names)")
    parser.add_argument("--baseline-rows", type=Path, help="keep and reuse the baseline's rows")
    # worker options
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--ontology", default="hp", help=argparse.SUPPRESS)
    parser.add_argument("--pairs", help=argparse.SUPPRESS)
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    args.data_dir.mkdir(parents=True, exist_ok=True)
    ontologies = ensure_stores(args)
    trees = {"this tree": ROOT}
    if args.baseline is not None:
        trees = {"baseline": args.baseline.resolve(), **trees}

    if args.fit:
        from term2id.core.candidates import Verdict
        from term2id.core.evaluation.measure import sample_synonyms
        from term2id.core.mapping.calibration import (
            engine_of,
            fit_isotonic,
            likelihood,
            verdict_group,
        )
        from term2id.core.ontology.catalog import StoreCatalog

        # Seed 1 is sampled apart from seed 2, but the two samples can share synonyms: those
        # rows are left out of the fit, so that seed 2 stays untouched.
        reported = set(sample_synonyms(StoreCatalog(args.data_dir).open("hp"), args.n, 2))
        args.n = args.fit_n or args.n
        curves: dict[str, dict] = {}
        order_curves: dict[str, dict] = {}

        for engine in args.engines:
            rows = run_worker(ROOT, args, "--task", "seed1", "--engine", engine, "--raw")["rows"]
            shared = [r for r in rows if (r["expected"], r["term"]) in reported]
            rows = [r for r in rows if (r["expected"], r["term"]) not in reported]
            print(f"{engine}: {len(rows)} rows of seed 1 ({len(shared)} also in seed 2 left out)")
            # The order: fitted on every candidate shown (in the fused order, as --raw maps),
            # since the mapper orders all of them by it. The confidences: fitted on the best
            # candidate under that order, the one a row's status and figures are about.
            pairs: dict[str, dict[str, list]] = {"order": {}, "best": {}}
            for r in rows:
                for confidence, verdict, right in r["shown"]:
                    group = verdict_group(Verdict(verdict))
                    if group is not None:
                        pairs["order"].setdefault(group, []).append((confidence, right))
            name = engine_of(engine.split(","))
            order_curves[name] = {g: fit_isotonic(p) for g, p in sorted(pairs["order"].items())}
            for r in rows:
                scored = [
                    (-likelihood(c, Verdict(v), name, order_curves), at, c, v, right)
                    for at, (c, v, right) in enumerate(r["shown"])
                ]
                if scored:
                    _, _, confidence, verdict, right = min(scored)
                    group = verdict_group(Verdict(verdict))
                    if group is not None:
                        pairs["best"].setdefault(group, []).append((confidence, right))
            curves[name] = {
                g: fit_isotonic(p, prior=FIT_PRIOR) for g, p in sorted(pairs["best"].items())
            }
            for kind, found in pairs.items():
                print(f"{name}, {kind}: {', '.join(f'{g} {len(p)}' for g, p in found.items())}")
        for title, fitted in (("ORDER_CURVES", order_curves), ("CURVES", curves)):
            print(f"{title} = {{")
            for name, groups in fitted.items():
                print(f"    {name!r}: {{")
                for group, knots in groups.items():
                    print(f"        {group!r}: (")
                    for x, y in knots:
                        print(f"            ({x}, {y}),")
                    print("        ),")
                print("    },")
            print("}")
        return

    print(f"python {sys.version.split()[0]}; trees: "
          + ", ".join(f"{k} {v}" for k, v in trees.items()))  # fmt: skip
    if not args.skip_pairs:
        from term2id.core.mapping.lexical_index import index_of
        from term2id.core.mapping.name_rules import opposite_pairs
        from term2id.core.ontology.catalog import StoreCatalog

        catalog = StoreCatalog(args.data_dir)
        print("\nOpposite pairs (labels differing only by an opposing word or affix), each label "
              "mapped with the other term forced among the candidates, both ways")  # fmt: skip
        for ontology in ontologies:
            pairs = opposite_pairs(index_of(catalog.open(ontology)))
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
                json.dump(pairs, handle)
            for engine in ["exact,fuzzy"]:  # the verdict does not depend on the sources
                for tree_name, tree in trees.items():
                    out = run_worker(tree, args, "--task", "pairs", "--engine", engine,
                                     "--ontology", ontology, "--pairs", handle.name)  # fmt: skip
                    shown = "; ".join(f"{t} -> {o}" for t, o in out["verified"][:3])
                    print(f"  {ontology}: {len(pairs):,} pairs, {out['mapped']:,} mapped; "
                          f"{tree_name}: {len(out['verified']):,} verified"
                          + (f" (e.g. {shown})" if shown else ""))  # fmt: skip
            os.unlink(handle.name)

    sets = [("seed2", "hp", "held-out HPO synonyms, seed 2")]
    if "go" in ontologies:
        sets.append(("seed2", "go", "held-out GO synonyms, seed 2"))
    for path in sorted((args.shared / "benchmarks" / "external").glob("*.tsv")):
        ontology = "go" if path.name.startswith("go_") else "hp"
        if ontology in ontologies:
            sets.append((str(path), ontology, path.name))
    if args.sets:
        sets = [s for s in sets if any(want in s[0] for want in args.sets)]
    kept_rows = (
        json.loads(args.baseline_rows.read_text())
        if args.baseline_rows is not None and args.baseline_rows.is_file()
        else {}
    )
    for engine in args.engines:
        print(f"\n== engine {engine.replace(',', '+')} ==")
        header = (f"{'set':<30} {'tree':<9} {'n':>5} {'top1':>6} {'verified':>8} {'v.prec':>7} "
                  f"{'v.right':>7} {'auto':>5} {'a.prec':>7} {'a.rec':>6} {'ECE':>6} {'s':>6}")  # fmt: skip
        print(header)
        for task, ontology, title in sets:
            found = {}
            for tree_name, tree in trees.items():
                key = f"{commit_of(tree)} {Path(task).name} {engine} {args.n}"
                key += "" if ontology == "hp" else f" {ontology}"  # keys kept before GO's seed
                if tree_name == "baseline" and key in kept_rows:
                    out = kept_rows[key]
                else:
                    out = run_worker(tree, args, "--task", task, "--engine", engine,
                                     "--ontology", ontology)  # fmt: skip
                if tree_name == "baseline" and args.baseline_rows is not None:
                    kept_rows[key] = out
                    # Whole or not at all: a run stopped while writing keeps the rows before.
                    part = args.baseline_rows.with_name(args.baseline_rows.name + ".part")
                    part.write_text(json.dumps(kept_rows))
                    part.replace(args.baseline_rows)
                found[tree_name] = s = scores(out["rows"])
                print(f"{title[:30]:<30} {tree_name[:9]:<9} {s['n']:>5} {s['top1']:>6.3f} "
                      f"{s['verified_rows']:>8} {s['verified_precision']:>7.3f} "
                      f"{s['verified_right']:>7} {s['accepted']:>5} {s['auto_precision']:>7.3f} "
                      f"{s['auto_recall']:>6.3f} {s['ece']:>6.3f} {out['seconds']:>6.1f}")  # fmt: skip
            if "baseline" in found:
                base, this = found["baseline"], found["this tree"]
                kept = (
                    this["verified_right"] / base["verified_right"] if base["verified_right"] else 1
                )
                print(f"{'':<30} verified-and-right kept {kept:.3f} of baseline "
                      f"(target >= 0.90); auto-accept recall "
                      f"{100 * (this['auto_recall'] - base['auto_recall']):+.1f} points")  # fmt: skip
            if task.startswith("seed"):
                twice = named_twice(args, ontology, found["this tree"]["rows"])
                rest = [r for r, t in zip(found["this tree"]["rows"], twice, strict=True) if not t]
                kept_scores = scores(rest)
                print(f"{'':<30} {sum(twice)} held-out synonyms are, words in any order, also "
                      f"a name of another live term; without them: verified "
                      f"{kept_scores['verified_rows']}, v.prec "
                      f"{kept_scores['verified_precision']:.3f}")  # fmt: skip
            if task.startswith("seed") and "baseline" in found:
                loose = loose_synonyms(args, ontology, found["this tree"]["rows"])
                exact = {
                    tree_name: scores([r for r, x in zip(f["rows"], loose, strict=True) if not x])
                    for tree_name, f in found.items()
                }
                base, this = (
                    exact["baseline"]["verified_right"],
                    exact["this tree"]["verified_right"],
                )
                print(f"{'':<30} {sum(loose)} held-out synonyms are broad, narrow or related ones "
                      f"of their term; on the other {len(loose) - sum(loose)}: v.prec "
                      f"{exact['this tree']['verified_precision']:.3f}, verified-and-right "
                      f"{this} of baseline {base} (kept {this / base if base else 1:.3f})")  # fmt: skip
            bins = found["this tree"]["bins"]
            print(f"{'':<30} reliability (this tree): " + "  ".join(
                f"{b.low:.1f}-{b.high:.1f}: {b.rows} {b.share_right:.2f}" for b in bins if b.rows
            ))  # fmt: skip


if __name__ == "__main__":
    logging_level = os.environ.get("VERDICTS_LOG")
    if logging_level:
        import logging

        logging.basicConfig(level=logging_level)
    main()
