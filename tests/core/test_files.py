"""Files written whole or not at all (the one helper every writer uses), and file hashes."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from term2id.core.files import AtomicFile, atomic_path, file_sha256


class Refused(Exception):
    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path}: {why}")


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_path_writes_the_destination_whole_and_leaves_nothing_else(tmp_path):
    destination = tmp_path / "out.txt"
    with atomic_path(destination) as temporary:
        assert temporary.parent == tmp_path and temporary.exists()
        temporary.write_text("all of it")
        assert not destination.exists()  # nothing under the final name while writing
    assert destination.read_text() == "all of it"
    assert names(tmp_path) == ["out.txt"]


def test_a_failed_block_keeps_the_older_file_and_leaves_no_temporary_file(tmp_path):
    destination = tmp_path / "out.txt"
    destination.write_text("older")
    with pytest.raises(RuntimeError), atomic_path(destination) as temporary:
        temporary.write_text("half")
        raise RuntimeError("stopped")
    assert destination.read_text() == "older"
    assert names(tmp_path) == ["out.txt"]


def test_atomic_path_makes_the_folder_and_clears_what_sqlite_left_beside_it(tmp_path):
    destination = tmp_path / "new" / "store.sqlite"
    with atomic_path(destination) as temporary:
        conn = sqlite3.connect(temporary)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        conn.close()
        Path(f"{temporary}-journal").write_text("")  # as a killed writer would leave it
    assert names(destination.parent) == ["store.sqlite"]
    assert sqlite3.connect(destination).execute("SELECT x FROM t").fetchall() == [(1,)]


def test_atomic_file_commit_and_discard(tmp_path):
    kept = AtomicFile(tmp_path / "kept.tsv")
    dropped = AtomicFile(tmp_path / "dropped.tsv")
    assert kept.temp.name.startswith(".kept.tsv.") and kept.temp.name.endswith(".part")
    kept.temp.write_text("a\tb\n")
    dropped.temp.write_text("half")
    kept.commit()
    dropped.discard()
    assert names(tmp_path) == ["kept.tsv"]
    assert (tmp_path / "kept.tsv").read_text() == "a\tb\n"


def test_the_given_error_names_the_folder_that_cannot_be_written(tmp_path):
    missing = tmp_path / "gone" / "out.csv"
    with pytest.raises(Refused, match=r"out\.csv: cannot write in folder .*gone"):
        AtomicFile(missing, Refused)
    with pytest.raises(OSError):  # without one, the OSError itself
        AtomicFile(missing)


def test_the_given_error_names_the_file_that_cannot_be_replaced(tmp_path):
    destination = tmp_path / "taken"
    destination.mkdir()
    (destination / "inside").write_text("")  # a non-empty folder cannot be replaced by a file
    file = AtomicFile(destination, Refused)
    file.temp.write_text("data")
    with pytest.raises(Refused, match="taken: cannot be written"):
        file.commit()
    assert names(tmp_path) == ["taken"]  # the temporary file is gone too


def test_file_sha256_is_the_hash_of_the_bytes(tmp_path):
    path = tmp_path / "data.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # more than one block
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
