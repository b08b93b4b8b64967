"""`term2id db ...` as a user runs it: output, exit codes, messages."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_import_show_search_list_info(run_cli, tmp_path: Path) -> None:
    d = ["--data-dir", tmp_path]
    result = run_cli("db", "import", DATA / "tiny.obo", "--name", "tiny", *d)
    assert result.code == 0, result.err
    assert "imported 12 terms (2 obsolete)" in result.out
    shown = run_cli("db", "show", "TP:0000099", *d)
    assert shown.code == 0
    assert "TP:0000003" in shown.out and "Seizure" in shown.out
    assert "secondary id" in shown.out and "child: TP:0000004 Focal seizure" in shown.out
    obsolete = run_cli("db", "show", "TP:0000009", "--store", "tiny", *d)
    assert "obsolete" in obsolete.out and "TP:0000003" in obsolete.out
    found = run_cli("db", "search", "tiny", "partial seizures", *d)
    assert found.code == 0 and found.out.splitlines()[1].split()[0] == "TP:0000004"
    listed = run_cli("db", "list", *d)
    assert "tiny" in listed.out and "tiny/releases/2024-01-01" in listed.out
    info = run_cli("db", "info", "tiny", *d)
    assert "sha256" in info.out and "12 (2 obsolete)" in info.out
    assert "all-MiniLM-L6-v2 (packaged; `term2id train embeddings` tunes it" in info.out
    # Given before the command, the folder beats $TERM2ID_DATA_DIR (set for every test) too.
    assert "tiny/releases/2024-01-01" in run_cli("--data-dir", tmp_path, "db", "list").out


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "not_an_ontology.obo",
            "not_an_ontology.obo: not an ontology file: it looks like a PNG image",
        ),
        ("truncated.obo", "truncated.obo:31: the file appears truncated"),
        ("invalid_utf8.obo", "invalid_utf8.obo:44: invalid UTF-8"),
        ("duplicate_ids.obo", "duplicate_ids.obo:43: duplicate term id TP:0000005"),
        ("term_without_name.obo", "term_without_name.obo:75: term TP:0000011 has no name"),
        ("hgnc_missing_columns.tsv", "hgnc_missing_columns.tsv:1: not an HGNC gene table"),
        ("empty.obo", "empty.obo: the file is empty"),
        ("missing.obo", "missing.obo: no such file"),
    ],
)
def test_bad_input_gets_one_line_and_a_non_zero_exit(
    run_cli, tmp_path: Path, fixture: str, expected: str
) -> None:
    d = ["--data-dir", tmp_path]
    assert run_cli("db", "import", DATA / "tiny.obo", "--name", "x", *d).code == 0
    store = tmp_path / "stores" / "x.sqlite"
    before = store.read_bytes()
    result = run_cli("db", "import", DATA / fixture, "--name", "x", *d)
    assert result.code == 2
    assert expected in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err
    assert store.read_bytes() == before


def test_newer_schema_store_is_reported_not_crashed(run_cli, tmp_path: Path) -> None:
    import sqlite3

    d = ["--data-dir", tmp_path]
    run_cli("db", "import", DATA / "tiny.obo", "--name", "tiny", *d)
    with sqlite3.connect(tmp_path / "stores" / "tiny.sqlite") as conn:
        conn.execute("PRAGMA user_version = 7")
    result = run_cli("db", "info", "tiny", *d)
    assert result.code == 3
    assert "written by a newer version of term2id (schema 7" in result.err


def test_unknown_store_and_unknown_id(run_cli, tmp_path: Path) -> None:
    d = ["--data-dir", tmp_path]
    run_cli("db", "import", DATA / "tiny.obo", "--name", "tiny", *d)
    result = run_cli("db", "search", "nope", "seizure", *d)
    assert (
        result.code == 3 and "no ontology store named 'nope'" in result.err and "tiny" in result.err
    )
    missing = run_cli("db", "show", "TP:1234567", "--store", "tiny", *d)
    assert missing.code == 3 and "TP:1234567 is not in any store" in missing.err


def test_data_dir_comes_from_the_environment(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM2ID_DATA_DIR", str(tmp_path / "env-dir"))
    assert run_cli("db", "import", DATA / "hgnc_tiny.tsv", "--name", "genes").code == 0
    assert (tmp_path / "env-dir" / "stores" / "genes.sqlite").is_file()


def test_diff_lists_terms_made_obsolete_with_replacements(run_cli, tmp_path: Path) -> None:
    d = ["--data-dir", tmp_path]
    old = (DATA / "tiny.obo").read_text()
    new = old.replace(
        "id: TP:0000011\nname: Ataxia\n",
        "id: TP:0000011\nname: obsolete Ataxia\nis_obsolete: true\nreplaced_by: TP:0000002\n",
    ).replace("name: Tumor\n", "name: Neoplasm\n")
    new = new.replace("[Term]\nid: TP:0000012\n", "[Term]\nid: TP:0000013\nalt_id: TP:0000012\n")
    (tmp_path / "new.obo").write_text(new)
    run_cli("db", "import", DATA / "tiny.obo", "--name", "old", *d)
    run_cli("db", "import", tmp_path / "new.obo", "--name", "new", *d)
    result = run_cli("db", "diff", "old", "new", "--tsv", tmp_path / "diff.tsv", *d)
    assert result.code == 0, result.err
    assert "1 made obsolete, 1 ids moved" in result.out
    rows = (tmp_path / "diff.tsv").read_text().splitlines()
    assert "TP:0000011\tobsoleted\tAtaxia\tobsolete Ataxia\tTP:0000002\t\t" in rows
    assert "TP:0000007\trelabelled\tTumor\tNeoplasm\t\t\t" in rows
    assert any(r.startswith("TP:0000012\tmerged\t") and r.endswith("TP:0000013") for r in rows)


def test_diff_tsv_is_safe_for_spreadsheets_atomic_and_never_over_a_store(
    run_cli, tmp_path: Path
) -> None:
    d = ["--data-dir", tmp_path]
    old = (DATA / "tiny.obo").read_text()
    new = old.replace("name: Tumor\n", 'name: =HYPERLINK("http://x","Tumor")\n')
    (tmp_path / "new.obo").write_text(new)
    run_cli("db", "import", DATA / "tiny.obo", "--name", "old", *d)
    run_cli("db", "import", tmp_path / "new.obo", "--name", "new", *d)
    out = tmp_path / "diff.tsv"
    assert run_cli("db", "diff", "old", "new", "--tsv", out, *d).code == 0
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    relabelled = ["TP:0000007", "relabelled", "Tumor", '\'=HYPERLINK("http://x","Tumor")']
    assert relabelled + ["", "", ""] in rows
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []

    store = tmp_path / "stores" / "old.sqlite"
    before = store.read_bytes()
    refused = run_cli("db", "diff", "old", "new", "--tsv", store, *d)
    assert refused.code == 2
    assert "is an input file" in refused.err and "Traceback" not in refused.err
    assert store.read_bytes() == before
    assert run_cli("db", "info", "old", *d).code == 0


def test_every_db_command_has_help(run_cli) -> None:
    for command in ("import", "list", "info", "search", "show", "diff"):
        result = run_cli("db", command, "--help")
        assert result.code == 0 and "--data-dir" in result.out, command


@pytest.mark.shared
@pytest.mark.slow
def test_real_releases_import_and_diff(run_cli, tmp_path: Path) -> None:
    d = ["--data-dir", tmp_path]
    result = run_cli("db", "import", SHARED_DATA / "hp-2018-12-21.obo.gz", "--name", "hp2018", *d)
    assert result.code == 0 and "warning:" in result.err and "hasDbXref" in result.err
    hgnc = run_cli("db", "import", SHARED_DATA / "hgnc-genes-subset.tsv.gz", "--name", "hgnc", *d)
    assert hgnc.code == 0
    assert (
        run_cli("db", "search", "hgnc", "tumor protein p53", *d).out.splitlines()[1].split()[0]
        == "HGNC:11998"
    )
    diff = run_cli("db", "diff", "hp2018", "hp", "--limit", "0", *d)
    assert diff.code == 0
    assert "HP:0000368" in diff.out and "replaced by HP:0000358" in diff.out.replace("\n", " ")


def test_import_can_prepare_the_semantic_index_at_once(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from term2id.core.mapping.embedding_models import MODEL_NAME, int8_key
    from term2id.core.ontology.catalog import StoreCatalog

    data_dir = tmp_path / "data"
    command = [sys.executable, "-m", "term2id.cli", "db", "import", str(DATA / "tiny.obo")]
    command += ["--name", "tiny", "--prepare-semantic", "--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "embedded the names and definitions of tiny for the semantic source" in done.stdout
    # Nothing from the model libraries (their "Loading weights" bars, advice) reaches the user.
    assert done.stderr == ""
    cached = StoreCatalog(data_dir).open("tiny").cached_embeddings(int8_key(MODEL_NAME))
    assert "Ataxia" in cached and "Lack of coordination" in cached


OWL_WITH_IMPORTS = """<?xml version="1.0"?>
<rdf:RDF xmlns:owl="http://www.w3.org/2002/07/owl#"
     xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
     xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">
    <owl:Ontology rdf:about="http://purl.obolibrary.org/obo/{name}.owl">
{imports}
    </owl:Ontology>
    <owl:Class rdf:about="http://purl.obolibrary.org/obo/TP_{number}">
        <rdfs:label>{label}</rdfs:label>
    </owl:Class>
