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
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from term2id import __version__
from term2id.core.candidates import (
    Candidate,
    Evidence,
    MappingPredicate,
    MappingResult,
    MappingStatus,
    Query,
    Verdict,
)
from term2id.core.curie import canonical_curie
from term2id.core.errors import SchemaVersionError, Term2IdError
from term2id.core.files import atomic_path
from term2id.core.normalize import normalize

if TYPE_CHECKING:
    from term2id.core.ontology.store import OntologyStore

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
SESSION_SUFFIX = ".t2id"

_SCHEMA = """
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
_MIGRATIONS = {
    2: ["ALTER TABLE results ADD COLUMN sources TEXT"],
    3: [
        "ALTER TABLE decisions ADD COLUMN predicate TEXT",
        "ALTER TABLE decisions ADD COLUMN also TEXT",
        "ALTER TABLE decisions ADD COLUMN review_round INTEGER NOT NULL DEFAULT 1",
        # an identity that outlives renames and copies, for records kept outside the file
        "INSERT OR IGNORE INTO meta VALUES ('session_id', lower(hex(randomblob(16))))",
    ],
}


class Action(StrEnum):
    ACCEPT = "accept"  # the best candidate is right
    REJECT = "reject"  # no candidate is right
    CHOOSE = "choose"  # another candidate than the best one is right
    SKIP = "skip"  # look at it later
    MANUAL = "manual"  # an id no source proposed, found by the curator
    COMMENT = "comment"  # a note; does not change the row's decision
    UNDO = "undo"  # revokes the decision `target`
    REDO = "redo"  # reinstates the decision `target`


# Actions that set a row's decision (the last effective one wins).
DECIDING = frozenset({Action.ACCEPT, Action.REJECT, Action.CHOOSE, Action.SKIP, Action.MANUAL})
# Actions whose curie is the row's mapped id.
MAPPING = frozenset({Action.ACCEPT, Action.CHOOSE, Action.MANUAL})


class ReviewRound(IntEnum):
    """Who made a decision when two curators review one session."""

    FIRST = 1  # the curator who curates the session (every decision of a one-curator review)
    SECOND = 2  # a second curator deciding blind, without seeing the first one's decisions
    SETTLED = 3  # a disagreement between the two, settled after review


class ReviewView(StrEnum):
    """Whose decisions a reader of the log sees, when two curators review one session."""

    FIRST = "first"  # the first curator: own decisions and settled ones
    SECOND = "second"  # the second curator, blind: own decisions and settled ones only
    # exports, training data, re-verification: settled, else the first curator's, else the
    # second's (a row only the second curator decided is still a curator's decision)
    EXPORT = "export"


# Per view, groups of rounds in order of precedence: within a group the latest entry wins (a
# curator may change a settled row again), and a row takes its decision from the first group
# that has one.
VIEW_ROUNDS = {
    ReviewView.FIRST: ((ReviewRound.FIRST, ReviewRound.SETTLED),),
    ReviewView.SECOND: ((ReviewRound.SECOND, ReviewRound.SETTLED),),
    ReviewView.EXPORT: ((ReviewRound.FIRST, ReviewRound.SETTLED), (ReviewRound.SECOND,)),
}


class SessionError(Term2IdError):
    """A session file that cannot be opened or written."""

    exit_code = 4


@dataclass(frozen=True, slots=True)
class Curator:
    name: str
    orcid: str | None = None


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


@dataclass(frozen=True, slots=True)
class Decision:
    id: int
    row: int
    action: Action
    curie: str | None
    label: str | None
    curator: str
    orcid: str | None
    at: str
    evidence: Any = None
    comment: str | None = None
    target: int | None = None
    predicate: MappingPredicate = MappingPredicate.EXACT
    also: tuple[str, ...] = ()  # further ids of a one-to-many mapping, after `curie`
    review_round: ReviewRound = ReviewRound.FIRST

    @property
    def curies(self) -> tuple[str, ...]:
        """Every id the decision maps the row to, `curie` first."""
        return ((self.curie,) if self.curie else ()) + self.also


class NewDecision(NamedTuple):
    """One decision to append: what `decide_many` takes."""

    row: int
    action: Action
    curie: str | None = None
    label: str | None = None
    evidence: Any = None
    comment: str | None = None
    predicate: MappingPredicate | None = None  # None: exact, for mapping decisions
    also: tuple[str, ...] = ()
    review_round: ReviewRound = ReviewRound.FIRST


@dataclass(frozen=True, slots=True)
class ReverifyFlag:
    """A row whose id changed meaning in another release of its ontology."""

    row: int
    curie: str
    # "obsolete", "replaced", "alt_id" (now a secondary id), "missing", or "changed" (its verdict
    # for the row's term is not the one recorded: `verdict` says what it is now)
    problem: str
    replacements: tuple[str, ...] = ()
    verdict: str = ""


@dataclass(slots=True)
class RowSummaries:
    """Everything the review table shows, as plain parallel lists (cheap for 100,000 rows)."""

    terms: list[str] = field(default_factory=list)
    contexts: list[str | None] = field(default_factory=list)
    ontologies: list[str] = field(default_factory=list)
    best_curies: list[str | None] = field(default_factory=list)
    best_labels: list[str | None] = field(default_factory=list)
    confidences: list[float | None] = field(default_factory=list)
    statuses: list[str | None] = field(default_factory=list)  # MappingStatus value, None: unmapped
    decisions: list[str | None] = field(default_factory=list)  # Action value, None: undecided
    decided_curies: list[str | None] = field(default_factory=list)
    comments: list[str | None] = field(default_factory=list)
    # the decision's MappingPredicate value (None: undecided or not a mapping decision) and
    # further ids of a one-to-many mapping; empty lists for summaries built without them
    decided_predicates: list[str | None] = field(default_factory=list)
    decided_also: list[tuple[str, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.terms)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- JSON form of mapping results ---------------------------------------------------------------


_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}  # PRAGMA synchronous values
_CANDIDATE_FIELDS = tuple(f.name for f in fields(Candidate))
_EVIDENCE_FIELDS = tuple(f.name for f in fields(Evidence))

# One row of the results table, ready to insert.
ResultRecord = tuple[
    int, str, str | None, str | None, float | None, str, str, str, str, str | None, str,
    str | None,
]  # fmt: skip


def candidate_to_json(candidate: Candidate) -> dict:
    # By field name, so that fields added to Evidence or Candidate later round-trip too.
    data = {name: getattr(candidate, name) for name in _CANDIDATE_FIELDS}
    data["verdict"] = candidate.verdict.value
    data["evidence"] = [
        {name: getattr(e, name) for name in _EVIDENCE_FIELDS} for e in candidate.evidence
    ]
    data["replaced_by"] = list(candidate.replaced_by)
    return data


def result_records(
    results: Iterable[tuple[int, MappingResult]],
    releases: dict[str, str],
    model: str | None = None,
    sources: Sequence[str] | None = None,
) -> list[ResultRecord]:
    """Results as rows of the session's results table. Pure: safe to call in any thread.

    `sources` names the candidate sources that produced the results (the mapper's), so that
    rows mapped before a source was ready can be found and mapped again once it is.
    """
    at = _now()
    sources_json = _dumps(list(sources)) if sources is not None else None
    records = []
    for row, result in results:
        best = result.best
        ontology = result.query.ontology
        records.append(
            (
                row,
                result.status.value,
                best.curie if best else None,
                best.label if best else None,
                best.confidence if best else None,
                _dumps([candidate_to_json(c) for c in result.candidates]),
                _dumps(list(result.notes)),
                ontology,
                releases.get(ontology, ""),
                model,
                at,
                sources_json,
            )
        )
    return records


def candidate_from_json(data: dict) -> Candidate:
    known_evidence = {f.name for f in fields(Evidence)}
    known_candidate = {f.name for f in fields(Candidate)}
    values = {k: v for k, v in data.items() if k in known_candidate}
    values["verdict"] = Verdict(data["verdict"])
    values["evidence"] = tuple(
        Evidence(**{k: v for k, v in e.items() if k in known_evidence}) for e in data["evidence"]
    )
    values["replaced_by"] = tuple(data.get("replaced_by", ()))
    return Candidate(**values)


def same_term_groups(
    terms: Sequence[str], ontologies: Sequence[str], contexts: Sequence[str | None]
) -> tuple[list[tuple], dict[tuple, list[int]]]:
    """Each row's same-term key, and the rows of each key, in input order: the matching key
    (normalize) in the same store spec, the context too for a cell holding an id (the id's verdict
    depends on it); a term with no letters or digits is a key of its own (about 0.5 s per 100,000
    distinct terms; repeated terms are normalised once)."""
    keys: list[tuple] = []
    groups: dict[tuple, list[int]] = {}
    folded: dict[str, tuple[str, bool]] = {}
    for index, (term, ontology, context) in enumerate(
        zip(terms, ontologies, contexts, strict=True)
    ):
        seen = folded.get(term)
        if seen is None:
            holds_id = (":" in term or "_" in term) and len(term) < 200
            seen = folded[term] = (
                normalize(term), holds_id and canonical_curie(term) is not None
            )  # fmt: skip
        text, holds_id = seen
        key = (text, ontology, context if holds_id else None) if text else (index,)
        keys.append(key)
        groups.setdefault(key, []).append(index)
    return keys, groups


class CurationSession:
    """One session file. Not thread-safe: use it from one thread (the GUI's main thread)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._meta = dict(conn.execute("SELECT key, value FROM meta"))
        self._same_term: tuple[list[tuple], dict[tuple, list[int]]] | None = None

    # -- creating and opening -----------------------------------------------------------------

    @classmethod
    def create(cls, path: Path | str, source: SessionInput) -> CurationSession:
        """Write a new session file holding `source`; replaces nothing that exists."""
        path = Path(path)
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
                    conn.executescript(_SCHEMA)
                    conn.execute("BEGIN")
                    conn.executemany(
                        "INSERT INTO input_rows VALUES (?,?,?,?,?)",
                        (
                            (
                                index,
                                _dumps([None if c is None else str(c) for c in row]),
                                (cell(row, term_at) or "").strip(),
                                cell(row, context_at),
                                (cell(row, ontology_at) or "").strip() or source.default_ontology,
                            )
                            for index, row in enumerate(source.rows)
                        ),
                    )
                    meta = {
                        "header": _dumps(columns),
                        "term_column": source.term_column,
                        "context_column": source.context_column or "",
                        "ontology_column": source.ontology_column or "",
                        "default_ontology": source.default_ontology,
                        "source_path": source.source_path or "",
                        "source_sha256": source.source_sha256 or "",
                        "sheet": source.sheet or "",
                        "created_at": _now(),
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
            _migrate(conn, path, version)
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
        return _SYNCHRONOUS.get(value, str(value))

    def __enter__(self) -> CurationSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- input --------------------------------------------------------------------------------

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

    # -- mapping results ----------------------------------------------------------------------

    def record_results(
        self,
        results: Iterable[tuple[int, MappingResult]],
        releases: dict[str, str],
        model: str | None = None,
        sources: Sequence[str] | None = None,
    ) -> int:
        """Store the results of rows (one transaction); `releases` maps store name -> release."""
        return self.write_result_records(result_records(results, releases, model, sources))

    def write_result_records(self, records: Sequence[ResultRecord]) -> int:
        """Store results already turned into records by `result_records` (e.g. in a worker).

        Results can be computed again, decisions cannot: result batches are committed without
        waiting for the disk (a later decision's commit flushes them too).
        """
        self._conn.execute("PRAGMA synchronous = NORMAL")
        try:
            with self._transaction():
                self._conn.executemany(
                    "INSERT OR REPLACE INTO results (row, status, best_curie, best_label, "
                    "confidence, candidates, notes, store, release, model, mapped_at, sources) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    records,
                )
        finally:
            self._conn.execute("PRAGMA synchronous = FULL")
        return len(records)

    def result(self, row: int) -> MappingResult | None:
        found = self._conn.execute(
            "SELECT status, candidates, notes FROM results WHERE row = ?", (row,)
        ).fetchone()
        if found is None:
            return None
        status, candidates, notes = found
        return MappingResult(
            query=self.query(row),
            candidates=tuple(candidate_from_json(c) for c in json.loads(candidates)),
            status=MappingStatus(status),
            notes=tuple(json.loads(notes)),
        )

    def mapped_rows(self) -> set[int]:
        return {r for (r,) in self._conn.execute("SELECT row FROM results")}

    def result_sources(self, row: int) -> tuple[str, ...] | None:
        """The candidate sources that produced `row`'s result; None when not recorded (a result
        written before schema 2) or when the row has no result."""
        found = self._conn.execute("SELECT sources FROM results WHERE row = ?", (row,)).fetchone()
        if found is None or found[0] is None:
            return None
        return tuple(json.loads(found[0]))

    def rows_mapped_without(self, source: str) -> list[int]:
        """Rows whose result was produced without `source` (or by sources not recorded)."""
        return [
            row
            for (row,) in self._conn.execute(
                "SELECT row FROM results WHERE sources IS NULL OR NOT EXISTS "
                "(SELECT 1 FROM json_each(results.sources) WHERE value = ?) ORDER BY row",
                (source,),
            )
        ]

    def mapping_provenance(self) -> dict[str, tuple[str, str | None]]:
        """store name -> (release, model) as recorded by the mapping runs."""
        return {
            store: (release, model)
            for store, release, model in self._conn.execute(
                "SELECT store, release, model FROM results GROUP BY store"
            )
        }

    # -- decisions ----------------------------------------------------------------------------

    def decide(
        self,
        row: int,
        action: Action | str,
        curator: Curator,
        curie: str | None = None,
        label: str | None = None,
        evidence: Any = None,
        comment: str | None = None,
        *,
        predicate: MappingPredicate | str | None = None,
        also: Sequence[str] = (),
        review_round: ReviewRound = ReviewRound.FIRST,
    ) -> Decision:
        """Append one decision and commit it before returning."""
        draft = NewDecision(
            row, Action(action), curie, label, evidence, comment,
            MappingPredicate(predicate) if predicate else None, tuple(also), review_round,
        )  # fmt: skip
        return self.decide_many([draft], curator)[0]

    def decide_many(
        self, decisions: Sequence[NewDecision | tuple], curator: Curator
    ) -> list[Decision]:
        """Append several decisions at once, in one transaction.

        Each is a `NewDecision`, or a tuple in its order (row, action, curie, label, evidence,
        comment, ...).
        """
        at = _now()
        made = []
        with self._transaction():
            for item in decisions:
                draft = NewDecision(*item)
                action = Action(draft.action)
                if action in (Action.UNDO, Action.REDO):
                    raise ValueError("use undo() and redo()")
                if action in MAPPING and not draft.curie:
                    raise ValueError(f"{action} needs an id")
                if action not in MAPPING and (draft.predicate or draft.also):
                    raise ValueError(f"{action} maps to no id: it takes no predicate or ids")
                if not 0 <= draft.row < len(self):
                    raise IndexError(draft.row)
                predicate = (
                    MappingPredicate(draft.predicate or MappingPredicate.EXACT)
                    if action in MAPPING
                    else MappingPredicate.EXACT
                )
                also = tuple(c for c in draft.also if c and c != draft.curie)
                review_round = ReviewRound(draft.review_round)
                cursor = self._conn.execute(
                    "INSERT INTO decisions (row, action, curie, label, curator, orcid, at, "
                    "evidence, comment, predicate, also, review_round) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (draft.row, action.value, draft.curie, draft.label, curator.name,
                     curator.orcid, at, _dumps(draft.evidence), draft.comment,
                     predicate.value if action in MAPPING else None,
                     _dumps(list(also)) if also else None, int(review_round)),
                )  # fmt: skip
                made.append(
                    Decision(cursor.lastrowid, draft.row, action, draft.curie, draft.label,
                             curator.name, curator.orcid, at, draft.evidence, draft.comment,
                             None, predicate, also, review_round)
                )  # fmt: skip
        return made

    def same_term_rows(self, row: int) -> list[int]:
        """Every row whose term has the same matching key as `row`'s, for the same store spec
        (`row` included, in input order). A cell holding an id also needs the same context: the
        id's verdict depends on it. A term with no letters or digits matches only itself."""
        if not 0 <= row < len(self):
            raise IndexError(row)
        if self._same_term is None:
            found = self._conn.execute(
                "SELECT term, ontology, context FROM input_rows ORDER BY row"
            ).fetchall()
            self._same_term = same_term_groups(*zip(*found, strict=True)) if found else ([], {})
        keys, groups = self._same_term
        return list(groups[keys[row]])

    def prepare_same_term(self, summaries: RowSummaries) -> None:
        """Build what `same_term_rows` needs from the table's summaries of this session: no
        database access, so a worker thread may do it while the curator reviews."""
        if len(summaries) != len(self):
            raise ValueError("summaries of another session")
        groups = same_term_groups(summaries.terms, summaries.ontologies, summaries.contexts)
        self._same_term = groups  # one assignment: readers see all of it or none

    def undecided_same_term_rows(self, row: int, view: ReviewView = ReviewView.FIRST) -> list[int]:
        """The rows `apply_to_same_term` would decide: same term as `row`, other than `row`,
        with no decision in force as `view` sees the log (the blind second curator's own)."""
        rows = self.same_term_rows(row)
        # Only these rows' log: undo and redo entries carry the row of the decision they revoke.
        self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted_rows (row INTEGER PRIMARY KEY)")
        self._conn.execute("DELETE FROM wanted_rows")
        self._conn.executemany("INSERT INTO wanted_rows VALUES (?)", ((r,) for r in rows))
        entries = self._light_decisions("WHERE row IN (SELECT row FROM wanted_rows)")
        decided = replay_log(entries, view)[0]
        return [r for r in rows if r != row and r not in decided]

    def apply_to_same_term(
        self, decision: Decision, curator: Curator, rows: Sequence[int] | None = None
    ) -> list[Decision]:
        """Copy `decision` (its action, ids and predicate) to the undecided rows with the same
        term, in one transaction: all of them or none. `rows` limits it to those the curator was
        shown (rows decided since are left alone). Each copy's evidence points to `decision`."""
        if decision.action not in DECIDING:
            raise ValueError(f"a {decision.action} decision decides no row")
        view = (
            ReviewView.SECOND if decision.review_round is ReviewRound.SECOND else ReviewView.FIRST
        )
        todo = self.undecided_same_term_rows(decision.row, view)
        if rows is not None:
            wanted = set(rows)
            todo = [r for r in todo if r in wanted]
        evidence = dict(decision.evidence) if isinstance(decision.evidence, dict) else {}
        evidence.update(bulk=True, same_term_as={"row": decision.row, "decision": decision.id})
        return self.decide_many(
            [
                NewDecision(
                    r, decision.action, decision.curie, decision.label, evidence, None,
                    decision.predicate if decision.action in MAPPING else None, decision.also,
                    decision.review_round,
                )
                for r in todo
            ],
            curator,
        )  # fmt: skip

    def undo(self, decision_ids: Sequence[int], curator: Curator) -> None:
        """Revoke decisions (one transaction): appends an `undo` entry for each."""
        self._revoke(decision_ids, curator, Action.UNDO)

    def redo(self, decision_ids: Sequence[int], curator: Curator) -> None:
        """Reinstate decisions revoked by undo()."""
        self._revoke(decision_ids, curator, Action.REDO)

    def _revoke(self, decision_ids: Sequence[int], curator: Curator, action: Action) -> None:
        at = _now()
        with self._transaction():
            for target in decision_ids:
                found = self._conn.execute(
                    "SELECT row FROM decisions WHERE id = ?", (target,)
                ).fetchone()
                if found is None:
                    raise ValueError(f"no decision {target}")
                self._conn.execute(
                    "INSERT INTO decisions (row, action, curator, orcid, at, evidence, target) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (found[0], action.value, curator.name, curator.orcid, at, "null", target),
                )

    def decisions(self, row: int | None = None) -> list[Decision]:
        """The log, oldest first (for one row, or all)."""
        sql = (
            "SELECT id, row, action, curie, label, curator, orcid, at, evidence, comment, target, "
            "predicate, also, review_round FROM decisions"
        )
        cursor = (
            self._conn.execute(sql + " WHERE row = ? ORDER BY id", (row,))
            if row is not None
            else self._conn.execute(sql + " ORDER BY id")
        )
        return [
            Decision(i, r, Action(a), c, lb, cu, o, at, json.loads(ev), cm, t,
                     MappingPredicate(p or MappingPredicate.EXACT),
                     tuple(json.loads(al)) if al else (), ReviewRound(rr or 1))
            for i, r, a, c, lb, cu, o, at, ev, cm, t, p, al, rr in cursor
        ]  # fmt: skip

    def decisions_after(self, decision_id: int) -> list[Decision]:
        """The log entries after `decision_id`, oldest first, without their evidence: what a
        record kept outside the file (the mapping memory) has not taken in yet."""
        return [
            Decision(i, r, Action(a), c, None, "", None, "", None, None, t)
            for i, r, a, c, t in self._conn.execute(
                "SELECT id, row, action, curie, target FROM decisions WHERE id > ? ORDER BY id",
                (decision_id,),
            )
        ]

    def current_decisions(self, view: ReviewView = ReviewView.EXPORT) -> dict[int, Decision]:
        """row -> its decision now (the last deciding entry not revoked by undo), as `view`
        sees the log."""
        return replay_log(self.decisions(), view)[0]

    def current_decision(self, row: int, view: ReviewView = ReviewView.EXPORT) -> Decision | None:
        return replay_log(self.decisions(row), view)[0].get(row)

    def current_comments(self, view: ReviewView = ReviewView.EXPORT) -> dict[int, str]:
        return {row: d.comment or "" for row, d in replay_log(self.decisions(), view)[1].items()}

    # -- the review table ---------------------------------------------------------------------

    def row_summaries(self, view: ReviewView = ReviewView.EXPORT) -> RowSummaries:
        """What the review table shows, for every row: one query, plain lists.

        `view` says whose decisions it shows (a blind second curator sees only their own)."""
        rows = self._conn.execute(
            "SELECT i.term, i.context, i.ontology, r.best_curie, r.best_label, r.confidence, "
            "r.status FROM input_rows i LEFT JOIN results r ON r.row = i.row ORDER BY i.row"
        ).fetchall()
        summaries = RowSummaries()
        if rows:
            (
                summaries.terms,
                summaries.contexts,
                summaries.ontologies,
                summaries.best_curies,
                summaries.best_labels,
                summaries.confidences,
                summaries.statuses,
            ) = (list(column) for column in zip(*rows, strict=True))
        count = len(rows)
        summaries.decisions = [None] * count
        summaries.decided_curies = [None] * count
        summaries.comments = [None] * count
        summaries.decided_predicates = [None] * count
        summaries.decided_also = [()] * count
        decided, commented = replay_log(self._light_decisions(), view)
        for row, decision in decided.items():
            summaries.decisions[row] = decision.action.value
            summaries.decided_curies[row] = decision.curie
            if decision.action in MAPPING:
                summaries.decided_predicates[row] = decision.predicate.value
                summaries.decided_also[row] = decision.also
        for row, decision in commented.items():
            summaries.comments[row] = decision.comment
        return summaries

    def _light_decisions(self, where: str = "") -> list[Decision]:
        # Without the evidence JSON: the table does not need it and it is the bulk of the log.
        return [
            Decision(i, r, Action(a), c, lb, cu, None, "", None, cm, t,
                     MappingPredicate(p or MappingPredicate.EXACT),
                     tuple(json.loads(al)) if al else (), ReviewRound(rr or 1))
            for i, r, a, c, lb, cu, cm, t, p, al, rr in self._conn.execute(
                "SELECT id, row, action, curie, label, curator, comment, target, predicate, also, "
                f"review_round FROM decisions {where} ORDER BY id"
            )
        ]  # fmt: skip

    # -- reading everything, for exports -------------------------------------------------------

    def iter_rows(self) -> Iterable[tuple[int, list[str | None], MappingResult | None]]:
        """Every row in input order: (row, input cells, mapping result or None), one query."""
        cursor = self._conn.execute(
            "SELECT i.row, i.cells, i.term, i.ontology, i.context, r.status, r.candidates, "
            "r.notes FROM input_rows i LEFT JOIN results r ON r.row = i.row ORDER BY i.row"
        )
        for row, cells, term, ontology, context, status, candidates, notes in cursor:
            result = None
            if status is not None:
                result = MappingResult(
                    query=Query(text=term, ontology=ontology, context=context),
                    candidates=tuple(candidate_from_json(c) for c in json.loads(candidates)),
                    status=MappingStatus(status),
                    notes=tuple(json.loads(notes)),
                )
            yield row, json.loads(cells), result

    def releases(self, rows: Iterable[int] | None = None) -> dict[int, str]:
        """row -> the release its result was mapped against (of `rows`, or of every row)."""
        if rows is None:
            return dict(self._conn.execute("SELECT row, release FROM results"))
        return dict(
            self._conn.execute(
                "SELECT row, release FROM results WHERE row IN (SELECT value FROM json_each(?))",
                (json.dumps(list(rows)),),
            )
        )

    def training_decisions(self) -> list[tuple[str, str, str | None, list[str], list[tuple]]]:
        """Decisions in the form `training_records.records_from_decisions` reads:
        (term, ontology, accepted id or None, rejected ids, candidates shown as (id, label))."""
        queries = self.queries()
        decided = []
        for row, decision in sorted(self.current_decisions().items()):
            if decision.action not in MAPPING and decision.action is not Action.REJECT:
                continue
            evidence = decision.evidence if isinstance(decision.evidence, dict) else {}
            shown = [(s[0], s[1]) for s in evidence.get("shown", []) if s]
            query = queries[row]
            if decision.action is Action.REJECT:
                decided.append((query.text, query.ontology, None, [c for c, _ in shown], shown))
            else:
                decided.append((query.text, query.ontology, decision.curie, [], shown))
        return decided

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

    # -- view state ---------------------------------------------------------------------------

    def view_state(self) -> dict[str, Any]:
        return {
            k: json.loads(v) for k, v in self._conn.execute("SELECT key, value FROM view_state")
        }

    def save_view_state(self, state: dict[str, Any]) -> None:
        with self._transaction():
            self._conn.executemany(
                "INSERT OR REPLACE INTO view_state VALUES (?,?)",
                [(k, _dumps(v)) for k, v in state.items()],
            )

    # -- re-verification ----------------------------------------------------------------------

    def mapped_ids(self) -> dict[int, str]:
        """row -> the id the row maps to now: the curator's choice, else the best candidate."""
        ids = {
            row: curie
            for row, curie in self._conn.execute(
                "SELECT row, best_curie FROM results WHERE best_curie IS NOT NULL"
            )
        }
        for row, decision in self.current_decisions().items():
            if decision.action in MAPPING:
                ids[row] = decision.curie
            elif decision.action is Action.REJECT:
                ids.pop(row, None)
        return ids

    def releases_behind(self, stores: dict[str, OntologyStore]) -> dict[str, tuple[str, str]]:
        """store name -> (release in the session, release of the store) where they differ."""
        behind = {}
        for name, (release, _model) in self.mapping_provenance().items():
            store = stores.get(name)
            if store is not None and store.release != release:
                behind[name] = (release, store.release)
        return behind

    def reverify(self, stores: dict[str, OntologyStore]) -> list[ReverifyFlag]:
        """Rows whose mapped id is obsolete, replaced, secondary, gone, or judged otherwise now.

        Each mapped id goes through `verify_id` against `stores`, with the row's term and context:
        "changed" flags an id whose verdict differs from the one the row recorded for it.
        """
        from term2id.core.mapping.verification import verify_id

        recorded = {
            row: {c["curie"]: c["verdict"] for c in json.loads(candidates)}
            for row, candidates in self._conn.execute("SELECT row, candidates FROM results")
        }
        queries = self.queries()
        flags = []
        for row, curie in sorted(self.mapped_ids().items()):
            query = queries[row]
            store = stores.get(query.ontology)
            if store is None:
                continue
            checked = verify_id(curie, query.text, [store], context=query.context)
            if checked.verdict is Verdict.UNKNOWN_ID or checked.verdict is Verdict.WRONG_ONTOLOGY:
                flags.append(ReverifyFlag(row, curie, "missing"))
            elif checked.verdict is Verdict.OBSOLETE:
                problem = "replaced" if checked.replaced_by else "obsolete"
                flags.append(ReverifyFlag(row, curie, problem, checked.replaced_by))
            elif checked.curie != curie:
                flags.append(ReverifyFlag(row, curie, "alt_id", (checked.curie,)))
            elif recorded.get(row, {}).get(curie, checked.verdict.value) != checked.verdict.value:
                flags.append(ReverifyFlag(row, curie, "changed", verdict=checked.verdict.value))
        return flags

    def stale_verdict_rows(self) -> list[int]:
        """Rows whose verdicts were recorded before verdicts tracked meaning.

        Those verdicts came from a spelling test (names 0.8 alike were "verified", opposites
        included); such rows' candidates carry no `reason`. Found without a schema change.
        """
        return [
            row
            for (row,) in self._conn.execute(
                "SELECT row FROM results WHERE candidates != '[]' "
                "AND instr(candidates, '\"reason\":') = 0 ORDER BY row"
            )
        ]

    def refresh_verdicts(self, stores: dict[str, OntologyStore]) -> tuple[list[int], list[int]]:
        """Decide the verdicts of rows with stale ones again (`verify_id`), in one transaction.

        Returns (rows re-checked, rows whose best candidate's verdict changed). Rows whose store
        is not in `stores` keep their stale verdicts: `stale_verdict_rows` still lists them.
        """
        from term2id.core.mapping.verification import recheck_result

        rechecked, changed, updates = [], [], []
        for row in self.stale_verdict_rows():
            result = self.result(row)
            names = [n.strip() for n in (result.query.ontology if result else "").split(",")]
            requested = [stores[n] for n in names if n in stores]
            if result is None or len(requested) != len(names):
                continue
            fresh = recheck_result(result, requested, every_candidate=True)
            rechecked.append(row)
            if fresh.best is not None and fresh.best.verdict is not result.best.verdict:
                changed.append(row)
            best = fresh.best
            updates.append(
                (
                    fresh.status.value,
                    best.label if best else None,
                    _dumps([candidate_to_json(c) for c in fresh.candidates]),
                    row,
                )
            )
        if updates:
            with self._transaction():
                self._conn.executemany(
                    "UPDATE results SET status = ?, best_label = ?, candidates = ? WHERE row = ?",
                    updates,
                )
        return rechecked, changed

    # -- plumbing -----------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        if self._conn is None:
            raise SessionError(f"{self.path}: the session is closed")
        return _Transaction(self._conn, self.path)


def _migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Bring a session written by an older term2id up to SCHEMA_VERSION, in one transaction."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[target]:
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


class _Transaction:
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


def replay_log(
    log_entries: list[Decision], view: ReviewView = ReviewView.EXPORT
) -> tuple[dict[int, Decision], dict[int, Decision]]:
    """Replay the log: (row -> current decision, row -> current comment), as `view` sees it.

    A session reviewed by one curator has first-round entries only: every view sees them all.
    """
    groups = VIEW_ROUNDS[view]
    decided: dict[int, Decision] = {}
    commented: dict[int, Decision] = {}
    for rounds in reversed(groups):  # the group that takes precedence is applied last
        group_decided, group_commented = replay_rounds(log_entries, frozenset(rounds))
        decided.update(group_decided)
        commented.update(group_commented)
    return decided, commented


def replay_rounds(
    log_entries: list[Decision], rounds: frozenset[ReviewRound] | None = None
) -> tuple[dict[int, Decision], dict[int, Decision]]:
    """Replay the entries of `rounds` only (None: all): the latest entry not undone wins."""
    revoked: set[int] = set()
    for entry in log_entries:
        if entry.action is Action.UNDO:
            revoked.add(entry.target)  # type: ignore[arg-type]
        elif entry.action is Action.REDO:
            revoked.discard(entry.target)  # type: ignore[arg-type]
    decided: dict[int, Decision] = {}
    commented: dict[int, Decision] = {}
    for entry in log_entries:
        if entry.id in revoked or (rounds is not None and entry.review_round not in rounds):
            continue
        if entry.action in DECIDING:
            decided[entry.row] = entry
        elif entry.action is Action.COMMENT:
            commented[entry.row] = entry
    return decided, commented
