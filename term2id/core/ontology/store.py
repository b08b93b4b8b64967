"""OntologyStore: one SQLite file per ontology release, built once, queried fast.

Layout: `terms` (one row per term), `lexicon` (every name a term goes by: its label and each
synonym, with the normalised key used for exact matching), `alt_ids`, `parents`, `replaced_by`,
`consider`, `xrefs`, `meta`, and the full-text index `lexicon_fts` over the normalised names.

A store is built into a temporary file next to its destination and renamed into place at the end,
so a failed or cancelled import never leaves a half-written store and never touches the old one.
Readers open one connection per thread.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from term2id import __version__
from term2id.core.curie import canonical_curie
from term2id.core.errors import SchemaVersionError, StoreError
from term2id.core.files import atomic_path
from term2id.core.normalize import normalize
from term2id.core.ontology.caches import StoreCaches
from term2id.core.ontology.terms import (
    ParsedOntology,
    StoreInfo,
    Synonym,
    Term,
    TermLookup,
    TextMatch,
    name_order,
)
from term2id.core.progress import Progress

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE terms (
    id INTEGER PRIMARY KEY,
    curie TEXT NOT NULL,
    label TEXT NOT NULL,
    definition TEXT,
    namespace TEXT,
    obsolete INTEGER NOT NULL DEFAULT 0,
    popularity INTEGER,
    -- The term's lists (synonyms, parents, ...) as JSON: a copy of the tables below, so that
    -- looking a term up is one indexed read instead of six.
    details TEXT NOT NULL
);
CREATE TABLE lexicon (
    id INTEGER PRIMARY KEY,
    term_id INTEGER NOT NULL,
    text TEXT NOT NULL,
    norm TEXT NOT NULL,
    kind TEXT NOT NULL,         -- 'label' or 'synonym'
    scope TEXT,                 -- EXACT, RELATED, BROAD, NARROW; NULL for labels
    type TEXT                   -- synonym type: layperson, abbreviation, alias_symbol, ...
);
CREATE TABLE alt_ids (curie TEXT NOT NULL, term_id INTEGER NOT NULL);
CREATE TABLE parents (term_id INTEGER NOT NULL, parent TEXT NOT NULL);
CREATE TABLE replaced_by (term_id INTEGER NOT NULL, curie TEXT NOT NULL);
CREATE TABLE consider (term_id INTEGER NOT NULL, curie TEXT NOT NULL);
CREATE TABLE xrefs (term_id INTEGER NOT NULL, xref TEXT NOT NULL);
"""

# Indexes are created after the bulk insert: cheaper than maintaining them row by row.
_INDEXES = """
CREATE UNIQUE INDEX terms_curie ON terms (curie);
CREATE INDEX lexicon_norm ON lexicon (norm);
CREATE INDEX lexicon_term ON lexicon (term_id);
CREATE UNIQUE INDEX alt_ids_curie ON alt_ids (curie);
CREATE INDEX parents_term ON parents (term_id);
CREATE INDEX parents_parent ON parents (parent);
CREATE INDEX replaced_by_term ON replaced_by (term_id);
CREATE INDEX consider_term ON consider (term_id);
CREATE INDEX xrefs_term ON xrefs (term_id);
"""

_FTS_TOKEN_RE = re.compile(r"\w+")


def releases_of(stores: Iterable[OntologyStore]) -> str:
    """The releases of the stores of one target ontology ("hp,go") as one text, "; " between them."""
    return "; ".join(store.release for store in stores)


