"""Usage errors and unexpected errors as a user meets them: the installed `term2id`, run as a
separate process, answers with a short message and an exit code, never a Python traceback."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
# The console script pip installed beside this interpreter; PYTHONPATH puts this checkout first.
TERM2ID = Path(sys.executable).with_name("term2id")


def run_installed(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM2ID_DATA_DIR": str(data_dir)}
    env["COLUMNS"] = "100"
    return subprocess.run(
        [str(TERM2ID), *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["map", "x.csv", "--colum", "term"], "No such option: --colum"),
        (["db", "show"], "Missing argument"),
        (["nosuch"], "No such command"),
        (["db", "diff", "a", "b", "--limit", "many"], "Invalid value"),
    ],
    ids=["mistyped-option", "missing-argument", "unknown-command", "bad-value"],
)
def test_usage_errors_print_the_usage_and_exit_2(
    args: list[str], says: str, tmp_path: Path
) -> None:
    assert TERM2ID.is_file(), f"{TERM2ID} is missing: install term2id into this environment"
    done = run_installed(*args, data_dir=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "Usage: term2id" in done.stderr
    assert says in done.stderr
    assert done.stdout == ""


# Runs with the click package unimportable, as on an install whose typer does not need it, and
# with one command broken on purpose, to see what a user is shown when term2id itself fails.
WITHOUT_CLICK = """
import importlib.abc, sys

class NoClick(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "click" or name.startswith("click."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoClick())
try:
    import click  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("click is still importable")

from term2id import cli

def broken():
    raise RuntimeError("the catalog is\\nbroken")

cli.catalog = broken
sys.argv = ["term2id", *sys.argv[1:]]
cli.main()
"""


def test_an_unexpected_error_is_one_line_even_without_click(tmp_path: Path) -> None:
    requires = importlib.metadata.requires("typer") or []
    if any(Requirement(r).name == "click" for r in requires):
        pytest.skip("this typer depends on click: an install without click cannot exist")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM2ID_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-c", WITHOUT_CLICK]
    done = subprocess.run(
        [*command, "db", "list"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "ModuleNotFoundError" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: unexpected RuntimeError: the catalog is broken (run again with --verbose for "
        "the details, and please report it)"
    ]
    usage = subprocess.run(
        [*command, "nosuch"], capture_output=True, text=True, env=env, timeout=120
    )
    assert usage.returncode == 2 and "No such command" in usage.stderr
    assert "Traceback" not in usage.stderr
    verbose = subprocess.run(
        [*command, "--verbose", "db", "list"], capture_output=True, text=True, env=env, timeout=120
    )
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and "RuntimeError: the catalog is" in verbose.stderr
