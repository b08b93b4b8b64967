"""Files written whole or not at all, and their hashes: what every writer of term2id shares."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# What SQLite may leave beside a database file it had open.
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


@contextmanager
def atomic_path(destination: Path | str) -> Iterator[Path]:
    """A temporary path beside `destination`, renamed onto it only if the block succeeds.

    The file exists (empty) when the block starts; whatever happens, nothing is left behind but
    `destination`, whole, or what was there before. Beside it, so that the rename is atomic.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, destination)
    finally:
        for leftover in (temporary, *(Path(f"{temporary}{end}") for end in _SQLITE_COMPANIONS)):
            leftover.unlink(missing_ok=True)


def file_sha256(path: Path | str) -> str:
    """The SHA-256 of a file's bytes, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
