"""Writing SSSOM mapping tables: one mapping record per term, the mapping set's metadata, and
the rules that choose a record's predicate and justification.

Like the mapped sheet, an SSSOM table is streamed into a temporary file beside its destination
and renamed into place only when complete; its cells get the same spreadsheet safety.

SSSOM (https://mapping-commons.github.io/sssom/): one row per distinct term, for its best
candidate. The rules:

- predicate_id is `skos:exactMatch` when the row's status is verified (the id exists, is current,
  the term is its label or an exact synonym, or any name that says the same below a threshold
  of 0.9, and the confidence reached the auto-accept threshold: see Mapper._status) or a
  curator accepted it; `skos:closeMatch` otherwise. A curator's mapping takes the predicate the
  curator chose (broad, narrow, close, related); left at exact, the default, an id the store
  judges narrower or broader than the term is a narrowMatch or broadMatch;
- mapping_justification is `semapv:ManualMappingCuration` for a curator's decision,
  `semapv:LexicalMatching` when the exact or fuzzy source proposed the id,
  `semapv:SemanticSimilarityThresholdMatching` when only the embedding source did, and
  `semapv:UnspecifiedMatching` otherwise (the language model, an obsolete term's replacement);
- subject_id names the free-text term itself: `term2id.input:<slug>-<hash>`, the slug being the
  term in lower-case ASCII letters and digits (at most 40) and the hash the first 12 hex digits
  of the SHA-256 of the term's text as written (spaces at either end removed), so the same
  term always gets the same id, and different terms never share one. The prefix expands to
  `urn:term2id:input:` in the curie_map.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from term2id import __version__
from term2id.core.candidates import (
    PREDICATE_SKOS,
    VERDICT_PREDICATE,
    Candidate,
    MappingPredicate,
    MappingResult,
    MappingStatus,
    Verdict,
)
from term2id.core.curie import prefix_of
from term2id.core.exports.sheet_writer import (
    ClosedOnSuccess,
    OutputFileError,
    check_output_path,
    neutralise,
)
from term2id.core.files import AtomicFile

SUBJECT_PREFIX = "term2id.input"
SUBJECT_PREFIX_URI = "urn:term2id:input:"
TOOL_NAME = "term2id"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"
EXACT_MATCH = "skos:exactMatch"
CLOSE_MATCH = "skos:closeMatch"
LEXICAL = "semapv:LexicalMatching"
SEMANTIC = "semapv:SemanticSimilarityThresholdMatching"
MANUAL = "semapv:ManualMappingCuration"
UNSPECIFIED = "semapv:UnspecifiedMatching"

# Prefixes whose URIs do not follow the OBO PURL pattern.
KNOWN_PREFIXES = {
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "semapv": "https://w3id.org/semapv/vocab/",
    "orcid": "https://orcid.org/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "sssom": "https://w3id.org/sssom/",
    "HGNC": "http://identifiers.org/hgnc/",
    SUBJECT_PREFIX: SUBJECT_PREFIX_URI,
}
_OBO_PURL = "http://purl.obolibrary.org/obo/{}_"


@dataclass(frozen=True, slots=True)
class SSSOMMapping:
    """One row of an SSSOM table; built from a mapping result or from a curator's decision."""

    subject_id: str
    subject_label: str
    predicate_id: str
    object_id: str
    object_label: str
    mapping_justification: str
    confidence: float | None = None
    object_source_version: str | None = None
    author_id: str | None = None  # e.g. "orcid:0000-0002-1825-0097"
    reviewer_id: str | None = None
    comment: str | None = None
    # Written only by writers given these columns (the mapping memory's export):
    predicate_modifier: str | None = None  # "Not": the subject does not map to the object
    author_label: str | None = None
    mapping_date: str | None = None


@dataclass(frozen=True, slots=True)
class SSSOMSetMetadata:
    """The mapping set's header. mapping_set_id, when not given, derives from the rows written."""

    license: str = CC0
    mapping_tool: str = TOOL_NAME
    mapping_tool_version: str = __version__
    mapping_date: date = field(default_factory=date.today)
    mapping_set_id: str | None = None
    mapping_set_title: str | None = None
    mapping_set_description: str | None = None
    prefixes: Mapping[str, str] = field(default_factory=dict)  # extra or overriding curie_map


SSSOM_COLUMNS = (
    "subject_id",
    "subject_label",
    "predicate_id",
    "object_id",
    "object_label",
    "mapping_justification",
    "confidence",
    "mapping_tool",
    "mapping_tool_version",
    "object_source_version",
    "author_id",
    "reviewer_id",
    "comment",
)


