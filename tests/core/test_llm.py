"""The local model as a candidate source, on the real tiny GGUF model the training chain builds.

The model (under a million parameters) knows ~50 "What is the HPO identifier for X?" pairs by
heart (pairs.tsv); its adapter knows ten more. Everything runs through llama-cpp-python.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import llama_cpp  # installed by `make test`: missing, the install is broken
import pytest
import uvicorn  # noqa: F401 - the server tests need it (llama-cpp-python[server])

from term2id.core.candidates import MappingStatus, Query, Verdict
from term2id.core.errors import SourceUnavailable
from term2id.core.llm.llama import BATCH_WIDTH
from term2id.core.llm.source import LLMSource, ModelOutputUnparsable, open_llm_source
from term2id.core.mapping.mapper import Mapper
from term2id.core.mapping.sources import default_sources
from term2id.core.ontology.catalog import StoreCatalog

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def tiny(tiny_model):
    """The tiny model, its Q8_0 copy and its adapter: the run's shared fixture."""
    return tiny_model


@pytest.fixture
def hp_catalog(hpo_data_dir: Path, tmp_path: Path) -> StoreCatalog:
    """A private copy of the HPO store, so answer-cache writes stay within one test."""
    catalog = StoreCatalog(tmp_path / "data")
    catalog.stores_dir.mkdir(parents=True)
    shutil.copy2(StoreCatalog(hpo_data_dir).path_of("hp"), catalog.path_of("hp"))
    return catalog


def plain_answers(
    model: Path, terms: list[str], template: str, adapter: Path | None = None
) -> list[str]:
    """Greedy answers of a bare llama-cpp-python call, as the training chain measured them."""
    from term2id.core.llm.llama import LlamaCppBackend

    backend = LlamaCppBackend(model, adapter, n_ctx=256)
    try:
        return [
            backend.plain_call(template.format(term=t), None, max_tokens=16).strip() for t in terms
        ]
    finally:
        backend.close()


@pytest.fixture(scope="session")
def known(tiny) -> list[tuple[str, str]]:
    """The pairs the base model answers right without any constraint."""
    answers = plain_answers(tiny.model_gguf, [t for t, _ in tiny.pairs], tiny.prompt_template)
    right = [(t, c) for (t, c), a in zip(tiny.pairs, answers, strict=True) if a == c]
    assert len(right) / len(tiny.pairs) == pytest.approx(tiny.llama_cpp_accuracy)
    assert right, "the tiny model learned none of its pairs"
    return right


def top1_accuracy(source: LLMSource, store, pairs) -> float:
    right = 0
    for term, curie in pairs:
        with contextlib.suppress(ModelOutputUnparsable):
            right += source.propose(Query(term, "hp"), store, 10)[0].curie == curie
    return right / len(pairs)


def test_propose_names_the_memorised_ids(tiny, known, hp_catalog: StoreCatalog) -> None:
    store = hp_catalog.open("hp")
    source = open_llm_source(model=tiny.model_gguf, cache=False)
    assert top1_accuracy(source, store, known) == 1.0
    # Unconstrained, our decoding scores exactly what the training chain reported; the grammar
    # can only turn wrong answers into right ones (every right answer is an allowed id).
    free = open_llm_source(model=tiny.model_gguf, cache=False, constrained=False)
    assert top1_accuracy(free, store, tiny.pairs) == pytest.approx(tiny.llama_cpp_accuracy)
    assert top1_accuracy(source, store, tiny.pairs) >= tiny.llama_cpp_accuracy


def test_answers_are_ids_that_exist_in_the_store(tiny, hp_catalog: StoreCatalog) -> None:
    store = hp_catalog.open("hp")
    source = open_llm_source(model=tiny.model_gguf, k=5, cache=False)
    for term, _ in tiny.pairs[:15]:
        proposals = source.propose(Query(term, "hp"), store, 10)
        assert len(proposals) > 1  # alternatives, each with its own log-probability
        assert all(store.lookup(p.curie) is not None for p in proposals)
        scores = [p.evidence.score for p in proposals]
        assert scores == sorted(scores, reverse=True)
        assert all(
            p.evidence.source == "llm" and "log-probability" in p.evidence.detail for p in proposals
        )


