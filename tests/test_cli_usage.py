"""Usage errors and unexpected errors as a user meets them: the installed `term2id`, run as a
separate process, answers with a short message and an exit code, never a Python traceback."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


# The installed term2id with one command broken on purpose, to see what a user is shown when
# term2id itself fails.
BROKEN = """
import sys

from term2id import cli
from term2id.cli import common

def broken():
    raise RuntimeError("the catalog is\\nbroken")

common.catalog = broken
sys.argv = ["term2id", *sys.argv[1:]]
cli.main()
"""


def test_an_unexpected_error_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM2ID_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-c", BROKEN]
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


def test_term2id_itself_never_imports_click() -> None:
    # Newer typer vendors its own click and does not install the package: code of ours that
    # imports click would fail there before printing anything. Usage errors go through typer.
    importing = []
    for path in sorted((ROOT / "term2id").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )  # fmt: skip
            if any(n == "click" or n.startswith("click.") for n in names):
                importing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert importing == []
