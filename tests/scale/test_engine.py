"""`term2id map --engine dask` on a real local Dask cluster: the same results as plain `map`,
resumable after a kill, a pool of servers, and the command's messages."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from term2id.core.exports.sheet_writer import MAPPED_COLUMNS
from term2id.core.files import PART_SUFFIX
from term2id.core.mapping.config import MappingConfig
from term2id.core.ontology.catalog import StoreCatalog
from term2id.scale.engine import (
    WORK_FOLDER,
    ScaleJob,
    local_cluster,
    map_on_cluster,
    starting_local_cluster,
)

DATA = Path(__file__).parents[1] / "data"
# Phrases from tests/data: labels, synonyms, lay words, misspellings, ids, and empty cells.
PHRASES = [
    "Seizure", "Seizures", "seizures", "Epilepsy", "Epileptic seizure", "Focal seizure",
    "Partial seizure", "Anemia", "Anaemia", "Low red blood cell count", "Edema", "Oedema",
    "Swelling", "Tumor", "Tumour", "Neoplasm", "Intellectual disability", "Mental retardation",
    "ID", "Ataxia", "Lack of coordination", "TGF-β receptor defect", "fits", "anemia  ",
    " Tumour", "Seizur", "Ataxia of gait", "TP:0000003", "TP:0000005", "=1+2", "", "   ",
    "Abnormality of the nervous system", "red cells low", "no such thing at all",
]  # fmt: skip
CONTEXTS = ["", "child with fits", "anaemia", "Seizure"]


def write_table(path: Path, rows: int, seed: int = 7, extra: int = 0) -> None:
    """A TSV of `rows` rows drawn from PHRASES (and `extra` numbered variants of them)."""
    rng = random.Random(seed)
    phrases = PHRASES + [f"{rng.choice(PHRASES[:22])} type {i}" for i in range(extra)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "term", "context"])
        for i in range(rows):
            writer.writerow([f"r{i}", rng.choice(phrases), rng.choice(CONTEXTS)])


def plain_map(data_dir: Path, table: Path, out: Path, *options: str) -> list[list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "term2id.cli", "map", str(table), "--column", "term",
         "--context-column", "context", "--ontology", "tiny", "-o", str(out),
         "--data-dir", str(data_dir), *options],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _env() -> dict[str, str]:
    root = str(Path(__file__).parents[2])
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}


def engine_rows(output: Path) -> pd.DataFrame:
    parts = sorted(output.glob("part-*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def assert_same_as_plain(plain: list[list[str]], engine: pd.DataFrame) -> None:
    header, rows = plain[0], plain[1:]
    assert list(engine.columns) == header
    assert len(engine) == len(rows)
    at = {name: header.index(name) for name in MAPPED_COLUMNS}
    for (_, got), want in zip(engine.iterrows(), rows, strict=True):
        assert got["id"] == want[0]
        assert got["mapped_id"] == want[at["mapped_id"]], (got["term"], want)
        assert got["status"] == want[at["status"]], (got["term"], want)
        assert got["mapped_label"] == want[at["mapped_label"]]
        assert got["alternatives"] == want[at["alternatives"]]
        confidence = want[at["confidence"]]
        if confidence == "":
            assert pd.isna(got["confidence"])
        else:
            assert abs(float(got["confidence"]) - float(confidence)) <= 1e-4


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(2) as cluster, Client(cluster) as client:
        yield client


def test_engine_maps_exactly_as_plain_map_with_the_default_sources(
    cluster: Client, tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    table = tmp_path / "terms.tsv"
    write_table(table, 3000, extra=150)
    sssom_plain = tmp_path / "plain.sssom.tsv"
    plain = plain_map(
        tiny_catalog.data_dir, table, tmp_path / "plain.csv", "--sssom", str(sssom_plain)
    )
    job = ScaleJob(
        input=table, output=tmp_path / "out", column="term", ontology="tiny",
        context_column="context", data_dir=tiny_catalog.data_dir, sssom=tmp_path / "e.sssom.tsv",
        chunk_terms=40, blocksize="20KB",
    )  # fmt: skip
    summary = map_on_cluster(job, cluster)
    assert summary.partitions > 2  # several partitions, joined back in order
    assert summary.rows == 3000
    engine = engine_rows(job.output)
    assert_same_as_plain(plain, engine)
    statuses = engine["status"].value_counts().to_dict()
    assert summary.status_counts == statuses
    assert {"verified", "empty"} <= set(statuses) and len(statuses) >= 4
    # Every distinct key mapped once: each is in exactly one chunk of results.
    distinct = pd.read_parquet(job.output / WORK_FOLDER / "distinct.parquet")
    assert summary.mapped_now == summary.distinct_keys == len(distinct)
    chunks = list((job.output / WORK_FOLDER / "terms").glob("chunk-*.parquet"))
    assert len(chunks) > 2
    terms = pd.concat([pd.read_parquet(p) for p in chunks])
    assert sorted(terms["term"]) == list(range(len(distinct)))
    assert summary.distinct_terms == len({t.strip() for t in distinct["text"] if t.strip()})
    # The SSSOM table: the same rows as plain map's (the header's date and digest included).
    assert job.sssom.read_text(encoding="utf-8") == sssom_plain.read_text(encoding="utf-8")


def test_csv_partitions_read_back_as_plain_maps_csv(
    cluster: Client, tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    table = tmp_path / "terms.tsv"
    write_table(table, 400, seed=3)
    plain = plain_map(
        tiny_catalog.data_dir, table, tmp_path / "plain.csv", "--sources", "exact,fuzzy"
    )
    job = ScaleJob(
        input=table, output=tmp_path / "out", column="term", ontology="tiny",
        context_column="context", data_dir=tiny_catalog.data_dir, output_format="csv",
        config=MappingConfig(sources=("exact", "fuzzy")), blocksize="4KB",
    )  # fmt: skip
    map_on_cluster(job, cluster)
    lines: list[list[str]] = []
    for n, part in enumerate(sorted(job.output.glob("part-*.csv"))):
        with part.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        lines += rows if n == 0 else rows[1:]
    assert lines == plain  # byte for byte the same cells, formula-like ones neutralised alike


def test_a_finished_run_started_again_maps_nothing(
    cluster: Client, tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    table = tmp_path / "terms.tsv"
    write_table(table, 300, seed=5)
    job = ScaleJob(
        input=table, output=tmp_path / "out", column="term", ontology="tiny",
        data_dir=tiny_catalog.data_dir, config=MappingConfig(sources=("exact", "fuzzy")),
    )  # fmt: skip
    first = map_on_cluster(job, cluster)
    before = {p.name: p.stat().st_mtime_ns for p in job.output.glob("part-*")}
    again = map_on_cluster(job, cluster)
    assert first.mapped_now > 0 and again.mapped_now == 0 and again.partitions_now == 0
    assert {p.name: p.stat().st_mtime_ns for p in job.output.glob("part-*")} == before
    assert again.status_counts == first.status_counts
    # Another column in the same folder would mix two runs: refused, naming the folder.
    with pytest.raises(Exception, match="holds a run of another input or configuration"):
        map_on_cluster(ScaleJob(**{**_fields(job), "column": "id"}), cluster)


def _fields(job: ScaleJob) -> dict:
    return {name: getattr(job, name) for name in job.__dataclass_fields__}


KILLED_RUN = """
import sys
from pathlib import Path
from distributed import Client
from term2id.core.mapping.config import MappingConfig
from term2id.scale.engine import ScaleJob, local_cluster, map_on_cluster

