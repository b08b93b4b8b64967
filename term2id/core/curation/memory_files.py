"""Importing curated mappings into the mapping memory, and exporting the memory as SSSOM.

Import reads either
- an SSSOM TSV (metadata `#` lines, then a header naming at least `subject_label` and
  `object_id`): `subject_label` is the term; `predicate_id` one of the `skos:` mapping predicates
  (empty: exact); a row whose `predicate_modifier` is `Not` says the term does NOT map to the
  id and is remembered as a rejection; `author_label`, `author_id` (an ORCID), `mapping_date`,
  `object_label` and `object_source_version` are kept where given;
- or a plain two-column table, term and id, comma- or tab-separated, with or without a header.

The whole file is read and checked before anything is written, and written in one transaction:
a file with one bad line is refused with that line named, and nothing of it is imported.
Importing the same file again changes nothing (its entries are keyed by the file's hash).

Export writes the memory's current word on each (term, store, id): the latest decision, accepted
ones as mappings, rejected ones with `predicate_modifier` `Not`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from term2id.core.candidates import PREDICATE_SKOS, MappingPredicate
from term2id.core.curie import canonical_curie
from term2id.core.errors import InputFileError
from term2id.core.exports.sssom_writer import (
    MANUAL,
    SSSOMMapping,
    SSSOMSetMetadata,
    SSSOMWriter,
    subject_id_for,
)
from term2id.core.mapping.memory import MappingMemory, MemoryAction, MemoryEntry, store_spec
from term2id.core.tables import detect_encoding, sniff_delimiter

SKOS_PREDICATE = {skos: predicate for predicate, skos in PREDICATE_SKOS.items()}
NOT = "Not"
# The memory's SSSOM columns: the usual ones plus who decided, when, and negative mappings.
MEMORY_SSSOM_COLUMNS = (
    "subject_id", "subject_label", "predicate_id", "predicate_modifier", "object_id",
    "object_label", "mapping_justification", "author_id", "author_label", "mapping_date",
    "object_source_version", "mapping_tool", "mapping_tool_version", "comment",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImportSummary:
    path: Path
    kind: str  # "SSSOM" or "term,id table"
    accepted: int
    rejected: int
    new: int  # entries not in the memory before (an imported file is remembered once)


def import_file(
    memory: MappingMemory,
    path: Path | str,
    ontology: str = "hp",
    curator: str | None = None,
    orcid: str | None = None,
) -> ImportSummary:
    """Read `path` (SSSOM TSV or a term,id table) whole, then add it to `memory` at once.

    `ontology` is the target ontology the terms were mapped against; `curator` and `orcid` stand for
    rows that name no author (default curator: "import of FILE NAME").
    """
    path = Path(path)
    entries, kind = read_file(path, ontology, curator, orcid)
    new = memory.add(entries)
    rejected = sum(e.rejected for e in entries)
    return ImportSummary(path, kind, len(entries) - rejected, rejected, new)


def read_file(
    path: Path, ontology: str, curator: str | None = None, orcid: str | None = None
) -> tuple[list[MemoryEntry], str]:
    """The entries a file holds, and what kind of file it is; InputFileError naming the line."""
    spec = store_spec(ontology)
    if not spec:
        raise InputFileError(path, "no store named to remember the mappings for (--ontology)")
    if not path.is_file():
        raise InputFileError(path, "no such file")
    data = path.read_bytes()
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputFileError(path, "is not a text table (SSSOM TSV or term,id CSV/TSV)")
    try:
        text = data.decode(detect_encoding(path, data[:65536]))
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputFileError(path, f"cannot be read as text ({exc})") from exc
    source = "import:" + hashlib.sha256(data).hexdigest()[:32]
    base = _Base(
        spec=spec,
        curator=curator or f"import of {path.name}",
        orcid=orcid,
        at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        session_id=source,
        origin=path.name,
    )
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    header = [c.strip() for c in first.split("\t")]
    if first.startswith("#") or ("subject_label" in header and "object_id" in header):
        entries, kind = _read_sssom(path, lines, base), "SSSOM"
    else:
        entries, kind = _read_pairs(path, text, base), "term,id table"
    if not entries:
        raise InputFileError(path, f"no mappings found in this {kind}")
    return entries, kind


@dataclass(frozen=True, slots=True)
class _Base:
    spec: str
    curator: str
    orcid: str | None
    at: str
    session_id: str
    origin: str


def _read_sssom(path: Path, lines: list[str], base: _Base) -> list[MemoryEntry]:
    header: list[str] | None = None
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split("\t")]
        if header is None:
            header = cells
            missing = [c for c in ("subject_label", "object_id") if c not in header]
            if missing:
                raise InputFileError(
                    path,
                    f"not an SSSOM table this import reads: no {' or '.join(missing)} column "
                    "(the term must be in subject_label)",
                    number,
                )
            continue
        row = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=False))
        term = row["subject_label"]
        if not term:
            raise InputFileError(path, "empty subject_label (the term)", number)
        curie = _curie(path, row["object_id"], number, "object_id")
        predicate_id = row.get("predicate_id", "")
        if predicate_id and predicate_id not in SKOS_PREDICATE:
            raise InputFileError(
                path,
                f"predicate_id {predicate_id!r} is not one of {', '.join(SKOS_PREDICATE)}",
                number,
            )
        modifier = row.get("predicate_modifier", "")
        if modifier and modifier != NOT:
            raise InputFileError(
                path, f"predicate_modifier {modifier!r}: the only modifier is {NOT!r}", number
            )
        at = base.at
        if row.get("mapping_date"):
            try:
                at = date.fromisoformat(row["mapping_date"][:10]).isoformat()
            except ValueError:
                raise InputFileError(
                    path, f"mapping_date {row['mapping_date']!r} is not a date (YYYY-MM-DD)", number
                ) from None
        author = row.get("author_id", "").split("|")[0].strip()
        orcid = author.removeprefix("orcid:").removeprefix("ORCID:") if author else base.orcid
        rejected = modifier == NOT
        entries.append(
            MemoryEntry(
                term=term,
                spec=base.spec,
                action=MemoryAction.REJECTED if rejected else MemoryAction.ACCEPTED,
                curies=(curie,),
                curator=row.get("author_label", "").split("|")[0].strip() or base.curator,
                at=at,
                session_id=base.session_id,
                decision_id=number,
                predicate=SKOS_PREDICATE.get(predicate_id, MappingPredicate.EXACT),
                label=(row.get("object_label") or None) if not rejected else None,
                orcid=orcid or None,
                release=row.get("object_source_version") or None,
                origin=base.origin,
            )
        )
    if header is None:
        raise InputFileError(path, "an SSSOM file without a table (only # metadata lines)")
    return entries


def _read_pairs(path: Path, text: str, base: _Base) -> list[MemoryEntry]:
    delimiter = sniff_delimiter(text[:65536], path.suffix.lower())
    entries = []
    first = True  # a header may stand on the first non-empty line only
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for number, cells in enumerate(reader, start=1):
        cells = [c.strip() for c in cells]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        header, first = first, False
        if len(cells) != 2 or not cells[0]:
            raise InputFileError(
                path,
                f"expected two columns, a term and an id, found {len(cells)} "
                f"({delimiter!r}-separated)",
                number,
            )
        term, value = cells
        curie = canonical_curie(value)
        if curie is None:
            if header:
                continue  # a header line ("term,id")
            raise InputFileError(path, f"{value!r} is not an identifier (PREFIX:LOCAL)", number)
        entries.append(
            MemoryEntry(
                term=term,
                spec=base.spec,
                action=MemoryAction.ACCEPTED,
                curies=(curie,),
                curator=base.curator,
                at=base.at,
                session_id=base.session_id,
                decision_id=number,
                orcid=base.orcid,
                origin=base.origin,
            )
        )
    return entries


def _curie(path: Path, value: str, number: int, column: str) -> str:
    curie = canonical_curie(value)
    if curie is None:
        raise InputFileError(
            path, f"{column} {value!r} is not an identifier (PREFIX:LOCAL)", number
        )
    return curie


def export_memory(memory: MappingMemory, path: Path | str, ontology: str | None = None) -> int:
    """Write the memory's current word on each (term, store, id) as an SSSOM TSV; returns rows.

    `ontology` limits it to one target ontology. Rejections are written with predicate_modifier Not.
    """
    spec = store_spec(ontology) if ontology else None
    metadata = SSSOMSetMetadata(
        mapping_set_title="term2id mapping memory",
        mapping_set_description="What curators decided about terms: accepted mappings, and "
        "rejected ones (predicate_modifier Not).",
    )
    with SSSOMWriter(path, metadata, columns=MEMORY_SSSOM_COLUMNS) as writer:
        for curie, entry in memory.current():
            if spec is not None and entry.spec != spec:
                continue
            notes = [entry.action.value, f"store {entry.spec}"]
            if entry.bulk:
                notes.append("bulk accept")
            notes.append(
                f"imported from {entry.origin}" if entry.origin else f"session {entry.session_id}"
            )
            writer.add(
                SSSOMMapping(
                    subject_id=subject_id_for(entry.term),
                    subject_label=entry.term,
                    predicate_id=PREDICATE_SKOS[entry.predicate],
                    object_id=curie,
                    object_label=(entry.label or "") if curie == entry.curies[0] else "",
                    mapping_justification=MANUAL,
                    object_source_version=entry.release,
                    author_id=f"orcid:{entry.orcid}" if entry.orcid else None,
                    comment="; ".join(notes),
                    predicate_modifier=NOT if entry.rejected else None,
                    author_label=entry.curator,
                    mapping_date=entry.at[:10],
                )
            )
    return writer.rows_written
