"""The mapping memory: what curators decided about terms, kept across sessions and sheets.

One SQLite file per data folder (`memory.sqlite` beside `stores/`). Each entry is one decision:
the term and its key (the one normaliser's key of the term, plus the target ontology the row was
mapped against), the id or ids, the mapping predicate, what the curator did (accepted, chose,
searched by hand, rejected), who and when, the session and decision it came from, the ontology
release the row was mapped against, and whether it came from a bulk accept.

Entries are keyed by (session id, decision id), so writing the same decision twice changes
nothing: the memory is brought up to date from a session's log (`memory_sync.catch_up`) and may
be told the same thing again after a crash. Imported files are keyed by their content's hash.

What a pair (term key, target ontology, id) means now is the latest entry naming it: a later
rejection overrides an earlier acceptance and the other way round.

This module imports only the base modules (candidates, errors, normalize): the `curated`
candidate source and the curation code both import it (an import-linter contract keeps it so).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from term2id.core.candidates import MappingPredicate
from term2id.core.errors import SchemaVersionError, Term2IdError
from term2id.core.normalize import normalize

log = logging.getLogger(__name__)

MEMORY_FILE = "memory.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    session_id TEXT NOT NULL,    -- the session's id, or 'import:<sha256>' for an imported file
    decision_id INTEGER NOT NULL,  -- the decision's id in that session's log (line, for a file)
    row INTEGER,                 -- the session's row (NULL for an imported file)
    key TEXT NOT NULL,           -- normalize(term)
    spec TEXT NOT NULL,          -- the target ontology: store names, sorted, comma-separated
    term TEXT NOT NULL,          -- the term as written
    action TEXT NOT NULL,        -- MemoryAction
    curies TEXT NOT NULL,        -- JSON list: the ids mapped to (or rejected), first first
    label TEXT,                  -- the first id's label when decided
    predicate TEXT NOT NULL,     -- MappingPredicate
    curator TEXT NOT NULL,
    orcid TEXT,
    at TEXT NOT NULL,            -- ISO time of the decision (UTC)
    release TEXT,                -- the ontology release the row was mapped against
    bulk INTEGER NOT NULL DEFAULT 0,  -- 1: from a bulk accept
    origin TEXT,                 -- the file an imported entry came from
    review_round INTEGER NOT NULL DEFAULT 1,  -- the session's ReviewRound of the decision
    PRIMARY KEY (session_id, decision_id)
);
CREATE INDEX IF NOT EXISTS entries_key ON entries (key, spec);
CREATE INDEX IF NOT EXISTS entries_row ON entries (session_id, row);
CREATE TABLE IF NOT EXISTS synced (
    session_id TEXT PRIMARY KEY,
    decision_id INTEGER NOT NULL  -- the last log entry of the session the memory has seen
) WITHOUT ROWID;
"""

_COLUMNS = (
    "session_id, decision_id, row, key, spec, term, action, curies, label, predicate, curator, "
    "orcid, at, release, bulk, origin, review_round"
)
_PLACES = ",".join("?" * 17)


class MemoryAction(StrEnum):
    """What a curator did about a term; the values are stored."""

    ACCEPTED = "accepted"  # the best candidate, as proposed
    CHOSEN = "chosen"  # another candidate than the best
    MANUAL = "manual"  # an id found by searching the ontology by hand
    REJECTED = "rejected"  # the id is not what the term means

    @property
    def verb(self) -> str:
        return "rejected" if self is MemoryAction.REJECTED else "accepted"


class MappingMemoryError(Term2IdError):
    """A memory file that cannot be opened or written, or a file that cannot be imported."""

    exit_code = 2


def term_key(text: str) -> str:
    """The key a term is remembered under: the normaliser's key (the case of a term with no
    letters or digits: the text itself, folded)."""
    text = text.strip()
    return normalize(text) or text.casefold()


def store_spec(ontology: str) -> str:
    """The store names of a row's target (`hp`, `go,hp`), sorted: `hp,go` and `go,hp` are one."""
    return ",".join(sorted({n.strip() for n in ontology.split(",") if n.strip()}))