table, output, data_dir = map(Path, sys.argv[1:4])
job = ScaleJob(
    input=table, output=output, column="term", ontology="tiny", context_column="context",
    data_dir=data_dir, config=MappingConfig(sources=("exact", "fuzzy")), chunk_terms=10,
    blocksize="40KB",
)
with local_cluster(1) as cluster, Client(cluster) as client:
    map_on_cluster(job, client)
"""


def test_a_run_killed_halfway_resumes_maps_only_what_is_missing_and_ends_identical(
    cluster: Client, tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    table = tmp_path / "terms.tsv"
    write_table(table, 6000, seed=11, extra=3000)
    output = tmp_path / "out"
    chunks = output / WORK_FOLDER / "terms"
    run = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(table), str(output), str(tiny_catalog.data_dir)],
        env=_env(), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while len(list(chunks.glob("chunk-*.parquet"))) < 20:
            assert run.poll() is None, run.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the run wrote no chunk in time"
            time.sleep(0.02)
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the driver and its workers, as a crash would
        run.wait()
    before = {p.name: p.stat().st_mtime_ns for p in chunks.glob("chunk-*.parquet")}
    distinct = pd.read_parquet(output / WORK_FOLDER / "distinct.parquet")
    done_before = sum(len(pd.read_parquet(chunks / name)) for name in before)
    assert 0 < done_before < len(distinct)  # killed halfway
    assert not list(output.glob("part-*"))

    job = ScaleJob(
        input=table, output=output, column="term", ontology="tiny", context_column="context",
        data_dir=tiny_catalog.data_dir, config=MappingConfig(sources=("exact", "fuzzy")),
        chunk_terms=10, blocksize="40KB",
    )  # fmt: skip
    summary = map_on_cluster(job, cluster)
    # Only what was missing was mapped: the chunks written before the kill were kept as they
    # were, and every distinct key is in exactly one chunk.
    assert summary.mapped_now == len(distinct) - done_before
    after = {p.name: p.stat().st_mtime_ns for p in chunks.glob("chunk-*.parquet")}
    assert {name: after[name] for name in before} == before
    terms = pd.concat([pd.read_parquet(p) for p in chunks.glob("chunk-*.parquet")])
    assert sorted(terms["term"]) == list(range(len(distinct)))
    assert not list(output.rglob(f".*{PART_SUFFIX}"))
    # The output: identical to an uninterrupted plain map.
    plain = plain_map(
        tiny_catalog.data_dir, table, tmp_path / "plain.csv", "--sources", "exact,fuzzy"
    )
    assert_same_as_plain(plain, engine_rows(output))


def test_a_cluster_started_in_the_background_is_closed_when_the_run_fails_before_using_it() -> None:
    with (
        pytest.raises(RuntimeError, match="before the workers"),
        starting_local_cluster(1) as starting,
    ):
        raise RuntimeError("the input was refused before the workers were needed")
    client = starting.result()  # it had started meanwhile, and was closed on leaving
    assert client.status == "closed" and client.cluster.status.name == "closed"
