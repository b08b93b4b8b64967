"""Mutation fuzzing of the readers of files users bring, at length: GGUF headers, OBO, tables.

The same mutations and readers as the short run in `make test` (tests/fuzzing.py), thousands of
files per reader. Each reader runs in a worker process watched from this one, so that a hang (no
answer within 5 s on one file) or a crash (the worker dying) is caught and counted as well as an
exception that is not the project's own or an error message of more than one line. Every such
file is kept for reproduction. Files are drawn from a seeded generator: a run is repeatable.

    python benchmarks/fuzz.py                       # 3,000 files per reader, seed 0
    python benchmarks/fuzz.py --files 10000 --seed 1 --targets gguf,obo --keep /tmp/fuzz
"""

from __future__ import annotations

import argparse
import random
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fuzzing import TARGETS, FuzzFailure, random_mutations, run_one  # noqa: E402

HANG_SECONDS = 5.0


def _draw(target_name: str, seed: int, index: int) -> tuple[int, list]:
    """The index-th file of a run: the same on every run and after a worker restarts."""
    rng = random.Random(f"{seed}:{target_name}:{index}")
    return rng.randrange(TARGETS[target_name].seeds), random_mutations(rng)


def worker(target_name: str, seed: int, start: int, stop: int, folder: Path, keep: Path) -> None:
    """Read files start..stop-1, saying on stdout when each begins and how it ended."""
    target = TARGETS[target_name]
    for index in range(start, stop):
        seed_index, mutations = _draw(target_name, seed, index)
        print(f"begin {index}", flush=True)
        began = time.perf_counter()
        try:
            outcome = run_one(target, seed_index, mutations, folder)
        except FuzzFailure as exc:
            cause = exc.__cause__
            where = "".join(traceback.format_exception(cause)[-3:]) if cause else ""
            sys.stderr.write(f"file {index}: {exc}\n{where}\n")
            outcome = "failure: " + str(exc).splitlines()[0][:200]
            _keep(folder, keep, target_name, index, "failure")  # before the next file replaces it
        print(f"end {index} {time.perf_counter() - began:.4f} {outcome}", flush=True)


def fuzz(target_name: str, files: int, seed: int, keep: Path) -> dict:
    """Run a watched worker over `files` files; restart it after a hang or a crash."""
    counts: Counter[str] = Counter()
    slowest = (0.0, -1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"term2id-fuzz-{target_name}-") as scratch:
        folder = Path(scratch)
        index = 0
        while index < files:
            process = subprocess.Popen(
                [sys.executable, __file__, "--worker", target_name, "--seed", str(seed),
                 "--start", str(index), "--stop", str(files), "--folder", str(folder),
                 "--keep", str(keep)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert process.stdout is not None and process.stderr is not None
            selector = selectors.DefaultSelector()
            selector.register(process.stdout, selectors.EVENT_READ)
            current: int | None = None
            ended = None
            while True:
                # Worker start-up (imports) is not timed; one file is.
                timeout = HANG_SECONDS if current is not None else 120.0
                if not selector.select(timeout):
                    process.kill()
                    ended = "hang"
                    break
                line = process.stdout.readline()
                if not line:
                    ended = "crash"
                    break
                kind, number, *rest = line.split(" ", 3)
                if kind == "begin":
                    current = int(number)
                    continue
                seconds, outcome = float(rest[0]), rest[1].strip()
                counts[outcome.split(":")[0] if outcome.startswith("failure") else outcome] += 1
                slowest = max(slowest, (seconds, int(number)))
                current = None
                index = int(number) + 1
            process.wait()
            errors = process.stderr.read()
            if errors.strip():
                (keep / f"{target_name}-worker-{index}.log").write_text(errors, "utf-8")
            if current is None:
                if index >= files:
                    break  # the worker read all its files
                raise RuntimeError(f"{target_name}: the worker stopped:\n{errors[-2000:]}")
            counts[ended] += 1
            _keep(folder, keep, target_name, current, ended)
            index = current + 1
    return {
        "counts": counts,
        "slowest": slowest,
        "seconds": time.perf_counter() - started,
    }


def _keep(folder: Path, keep: Path, target_name: str, index: int, what: str) -> None:
    for fuzzed in folder.glob("fuzzed.*"):
        shutil.copy2(fuzzed, keep / f"{target_name}-{what}-{index}{fuzzed.suffix}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000, help="files per reader")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--keep", type=Path, default=None, help="folder for failing files")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    keep = args.keep or Path(tempfile.mkdtemp(prefix="term2id-fuzz-kept-"))
    keep.mkdir(parents=True, exist_ok=True)
    if args.worker:
        worker(args.worker, args.seed, args.start, args.stop, args.folder, keep)
        return
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    print(f"{args.files:,} mutated files per reader, seed {args.seed}; hang = no answer in "
          f"{HANG_SECONDS:g} s; failing files kept in {keep}")  # fmt: skip
    print(f"{'reader':<7} {'files':>6} {'read':>6} {'refused':>8} {'failures':>8} {'hangs':>6} "
          f"{'crashes':>7} {'slowest':>9} {'files/s':>8}")  # fmt: skip
    refusals: dict[str, Counter[str]] = {}
    bad = 0
    for name in names:
        result = fuzz(name, args.files, args.seed, keep)
        counts: Counter[str] = result["counts"]
        refused = sum(n for k, n in counts.items() if k.startswith("refused"))
        refusals[name] = Counter({k.split(": ", 1)[1]: n for k, n in counts.items()
                                  if k.startswith("refused")})  # fmt: skip
        failures, hangs, crashes = counts["failure"], counts["hang"], counts["crash"]
        bad += failures + hangs + crashes
        total = sum(counts.values())
        seconds, index = result["slowest"]
        print(f"{name:<7} {total:>6,} {counts['read']:>6,} {refused:>8,} {failures:>8,} "
              f"{hangs:>6,} {crashes:>7,} {seconds:>7.3f} s {total / result['seconds']:>8,.0f}",
              flush=True)  # fmt: skip
    for name, counter in refusals.items():
        listed = ", ".join(f"{kind} {n:,}" for kind, n in counter.most_common())
        print(f"{name} refused as: {listed or 'nothing'}")
    print("every file was read or refused in one line" if bad == 0
          else f"{bad} files failed: see {keep}")  # fmt: skip
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
