"""`term2id memory import/export`, and the memory in `map` (on by default) and `eval` (never)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sssom.parsers import parse_sssom_table

from term2id.core.mapping.memory import MappingMemory
from term2id.core.ontology.catalog import StoreCatalog

DATA = Path(__file__).parent / "data"


@pytest.fixture
def d(tiny_catalog: StoreCatalog) -> list[str]:
    return ["--data-dir", str(tiny_catalog.data_dir)]


def mapped(path: Path) -> dict[str, list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    return {row[0]: row for row in rows[1:]}


def test_map_proposes_what_the_memory_holds_unless_told_not_to(
    run_cli, d: list[str], tmp_path: Path
) -> None:
    pairs = tmp_path / "decided.csv"
    pairs.write_text("term,id\nswelling,TP:0000006\nlow blood count,TP:0000011\n")
    result = run_cli("memory", "import", pairs, "--ontology", "tiny", "--curator", "Ada", *d)
    assert result.code == 0, result.err
    assert "read 2 mappings and 0 rejections" in result.out and "2 new" in result.out
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("term\nSwelling\nLow blood count\nTumour\n")

    out = tmp_path / "mapped.csv"
    args = ("map", sheet, "-c", "term", "--ontology", "tiny", "--sources", "exact,fuzzy")
    result = run_cli(*args, "-o", out, *d)
    assert result.code == 0, result.err
    assert "sources: curated, exact, fuzzy" in result.out
    rows = mapped(out)
    assert rows["Swelling"][1] == "TP:0000006" and rows["Swelling"][4] == "verified"
    assert rows["Low blood count"][1] == "TP:0000011"  # the curator's word, flagged by its verdict
    assert rows["Low blood count"][4] == "mismatch"
    assert rows["Tumour"][1] == "TP:0000007"

    result = run_cli(*args, "-o", tmp_path / "plain.csv", "--no-memory", *d)
    assert result.code == 0, result.err
    assert "sources: exact, fuzzy" in result.out
    plain = mapped(tmp_path / "plain.csv")
    assert plain["Swelling"][4] != "verified"  # a RELATED synonym alone is not accepted
    assert plain["Low blood count"][1] == "TP:0000005"


def test_memory_export_writes_sssom_that_sssom_py_reads(
    run_cli, d: list[str], tmp_path: Path
) -> None:
    sssom = tmp_path / "in.sssom.tsv"
    sssom.write_text(
        "subject_label\tpredicate_id\tpredicate_modifier\tobject_id\tauthor_label\n"
        "fits\tskos:exactMatch\t\tTP:0000003\tCy\n"
        "low blood count\tskos:exactMatch\tNot\tTP:0000005\tCy\n"
    )
    assert run_cli("memory", "import", sssom, "--ontology", "tiny", *d).code == 0
    out = tmp_path / "memory.sssom.tsv"
    result = run_cli("memory", "export", out, *d)
    assert result.code == 0, result.err
    assert "wrote" in result.out and "(2 mappings)" in result.out
    frame = parse_sssom_table(out).df
    negative = frame[frame["subject_label"] == "low blood count"].iloc[0]
    assert negative["predicate_modifier"] == "Not" and negative["object_id"] == "TP:0000005"
    assert set(frame["mapping_justification"]) == {"semapv:ManualMappingCuration"}


def test_eval_never_uses_the_memory(run_cli, d: list[str], tmp_path: Path) -> None:
    gold = tmp_path / "gold.tsv"
    gold.write_text("term\texpected_curie\nSeizures\tTP:0000003\nanaemia\tTP:0000005\n")
    args = ("eval", gold, "--ontology", "tiny", "--sources", "exact,fuzzy", "--json")
    before = json.loads(run_cli(*args, *d).out)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Seizures,TP:0000011\nanaemia,TP:0000006\n")  # remembered wrong answers
    assert run_cli("memory", "import", wrong, "--ontology", "tiny", *d).code == 0
    after = json.loads(run_cli(*args, *d).out)
    assert after["top1"] == before["top1"] == 1.0
    assert after["sources"] == ["exact", "fuzzy"]


def test_a_bad_file_gets_one_line_and_a_non_zero_exit_and_nothing_is_imported(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    """Through the installed entry point, as a user meets it."""
    bad = tmp_path / "bad.tsv"
    bad.write_text("fits\tTP:0000003\nswelling\tedema\n")
    env = {**os.environ, "TERM2ID_DATA_DIR": str(tiny_catalog.data_dir)}
    for args, message in (
        (["memory", "import", str(bad), "--ontology", "tiny"], "bad.tsv:2: 'edema' is not an"),
        (["memory", "import", str(tmp_path / "absent.csv")], "absent.csv: no such file"),
        (["memory", "import", str(DATA / "not_a_table.png")], "not_a_table.png: is not a text"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "term2id.cli", *args],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert len(MappingMemory.in_folder(tiny_catalog.data_dir)) == 0


@pytest.mark.slow
def test_demo_never_uses_the_memory(run_cli, hpo_data_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"  # the shared HPO store, with a memory of its own
    data.mkdir()
    (data / "stores").symlink_to(hpo_data_dir / "stores")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Seizures,HP:0001903\n")  # Anemia, remembered for Seizures
    assert run_cli("memory", "import", wrong, "--data-dir", data).code == 0
    out = tmp_path / "demo.csv"
    result = run_cli("demo", "-o", out, "--sources", "exact,fuzzy", "--data-dir", data)
    assert result.code == 0, result.err
    assert "with exact, fuzzy" in result.out
    with out.open(encoding="utf-8-sig", newline="") as handle:
        by_term = {row[1]: row for row in csv.reader(handle)}
    assert by_term["Seizures"][3] == "HP:0001250"
