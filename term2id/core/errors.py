"""One root exception type with specific subclasses carrying structured fields.

The CLI turns every Term2IdError into a one-line message and an exit code; the GUI turns it into
a dialog. Anything else escaping core is a bug.
"""

from __future__ import annotations

from pathlib import Path


class Term2IdError(Exception):
    """Root of every error term2id reports to a user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputFileError(Term2IdError):
    """A file given by the user cannot be used: names the file and, where known, the line."""

    exit_code = 2

    def __init__(self, path: Path | str, reason: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {reason}")


class OntologyFileError(InputFileError):
    """An ontology file (OBO, OWL, OBO-JSON, HGNC TSV) that cannot be imported."""


class StoreError(Term2IdError):
    """An ontology store that cannot be opened or used."""

    exit_code = 3


class StoreNotFoundError(StoreError):
    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        listed = (
            ", ".join(available) if available else "none yet (import one with `term2id db import`)"
        )
        super().__init__(f"no ontology store named {name!r}; stores available: {listed}")


class SchemaVersionError(StoreError):
    """A database written by a newer (or unknown) schema version than this program understands."""

    def __init__(self, path: Path | str, found: int, supported: int, what: str = "store") -> None:
        self.path = Path(path)
        self.found = found
        self.supported = supported
        super().__init__(
            f"{self.path}: this {what} was written by a newer version of term2id "
            f"(schema {found}; this version reads up to {supported}); upgrade term2id to open it"
        )


class TermNotFoundError(StoreError):
    def __init__(self, curie: str, searched: list[str]) -> None:
        self.curie = curie
        self.searched = searched
        super().__init__(
            f"{curie} is not in any store ({', '.join(searched) if searched else 'no stores'})"
        )


class CancelledError(Term2IdError):
    """A long job was cancelled by the user; nothing it was writing was kept."""

    exit_code = 130

    def __init__(self) -> None:
        super().__init__("cancelled")


class SourceUnavailable(Term2IdError):
    """A candidate source cannot answer right now (model failed to load, server unreachable).

    The mapper records it on the row ("model unavailable") and the other sources still answer.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source} unavailable: {reason}")