def test_without_the_allow_list_answers_still_have_the_id_shape(
    tiny, known, hp_catalog: StoreCatalog
) -> None:
    import re

    store = hp_catalog.open("hp")
    source = open_llm_source(model=tiny.model_gguf, k=5, allow_list=False, cache=False)
    for term, curie in known[:10]:
        proposals = source.propose(Query(term, "hp"), store, 10)
        assert proposals[0].curie == curie
        assert all(re.fullmatch(r"HP:\d{7}", p.curie) for p in proposals)


def test_the_mapper_verifies_what_the_model_names(tiny, known, hp_catalog: StoreCatalog) -> None:
    source = open_llm_source(model=tiny.model_gguf, k=3, cache=False)
    mapper = Mapper(hp_catalog, [source])
    term, curie = known[0]
    result = mapper.map(Query(term, "hp"))
    assert result.best is not None and result.best.curie == curie
    assert result.best.verdict is Verdict.VERIFIED
    # the model's runner-up answers name other terms: shown as mismatches, never accepted
    others = [c for c in result.candidates[1:] if "llm" in c.sources]
    assert others and all(c.verdict is Verdict.LABEL_MISMATCH for c in others)


def test_the_adapter_loads_with_lora_path(tiny, hp_catalog: StoreCatalog) -> None:
    store = hp_catalog.open("hp")
    mixed = [*tiny.pairs, *tiny.adapter_pairs]
    answers = plain_answers(
        tiny.model_gguf, [t for t, _ in mixed], tiny.prompt_template, tiny.adapter_gguf
    )
    reported = sum(a == c for a, (_, c) in zip(answers, mixed, strict=True)) / len(mixed)
    assert reported == pytest.approx(tiny.adapter_llama_cpp_accuracy)
    adapted = open_llm_source(model=tiny.model_gguf, adapter=tiny.adapter_gguf, cache=False)
    assert adapted.backend.check().adapter is not None
    assert top1_accuracy(adapted, store, mixed) >= tiny.adapter_llama_cpp_accuracy
    # the adapter changes the model: the same question gets other log-probabilities
    base = open_llm_source(model=tiny.model_gguf, cache=False)
    term = tiny.adapter_pairs[0][0]
    with_adapter = adapted.propose(Query(term, "hp"), store, 1)[0].evidence
    without = base.propose(Query(term, "hp"), store, 1)[0].evidence
    assert (with_adapter.matched_text, with_adapter.score) != (without.matched_text, without.score)


def test_the_quantized_model_answers_too(tiny, hp_catalog: StoreCatalog) -> None:
    store = hp_catalog.open("hp")
    free = open_llm_source(model=tiny.model_q8_gguf, cache=False, constrained=False)
    assert top1_accuracy(free, store, tiny.pairs) == pytest.approx(tiny.q8_llama_cpp_accuracy)


def test_a_rerun_is_answered_from_the_store_cache(tiny, hp_catalog: StoreCatalog) -> None:
    first = open_llm_source(model=tiny.model_gguf, k=3)
    store = hp_catalog.open("hp")
    answers = [first.propose(Query(t, "hp"), store, 10) for t, _ in tiny.pairs]
    assert first.stats.asked == len(tiny.pairs) and first.stats.cached == 0
    # a new source (as in a new run) over the same store file asks the model nothing
    again = open_llm_source(model=tiny.model_gguf, k=3)
    store = StoreCatalog(hp_catalog.data_dir).open("hp")
    assert [again.propose(Query(t, "hp"), store, 10) for t, _ in tiny.pairs] == answers
    assert again.stats.asked == 0 and again.stats.cached == len(tiny.pairs)
    assert again.backend._llama is None  # the model was not even loaded
    # another adapter is another model: its answers are not taken from the cache
    adapted = open_llm_source(model=tiny.model_gguf, adapter=tiny.adapter_gguf, k=3)
    adapted.propose(Query(tiny.pairs[0][0], "hp"), store, 10)
    assert adapted.stats.asked == 1