def subject_id_for(text: str) -> str:
    """The stable SSSOM subject id of a free-text term (see the module's documentation)."""
    text = text.strip()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:40].strip("_")
    return f"{SUBJECT_PREFIX}:{slug}-{digest}" if slug else f"{SUBJECT_PREFIX}:{digest}"


def justification_for(candidate: Candidate, curated: bool = False) -> str:
    sources = set(candidate.sources)
    if curated or sources & {"manual", "curated"}:  # curated: a curator's earlier decision
        return MANUAL
    if sources & {"exact", "fuzzy"}:
        return LEXICAL
    if "semantic" in sources:
        return SEMANTIC
    return UNSPECIFIED


def sssom_mapping_for(
    result: MappingResult,
    object_source_version: str | None = None,
    *,
    candidate: Candidate | None = None,
    accepted: bool = False,
    author_id: str | None = None,
    reviewer_id: str | None = None,
    comment: str | None = None,
    predicate: MappingPredicate | None = None,
) -> SSSOMMapping | None:
    """The SSSOM row for a result's best candidate (or `candidate`, a curator's choice).

    `accepted` marks a curator's decision: exactMatch, ManualMappingCuration; `predicate` is the
    curator's: any but exact is written as it is. None when there is nothing to map to (empty,
    no match, or an id the store does not know).
    """
    chosen = candidate if candidate is not None else result.best
    # A curator's pick of another store's id is kept (with its verdict in the comment); the
    # machine's is not.
    unfound = (Verdict.UNKNOWN_ID, Verdict.WRONG_ONTOLOGY)
    if chosen is None or (chosen.verdict in unfound and not accepted):
        return None
    exact = accepted or (candidate is None and result.status is MappingStatus.VERIFIED)
    skos = PREDICATE_SKOS[curated_predicate(predicate, chosen.verdict)] if accepted else None
    notes = [n for n in (comment, *result.notes) if n]
    if accepted and chosen.verdict is not Verdict.VERIFIED and chosen.note:
        notes.append(f"{chosen.verdict.value}: {chosen.note}")
    return SSSOMMapping(
        subject_id=subject_id_for(result.query.text),
        subject_label=result.query.text.strip(),
        predicate_id=skos or (EXACT_MATCH if exact else CLOSE_MATCH),
        object_id=chosen.curie,
        object_label=chosen.label or "",
        mapping_justification=justification_for(chosen, curated=accepted),
        confidence=round(chosen.confidence, 4),
        object_source_version=object_source_version,
        author_id=author_id,
        reviewer_id=reviewer_id,
        comment="; ".join(notes) or None,
    )


# The predicate an accepted candidate with this verdict stands for, when the curator left it at
# exact: a narrower candidate is a narrowMatch of the term (VERDICT_PREDICATE's SKOS form).
_VERDICT_MAPPING_PREDICATE = {
    verdict: next(p for p, s in PREDICATE_SKOS.items() if s == skos)
    for verdict, skos in VERDICT_PREDICATE.items()
}


def curated_predicate(chosen: MappingPredicate | str | None, verdict: Verdict) -> MappingPredicate:
    """How a curator's mapping to an id with `verdict` is written: the predicate the curator
    chose; left at exact (the default), the one the verdict stands for (narrower, broader)."""
    chosen = MappingPredicate(chosen or MappingPredicate.EXACT)
    if chosen is not MappingPredicate.EXACT:
        return chosen
    return _VERDICT_MAPPING_PREDICATE.get(verdict, MappingPredicate.EXACT)


def _tsv_cell(value: object) -> str:
    # SSSOM TSV has no quoting convention readers agree on: keep cells on one line. Labels and
    # versions come from imported files, so every cell is made safe for a spreadsheet.
    text = "" if value is None else str(value)
    return neutralise(text.replace("\t", " ").replace("\r", " ").replace("\n", " "))


def _curie_prefixes(mapping: SSSOMMapping) -> set[str]:
    ids = [mapping.subject_id, mapping.predicate_id, mapping.object_id]
    ids += [mapping.mapping_justification, mapping.author_id, mapping.reviewer_id]
    return {prefix_of(i) for i in ids if i and ":" in i}


