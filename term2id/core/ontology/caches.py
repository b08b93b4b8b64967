"""The caches a store file keeps beside its terms: what the local language model answered, and
the sentence vectors of the store's names. Both are costly to compute and depend only on the
store's release and the model, so they live in the store file; one that cannot be written simply
caches nothing.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)


class StoreCaches:
    """The cache tables of one store file, created on first use. OntologyStore is one: these
    methods use its per-thread connection (`_conn`), its `path` and its `release`."""

    path: Path
    release: str
    _conn: Callable[[], sqlite3.Connection]

    # -- model answer cache -------------------------------------------------------------------
    # What a language model answered, per (model sha256, adapter sha256, prompt template, term),
    # so that mapping the same terms again with the same model costs nothing. The table is
    # created on first use; a store file that cannot be written simply caches nothing.

    _MODEL_ANSWERS_DDL = (
        "CREATE TABLE IF NOT EXISTS model_answers (model TEXT NOT NULL, adapter TEXT NOT NULL, "
        "template TEXT NOT NULL, term TEXT NOT NULL, answer TEXT NOT NULL, created TEXT NOT NULL, "
        "PRIMARY KEY (model, adapter, template, term)) WITHOUT ROWID"
    )

    def cached_model_answer(self, model: str, adapter: str, template: str, term: str) -> str | None:
        try:
            row = (
                self._conn()
                .execute(
                    "SELECT answer FROM model_answers "
                    "WHERE model = ? AND adapter = ? AND template = ? AND term = ?",
                    (model, adapter, template, term),
                )
                .fetchone()
            )
        except sqlite3.OperationalError:  # no such table yet
            return None
        return row[0] if row else None

    def cache_model_answer(
        self, model: str, adapter: str, template: str, term: str, answer: str
    ) -> None:
        conn = self._conn()
        try:
            with conn:
                conn.execute(self._MODEL_ANSWERS_DDL)
                conn.execute(
                    "INSERT OR REPLACE INTO model_answers VALUES (?, ?, ?, ?, ?, ?)",
                    (model, adapter, template, term, answer,
                     datetime.now(UTC).isoformat(timespec="seconds")),
                )  # fmt: skip
        except sqlite3.OperationalError as exc:  # read-only file or disk full: work uncached
            log.warning("%s: cannot cache model answers (%s)", self.path, exc)

    # -- end of model answer cache ------------------------------------------------------------

    # -- embedding cache ----------------------------------------------------------------------
    # Sentence vectors of the store's names, per embedding model and release, so that they are
    # computed once: (model, release, text) -> vector bytes (the semantic source decides the
    # encoding). The table is created on first use; a store file that cannot be written simply
    # caches nothing.

    _EMBEDDINGS_DDL = (
        "CREATE TABLE IF NOT EXISTS embedding_cache (model TEXT NOT NULL, release TEXT NOT NULL, "
        "text TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, release, text)) WITHOUT ROWID"
    )

    def cached_embeddings(self, model: str) -> dict[str, bytes]:
        """text -> vector bytes cached for `model` and this store's release."""
        try:
            rows = (
                self._conn()
                .execute(
                    "SELECT text, vector FROM embedding_cache WHERE model = ? AND release = ?",
                    (model, self.release),
                )
                .fetchall()
            )
        except sqlite3.OperationalError:  # no such table yet
            return {}
        return dict(rows)

    def cache_embeddings(self, model: str, vectors: Iterable[tuple[str, bytes]]) -> int:
        """Keep `vectors` (text, bytes) for `model` and this release; returns how many were kept."""
        rows = [(model, self.release, text, vector) for text, vector in vectors]
        conn = self._conn()
        try:
            with conn:
                conn.execute(self._EMBEDDINGS_DDL)
                conn.executemany("INSERT OR REPLACE INTO embedding_cache VALUES (?, ?, ?, ?)", rows)
        except sqlite3.OperationalError as exc:  # read-only file or disk full: work uncached
            log.warning("%s: cannot cache embeddings (%s)", self.path, exc)
            return 0
        return len(rows)

    def copy_embeddings_from(self, other: StoreCaches) -> int:
        """Copy `other`'s cached vectors of the names this store also has (any model).

        A store derived from another (a copy with synonyms held out) then needs no re-embedding.
        """
        names = {row[0] for row in self._conn().execute("SELECT DISTINCT text FROM lexicon")}
        try:
            rows = (
                other._conn()
                .execute(
                    "SELECT model, text, vector FROM embedding_cache WHERE release = ?",
                    (other.release,),
                )
                .fetchall()
            )
        except sqlite3.OperationalError:
            return 0
        copied = 0
        by_model: dict[str, list[tuple[str, bytes]]] = {}
        for model, text, vector in rows:
            if text in names:
                by_model.setdefault(model, []).append((text, vector))
        for model, vectors in by_model.items():
            copied += self.cache_embeddings(model, vectors)
        return copied

    def clear_embeddings(self, model: str | None = None) -> int:
        """Forget the cached vectors of `model` (default: of every model); returns how many."""
        conn = self._conn()
        try:
            with conn:
                if model is not None:
                    return conn.execute(
                        "DELETE FROM embedding_cache WHERE model = ?", (model,)
                    ).rowcount
                return conn.execute("DELETE FROM embedding_cache").rowcount
        except sqlite3.OperationalError:
            return 0