</rdf:RDF>
"""


def test_owl_imports_are_not_followed_and_db_info_says_so(run_cli, tmp_path: Path) -> None:
    import http.server
    import threading

    requests: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            requests.append(self.path)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = f"http://127.0.0.1:{server.server_address[1]}/remote.owl"
        local = tmp_path / "local.owl"
        local.write_text(
            OWL_WITH_IMPORTS.format(name="local", imports="", number="0000777", label="Imported")
        )
        main = tmp_path / "main.owl"
        imports = "\n".join(
            f'        <owl:imports rdf:resource="{target}"/>' for target in (local, remote)
        )
        main.write_text(
            OWL_WITH_IMPORTS.format(name="main", imports=imports, number="0000001", label="Own")
        )
        d = ["--data-dir", tmp_path / "data"]
        result = run_cli("db", "import", main, "--name", "main", *d)
        assert result.code == 0, result.err
        assert "imported 1 terms" in result.out
        assert run_cli("db", "show", "TP:0000777", *d).code != 0  # the local import's term
        info = run_cli("db", "info", "main", *d)
    finally:
        server.shutdown()
        server.server_close()
    assert requests == []
    warning = next(line for line in info.out.splitlines() if "imports not followed" in line)
    assert str(local) in warning and remote in warning


def test_a_data_folder_that_is_a_file_is_refused_before_anything_runs(
    run_cli, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "stores.txt"
    not_a_folder.write_text("hello", encoding="utf-8")
    for args in (
        ("--data-dir", not_a_folder, "db", "list"),
        ("db", "list", "--data-dir", not_a_folder),
    ):
        result = run_cli(*args)
        assert result.code == 2 and "is a file" in result.err, args
    assert not_a_folder.read_text(encoding="utf-8") == "hello"
