"""The session file's format: its SQLite schema, the steps that bring a file written by an older
term2id up to date, and the transaction every write goes through (SQLite's errors become
SessionError, naming the file).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from term2id.core.errors import Term2IdError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
SESSION_SUFFIX = ".t2id"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE input_rows (
    row INTEGER PRIMARY KEY,     -- 0-based position in the input
    cells TEXT NOT NULL,         -- the whole input row as a JSON list
    term TEXT NOT NULL,
    context TEXT,
    ontology TEXT NOT NULL
);
CREATE TABLE results (
    row INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    best_curie TEXT,
    best_label TEXT,
    confidence REAL,
    candidates TEXT NOT NULL,    -- JSON: every candidate with its verdict and evidence
    notes TEXT NOT NULL,         -- JSON list
    store TEXT NOT NULL,
    release TEXT NOT NULL,
    model TEXT,
    mapped_at TEXT NOT NULL,
    sources TEXT                 -- JSON list of the candidate sources that took part; NULL: not
                                 -- recorded (results written before schema 2)
);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    row INTEGER NOT NULL,
    action TEXT NOT NULL,
    curie TEXT,
    label TEXT,
    curator TEXT NOT NULL,
    orcid TEXT,
    at TEXT NOT NULL,
    evidence TEXT NOT NULL,      -- JSON: what the curator was shown when deciding
    comment TEXT,
    target INTEGER,              -- for undo/redo: the decision undone or redone
    predicate TEXT,              -- MappingPredicate of a mapping decision; NULL: exact
    also TEXT,                   -- JSON list of further ids of a one-to-many mapping; NULL: none
    review_round INTEGER NOT NULL DEFAULT 1  -- ReviewRound: who decided, in a two-curator review
);
CREATE INDEX decisions_row ON decisions (row);
CREATE TABLE view_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""

# Each step brings a session file from the version before it to the version it is keyed by.
# Steps only add: a session saved by an older term2id opens with nothing lost.
MIGRATIONS = {
    2: ["ALTER TABLE results ADD COLUMN sources TEXT"],
    3: [
        "ALTER TABLE decisions ADD COLUMN predicate TEXT",
        "ALTER TABLE decisions ADD COLUMN also TEXT",
        "ALTER TABLE decisions ADD COLUMN review_round INTEGER NOT NULL DEFAULT 1",
        # an identity that outlives renames and copies, for records kept outside the file
        "INSERT OR IGNORE INTO meta VALUES ('session_id', lower(hex(randomblob(16))))",
    ],
}

SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}  # PRAGMA synchronous values


class SessionError(Term2IdError):
    """A session file that cannot be opened or written."""

    exit_code = 4


def migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Bring a session written by an older term2id up to SCHEMA_VERSION, in one transaction."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        raise SessionError(
            f"{path}: cannot bring this session (schema {version}) up to schema "
            f"{SCHEMA_VERSION} ({exc}); is the file read-only?"
        ) from exc
    log.info("%s: session schema %d brought up to %d", path, version, SCHEMA_VERSION)


class Transaction:
    """One write to the session: all of it or none; SQLite's errors become SessionError."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path

    def __enter__(self) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise SessionError(f"{self._path}: cannot write the session ({exc})") from exc

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as error:
                self._conn.execute("ROLLBACK")
                raise SessionError(f"{self._path}: cannot write the session ({error})") from error
        else:
            self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise SessionError(f"{self._path}: cannot write the session ({exc})") from exc


class SessionConnection:
    """What every part of a session shares: its file, its connection and its meta table.

    CurationSession is made of parts (input, results, decision log, ...), each a class in its own
    module that reads and writes its tables through these."""

    path: Path
    _conn: sqlite3.Connection
    _meta: dict[str, str]

    def _transaction(self) -> Transaction:
        if self._conn is None:
            raise SessionError(f"{self.path}: the session is closed")
        return Transaction(self._conn, self.path)
