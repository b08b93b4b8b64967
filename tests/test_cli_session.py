"""`term2id session`: the agreement of two curators and a session's exports, from the command
line."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from term2id.core.curation.decision_log import Action, Curator, ReviewRound
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput
from term2id.core.ontology.catalog import StoreCatalog

ROOT = Path(__file__).resolve().parents[1]
TERM2ID = Path(sys.executable).with_name("term2id")
ADA = Curator("Ada First", "0000-0002-1825-0097")
BEA = Curator("Bea Second", "0000-0001-5109-3700")


def reviewed_session(folder: Path, second: bool = True) -> Path:
    source = SessionInput(
        header=("phenotype",), rows=[["Seizure"], ["Anemia"], ["Tumour"]],
        term_column="phenotype", default_ontology="tiny",
    )  # fmt: skip
    with CurationSession.create(folder / "two.t2id", source) as session:
        session.decide(0, Action.ACCEPT, ADA, "TP:0000003", "Seizure")
        session.decide(1, Action.ACCEPT, ADA, "TP:0000005", "Anemia")
        session.decide(2, Action.REJECT, ADA)
        if second:
            round_two = ReviewRound.SECOND
            session.decide(0, Action.ACCEPT, BEA, "TP:0000003", "Seizure", review_round=round_two)
            session.decide(1, Action.REJECT, BEA, review_round=round_two)
            session.decide(
                2, Action.MANUAL, BEA, "TP:0000007", "Tumor", predicate="narrow",
                review_round=round_two,
            )  # fmt: skip
    return folder / "two.t2id"


def test_agreement_prints_the_figures_and_the_disagreements(run_cli, tmp_path: Path) -> None:
    done = run_cli("session", "agreement", reviewed_session(tmp_path))
    assert done.code == 0, done.err
    # 3 rows, 1 alike. Categories: first accepted 2, rejected 1; second accepted 1, rejected 1,
    # other id 1; on the diagonal 1 row: p_o = 1/3, p_e = (2·1 + 1·1 + 0·1)/9 = 3/9,
    # kappa = (1/3 - 1/3) / (1 - 1/3) = 0.
    assert "rows decided by both: 3" in done.out
    assert "same outcome: 1 · raw agreement 33.3% · Cohen's kappa 0.000" in done.out
    assert "disagreements: 2 (0 settled, 2 to settle)" in done.out
    assert (
        "row 3\tTumour\tfirst: rejected\tsecond: manual TP:0000007 Tumor · narrow"
        "\tsettled: not settled"
    ) in done.out.splitlines()


def test_export_limited_to_reviewed_rows(
    run_cli, tmp_path: Path, tiny_catalog: StoreCatalog
) -> None:
    path = reviewed_session(tmp_path)
    sheet = tmp_path / "agreed.csv"
    done = run_cli("session", "export", path, sheet, "--only-reviewed")
    assert done.code == 0, done.err
    assert "wrote 1 rows" in done.out
    with sheet.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["phenotype"], r["mapped_id"], r["mapping_predicate"]) for r in rows] == [
        ("Seizure", "TP:0000003", "exact")
    ]
    done = run_cli("session", "export", path, tmp_path / "all.sssom.tsv")
    assert done.code == 0, done.err
    lines = [
        line.split("\t")
        for line in (tmp_path / "all.sssom.tsv").read_text().splitlines()
        if not line.startswith("#")
    ]
    body = [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    # Rows 1 and 2 disagree and are not settled: the first curator's decision, theirs alone.
    assert [(m["subject_label"], m["author_id"], m["reviewer_id"]) for m in body] == [
        ("Seizure", "orcid:0000-0002-1825-0097", "orcid:0000-0001-5109-3700"),
        ("Anemia", "orcid:0000-0002-1825-0097", ""),
    ]


def test_only_reviewed_without_a_second_curator_is_refused(run_cli, tmp_path: Path) -> None:
    path = reviewed_session(tmp_path, second=False)
    done = run_cli("session", "export", path, tmp_path / "x.csv", "--only-reviewed")
    assert done.code == 1
    assert "no second curator has reviewed this session" in done.err
    assert not (tmp_path / "x.csv").exists()


def test_a_missing_session_is_one_line_from_the_installed_command(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM2ID_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [str(TERM2ID), "session", "agreement", str(tmp_path / "nope.t2id")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 4
    assert "nope.t2id: no such session file" in done.stderr
    assert "Traceback" not in done.stderr