def test_unparsable_output_is_counted_and_shown_on_the_row(
    tiny, tiny_catalog: StoreCatalog
) -> None:
    # Unconstrained, as with a server that ignores grammars: asked for a "TP" id, the model
    # (which only knows HPO) answers something else, which must not parse as a TP id.
    source = open_llm_source(model=tiny.model_gguf, cache=False, constrained=False)
    store = tiny_catalog.open("tiny")
    with pytest.raises(ModelOutputUnparsable):
        source.propose(Query("Seizure", "tiny"), store, 5)
    result = Mapper(tiny_catalog, [source]).map(Query("Abnormality of the nervous system", "tiny"))
    assert source.stats.unparsable == 2
    assert result.status is MappingStatus.MODEL_UNAVAILABLE
    assert any("did not parse" in note and "2 unparsable answers" in note for note in result.notes)
    # with other sources the row still gets their candidates, and the note
    mixed = Mapper(tiny_catalog, [*default_sources(("exact",)), source]).map(
        Query("Seizure", "tiny")
    )
    assert mixed.best is not None and mixed.best.curie == "TP:0000003"
    assert any("did not parse" in note for note in mixed.notes)


def test_choose_picks_among_the_other_sources_candidates(tiny, hp_catalog: StoreCatalog) -> None:
    chooser = open_llm_source(model=tiny.model_gguf, mode="choose", cache=False)
    plain = Mapper(hp_catalog, default_sources(("exact", "fuzzy")))
    reranked = Mapper(hp_catalog, default_sources(("exact", "fuzzy")), rerankers=[chooser])
    moved = 0  # rows whose first candidate the model replaced by one ranked lower
    for term, _ in tiny.pairs[:5]:
        before = plain.map(Query(term, "hp"))
        after = reranked.map(Query(term, "hp"))
        shown = [c.curie for c in before.candidates[: chooser.choose_among]]
        if after.best is not None and "llm" in after.best.sources:
            assert after.best.curie in shown
            assert "chosen by the model" in after.best.evidence[-1].detail
            rest = [c.curie for c in after.candidates[1:]]
            assert rest == [
                c for c in (x.curie for x in before.candidates) if c != after.best.curie
            ]
            moved += after.best.curie != before.candidates[0].curie
        else:
            assert [c.curie for c in after.candidates] == [c.curie for c in before.candidates]
            assert any("none of the top" in n or "did not parse" in n for n in after.notes)
    assert chooser.stats.asked == 5
    # The model does choose: on some rows its pick was not the candidate already first.
    assert moved >= 1


def test_the_model_can_be_used_from_worker_threads(tiny, hp_catalog: StoreCatalog) -> None:
    source = open_llm_source(model=tiny.model_gguf, cache=False)
    store = hp_catalog.open("hp")
    sequential = [source.propose(Query(t, "hp"), store, 1)[0].curie for t, _ in tiny.pairs]

    def ask(term: str) -> str:
        return source.propose(Query(term, "hp"), hp_catalog.open("hp"), 1)[0].curie

    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = list(pool.map(ask, [t for t, _ in tiny.pairs]))
    assert threaded == sequential


