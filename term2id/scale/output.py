"""Writing the output of a distributed run: each input partition joined to the mapped terms, as
Parquet or as the CSV plain `map` writes, and the SSSOM table of the distinct terms."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from term2id.core.errors import Term2IdError
from term2id.core.exports import (
    MAPPED_COLUMNS,
    SSSOMMapping,
    SSSOMSetMetadata,
    SSSOMWriter,
    neutralise,
)
from term2id.core.files import atomic_path
from term2id.core.tables import cell_text
from term2id.scale.partitions import KEY, row_keys
from term2id.scale.worker import worker_state


def part_name(index: int, output_format: str) -> str:
    return f"part-{index:05d}.{output_format}"


def write_partition(
    plugin: str, part: pd.DataFrame, index: int, output: str, work: str, column: str,
    context_column: str | None, output_format: str,
) -> tuple[int, int, dict[str, int]]:  # fmt: skip
    """Join one input partition to the mapped terms and write it, in its rows' order."""
    state = worker_state(plugin)
    results = state.results(str(Path(work) / "terms"))
    keys = row_keys(part, column, context_column)[KEY]
    joined = keys.merge(results, how="left", on=KEY, validate="many_to_one")
    if joined["status"].isna().any():
        raise Term2IdError(f"partition {index}: rows without a mapped term (the run is corrupt)")
    out = part.reset_index(drop=True).copy()
    for name in MAPPED_COLUMNS:
        out[name] = joined[name].to_numpy()
    path = Path(output) / part_name(index, output_format)
    with atomic_path(path) as temp:
        if output_format == "parquet":
            out.to_parquet(temp, index=False)
        else:
            _write_csv(out, temp)
    counts = Counter(out["status"].tolist())
    Path(work, "parts").mkdir(exist_ok=True)
    done = {"rows": len(out), "status_counts": dict(counts)}
    with atomic_path(Path(work) / "parts" / f"{index:05d}.json") as temp:
        temp.write_text(json.dumps(done))
    return index, len(out), dict(counts)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """As plain `map` writes a CSV: cells as a curator reads them, safe to open in a spreadsheet."""
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(list(frame.columns))
        confidence = frame.columns.get_loc("confidence")
        for values in frame.itertuples(index=False, name=None):
            cells = list(values)
            if cells[confidence] != cells[confidence]:  # NaN: no candidate
                cells[confidence] = None
            writer.writerow([neutralise(cell_text(v)) for v in cells])


def write_sssom(path: Path, terms: pd.DataFrame, version: str, files: Sequence[Path]) -> int:
    seen: set[str] = set()
    with SSSOMWriter(path, SSSOMSetMetadata(), inputs=files) as writer:
        for row in terms.itertuples(index=False):
            text = row.text.strip()
            if not text or text in seen:
                continue
            seen.add(text)
            if not isinstance(row.subject_id, str):
                continue  # nothing to map to
            confidence = row.sssom_confidence
            writer.add(
                SSSOMMapping(
                    subject_id=row.subject_id,
                    subject_label=row.subject_label,
                    predicate_id=row.predicate_id,
                    object_id=row.object_id,
                    object_label=row.object_label if isinstance(row.object_label, str) else "",
                    mapping_justification=row.mapping_justification,
                    confidence=None if confidence != confidence else float(confidence),
                    object_source_version=version,
                    comment=row.comment if isinstance(row.comment, str) else None,
                )
            )
    return writer.rows_written
