"""Crafted and damaged files: every reader of a file a user names ends in a result or in one line.

A short run of mutation fuzzing (tests/fuzzing.py) over the GGUF header reader, the OBO reader
and the table reader (CSV, TSV, XLSX). The examples are the same on every run (derandomized);
benchmarks/fuzz.py runs thousands more, each file timed from another process.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fuzzing import TARGETS, mutations_strategy, run_one
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def fuzz_settings(examples: int) -> settings:
    # More than 5 s on one file counts as a hang (hypothesis reports a slower example).
    return settings(
        max_examples=examples,
        deadline=5000,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


EXAMPLES = {"gguf": 1500, "obo": 1000, "table": 500}  # under a minute in all on two busy cores


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzzed_files_are_read_or_refused_in_one_line(name: str, tmp_path: Path) -> None:
    target = TARGETS[name]
    outcomes: dict[str, int] = {}

    @fuzz_settings(EXAMPLES[name])
    @given(seed=st.integers(0, target.seeds - 1), mutations=mutations_strategy())
    def read_fuzzed(seed: int, mutations: list) -> None:
        outcome = run_one(target, seed, mutations, tmp_path)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    read_fuzzed()
    # The mutations reach past the first check: some files are still read, others refused.
    assert outcomes.get("read", 0) > 0
    assert sum(n for outcome, n in outcomes.items() if outcome.startswith("refused")) > 0


# Files the long run found (a hang, an escaped exception), read again on every run.
FOUND = [
    # 200 kB of repeated quoted cells: csv.Sniffer's regex took 14 s over the whole sample.
    ("table", 1, [(0, 123020632, 23, 751924098414864965),
                  (8, 4082034444, 55, 15333461695208415220)]),
    # a workbook whose sheet XML breaks after the header: ParseError escaped while streaming
    ("table", 5, [(1, 3309394797, 53, 14769124325307027886),
                  (0, 2695088, 41, 18396601713316194581)]),
    # a workbook whose only sheet openpyxl drops: no sheets, and an IndexError escaped
    ("table", 5, [(8, 812034086, 25, 14259481882406849023),
                  (3, 281675022, 44, 17113826077319372092)]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "seed", "mutations"), FOUND)
def test_files_the_long_run_found_are_read_or_refused_in_time(
    name: str, seed: int, mutations: list, tmp_path: Path
) -> None:
    started = time.perf_counter()
    run_one(TARGETS[name], seed, mutations, tmp_path)
    assert time.perf_counter() - started < 5.0  # more is a hang
