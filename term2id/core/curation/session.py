"""The curation session: one SQLite project file holding a review from start to finish.

It keeps the input (source file, its hash, the chosen columns and every input row), the mapping
result of every row (candidates with verdicts, evidence and confidence, the ontology store and
release, the model and the candidate sources used), and an append-only log of decisions. The current decision of a row is
derived from the log: undo and redo are log entries too, so nothing a curator did is ever
overwritten, and a reopened session is exactly where it was left.

Durability: WAL with `synchronous = FULL` and one transaction per decision. A committed decision
survives the process being killed (and the machine losing power); killing the process at any
moment loses at most the decision being written.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from term2id.core.curation.decision_log import DecisionLog
from term2id.core.curation.reverification import Reverification
from term2id.core.curation.row_summaries import ReviewTableRows
from term2id.core.curation.same_term import SameTermRows
from term2id.core.curation.session_codec import dumps
from term2id.core.curation.session_input import SessionInput, SessionInputRows, write_new_session
from term2id.core.curation.session_results import SessionResults
from term2id.core.curation.session_schema import (
    SCHEMA_VERSION,
    SYNCHRONOUS,
    SessionError,
    migrate,
)
from term2id.core.errors import SchemaVersionError
from term2id.core.files import atomic_path

log = logging.getLogger(__name__)


class CurationSession(
    SessionInputRows, SessionResults, SameTermRows, ReviewTableRows, Reverification, DecisionLog
):
    """One session file. Not thread-safe: use it from one thread (the GUI's main thread).

    Its parts, each in its own module: the input (session_input), the mapping results
    (session_results), the decision log (decision_log), rows with the same term (same_term), the
    review table's summaries (row_summaries) and re-verification (reverification)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._meta = dict(conn.execute("SELECT key, value FROM meta"))
        self._same_term: tuple[list[tuple], dict[tuple, list[int]]] | None = None

    @classmethod
    def create(cls, path: Path | str, source: SessionInput) -> CurationSession:
        """Write a new session file holding `source`; replaces nothing that exists."""
        path = Path(path)
        write_new_session(path, source)
        return cls.open(path)

    @classmethod
    def open(cls, path: Path | str) -> CurationSession:
        path = Path(path)
        if not path.is_file():
            raise SessionError(f"{path}: no such session file")
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=5)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise SessionError(f"{path}: not a term2id session ({exc})") from exc
        if version > SCHEMA_VERSION:
            conn.close()
            raise SchemaVersionError(path, version, SCHEMA_VERSION, what="session")
        if version < 1:
            conn.close()
            raise SessionError(f"{path}: not a term2id session (no schema version)")
        if version < SCHEMA_VERSION:
            migrate(conn, path, version)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a committed decision is on disk before decide() returns.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            session = cls(path, conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            raise SessionError(f"{path}: cannot open the session ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise SessionError(f"{path}: not a term2id session ({exc})") from exc
        return session

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:  # another reader holds it; the WAL stays, nothing lost
                log.info("checkpoint on close skipped: %s", exc)
            self._conn.close()
            self._conn = None  # type: ignore[assignment]

    @property
    def synchronous(self) -> str:
        """SQLite's synchronous setting on the connection that commits decisions, by name.

        FULL while decisions can be written: a decision is on disk when decide() returns."""
        value = self._conn.execute("PRAGMA synchronous").fetchone()[0]
        return SYNCHRONOUS.get(value, str(value))

    def __enter__(self) -> CurationSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- copies and view state ------------------------------------------------------------

    def save_copy(self, destination: Path | str) -> Path:
        """A consistent copy of the whole session (SQLite's online backup) at `destination`."""
        destination = Path(destination)
        if destination.resolve() == self.path.resolve():
            raise SessionError(f"{destination}: that is this session's own file")
        try:
            with atomic_path(destination) as temporary:
                target = sqlite3.connect(temporary)
                try:
                    self._conn.backup(target)
                finally:
                    target.close()
        except (sqlite3.Error, OSError) as exc:
            raise SessionError(f"{destination}: cannot write the copy ({exc})") from exc
        return destination

    def view_state(self) -> dict[str, Any]:
        return {
            k: json.loads(v) for k, v in self._conn.execute("SELECT key, value FROM view_state")
        }

    def save_view_state(self, state: dict[str, Any]) -> None:
        with self._transaction():
            self._conn.executemany(
                "INSERT OR REPLACE INTO view_state VALUES (?,?)",
                [(k, dumps(v)) for k, v in state.items()],
            )