@dataclass(frozen=True, slots=True)
class MemoryEntry:
    """One remembered decision."""

    term: str
    spec: str
    action: MemoryAction
    curies: tuple[str, ...]
    curator: str
    at: str
    session_id: str
    decision_id: int
    predicate: MappingPredicate = MappingPredicate.EXACT
    label: str | None = None
    orcid: str | None = None
    row: int | None = None
    release: str | None = None
    bulk: bool = False
    origin: str | None = None
    review_round: int = 1  # the session's ReviewRound: 1 first curator, 2 second, 3 settled
    key: str = field(default="")

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", term_key(self.term))

    @property
    def rejected(self) -> bool:
        return self.action is MemoryAction.REJECTED

    def describe(self) -> str:
        """'accepted by Ada Curator on 2026-12-02' (or 'rejected by ...'), for the evidence."""
        who = self.curator or "an unnamed curator"
        text = f"{self.action.verb} by {who} on {self.at[:10]}"
        if self.bulk:
            text += " (bulk accept)"
        return text

    def _record(self) -> tuple:
        return (
            self.session_id, self.decision_id, self.row, self.key, self.spec, self.term,
            self.action.value, json.dumps(list(self.curies)), self.label, self.predicate.value,
            self.curator, self.orcid, self.at, self.release, int(self.bulk), self.origin,
            self.review_round,
        )  # fmt: skip


def _entry(record: Sequence) -> MemoryEntry:
    (session_id, decision_id, row, key, spec, term, action, curies, label, predicate, curator,
     orcid, at, release, bulk, origin, review_round) = record  # fmt: skip
    return MemoryEntry(
        term, spec, MemoryAction(action), tuple(json.loads(curies)), curator, at, session_id,
        decision_id, MappingPredicate(predicate), label, orcid, row, release, bool(bulk), origin,
        review_round, key,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Recall:
    """What the memory says about one term: the ids accepted for it (latest first) and the ids
    rejected, each with the entry that says so."""

    accepted: tuple[tuple[str, MemoryEntry], ...] = ()
    rejected: dict[str, MemoryEntry] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.accepted or self.rejected)


def recall_of(entries: Iterable[MemoryEntry]) -> Recall:
    """The latest word on each id among `entries` (all of one term key and target ontology)."""
    latest: dict[str, MemoryEntry] = {}
    for entry in sorted(entries, key=lambda e: (e.at, e.session_id, e.decision_id)):
        for curie in entry.curies:
            latest.pop(curie, None)  # re-inserted: dict order is then oldest word first
            latest[curie] = entry
    accepted = [(c, e) for c, e in reversed(latest.items()) if not e.rejected]
    rejected = {c: e for c, e in latest.items() if e.rejected}
    return Recall(tuple(accepted), rejected)