def build_store(
    parsed: ParsedOntology,
    destination: Path,
    name: str,
    popularity: Mapping[str, int] | None = None,
    popularity_source: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write `parsed` as a store at `destination`, atomically. Returns the destination."""
    progress = progress or Progress()
    with atomic_path(destination) as temporary:
        _write_store(temporary, parsed, name, popularity or {}, popularity_source, progress)
    return destination


def _write_store(
    path: Path,
    parsed: ParsedOntology,
    name: str,
    popularity: Mapping[str, int],
    popularity_source: str | None,
    progress: Progress,
) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # A temporary file that is discarded on failure needs no journal and no fsync.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.executescript(_SCHEMA)
        conn.execute("BEGIN")
        records = parsed.records
        total = len(records)
        terms_rows = []
        lexicon_rows = []
        alt_rows, parent_rows, replaced_rows, consider_rows, xref_rows = [], [], [], [], []
        lexicon_id = 0
        prefixes: dict[str, int] = {}
        for term_id, record in enumerate(records, start=1):
            if term_id % 5000 == 0:
                progress.update(term_id, total, "writing terms")
            prefix = record.curie.split(":", 1)[0]
            prefixes[prefix] = prefixes.get(prefix, 0) + 1
            details = json.dumps(
                [record.synonyms, record.parents, record.alt_ids, record.replaced_by,
                 record.consider, record.xrefs],
                ensure_ascii=False, separators=(",", ":"),
            )  # fmt: skip
            terms_rows.append(
                (term_id, record.curie, record.label, record.definition, record.namespace,
                 int(record.obsolete), popularity.get(record.curie), details)
            )  # fmt: skip
            lexicon_id += 1
            lexicon_rows.append(
                (lexicon_id, term_id, record.label, normalize(record.label), "label", None, None)
            )
            for text, scope, synonym_type in record.synonyms:
                lexicon_id += 1
                lexicon_rows.append(
                    (lexicon_id, term_id, text, normalize(text), "synonym", scope, synonym_type)
                )
            alt_rows.extend((alt, term_id) for alt in record.alt_ids)
            parent_rows.extend((term_id, parent) for parent in record.parents)
            replaced_rows.extend((term_id, c) for c in record.replaced_by)
            consider_rows.extend((term_id, c) for c in record.consider)
            xref_rows.extend((term_id, x) for x in record.xrefs)
        conn.executemany("INSERT INTO terms VALUES (?,?,?,?,?,?,?,?)", terms_rows)
        conn.executemany("INSERT INTO lexicon VALUES (?,?,?,?,?,?,?)", lexicon_rows)
        conn.executemany("INSERT OR IGNORE INTO alt_ids VALUES (?,?)", alt_rows)
        conn.executemany("INSERT INTO parents VALUES (?,?)", parent_rows)
        conn.executemany("INSERT INTO replaced_by VALUES (?,?)", replaced_rows)
        conn.executemany("INSERT INTO consider VALUES (?,?)", consider_rows)
        conn.executemany("INSERT INTO xrefs VALUES (?,?)", xref_rows)
        conn.execute("COMMIT")
        progress.update(total, total, "indexing")
        conn.executescript(_INDEXES)
        # Full-text index over the normalised names, so that search folds spelling and plurals
        # exactly as exact matching does; the porter stemmer adds inflections on top.
        import sqlite_utils  # here, not at the top: it pulls in pandas, a second at start-up

        db = sqlite_utils.Database(conn)
        db["lexicon"].enable_fts(
            ["norm"], fts_version="FTS5", tokenize="porter", create_triggers=False
        )
        obsolete_count = sum(1 for r in records if r.obsolete)
        meta = {
            "name": name,
            "ontology": parsed.ontology_id or "",
            "title": parsed.title or "",
            "data_version": parsed.data_version or "",
            "source_path": str(parsed.source_path.resolve()),
            "source_sha256": parsed.sha256,
            "source_format": parsed.source_format,
            "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "term2id_version": __version__,
            "term_count": str(total),
            "obsolete_count": str(obsolete_count),
            "synonym_count": str(lexicon_id - total),
            "prefixes": json.dumps(sorted(prefixes, key=lambda p: -prefixes[p])),
            "popularity_source": popularity_source or "",
            "warnings": json.dumps(parsed.warnings),
        }
        conn.executemany("INSERT INTO meta VALUES (?,?)", sorted(meta.items()))
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("ANALYZE")
    finally:
        conn.close()


class OntologyStore(StoreCaches):
    """Read access to one store file. Safe to share between threads (one connection each).

    The file also keeps caches of what is costly to compute again (StoreCaches' methods)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no such store file")
        self._local = threading.local()
        conn = self._conn()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(self.path, version, SCHEMA_VERSION)
        try:
            self._meta = dict(conn.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a term2id ontology store ({exc})") from exc
        if version < 1:
            raise StoreError(f"{self.path}: not a term2id ontology store (no schema version)")
        self.name: str = self._meta["name"]

    # -- connections --------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, check_same_thread=True, timeout=30)
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path}: cannot be opened as a store ({exc})") from exc
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self) -> OntologyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- metadata -----------------------------------------------------------------------------

    @property
    def info(self) -> StoreInfo:
        m = self._meta
        return StoreInfo(
            name=m["name"],
            path=str(self.path),
            ontology_id=m.get("ontology") or None,  # the column keeps its name on disk
            title=m.get("title") or None,
            data_version=m.get("data_version") or None,
            source_path=m["source_path"],
            source_sha256=m["source_sha256"],
            source_format=m["source_format"],
            imported_at=datetime.fromisoformat(m["imported_at"]),
            schema_version=SCHEMA_VERSION,
            term_count=int(m["term_count"]),
            obsolete_count=int(m["obsolete_count"]),
            synonym_count=int(m["synonym_count"]),
            prefixes=tuple(json.loads(m.get("prefixes", "[]"))),
            popularity_source=m.get("popularity_source") or None,
            warnings=tuple(json.loads(m.get("warnings", "[]"))),
        )

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(json.loads(self._meta.get("prefixes", "[]")))

    @property
    def release(self) -> str:
        """A short description of the release: data-version, or the source file's hash."""
        return self._meta.get("data_version") or f"sha256:{self._meta['source_sha256'][:12]}"

    # -- by id --------------------------------------------------------------------------------

    def lookup(self, identifier: str) -> TermLookup | None:
        """Find a term by id; a secondary (alt) id resolves to its primary term."""
        curie = canonical_curie(identifier) or identifier.strip()
        conn = self._conn()
        row = conn.execute(_TERM_SELECT + " WHERE curie = ?", (curie,)).fetchone()
        via_alt = False
        if row is None:
            row = conn.execute(
                _TERM_SELECT + " WHERE id = (SELECT term_id FROM alt_ids WHERE curie = ?)", (curie,)
            ).fetchone()
            if row is None:
                return None
            via_alt = True
        return TermLookup(requested=curie, term=self._term_from_row(row), via_alt_id=via_alt)

    def term(self, identifier: str) -> Term | None:
        found = self.lookup(identifier)
        return found.term if found else None

    def __contains__(self, identifier: str) -> bool:
        return self.lookup(identifier) is not None

    def terms(self, include_obsolete: bool = True) -> Iterator[Term]:
        """Every term, in file order."""
        conn = self._conn()
        sql = _TERM_SELECT + ("" if include_obsolete else " WHERE obsolete = 0") + " ORDER BY id"
        for row in conn.execute(sql).fetchall():
            yield self._term_from_row(row)

    def labels(self) -> dict[str, str]:
        """curie -> label for every term: a cheap way to take a whole release in memory."""
        return dict(self._conn().execute("SELECT curie, label FROM terms"))

    def obsolete_status(self) -> dict[str, tuple[bool, tuple[str, ...]]]:
        """curie -> (obsolete, replaced_by) for every term, plus alt id -> primary."""
        conn = self._conn()
        replaced: dict[int, list[str]] = {}
        for term_id, curie in conn.execute("SELECT term_id, curie FROM replaced_by"):
            replaced.setdefault(term_id, []).append(curie)
        return {
            curie: (bool(obsolete), tuple(replaced.get(term_id, ())))
            for term_id, curie, obsolete in conn.execute("SELECT id, curie, obsolete FROM terms")
        }

    def alt_id_map(self) -> dict[str, str]:
        return dict(
            self._conn().execute(
                "SELECT a.curie, t.curie FROM alt_ids a JOIN terms t ON t.id = a.term_id"
            )
        )

    def parents(self, identifier: str) -> list[Term]:
        term = self.term(identifier)
        if term is None:
            return []
        return [t for t in (self.term(p) for p in term.parents) if t is not None]

    def children(self, identifier: str) -> list[Term]:
        term = self.term(identifier)
        if term is None:
            return []
        rows = (
            self._conn()
            .execute(
                _TERM_SELECT
                + " WHERE id IN (SELECT term_id FROM parents WHERE parent = ?) ORDER BY label",
                (term.curie,),
            )
            .fetchall()
        )
        return [self._term_from_row(r) for r in rows]

    def _term_from_row(self, row: tuple) -> Term:
        curie, label, definition, namespace, obsolete, popularity, details = row
        synonyms, parents, alt_ids, replaced_by, consider, xrefs = json.loads(details)
        return Term(
            curie=curie,
            label=label,
            definition=definition,
            namespace=namespace,
            obsolete=bool(obsolete),
            replaced_by=tuple(replaced_by),
            consider=tuple(consider),
            alt_ids=tuple(alt_ids),
            synonyms=tuple(
                Synonym(text, scope or "RELATED", kind) for text, scope, kind in synonyms
            ),
            parents=tuple(parents),
            xrefs=tuple(xrefs),
            popularity=popularity,
        )

    # -- by name ------------------------------------------------------------------------------

    def find_exact(self, text: str, include_obsolete: bool = False) -> list[TextMatch]:
        """Terms one of whose names normalises to the same key as `text`; labels first."""
        key = normalize(text)
        if not key:
            return []
        rows = self._conn().execute(_MATCH_SELECT + " WHERE l.norm = ?", (key,)).fetchall()
        matches = [_match_from_row(r, 1.0) for r in rows]
        if not include_obsolete:
            matches = [m for m in matches if not m.obsolete]
        return _best_per_term(sorted(matches, key=_exact_rank))

    def search(self, text: str, limit: int = 20, include_obsolete: bool = False) -> list[TextMatch]:
        """Full-text search over labels and synonyms, best first.

        Exact normalised matches come first; then terms whose names hold all the query's words,
        ranked by BM25 (labels before synonyms, popular terms before rare ones on ties); then, if
        there is room, terms holding some of the words.
        """
        results: dict[str, TextMatch] = {
            m.curie: m for m in self.find_exact(text, include_obsolete)
        }
        tokens = _FTS_TOKEN_RE.findall(normalize(text))
        if tokens and len(results) < limit:
            for operator in (" ", " OR "):
                query = operator.join(f'"{t}"' for t in tokens)
                for match in self._fts(query, limit * 3, include_obsolete):
                    results.setdefault(match.curie, match)
                if len(results) >= limit or len(tokens) == 1:
                    break
        return list(results.values())[:limit]

    def _fts(self, query: str, limit: int, include_obsolete: bool) -> list[TextMatch]:
        # Rank per lexicon row, then keep each term's best row.
        rows = (
            self._conn()
            .execute(
                "SELECT l.term_id AS term_id, t.curie, t.label, l.text, l.kind, l.scope, l.type, "
                "t.obsolete, t.popularity, bm25(lexicon_fts) AS rank "
                "FROM lexicon_fts JOIN lexicon l ON l.id = lexicon_fts.rowid JOIN terms t ON t.id = l.term_id "
                "WHERE lexicon_fts MATCH ? ORDER BY rank LIMIT ?",
                (query, limit * 4),
            )
            .fetchall()
        )
        matches = []
        for r in rows:
            if r[7] and not include_obsolete:
                continue
            rank = r[9]
            # bm25 is negative, more negative is better; squash it into (0, 1) for display.
            score = -rank / (1.0 - rank) if rank < 0 else 0.0
            matches.append(_match_from_row(r[1:9], score))
        matches.sort(key=lambda m: (-round(m.score, 3), m.kind != "label", -(m.popularity or 0)))
        return _best_per_term(matches)[:limit]

    # -- statistics ---------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        conn = self._conn()
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
            for table in (
                "terms",
                "lexicon",
                "alt_ids",
                "parents",
                "replaced_by",
                "consider",
                "xrefs",
            )
        }


_TERM_SELECT = (
    "SELECT curie, label, definition, namespace, obsolete, popularity, details FROM terms"
)
_MATCH_SELECT = (
    "SELECT t.curie, t.label, l.text, l.kind, l.scope, l.type, t.obsolete, t.popularity "
    "FROM lexicon l JOIN terms t ON t.id = l.term_id"
)


def _match_from_row(row: Iterable, score: float) -> TextMatch:
    curie, label, text, kind, scope, synonym_type, obsolete, popularity = row
    return TextMatch(
        curie=curie,
        label=label,
        matched_text=text,
        kind=kind,
        scope=scope,
        synonym_type=synonym_type,
        obsolete=bool(obsolete),
        popularity=popularity,
        score=score,
    )


def _exact_rank(match: TextMatch) -> tuple:
    return (match.obsolete, name_order(match.scope), -(match.popularity or 0), match.curie)


def _best_per_term(matches: list[TextMatch]) -> list[TextMatch]:
    seen: set[str] = set()
    best = []
    for match in matches:
        if match.curie not in seen:
            seen.add(match.curie)
            best.append(match)
    return best
