"""An evaluation from request to report: the checks, a gold file, and held-out synonyms measured
on a copy of the store (the sentence model, when tuned, tuned on that copy only)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from term2id.core.errors import Term2IdError
from term2id.core.evaluation import EvaluationRequest
from term2id.core.evaluation.measure import evaluate, read_gold, sample_synonyms
from term2id.core.mapping.mapper import Mapper, default_sources
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.store import OntologyStore


def _mapper(catalog: StoreCatalog) -> Mapper:
    return Mapper(catalog, default_sources(["exact", "fuzzy"]))


def test_a_request_needs_a_gold_file_or_held_out_synonyms_not_both(tmp_path: Path) -> None:
    for request in (EvaluationRequest("tiny"), EvaluationRequest("tiny", tmp_path, 3)):
        with pytest.raises(Term2IdError, match="give either a GOLD file or --hold-out-synonyms"):
            request.check()
    assert EvaluationRequest("tiny", gold=tmp_path / "gold.tsv").check() is None
    assert EvaluationRequest("tiny", hold_out=3).check() is None


def test_a_model_trained_on_the_store_s_synonyms_is_refused_and_one_without_manifest_warned(
    tmp_path: Path,
) -> None:
    request = EvaluationRequest("tiny", hold_out=3)
    unknown = tmp_path / "unknown.gguf"
    assert "no training manifest" in (request.check(unknown) or "")
    trained = tmp_path / "trained.gguf"
    manifest = {"ontology": "tiny", "tasks": ["synonym2id"], "release": "2024-01-01"}
    Path(f"{trained}.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(Term2IdError, match="has seen the synonyms"):
        request.check(trained)
    # With a gold file nothing is held out, so nothing the model saw can leak.
    assert EvaluationRequest("tiny", gold=tmp_path / "g.tsv").check(trained) is None


def test_tuning_the_sentence_model_needs_held_out_synonyms_and_the_semantic_source(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    for request in (
        EvaluationRequest("tiny", hold_out=3, tune_embeddings=True),  # no semantic source
        EvaluationRequest("tiny", gold=tmp_path / "g.tsv", tune_embeddings=True),
    ):
        with pytest.raises(Term2IdError, match="--tune-embeddings needs --hold-out-synonyms"):
            request.check_mapper(_mapper(tiny_catalog))


def test_a_gold_file_is_measured_as_evaluate_measures_it(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    gold = tmp_path / "gold.tsv"
    gold.write_text(
        "term\texpected_curie\nSeizures\tTP:0000003\nanaemia\tTP:0000005\nxylophone\tTP:0000011\n",
        encoding="utf-8",
    )
    run = EvaluationRequest("tiny", gold=gold).run(_mapper(tiny_catalog), tiny_catalog)
    assert run.measured == str(gold)
    direct = evaluate(_mapper(tiny_catalog), read_gold(gold), "tiny")
    assert (run.report.n, run.report.top1, run.report.coverage) == (3, 0.6667, 0.6667)
    assert (run.report.top1, run.report.top5, run.report.mrr) == (
        direct.top1, direct.top5, direct.mrr,
    )  # fmt: skip


def test_a_gold_file_without_rows_is_refused(tiny_catalog: StoreCatalog, tmp_path: Path) -> None:
    gold = tmp_path / "empty.tsv"
    gold.write_text("term\texpected_curie\n", encoding="utf-8")
    with pytest.raises(Term2IdError, match="no rows to evaluate"):
        EvaluationRequest("tiny", gold=gold).run(_mapper(tiny_catalog), tiny_catalog)


def test_held_out_synonyms_are_measured_on_a_copy_in_named_steps(
    tiny_catalog: StoreCatalog,
) -> None:
    store_file = tiny_catalog.open("tiny").path
    before = store_file.read_bytes()
    steps: list[str] = []

    def step(description: str) -> contextlib.nullcontext[None]:
        steps.append(description)
        return contextlib.nullcontext()

    run = EvaluationRequest("tiny", hold_out=4, seed=7).run(
        _mapper(tiny_catalog), tiny_catalog, step=step
    )
    assert run.measured == "4 held-out synonyms of tiny (seed 7)"
    # As in test_evaluation: with their synonyms gone, two of the four are found first.
    assert (run.report.n, run.report.top1, run.report.top5) == (4, 0.5, 0.5)
    assert "held-out synonyms" in run.report.release
    assert steps[-2:] == ["holding out 4 synonyms", "evaluating"]
    assert store_file.read_bytes() == before  # the real store is never touched


def test_the_sentence_model_is_tuned_on_the_copy_without_the_held_out_synonyms(
    tiny_catalog: StoreCatalog,
) -> None:
    held_out = {text for _, text in sample_synonyms(tiny_catalog.open("tiny"), 4, 7)}
    seen: list[set[str]] = []

    def tune(store: OntologyStore, progress: object) -> int:
        names = {s.text for term in store.terms(include_obsolete=True) for s in term.synonyms}
        seen.append(names)
        return len(names)

    request = EvaluationRequest("tiny", hold_out=4, seed=7, tune_embeddings=True)
    run = request.run(_mapper(tiny_catalog), tiny_catalog, tune=tune)
    everything = {
        s.text
        for term in tiny_catalog.open("tiny").terms(include_obsolete=True)
        for s in term.synonyms
    }
    assert len(seen) == 1 and len(seen[0]) == len(everything) - 4
    assert not held_out & seen[0]
    assert run.measured == (
        f"4 held-out synonyms of tiny (seed 7), sentence model tuned on {len(seen[0])} pairs of "
        "the rest"
    )


def test_held_out_synonyms_come_from_one_store(tiny_catalog: StoreCatalog) -> None:
    with pytest.raises(Term2IdError, match="works on one store"):
        EvaluationRequest("tiny,hp", hold_out=2).run(_mapper(tiny_catalog), tiny_catalog)
