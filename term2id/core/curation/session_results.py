"""A session's mapping results: each row's candidates with verdicts and evidence, and with what
they were mapped (store release, model, candidate sources).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from term2id.core.candidates import MappingResult, Query
from term2id.core.curation.session_codec import ResultRecord, result_from_json, result_records
from term2id.core.curation.session_schema import SessionConnection


class SessionResults(SessionConnection):
    """The results table: written in batches as mapping goes, read per row or all at once. Part
    of CurationSession."""

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
        return result_from_json(self.query(row), *found)

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

    def iter_rows(self) -> Iterable[tuple[int, list[str | None], MappingResult | None]]:
        """Every row in input order: (row, input cells, mapping result or None), one query."""
        cursor = self._conn.execute(
            "SELECT i.row, i.cells, i.term, i.ontology, i.context, r.status, r.candidates, "
            "r.notes FROM input_rows i LEFT JOIN results r ON r.row = i.row ORDER BY i.row"
        )
        for row, cells, term, ontology, context, status, candidates, notes in cursor:
            result = None
            if status is not None:
                query = Query(text=term, ontology=ontology, context=context)
                result = result_from_json(query, status, candidates, notes)
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
