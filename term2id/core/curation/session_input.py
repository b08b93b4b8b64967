"""A session's input: the rows as loaded, the chosen columns, and where they came from.

Written once, when the session file is created, and only read after that.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from term2id import __version__
from term2id.core.candidates import Query
from term2id.core.curation.session_codec import dumps, now
from term2id.core.curation.session_schema import (
    SCHEMA,
    SCHEMA_VERSION,
    SessionConnection,
    SessionError,
)
from term2id.core.files import atomic_path


@dataclass(frozen=True, slots=True)
class SessionInput:
    """What was loaded: the source, the chosen columns, and every row as cells."""

    header: tuple[str, ...]
    rows: Sequence[Sequence[str]]
    term_column: str
    default_ontology: str
    context_column: str | None = None
    ontology_column: str | None = None
    source_path: str | None = None  # None for pasted terms
    source_sha256: str | None = None
    sheet: str | None = None


def write_new_session(path: Path, source: SessionInput) -> None:
    """Write a new session file at `path` holding `source`: whole, or nothing when it fails.

    Refused when `path` exists or a chosen column is not in the input."""
    if path.exists():
        raise SessionError(f"{path}: a file of that name exists already")
    columns = list(source.header)
    for role, column in (
        ("term column", source.term_column),
        ("context column", source.context_column),
        ("ontology column", source.ontology_column),
    ):
        if column is not None and column not in columns:
            raise SessionError(f"{role} {column!r} is not in the input ({', '.join(columns)})")
    term_at = columns.index(source.term_column)
    context_at = columns.index(source.context_column) if source.context_column else None
    ontology_at = columns.index(source.ontology_column) if source.ontology_column else None

    def cell(row: Sequence[str], at: int | None) -> str | None:
        if at is None or at >= len(row):
            return None
        value = row[at]
        return None if value is None else str(value)

    # Built in a temporary file and renamed: a failed creation leaves nothing behind.
    try:
        with atomic_path(path) as temporary:
            conn = sqlite3.connect(temporary, isolation_level=None)
            try:
                conn.executescript(SCHEMA)
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT INTO input_rows VALUES (?,?,?,?,?)",
                    (
                        (
                            index,
                            dumps([None if c is None else str(c) for c in row]),
                            (cell(row, term_at) or "").strip(),
                            cell(row, context_at),
                            (cell(row, ontology_at) or "").strip() or source.default_ontology,
                        )
                        for index, row in enumerate(source.rows)
                    ),
                )
                meta = {
                    "header": dumps(columns),
                    "term_column": source.term_column,
                    "context_column": source.context_column or "",
                    "ontology_column": source.ontology_column or "",
                    "default_ontology": source.default_ontology,
                    "source_path": source.source_path or "",
                    "source_sha256": source.source_sha256 or "",
                    "sheet": source.sheet or "",
                    "created_at": now(),
                    "term2id_version": __version__,
                    "row_count": str(len(source.rows)),
                    "session_id": uuid.uuid4().hex,
                }
                conn.executemany("INSERT INTO meta VALUES (?,?)", sorted(meta.items()))
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            finally:
                conn.close()
    except sqlite3.Error as exc:
        raise SessionError(f"{path}: cannot write the session ({exc})") from exc
    except OSError as exc:
        raise SessionError(f"{path}: cannot write the session ({exc.strerror or exc})") from exc


class SessionInputRows(SessionConnection):
    """The input as the session keeps it: columns, source, every row's cells and query. Part of
    CurationSession."""

    @property
    def header(self) -> list[str]:
        return json.loads(self._meta["header"])

    @property
    def term_column(self) -> str:
        return self._meta["term_column"]

    @property
    def context_column(self) -> str | None:
        return self._meta.get("context_column") or None

    @property
    def ontology_column(self) -> str | None:
        return self._meta.get("ontology_column") or None

    @property
    def default_ontology(self) -> str:
        return self._meta["default_ontology"]

    @property
    def source_path(self) -> str | None:
        return self._meta.get("source_path") or None

    @property
    def source_sha256(self) -> str | None:
        return self._meta.get("source_sha256") or None

    @property
    def sheet(self) -> str | None:
        return self._meta.get("sheet") or None

    def __len__(self) -> int:
        return int(self._meta["row_count"])

    @property
    def session_id(self) -> str:
        """A random identity given at creation: it survives renames and copies of the file."""
        return self._meta["session_id"]

    def meta(self, key: str) -> str | None:
        return self._meta.get(key) or None

    def input_cells(self, row: int) -> list[str | None]:
        found = self._conn.execute("SELECT cells FROM input_rows WHERE row = ?", (row,)).fetchone()
        if found is None:
            raise IndexError(row)
        return json.loads(found[0])

    def query(self, row: int) -> Query:
        found = self._conn.execute(
            "SELECT term, ontology, context FROM input_rows WHERE row = ?", (row,)
        ).fetchone()
        if found is None:
            raise IndexError(row)
        return Query(text=found[0], ontology=found[1], context=found[2])

    def queries(self) -> list[Query]:
        return [
            Query(text=t, ontology=o, context=c)
            for t, o, c in self._conn.execute(
                "SELECT term, ontology, context FROM input_rows ORDER BY row"
            )
        ]

    def ontologies(self) -> list[str]:
        return [o for (o,) in self._conn.execute("SELECT DISTINCT ontology FROM input_rows")]
