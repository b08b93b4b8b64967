"""Training data: the JSONL format, curated decisions, and popularity-balanced splits."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from term2id.core.curation.training_records import (
    TrainingRecord,
    read_jsonl,
    records_from_decisions,
    write_jsonl,
)
from term2id.core.errors import InputFileError
from term2id.core.llm.prompts import render_prompt
from term2id.training.datasets import build_dataset, popularity_split, write_dataset
from term2id.training.errors import TrainingError


def test_jsonl_round_trip_keeps_every_field(tmp_path: Path) -> None:
    records = [
        TrainingRecord("What is the HPO identifier for Seizure?", " HP:0001250", "term2id", "hp",
                       "Seizure", "HP:0001250", "train", "HP:0001250", 120, 0, 1),
        TrainingRecord("Q ünïcode?", " none", "choose", "hp", "ünïcode", "none", "curated",
                       source="session"),
    ]  # fmt: skip
    path = tmp_path / "d.jsonl"
    assert write_jsonl(records, path) == 2
    assert list(read_jsonl(path)) == records
    assert (
        json.loads(path.read_text(encoding="utf-8").splitlines()[0])["completion"] == " HP:0001250"
    )


def test_a_broken_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    good = {"prompt": "p", "completion": " c", "task": "term2id", "ontology": "hp",
            "term": "t", "answer": "c"}  # fmt: skip
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "answer": 3}) + "\n")
    with pytest.raises(InputFileError, match=r"d.jsonl:2: .*answer"):
        list(read_jsonl(path))
    path.write_text(json.dumps(good) + "\n{oops\n")
    with pytest.raises(InputFileError, match=r"d.jsonl:2: not valid JSON"):
        list(read_jsonl(path))


def test_curated_decisions_become_positives_and_negatives() -> None:
    decisions = [
        ("fits", "hp", "HP:0001250", ["HP:0002069"],
         [("HP:0002069", "Bilateral tonic-clonic seizure"), ("HP:0001250", "Seizure")]),
        ("blue nails", "hp", None, ["HP:0001000", "HP:0001001"],
         [("HP:0001000", "Abnormality of skin pigmentation"), ("HP:0001001", "x"), ("HP:9", "y")]),
        ("undecided", "hp", None, [], [("HP:0001250", "Seizure")]),
    ]  # fmt: skip
    records = records_from_decisions(decisions)
    by_task = Counter((r.term, r.task) for r in records)
    assert by_task == {("fits", "term2id"): 1, ("fits", "choose"): 1, ("blue nails", "choose"): 1}
    choose_fits = next(r for r in records if r.term == "fits" and r.task == "choose")
    assert choose_fits.completion == " HP:0001250" and "HP:0002069" in choose_fits.prompt
    negative = next(r for r in records if r.term == "blue nails")
    assert negative.completion == " none"
    assert "HP:9" not in negative.prompt  # a candidate nobody rejected is not claimed wrong
    assert all(r.split == "curated" and r.source == "session" for r in records)
    assert records[0].prompt == render_prompt("term2id", 0, ontology="HPO", term="fits")


def test_popularity_split_is_disjoint_and_balanced(hpo_store) -> None:
    terms = list(hpo_store.terms(include_obsolete=False))
    sampled = popularity_split(terms, per_bin=7, n_bins=20, seed=3)
    train = [s for s in sampled if s.split == "train"]
    withheld = [s for s in sampled if s.split == "withheld"]
    assert Counter(s.popularity_bin for s in train) == {b: 7 for b in range(20)}
    assert Counter(s.popularity_bin for s in withheld) == {b: 7 for b in range(20)}
    assert not {s.term.curie for s in train} & {s.term.curie for s in withheld}
    # Bin 0 holds the most annotated terms, the last bin the least.
    first = min(s.term.popularity or 0 for s in sampled if s.popularity_bin == 0)
    last = max(s.term.popularity or 0 for s in sampled if s.popularity_bin == 19)
    assert first >= last
    assert first > 0
    again = popularity_split(terms, per_bin=7, n_bins=20, seed=3)
    assert [s.term.curie for s in again] == [s.term.curie for s in sampled]


def test_dataset_from_hpo_has_every_task_and_paraphrases(hpo_store, tmp_path: Path) -> None:
    dataset = build_dataset(
        hpo_store, ["term2id", "id2term", "synonym2id", "choose"], per_bin=2, paraphrases=2
    )
    tasks = Counter(r.task for r in dataset.train)
    assert tasks["term2id"] == 2 * 20 * 2 and tasks["id2term"] == 80
    assert 0 < tasks["synonym2id"] <= 80 and tasks["choose"] == 80
    first = next(r for r in dataset.train if r.task == "term2id")
    assert first.prompt == f"What is the HPO identifier for {first.term}?"
    assert first.completion == f" {first.curie}"
    chooses = [r for r in dataset.train if r.task == "choose"]
    assert any(r.answer == "none" for r in chooses) and any(
        r.answer.startswith("HP:") for r in chooses
    )
    for r in chooses:
        assert r.answer == "none" or f"- {r.answer} " in r.prompt
    paths = write_dataset(dataset, tmp_path)
    assert len(list(read_jsonl(paths["train"]))) == len(dataset.train)
    assert json.loads(paths["summary"].read_text())["release"] == hpo_store.release


def test_gene_tasks_use_symbols_and_names(tiny_catalog) -> None:
    store = tiny_catalog.open("genes")
    dataset = build_dataset(store, ["name2symbol", "symbol2name"], per_bin=1, n_bins=2)
    record = next(r for r in dataset.train if r.task == "name2symbol")
    term = store.term(record.curie)
    assert record.completion == f" {term.label}"
    assert record.term in {s.text for s in term.synonyms}


def test_unknown_task_names_the_valid_ones(hpo_store) -> None:
    with pytest.raises(TrainingError, match="unknown task.*term2id, id2term"):
        build_dataset(hpo_store, ["term2idd"], per_bin=1)


def test_cli_writes_a_gene_dataset(tiny_catalog, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from term2id.cli.app import app

    result = CliRunner().invoke(
        app,
        ["train", "data", "--data-dir", str(tiny_catalog.data_dir), "--ontology", "genes",
         "--tasks", "name2symbol,symbol2name", "--per-bin", "1", "--bins", "2",
         "-o", str(tmp_path / "genes")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = list(read_jsonl(tmp_path / "genes" / "train.jsonl"))
    assert {r.task for r in records} == {"name2symbol", "symbol2name"}
    assert "train/name2symbol" in result.output


def test_cli_rejects_an_unknown_task(tiny_catalog) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "term2id.cli", "train", "data", "--data-dir",
         str(tiny_catalog.data_dir), "--ontology", "genes", "--tasks", "gene2protein", "-o", "x"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "unknown task(s) gene2protein" in result.stderr and "Traceback" not in result.stderr


def test_the_training_records_ask_what_the_model_source_asks() -> None:
    # The model is tuned on the first wording of each task and asked in the resource's wording:
    # one text, so that they cannot drift apart.
    from term2id.core.llm.prompts import load_template, render_prompt

    for task, resource in (("term2id", "propose"), ("name2symbol", "propose_symbol")):
        asked = load_template(resource).format(ontology="HGNC", term="tumor protein p53")
        assert render_prompt(task, 0, ontology="HGNC", term="tumor protein p53") == asked
    asked = load_template("choose").format(ontology="HPO", term="fits", candidates="- HP:1 X")
    assert render_prompt("choose", 0, ontology="HPO", term="fits", candidates="- HP:1 X") == asked
    assert "{term}" in load_template("propose_symbol")