# -- the server backend ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _serve(model: Path, *options: str, key: str | None = None):
    """A real llama_cpp.server on 127.0.0.1, its URL once it answers."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "term2id.core.llm.serve", "--model", str(model),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "256", *options,
         *(("--api_key", key) if key else ())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"llama_cpp.server exited: {process.stderr.read().decode()[-2000:]}"
                )
            try:
                request = urllib.request.Request(url + "/v1/models", headers=headers)
                with urllib.request.urlopen(request, timeout=2) as reply:
                    json.loads(reply.read())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def llama_server(tiny):
    with _serve(tiny.model_gguf) as url:
        yield url


def test_mapping_through_an_openai_compatible_server(
    tiny, known, llama_server: str, hp_catalog: StoreCatalog
) -> None:
    from term2id.core.llm.grammar import allow_list_grammar

    remote = open_llm_source(server=llama_server, cache=False)
    local = open_llm_source(model=tiny.model_gguf, cache=False)
    store = hp_catalog.open("hp")
    # The server honours the grammar: asked under one that allows every id of the store except
    # the one the model memorised (which it names when free), it answers another allowed id,
    # the same one as in-process under that grammar.
    _, template = remote._propose_template(store)
    for term, curie in known[:3]:
        prompt = template.replace("{term}", term)
        assert remote.backend.complete(prompt, None)[0].text.strip() == curie
        forbidding = allow_list_grammar([c for c in store.labels() if c != curie])
        answer = remote.backend.complete(prompt, forbidding)[0].text.strip()
        assert answer != curie and forbidding.accepts(answer)
        assert answer == local.backend.complete(prompt, forbidding)[0].text.strip()
    mapper = Mapper(hp_catalog, [remote])
    for term, curie in known[:5]:
        result = mapper.map(Query(term, "hp"))
        assert result.best is not None and result.best.curie == curie
        assert result.best.verdict is Verdict.VERIFIED


def test_an_unreachable_server_leaves_the_other_sources_answering(hp_catalog: StoreCatalog) -> None:
    source = open_llm_source(server=f"http://127.0.0.1:{_free_port()}", timeout=2)
    with pytest.raises(SourceUnavailable):
        source.propose(Query("Seizure", "hp"), hp_catalog.open("hp"), 5)
    alone = Mapper(hp_catalog, [source]).map(Query("Seizure", "hp"))
    assert alone.status is MappingStatus.MODEL_UNAVAILABLE
    assert any("llm unavailable" in note and "unreachable" in note for note in alone.notes)
    mixed = Mapper(hp_catalog, [*default_sources(("exact",)), source]).map(Query("Seizure", "hp"))
    assert mixed.best is not None and mixed.best.curie == "HP:0001250"
    assert any("llm unavailable" in note for note in mixed.notes)


def test_a_server_beyond_the_local_network_is_refused() -> None:
    from term2id.core.errors import Term2IdError

    with pytest.raises(Term2IdError, match="not on the local network"):
        open_llm_source(server="http://8.8.8.8:8000")


def test_llm_source_satisfies_the_candidate_source_protocol(tiny) -> None:
    from term2id.core.mapping.sources import CandidateSource

    assert isinstance(open_llm_source(model=tiny.model_gguf), CandidateSource)
    assert LLMSource.name == "llm"


# -- the command line ------------------------------------------------------------------------------


def _cli(*args: str):
    from typer.testing import CliRunner

    from term2id.cli.app import app

    return CliRunner().invoke(app, list(args))


def test_eval_of_the_model_alone_scores_what_training_reported(
    tiny, hp_catalog: StoreCatalog
) -> None:
    result = _cli(
        "eval", str(tiny.out_dir / "pairs.tsv"), "--ontology", "hp", "--model", str(tiny.model_gguf),
        "--sources", "llm", "--json", "--data-dir", str(hp_catalog.data_dir),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    # what the training chain reported, plus any answer the id grammar turned from wrong to right
    assert report["top1"] >= tiny.llama_cpp_accuracy - 1e-9
    assert report["top1"] - tiny.llama_cpp_accuracy <= 0.1
    assert report["n"] == len(tiny.pairs)
    assert "attack surface" in result.output  # the notice shown where a model file is chosen


def test_map_with_the_model_writes_its_ids(
    tiny, known, hp_catalog: StoreCatalog, tmp_path: Path
) -> None:
    sheet = tmp_path / "terms.csv"
    sheet.write_text("Term\n" + "".join(f"{t}\n" for t, _ in known[:5]), encoding="utf-8")
    output = tmp_path / "mapped.csv"
    result = _cli(
        "map", str(sheet), "-c", "Term", "-o", str(output), "--model", str(tiny.model_gguf),
        "--sources", "llm", "--data-dir", str(hp_catalog.data_dir),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = output.read_text(encoding="utf-8")
    assert all(curie in written for _, curie in known[:5])
    asked = min(5, len(known))
    assert f"{asked} questions asked, 0 answered from the cache" in " ".join(result.output.split())
    # the same command again: every answer from the store's cache, the model not asked
    again = _cli(
        "map", str(sheet), "-c", "Term", "-o", str(output), "--model", str(tiny.model_gguf),
        "--sources", "llm", "--data-dir", str(hp_catalog.data_dir),
    )  # fmt: skip
    assert f"0 questions asked, {asked} answered from the cache" in " ".join(again.output.split())
    assert output.read_text(encoding="utf-8") == written


def test_map_with_an_unreachable_server_says_so_on_the_rows(
    hp_catalog: StoreCatalog, tmp_path: Path
) -> None:
    sheet = tmp_path / "terms.csv"
    sheet.write_text("Term\nSeizure\nno such phenotype at all\n", encoding="utf-8")
    output = tmp_path / "mapped.csv"
    result = _cli(
        "map", str(sheet), "-c", "Term", "-o", str(output), "--sources", "exact,llm",
        "--server", f"http://127.0.0.1:{_free_port()}", "--data-dir", str(hp_catalog.data_dir),
        "--sssom", str(tmp_path / "mapped.sssom.tsv"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = output.read_text(encoding="utf-8")
    assert "HP:0001250" in written  # the exact source still answered
    assert "model_unavailable" in written  # the row only the model could have answered
    assert "llm unavailable" in (tmp_path / "mapped.sssom.tsv").read_text(encoding="utf-8")


def test_a_bad_model_file_is_one_line_and_a_nonzero_exit(
    tmp_path: Path, hpo_data_dir: Path
) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("not a model")
    gold = tmp_path / "gold.tsv"
    gold.write_text("term\texpected_curie\nSeizure\tHP:0001250\n", encoding="utf-8")
    command = [sys.executable, "-c", "from term2id.cli import main; main()", "eval", str(gold),
               "--model", str(fake), "--sources", "llm", "--data-dir", str(hpo_data_dir)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(fake) in errors[0] and "not a GGUF model file" in errors[0]
    assert "Traceback" not in done.stderr


def test_propose_and_choose_interleaved_give_the_same_answers(
    tiny, known, hp_catalog: StoreCatalog
) -> None:
    # Both templates alternate row by row: each template's saved prompt state is restored
    # instead of re-read, and must not change a single answer.
    both = open_llm_source(model=tiny.model_gguf, mode="both", cache=False)
    mapper = Mapper(hp_catalog, [*default_sources(("exact",)), both], rerankers=[both])
    for term, curie in known[:12]:
        result = mapper.map(Query(term, "hp"))
        proposed = [
            c.curie for c in result.candidates
            if any(e.source == "llm" and e.rank == 1 and "log-probability" in e.detail for e in c.evidence)
        ]  # fmt: skip
        assert proposed == [curie]
    assert both.stats.asked == 2 * len(known[:12])
    assert len(both.backend._prefix_states) == 2


def test_a_server_that_does_not_answer_in_time_is_unavailable(hp_catalog: StoreCatalog) -> None:
    with socket.socket() as listener:  # accepts connections, never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        source = open_llm_source(server=url, timeout=1, cache=False)
        with pytest.raises(SourceUnavailable, match="did not answer within 1 s"):
            source.propose(Query("Seizure", "hp"), hp_catalog.open("hp"), 5)


def test_prompts_decoded_side_by_side_give_the_one_by_one_answers(
    tiny, hp_catalog: StoreCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Known and unknown terms mixed: answers of different lengths finish at different steps.
    terms = [t for t, _ in [*tiny.pairs, *tiny.adapter_pairs]]
    store = hp_catalog.open("hp")
    source = open_llm_source(model=tiny.model_gguf, k=3, cache=False)
    source.prepare(store)
    backend = source.backend
    assert backend._wide  # the context holds several sequences: the batched path is taken
    grammar = source._grammar(store, False)
    _, template = source._propose_template(store)
    prompts = [template.replace("{term}", t) for t in terms]
    prefix = template.split("{term}", 1)[0]
    one_by_one = [backend.complete(p, grammar, k=3, prefix=prefix) for p in prompts]
    # Count the sequences in each llama_decode that succeeds: had every batch fallen back to
    # one prompt at a time, none would hold more than one.
    widths: list[int] = []
    decode = llama_cpp.llama_decode

    def counting_decode(ctx, batch):
        status = decode(ctx, batch)
        if status == 0:
            widths.append(len({batch.seq_id[i][0] for i in range(batch.n_tokens)}))
        return status

    monkeypatch.setattr(llama_cpp, "llama_decode", counting_decode)
    side_by_side = backend.complete_many(prompts, grammar, k=3, prefix=prefix)
    monkeypatch.undo()
    assert 1 < max(widths) <= BATCH_WIDTH  # batches of several sequences ran
    assert [[a.text for a in answers] for answers in side_by_side] == [
        [a.text for a in answers] for answers in one_by_one
    ]
    for batched, single in zip(side_by_side, one_by_one, strict=True):
        # Batched matrix products may sum in another order (AVX-512 kernels): 1e-4, not 0.
        assert [a.logprob for a in batched] == pytest.approx([a.logprob for a in single], abs=1e-4)
    # After a batch the single-prompt path still finds its state intact.
    assert backend.complete(prompts[0], grammar, k=3, prefix=prefix) == one_by_one[0]


def test_map_many_asks_the_model_in_batches_with_the_same_results(
    tiny, hp_catalog: StoreCatalog
) -> None:
    queries = [Query(t, "hp") for t, _ in [*tiny.pairs, *tiny.adapter_pairs]]
    single = open_llm_source(model=tiny.model_gguf, k=3, cache=False)
    expected = [Mapper(hp_catalog, [single]).map(q) for q in queries]
    batched = open_llm_source(model=tiny.model_gguf, k=3, cache=False)
    calls: list[int] = []
    complete_many = batched.backend.complete_many
    batched.backend.complete_many = lambda prompts, *a, **kw: (  # type: ignore[method-assign]
        calls.append(len(prompts)) or complete_many(prompts, *a, **kw)
    )
    got = list(Mapper(hp_catalog, [batched]).map_many(queries))
    assert calls == [len(queries)]  # one prefetch for the whole chunk of rows
    assert batched.stats.asked == len(queries)  # each term asked once, not again by propose
    assert [[c.curie for c in r.candidates] for r in got] == [
        [c.curie for c in r.candidates] for r in expected
    ]
    assert [r.status for r in got] == [r.status for r in expected]


def test_a_batched_first_pass_fills_the_answer_cache_for_the_rerun(
    tiny, hp_catalog: StoreCatalog
) -> None:
    queries = [Query(t, "hp") for t, _ in tiny.pairs]
    first = open_llm_source(model=tiny.model_gguf, k=3)
    results = list(Mapper(hp_catalog, [first]).map_many(queries))
    assert first.stats.asked == len(queries) and first.stats.cached == 0
    rerun = open_llm_source(model=tiny.model_gguf, k=3)
    again = list(Mapper(hp_catalog, [rerun]).map_many(queries))
    assert rerun.stats.asked == 0 and rerun.stats.cached == len(queries)
    assert [[c.curie for c in r.candidates] for r in again] == [
        [c.curie for c in r.candidates] for r in results
    ]


def test_a_top_k_below_k_asks_each_term_once(tiny, hp_catalog: StoreCatalog) -> None:
    # The mapper asks each source for top_k candidates; with top_k 2 the model is asked for 2
    # answers, not its k of 3, and the prefetched batch must be that same question.
    queries = [Query(t, "hp") for t, _ in tiny.pairs[:12]]
    source = open_llm_source(model=tiny.model_gguf, k=3, cache=False)
    asked: list[int] = []
    complete, complete_many = source.backend.complete, source.backend.complete_many
    source.backend.complete = lambda prompt, *a, **kw: (  # type: ignore[method-assign]
        asked.append(1) or complete(prompt, *a, **kw)
    )
    source.backend.complete_many = lambda prompts, *a, **kw: (  # type: ignore[method-assign]
        asked.append(len(prompts)) or complete_many(prompts, *a, **kw)
    )
    results = list(Mapper(hp_catalog, [source], top_k=2).map_many(queries))
    assert asked == [len(queries)]  # one batch; propose found every answer prefetched
    assert source.stats.asked == len(queries)
    assert all(len(r.candidates) <= 2 for r in results)


# -- a server behind an API key -------------------------------------------------------------------


@pytest.fixture(scope="session")
def server_key() -> str:
    import secrets

    return "t2id-key-" + secrets.token_hex(16)


@pytest.fixture(scope="session")
def keyed_server(tiny, server_key: str):
    with _serve(tiny.model_gguf, "--model_alias", "tiny", key=server_key) as url:
        yield url


def test_a_servers_api_key_is_sent_but_never_written_or_logged(
    tiny, known, keyed_server: str, server_key: str, hp_catalog: StoreCatalog, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    import logging
    import sqlite3

    from term2id.core.curation.session import CurationSession
    from term2id.core.curation.session_input import SessionInput
    from term2id.core.llm.server import API_KEY_ENV

    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    terms = [t for t, _ in known[:5]]
    # Without the key the server refuses: the row says so, and how to give one.
    refused = Mapper(hp_catalog, [open_llm_source(server=keyed_server)]).map(Query(terms[0], "hp"))
    assert refused.status is MappingStatus.MODEL_UNAVAILABLE
    assert any("HTTP 401" in n and "an API key is needed" in n for n in refused.notes)

    # --api-key on the installed command, run twice: the second run is served from the cache.
    sheet = tmp_path / "terms.csv"
    sheet.write_text("Term\n" + "".join(f"{t}\n" for t in terms), encoding="utf-8")
    runs = []
    for _ in range(2):
        runs.append(subprocess.run(
            [sys.executable, "-c", "from term2id.cli import main; main()", "--verbose", "map",
             str(sheet), "-c", "Term", "-o", str(tmp_path / "mapped.csv"), "--sources", "llm",
             "--server", keyed_server, "--api-key", server_key,
             "--sssom", str(tmp_path / "mapped.sssom.tsv"), "--data-dir", str(hp_catalog.data_dir)],
            capture_output=True, text=True, timeout=300,
        ))  # fmt: skip
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr[-2000:]
    assert all(c in (tmp_path / "mapped.csv").read_text("utf-8") for _, c in known[:5])
    assert f"{len(terms)} questions asked, 0 answered from the cache" in runs[0].stdout
    assert f"0 questions asked, {len(terms)} answered from the cache" in runs[1].stdout

    # From the environment, as the application does, into a curation session.
    monkeypatch.setenv(API_KEY_ENV, server_key)
    source = open_llm_source(server=keyed_server)
    session = CurationSession.create(
        tmp_path / "review.t2id",
        SessionInput(("Term",), [(t,) for t in terms], "Term", "hp", source_path=str(sheet)),
    )
    results = list(Mapper(hp_catalog, [source]).map_many([Query(t, "hp") for t in terms]))
    assert [r.best.curie for r in results] == [c for _, c in known[:5]]
    session.record_results(enumerate(results), {"hp": "x"}, model=keyed_server)
    session.close()
    store = sqlite3.connect(hp_catalog.path_of("hp"))
    try:
        assert store.execute("SELECT count(*) FROM model_answers").fetchone()[0] == len(terms)
    finally:
        store.close()

    # Nothing written (outputs, store with its answer cache, session) nor logged holds the key.
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.suffix for p in written} >= {".csv", ".tsv", ".t2id", ".sqlite"}
    assert [p for p in written if server_key.encode() in p.read_bytes()] == []
    logged = caplog.text + "".join(run.stdout + run.stderr for run in runs)
    assert "INFO" in logged and server_key not in logged


def test_server_answers_are_cached_by_the_weights_served_not_the_name(
    tiny, keyed_server: str, server_key: str
) -> None:
    from term2id.core.llm.server import OpenAICompletionsBackend

    keyed = OpenAICompletionsBackend(keyed_server, api_key=server_key).identity()
    assert keyed == OpenAICompletionsBackend(keyed_server, api_key=server_key).identity()
    assert keyed_server not in keyed[0] and server_key not in keyed[0]
    # The same name with an adapter on the same base: llama_cpp.server reports nothing about
    # weights but the name, so the probe's log-probabilities must tell them apart.
    with _serve(tiny.model_gguf, "--model_alias", "tiny", "--lora_path",
                str(tiny.adapter_gguf)) as adapted_url:  # fmt: skip
        adapted = OpenAICompletionsBackend(adapted_url).identity()
    assert adapted[0].startswith("server:tiny:") and keyed[0].startswith("server:tiny:")
    assert adapted != keyed
