"""Files written whole or not at all, and their hashes: what every writer of term2id shares."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# What SQLite may leave beside a database file it had open.
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
# The temporary file's name: `.{destination's name}.{random}.part`, hidden and beside it.
PART_SUFFIX = ".part"

# Makes the error raised when the temporary file cannot be made or renamed: (destination, why).
FileErrorFactory = Callable[[Path, str], Exception]


class AtomicFile:
    """A temporary file beside `destination`, renamed onto it by commit(), removed by discard().

    Beside it, so that the rename is atomic: `destination` is only ever absent, as it was, or
    whole. The temporary file exists (empty) from the start. With `failed`, an OSError in making
    or renaming it becomes `failed(destination, why)`, the why naming the folder or the file;
    without, the OSError itself is raised.
    """

    def __init__(self, destination: Path | str, failed: FileErrorFactory | None = None) -> None:
        self.path = Path(destination)
        self._failed = failed
        try:
            handle, name = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=PART_SUFFIX, dir=self.path.parent
            )
        except OSError as exc:
            if failed is None:
                raise
            why = f"cannot write in folder {self.path.parent}: {exc.strerror or exc}"
            raise failed(self.path, why) from None
        os.close(handle)
        self.temp = Path(name)

    def commit(self) -> None:
        """Move the temporary file onto the destination (and clear what SQLite left beside it)."""
        try:
            os.replace(self.temp, self.path)
        except OSError as exc:
            self.discard()
            if self._failed is None:
                raise
            raise self._failed(self.path, f"cannot be written: {exc.strerror or exc}") from None
        self.discard()

    def discard(self) -> None:
        """Remove the temporary file; the destination is left as it was."""
        for leftover in (self.temp, *(Path(f"{self.temp}{end}") for end in _SQLITE_COMPANIONS)):
            leftover.unlink(missing_ok=True)


@contextmanager
def atomic_path(destination: Path | str, failed: FileErrorFactory | None = None) -> Iterator[Path]:
    """A temporary path beside `destination`, renamed onto it only if the block succeeds.

    The folder is made if missing; the file exists (empty) when the block starts; whatever
    happens, nothing is left behind but `destination`, whole, or what was there before. `failed`
    as for AtomicFile.
    """
    destination = Path(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if failed is None:
            raise
        why = f"cannot make folder {destination.parent}: {exc.strerror or exc}"
        raise failed(destination, why) from None
    file = AtomicFile(destination, failed)
    try:
        yield file.temp
    except BaseException:
        file.discard()
        raise
    file.commit()


def file_sha256(path: Path | str) -> str:
    """The SHA-256 of a file's bytes, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