class MappingMemory:
    """The memory file of one data folder. One connection per thread; safe to share."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    @classmethod
    def in_folder(cls, data_dir: Path | str) -> MappingMemory:
        """The memory of the data folder `data_dir` (its file is made on the first write)."""
        return cls(Path(data_dir) / MEMORY_FILE)

    # -- connections --------------------------------------------------------------------------

    def _connection(self, create: bool) -> sqlite3.Connection | None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if not create and not self.path.is_file():
            return None  # nothing remembered yet; reading makes no file
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=10, check_same_thread=False
            )
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                conn.close()
                raise SchemaVersionError(self.path, version, SCHEMA_VERSION, what="mapping memory")
            conn.execute("PRAGMA journal_mode = WAL")
            # The memory can always be rebuilt from the session logs (memory_sync): NORMAL is
            # durable enough, and costs no flush per decision.
            conn.execute("PRAGMA synchronous = NORMAL")
            if version < SCHEMA_VERSION:  # a new file (two processes may race: IF NOT EXISTS)
                conn.executescript(
                    f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
        except sqlite3.DatabaseError as exc:
            raise MappingMemoryError(
                f"{self.path}: cannot open the mapping memory ({exc})"
            ) from exc
        except OSError as exc:
            raise MappingMemoryError(
                f"{self.path}: cannot open the mapping memory ({exc.strerror or exc})"
            ) from exc
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _write(self) -> _Writing:
        conn = self._connection(create=True)
        assert conn is not None
        return _Writing(conn, self.path)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error as exc:  # pragma: no cover - closing never fails in practice
                    log.info("closing the memory: %s", exc)
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> MappingMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------

    def lookup(self, term: str, ontology: str) -> Recall:
        """What the memory says about `term` mapped against `ontology` (a target ontology)."""
        conn = self._connection(create=False)
        if conn is None:
            return Recall()
        try:
            found = conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE key = ? AND spec = ?",
                (term_key(term), store_spec(ontology)),
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise MappingMemoryError(
                f"{self.path}: cannot read the mapping memory ({exc})"
            ) from exc
        return recall_of(_entry(r) for r in found) if found else Recall()

    def entries(self, session_id: str | None = None) -> list[MemoryEntry]:
        """Every entry (of one session, or all), oldest first."""
        conn = self._connection(create=False)
        if conn is None:
            return []
        sql = f"SELECT {_COLUMNS} FROM entries"
        args: tuple = ()
        if session_id is not None:
            sql += " WHERE session_id = ?"
            args = (session_id,)
        return [
            _entry(r) for r in conn.execute(sql + " ORDER BY at, session_id, decision_id", args)
        ]

    def current(self) -> Iterator[tuple[str, MemoryEntry]]:
        """(id, entry) for the latest word on every remembered (term, target ontology, id)."""
        by_key: dict[tuple[str, str], list[MemoryEntry]] = {}
        for entry in self.entries():
            by_key.setdefault((entry.key, entry.spec), []).append(entry)
        for key in sorted(by_key):
            recall = recall_of(by_key[key])
            yield from recall.accepted
            yield from recall.rejected.items()

    def __len__(self) -> int:
        conn = self._connection(create=False)
        return 0 if conn is None else conn.execute("SELECT count(*) FROM entries").fetchone()[0]

    def synced_to(self, session_id: str) -> int:
        """The last log entry of `session_id` the memory has taken in (0: none)."""
        conn = self._connection(create=False)
        if conn is None:
            return 0
        found = conn.execute(
            "SELECT decision_id FROM synced WHERE session_id = ?", (session_id,)
        ).fetchone()
        return found[0] if found else 0

    # -- writing ------------------------------------------------------------------------------

    def replace_rows(
        self,
        session_id: str,
        rows: dict[int, MemoryEntry | None],
        synced_to: int,
    ) -> None:
        """Make the memory hold, for each of the session's `rows`, exactly its entry (or none),
        and note the log entry taken in last; one transaction."""
        with self._write() as conn:
            conn.executemany(
                "DELETE FROM entries WHERE session_id = ? AND row = ?",
                [(session_id, row) for row in rows],
            )
            conn.executemany(
                f"INSERT OR REPLACE INTO entries ({_COLUMNS}) VALUES ({_PLACES})",
                [entry._record() for entry in rows.values() if entry is not None],
            )
            conn.execute(
                "INSERT OR REPLACE INTO synced VALUES (?, ?)", (session_id, int(synced_to))
            )

    def add(self, entries: Sequence[MemoryEntry]) -> int:
        """Add entries not there yet (by session and decision id): one transaction, so a
        failure adds none. Returns how many were new."""
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO entries ({_COLUMNS}) VALUES ({_PLACES})",
                [entry._record() for entry in entries],
            )
            added = conn.total_changes - before
        return added


class _Writing:
    """A write transaction on the memory: BEGIN IMMEDIATE, COMMIT, or ROLLBACK on error."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path

    def __enter__(self) -> sqlite3.Connection:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise MappingMemoryError(
                f"{self._path}: cannot write the mapping memory ({exc})"
            ) from exc
        return self._conn

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            try:
                self._conn.execute("COMMIT")
                return
            except sqlite3.Error as error:
                self._conn.execute("ROLLBACK")
                raise MappingMemoryError(
                    f"{self._path}: cannot write the mapping memory ({error})"
                ) from error
        self._conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise MappingMemoryError(
                f"{self._path}: cannot write the mapping memory ({exc})"
            ) from exc
