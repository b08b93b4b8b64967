"""`term2id eval` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir(run_cli, tmp_path: Path) -> list[str | Path]:
    d = ["--data-dir", tmp_path / "data"]
    assert run_cli("db", "import", DATA / "tiny.obo", "--name", "tiny", *d).code == 0
    return d


def test_eval_prints_the_metrics_and_the_worst_misses(run_cli, data_dir, tmp_path: Path) -> None:
    gold = tmp_path / "gold.tsv"
    gold.write_text(
        "term\texpected_curie\nSeizures\tTP:0000003\nanaemia\tTP:0000005\nseizure\tTP:0000004\n",
        encoding="utf-8",
    )
    result = run_cli("eval", gold, "--ontology", "tiny", *data_dir)
    assert result.code == 0, result.err
    for line in (
        "top-1  0.667", "top-5  1.000", "coverage  1.000", "terms/s", "worst misses",
        "verified right  0.667 (3 verified)", "calibration ECE",
    ):  # fmt: skip
        assert line in result.out
    assert "TP:0000004 Focal seizure" in result.out


def test_eval_json_is_one_object_with_the_documented_keys(
    run_cli, data_dir, tmp_path: Path
) -> None:
    gold = tmp_path / "gold.csv"
    gold.write_text("term,expected_curie\nTumour,TP:0000007\n", encoding="utf-8")
    result = run_cli("eval", gold, "--ontology", "tiny", "--sources", "exact", "--json", *data_dir)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert {"n", "top1", "top5", "mrr", "coverage", "terms_per_s"} <= set(report)
    assert report["n"] == 1 and report["top1"] == 1.0 and report["sources"] == ["exact"]
    # What the verdict and the confidence are worth: one verified row, right, in the top bin.
    assert report["verified_rows"] == 1 and report["verified_precision"] == 1.0
    assert [b["bin"] for b in report["reliability"]][::9] == ["0.0-0.1", "0.9-1.0"]
    assert report["reliability"][-1]["rows"] == 1 and report["reliability"][-1]["share_right"] == 1
    assert 0 <= report["ece"] <= 0.1


def test_eval_uses_the_semantic_source_by_default_and_says_so(
    run_cli, data_dir, tmp_path: Path
) -> None:
    gold = tmp_path / "gold.tsv"
    gold.write_text(
        "term\texpected_curie\nnot enough red blood cells\tTP:0000005\n", encoding="utf-8"
    )
    shown = run_cli("eval", gold, "--ontology", "tiny", *data_dir)
    assert shown.code == 0, shown.err
    assert "sources exact, fuzzy, semantic" in shown.out
    report = json.loads(run_cli("eval", gold, "--ontology", "tiny", "--json", *data_dir).out)
    assert report["sources"] == ["exact", "fuzzy", "semantic"]
    lexical = run_cli("eval", gold, "--ontology", "tiny", "--sources", "exact,fuzzy", "--json",
                      *data_dir)  # fmt: skip
    assert json.loads(lexical.out)["sources"] == ["exact", "fuzzy"]


def test_eval_hold_out_synonyms_needs_no_gold_file(run_cli, data_dir) -> None:
    args = ["eval", "--hold-out-synonyms", "5", "--seed", "2", "--ontology", "tiny", "--json"]
    first = run_cli(*args, *data_dir)
    assert first.code == 0, first.err
    report = json.loads(first.out)
    assert report["n"] == 5 and "held-out synonyms" in report["release"]
    assert json.loads(run_cli(*args, *data_dir).out)["top1"] == report["top1"]


def test_a_gold_file_without_the_columns_fails_with_one_line(
    run_cli, data_dir, tmp_path: Path
) -> None:
    gold = tmp_path / "gold.csv"
    gold.write_text("name,curie\nSeizure,TP:0000003\n", encoding="utf-8")
    result = run_cli("eval", gold, "--ontology", "tiny", *data_dir)
    assert result.code == 2
    assert "gold.csv:1: missing column(s) term, expected_curie" in result.err
    assert "found: name, curie" in result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ontology", "tiny"], "give either a GOLD file or --hold-out-synonyms"),
        (["missing.tsv", "--ontology", "tiny"], "missing.tsv: no such gold file"),
        (["--hold-out-synonyms", "3", "--ontology", "nope"], "no ontology store named 'nope'"),
        (["--hold-out-synonyms", "3", "--sources", "exakt"], "unknown candidate source 'exakt'"),
    ],
)
def test_bad_eval_arguments_get_a_message_and_a_non_zero_exit(
    run_cli, data_dir, args: list[str], message: str
) -> None:
    result = run_cli("eval", *args, *data_dir)
    assert result.code != 0
    assert message in result.err and "Traceback" not in result.err


def test_hold_out_refuses_a_model_trained_on_the_store_s_synonyms(
    run_cli, data_dir, tmp_path: Path
) -> None:
    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes(b"GGUF")  # refused from its manifest, before anything loads it
    manifest = {
        "kind": "lora",
        "ontology": "tiny",
        "release": "tiny/releases/2024-01-01",
        "tasks": ["synonym2id", "term2id"],
        "config": {"data": {"train_file": "/lab/tiny-data/train.jsonl"}},
    }
    (tmp_path / "adapter.gguf.json").write_text(json.dumps(manifest))
    result = run_cli(
        "eval", "--hold-out-synonyms", "3", "--ontology", "tiny",
        "--model", tmp_path / "model.gguf", "--adapter", adapter, *data_dir,
    )  # fmt: skip
    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert "/lab/tiny-data/train.jsonl (tiny release tiny/releases/2024-01-01" in result.err
    assert "has seen the synonyms --hold-out-synonyms would hold out" in result.err


@pytest.mark.slow
def test_hold_out_with_a_model_warns_naming_its_training_data(
    run_cli, tiny_model, hpo_data_dir: Path, tmp_path: Path
) -> None:
    args = ["eval", "--hold-out-synonyms", "3", "--ontology", "hp", "--sources", "exact,llm"]
    args += ["--json", "--data-dir", hpo_data_dir]
    result = run_cli(*args, "--model", tiny_model.model_gguf)
    assert result.code == 0, result.err
    assert json.loads(result.out)["n"] == 3
    warning = f"warning: {tiny_model.model_gguf} was trained on a dataset (hp release "
    assert warning in result.err and "tasks term2id)" in result.err
    assert "the terms the held-out synonyms name were in its training data" in result.err

    bare = tmp_path / "bare.gguf"  # the same weights, without the manifest beside them
    bare.write_bytes(tiny_model.model_gguf.read_bytes())
    unknown = run_cli(*args, "--model", bare)
    assert unknown.code == 0, unknown.err
    assert f"warning: {bare} has no training manifest (bare.gguf.json)" in unknown.err
