"""A pool of real llama_cpp.server processes on 127.0.0.1 (the tiny model): requests spread over
them, a failing server taken out without losing rows, in the pool and in a distributed run."""

from __future__ import annotations

import csv
import importlib.util
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from term2id.core.candidates import Query
from term2id.core.errors import SourceUnavailable
from term2id.core.mapping.batch import prepare_targets
from term2id.core.mapping.config import MappingConfig, build_mapper
from term2id.core.ontology.catalog import StoreCatalog
from term2id.scale.engine import ScaleJob, local_cluster, map_on_cluster
from term2id.scale.servers import ServerPool

# The llama_cpp.server starter of the model-source tests.
DATA = Path(__file__).parents[1] / "data"
_spec = importlib.util.spec_from_file_location(
    "llm_server_tests", Path(__file__).parents[1] / "core" / "test_llm.py"
)
_llm_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_llm_tests)
serve, free_port = _llm_tests._serve, _llm_tests._free_port


@pytest.fixture(scope="module")
def servers(tiny_model) -> Iterator[list[str]]:
    with serve(tiny_model.model_gguf) as first, serve(tiny_model.model_gguf) as second:
        yield [first, second]


@contextmanager
def failing_after(url: str, completions: int) -> Iterator[tuple[str, dict[str, int]]]:
    """A real HTTP server that relays to `url` until it has relayed `completions` completion
    requests, and answers HTTP 500 from then on (a server that breaks down mid-run); yields its
    URL and the count of completion requests it was sent."""
    relayed = {"completions": 0}
    lock = threading.Lock()

    class Relay(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _relay(self, body: bytes | None) -> None:
            with lock:
                if self.path.endswith("/completions"):
                    relayed["completions"] += 1
                broken = relayed["completions"] > completions
            if broken:
                self.send_error(500, "out of memory")
                return
            request = urllib.request.Request(
                url + self.path, data=body, method=self.command,
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=60) as reply:
                    payload, status = reply.read(), reply.status
            except urllib.error.HTTPError as exc:
                payload, status = exc.read(), exc.code
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self._relay(None)

        def do_POST(self) -> None:  # noqa: N802
            self._relay(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", relayed
    finally:
        server.shutdown()
        server.server_close()


def test_requests_are_spread_and_a_failing_server_is_dropped_without_losing_an_answer(
    servers: list[str], tiny_model
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    prompts = [tiny_model.prompt(term) for term, _ in tiny_model.pairs[:12]]
    single = ServerPool([servers[0]])
    expected = [single.complete(p, None)[0].text for p in prompts]
    with failing_after(servers[0], completions=4) as (flaky, _):
        pool = ServerPool([dead, flaky, servers[1]])
        pool.identity()  # the unreachable one is taken out at once
        assert pool.live_urls == [flaky, servers[1]]
        answers = [pool.complete(p, None)[0].text for p in prompts]
    assert answers == expected  # every request answered, the same as by one server
    assert pool.answered[flaky] >= 1 and pool.answered[servers[1]] >= 6  # spread over both
    assert pool.live_urls == [servers[1]]  # the relay broke down and was taken out
    assert "HTTP 500" in pool.failures[flaky]
    with pytest.raises(SourceUnavailable, match="every server failed"):
        ServerPool([dead]).complete(prompts[0], None)


def tiny_store_catalog(folder: Path) -> StoreCatalog:
    """A private store of tests/data/tiny.obo: a run caches the model's answers in it. (Small on
    purpose: the model's answers are held to the store's ids by a grammar sent with each request,
    and HPO's 19,000 ids make every request take seconds.)"""
    catalog = StoreCatalog(folder)
    catalog.import_file(DATA / "tiny.obo", "tiny")
    return catalog


def test_a_distributed_run_over_a_pool_loses_no_row_when_a_server_fails(
    servers: list[str], tiny_model, tmp_path: Path
) -> None:
    catalog = tiny_store_catalog(tmp_path / "data")
    table = tmp_path / "terms.csv"
    terms = [term for term, _ in tiny_model.pairs[:12]]
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["term"])
        writer.writerows([t] for t in terms * 3)
    config = MappingConfig(sources=("exact", "llm"), server=servers[1])
    with failing_after(servers[0], completions=6) as (flaky, sent):
        job = ScaleJob(
            input=table, output=tmp_path / "out", column="term", ontology="tiny",
            data_dir=catalog.data_dir,
            config=replace(config, server=flaky), servers=(flaky, servers[1]), chunk_terms=3,
        )  # fmt: skip
        with local_cluster(2) as cluster, Client(cluster) as client:
            summary = map_on_cluster(job, client)
    rows = pd.concat([pd.read_parquet(p) for p in sorted(job.output.glob("part-*.parquet"))])
    assert summary.rows == len(rows) == 36
    assert sent["completions"] > 6  # it broke down during the run and was asked no more
    assert "model_unavailable" not in set(rows["status"])  # every row had the model's answer
    # The same ids as one healthy server gives, row for row (mapped afresh, in another copy).
    alone = build_mapper(config, tiny_store_catalog(tmp_path / "alone"))
    alone = prepare_targets(alone, ["tiny"]).mapper
    expected = [
        r.best.curie if r.best else "" for r in alone.map_many(Query(t, "tiny") for t in terms * 3)
    ]
    assert any(r for r in expected)  # the model proposed ids (held to the store's)
    assert rows["mapped_id"].tolist() == expected
    # The workers' answers were cached by the driver, in the store.
    store = catalog.open("tiny")
    count = store._conn().execute("SELECT COUNT(*) FROM model_answers").fetchone()[0]
    assert count >= len(terms)
