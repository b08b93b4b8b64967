"""`term2id map --engine dask` run as a user runs it: the installed command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from term2id.core.ontology.catalog import StoreCatalog

DATA = Path(__file__).parents[1] / "data"


def term2id(*args: str | Path) -> subprocess.CompletedProcess[str]:
    root = str(Path(__file__).parents[2])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "term2id.cli", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def test_the_engine_maps_a_folder_of_parquet_files_and_says_what_it_did(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    table = pd.read_csv(DATA / "table_terms.tsv", sep="\t", dtype=str, keep_default_na=False)
    table.iloc[:3].to_parquet(folder / "a.parquet")
    table.iloc[3:].to_parquet(folder / "b.parquet")
    out = tmp_path / "out"
    done = term2id(
        "map", folder, "-c", "term", "--context-column", "context", "--ontology", "tiny",
        "-o", out, "--engine", "dask", "--workers", "1", "--sources", "exact,fuzzy",
        "--data-dir", tiny_catalog.data_dir, "--sssom", tmp_path / "m.sssom.tsv",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "mapped 5 rows (4 distinct terms)" in done.stdout
    assert "this run mapped 5 of 5 distinct keys and wrote 2 of 2 partitions" in done.stdout
    assert "peak memory: workers" in done.stdout
    assert "INFO" not in done.stderr  # the engine's own chatter stays out of the terminal
    parts = sorted(out.glob("part-*.parquet"))
    rows = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    assert rows["term"].tolist() == ["Seizures", "TP53", "Anaemia", "", "Tumour"]
    assert rows["mapped_id"].tolist()[:3] == ["TP:0000003", "", "TP:0000005"]
    assert rows["status"].tolist()[3] == "empty"
    assert (tmp_path / "m.sssom.tsv").is_file()


def test_mistakes_are_one_line_before_a_cluster_starts(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    source = DATA / "table_terms.tsv"
    d = ("--data-dir", tiny_catalog.data_dir)
    cases = [
        (("-c", "nope", "--engine", "dask"), "no column 'nope'; columns: term, ontology, context"),
        (("-c", "term", "--engine", "spark"), "--engine must be dask, not 'spark'"),
        (("-c", "term", "--engine", "dask", "--ontology-column", "ontology"), "--ontology-column"),
        (("-c", "term", "--workers", "2", "--address", "tcp://127.0.0.1:1"), "give --address"),
        (("-c", "term", "--server", "http://127.0.0.1:1", "--server", "http://127.0.0.1:2"),
         "several --server URLs make a pool for --engine dask"),
    ]  # fmt: skip
    for options, message in cases:
        done = term2id("map", source, "-o", tmp_path / "out", *options, *d)
        assert done.returncode != 0
        assert message in done.stderr, (options, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    # An output folder holding something else is never written into.
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    done = term2id("map", source, "-c", "term", "-o", busy, "--engine", "dask", *d)
    assert done.returncode != 0 and "folder is not empty" in done.stderr
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]


def test_the_engine_proposes_what_the_mapping_memory_holds_as_plain_map_does(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    import shutil

    data = tmp_path / "data"  # a copy: the memory is written into the data folder
    shutil.copytree(tiny_catalog.data_dir, data)
    decided = tmp_path / "decided.csv"
    decided.write_text("term,id\nSeizures,TP:0000004\n")  # a curator chose Focal seizure
    assert (
        term2id("memory", "import", decided, "--ontology", "tiny", "--data-dir", data).returncode
        == 0
    )
    source = DATA / "table_terms.tsv"
    common = ("-c", "term", "--ontology", "tiny", "--sources", "exact,fuzzy", "--data-dir", data)
    plain = term2id("map", source, "-o", tmp_path / "plain.csv", *common)
    assert plain.returncode == 0, plain.stderr
    engine = term2id(
        "map", source, "-o", tmp_path / "out", "--engine", "dask", "--workers", "1",
        "--output-format", "csv", *common,
    )  # fmt: skip
    assert engine.returncode == 0, engine.stderr
    plain_rows = pd.read_csv(tmp_path / "plain.csv", dtype=str, keep_default_na=False)
    parts = sorted((tmp_path / "out").glob("part-*.csv"))
    engine_rows = pd.concat(
        [pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts], ignore_index=True
    )
    assert plain_rows["mapped_id"].tolist()[0] == "TP:0000004"  # the memory's, first
    assert engine_rows["mapped_id"].tolist() == plain_rows["mapped_id"].tolist()
    assert engine_rows["status"].tolist() == plain_rows["status"].tolist()
    no_memory = term2id("map", source, "-o", tmp_path / "none.csv", *common, "--no-memory")
    assert no_memory.returncode == 0, no_memory.stderr
    without = pd.read_csv(tmp_path / "none.csv", dtype=str, keep_default_na=False)
    assert without["mapped_id"].tolist()[0] == "TP:0000003"