class SSSOMWriter(ClosedOnSuccess):
    """Writes an SSSOM TSV row by row: `add()` each mapping, then `close()` (or use `with`).

    Rows are streamed to a temporary body file; the metadata header, which needs every prefix
    used, is written in front of them at the end. Repeated (subject, predicate, object) rows are
    written once. The file appears only when close() succeeds.
    """

    def __init__(
        self,
        path: Path | str,
        metadata: SSSOMSetMetadata | None = None,
        inputs: Sequence[Path | str | None] = (),
        columns: Sequence[str] = SSSOM_COLUMNS,
    ) -> None:
        self.path = check_output_path(path, *inputs)
        self.metadata = metadata or SSSOMSetMetadata()
        self.columns = tuple(columns)
        self._prefixes: set[str] = {"skos", "semapv"}
        self._versions: set[str] = set()
        self._seen: set[tuple[str, ...]] = set()
        self._digest = hashlib.sha256()
        self._body = AtomicFile(self.path, OutputFileError)
        self._handle = self._body.temp.open("w", encoding="utf-8", newline="")
        self._handle.write("\t".join(self.columns) + "\n")

    @property
    def rows_written(self) -> int:
        return len(self._seen)

    def add(self, mapping: SSSOMMapping) -> None:
        key: tuple[str, ...] = (mapping.subject_id, mapping.predicate_id, mapping.object_id)
        if mapping.predicate_modifier:
            key += (mapping.predicate_modifier,)
        if key in self._seen:
            return
        self._seen.add(key)
        self._prefixes |= _curie_prefixes(mapping)
        if mapping.object_source_version:
            self._versions.add(mapping.object_source_version)
        values = {
            "subject_id": mapping.subject_id,
            "subject_label": neutralise(mapping.subject_label),
            "predicate_id": mapping.predicate_id,
            "object_id": mapping.object_id,
            "object_label": mapping.object_label,
            "mapping_justification": mapping.mapping_justification,
            "confidence": "" if mapping.confidence is None else f"{mapping.confidence:g}",
            "mapping_tool": self.metadata.mapping_tool,
            "mapping_tool_version": self.metadata.mapping_tool_version,
            "object_source_version": mapping.object_source_version,
            "author_id": mapping.author_id,
            "reviewer_id": mapping.reviewer_id,
            "comment": neutralise(mapping.comment) if mapping.comment else None,
            "predicate_modifier": mapping.predicate_modifier,
            "author_label": mapping.author_label,
            "mapping_date": mapping.mapping_date,
        }
        line = "\t".join(_tsv_cell(values[c]) for c in self.columns) + "\n"
        self._digest.update(line.encode("utf-8"))
        self._handle.write(line)

    def header(self) -> dict[str, object]:
        """The metadata block, as it will be written (complete once every row was added)."""
        metadata = self.metadata
        curie_map = {
            p: metadata.prefixes.get(p) or KNOWN_PREFIXES.get(p) or _OBO_PURL.format(p)
            for p in sorted(self._prefixes)
        }
        header: dict[str, object] = {
            "curie_map": curie_map,
            "mapping_set_id": metadata.mapping_set_id
            or f"urn:term2id:mapping-set:{self._digest.hexdigest()[:16]}",
            "license": metadata.license,
            "mapping_tool": metadata.mapping_tool,
            "mapping_tool_version": metadata.mapping_tool_version,
            "mapping_date": metadata.mapping_date.isoformat(),
        }
        if metadata.mapping_set_title:
            header["mapping_set_title"] = metadata.mapping_set_title
        if metadata.mapping_set_description:
            header["mapping_set_description"] = metadata.mapping_set_description
        if len(self._versions) == 1:
            header["object_source_version"] = next(iter(self._versions))
        return header

    def close(self) -> None:
        final = None
        try:
            self._handle.close()
            final = AtomicFile(self.path, OutputFileError)
            with final.temp.open("w", encoding="utf-8", newline="") as out:
                text = yaml.safe_dump(self.header(), sort_keys=False, allow_unicode=True)
                out.writelines(f"#{line}\n" for line in text.splitlines())
                with self._body.temp.open(encoding="utf-8") as body:
                    for line in body:
                        out.write(line)
            final.commit()
        except BaseException:
            if final is not None:
                final.discard()
            raise
        finally:
            self._body.discard()

    def abort(self) -> None:
        self._handle.close()
        self._body.discard()


def write_sssom(
    path: Path | str,
    mappings: Iterable[SSSOMMapping],
    metadata: SSSOMSetMetadata | None = None,
    inputs: Sequence[Path | str | None] = (),
) -> int:
    """Write an SSSOM TSV (metadata as `#` lines, then the table); returns the rows written."""
    with SSSOMWriter(path, metadata, inputs) as writer:
        for mapping in mappings:
            writer.add(mapping)
    return writer.rows_written
