"""Reading ontology files into plain term records: OBO (our own reader, see obo.py),
OWL and OBO-JSON through pronto, and HGNC's gene table (TSV).

Every problem with a file is reported as an OntologyFileError naming the file and, where there
is one, the line.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
import re
import warnings
import zlib
from pathlib import Path

from term2id.core.errors import OntologyFileError
from term2id.core.ontology.obo import read_obo
from term2id.core.ontology.terms import ParsedOntology, TermRecord
from term2id.core.progress import Progress

log = logging.getLogger(__name__)

FORMATS = ("obo", "owl", "json", "hgnc")

HGNC_REQUIRED_COLUMNS = ("hgnc_id", "symbol", "name", "status", "alias_symbol", "prev_symbol")


def read_ontology_file(
    path: Path | str, format: str | None = None, progress: Progress | None = None
) -> ParsedOntology:
    """Read an ontology file of any supported format. Raises OntologyFileError on bad input."""
    path = Path(path)
    progress = progress or Progress()
    raw = _read_bytes(path)
    sha256 = hashlib.sha256(raw).hexdigest()
    data = _decompress(path, raw)
    if not data.strip():
        raise OntologyFileError(path, "the file is empty")
    kind = _binary_kind(data)
    if kind is not None:
        raise OntologyFileError(path, f"not an ontology file: it looks like {kind}")
    fmt = format or _detect_format(path, data)
    if fmt not in FORMATS:
        raise OntologyFileError(path, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    progress.update(0, 1, f"reading {path.name}")
    if fmt == "hgnc":
        parsed = _read_hgnc(path, _decode(path, data))
    elif fmt == "obo":
        parsed = read_obo(path, _decode(path, data))
    else:
        parsed = _read_with_pronto(path, data, fmt)
    parsed.sha256 = sha256
    _check_records(path, parsed.records)
    progress.update(1, 1, f"read {len(parsed.records):,} terms")
    return parsed


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise OntologyFileError(path, "no such file")
    if path.is_dir():
        raise OntologyFileError(path, "is a folder, not an ontology file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OntologyFileError(path, f"cannot be read: {exc.strerror}") from exc


def _decompress(path: Path, raw: bytes) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as exc:
        raise OntologyFileError(path, "the gzip file is truncated (it ends mid-stream)") from exc
    except (OSError, zlib.error) as exc:
        raise OntologyFileError(path, f"the gzip file is corrupt ({exc})") from exc


def _decode(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise OntologyFileError(
            path,
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x}); ontology files must be UTF-8",
            line,
        ) from exc
    return text.removeprefix("\ufeff")


_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an XLSX or DOCX file?)"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"GGUF", "a GGUF model file"),
)


def _binary_kind(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if b"\x00" in data[:8192]:
        return "a binary file"
    return None


def _detect_format(path: Path, data: bytes) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if ext == ".obo" or head.startswith((b"format-version:", b"[Term]", b"[Typedef]")):
        return "obo"
    if ext in (".owl", ".rdf", ".xml") or head.startswith((b"<?xml", b"<rdf:RDF", b"<Ontology")):
        return "owl"
    if ext == ".json" or head.startswith(b"{"):
        return "json"
    first_line = head.split(b"\n", 1)[0]
    if b"hgnc_id" in first_line or (ext == ".tsv" and b"\t" in first_line):
        return "hgnc"
    if re.search(rb"(?m)^\[Term\]", data[:1_000_000]):
        return "obo"
    raise OntologyFileError(
        path,
        "not an ontology file: expected OBO, OWL (RDF/XML), OBO-JSON or an HGNC TSV "
        "(use --format to say which it is)",
    )


# --------------------------------------------------------------------------------------------
# pronto


def _read_with_pronto(path: Path, data: bytes, fmt: str) -> ParsedOntology:
    import pronto  # imported here: parsing is the only place that needs it

    if fmt == "json":
        _decode(path, data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # import_depth=0: pronto would otherwise fetch every owl:imports (URLs, PURLs for
            # bare names) or open local paths the user never named.
            ontology = pronto.Ontology(io.BytesIO(data), import_depth=0)
        except SyntaxError as exc:
            line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
            raise OntologyFileError(
                path, f"syntax error: {_clean_message(str(exc))}", line
            ) from exc
        except ValueError as exc:
            if "could not find a parser" in str(exc):
                raise OntologyFileError(
                    path, f"not a {fmt.upper()} ontology file that pronto can read"
                ) from exc
            raise OntologyFileError(path, _clean_message(str(exc))) from exc
        except Exception as exc:  # pronto wraps parser errors of several libraries
            line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
            if (
                isinstance(exc, EOFError)
                or "no element found" in str(exc)
                or "unclosed token" in str(exc)
            ):
                raise OntologyFileError(
                    path, f"the file is truncated or malformed ({_clean_message(str(exc))})", line
                ) from exc
            raise OntologyFileError(
                path, f"cannot be parsed as {fmt.upper()}: {_clean_message(str(exc))}", line
            ) from exc
        # pronto type-checks every call of its public API at run time; for 100k calls on data it
        # built itself that is half of the extraction time, so switch it off here.
        from pronto.utils.meta import typechecked

        with typechecked.disabled():
            records = _records_from_pronto(path, ontology)
    metadata = ontology.metadata
    ontology_name = metadata.ontology or None
    if ontology_name and ontology_name.endswith((".obo", ".owl", ".json")):
        ontology_name = ontology_name.rsplit(".", 1)[0]
    return ParsedOntology(
        records=records,
        source_path=path,
        source_format=fmt,
        sha256="",
        ontology_id=ontology_name,
        title=_title_of(metadata),
        data_version=metadata.data_version or None,
        warnings=_imports_not_followed(metadata.imports) + _summarise_warnings(caught),
    )


def _records_from_pronto(path: Path, ontology) -> list[TermRecord]:  # noqa: ANN001 - pronto.Ontology
    records: list[TermRecord] = []
    for term in ontology.terms():
        try:
            synonyms = [
                (s.description, s.scope or "RELATED", s.type.id if s.type is not None else None)
                for s in term.synonyms
            ]
        except ValueError as exc:  # a synonym type pronto cannot resolve
            raise OntologyFileError(path, f"term {term.id}: {exc}") from exc
        if not term.name:
            raise OntologyFileError(path, f"term {term.id} has no name")
        records.append(
            TermRecord(
                curie=term.id,
                label=term.name,
                definition=str(term.definition) if term.definition else None,
                namespace=term.namespace or None,
                obsolete=bool(term.obsolete),
                replaced_by=sorted(term.replaced_by.ids),  # ids, even of terms not in this file
                consider=sorted(term.consider.ids),
                alt_ids=sorted(term.alternate_ids),
                synonyms=synonyms,
                parents=sorted(t.id for t in term.superclasses(distance=1, with_self=False)),
                xrefs=sorted(x.id for x in term.xrefs),
            )
        )
    return records


def _title_of(metadata) -> str | None:  # noqa: ANN001 - pronto.Metadata
    for annotation in metadata.annotations:
        if annotation.property in ("dc:title", "http://purl.org/dc/elements/1.1/title"):
            return getattr(annotation, "literal", None)
    return None


def _imports_not_followed(imports: set[str]) -> list[str]:
    if not imports:
        return []
    named = ", ".join(sorted(imports)[:10]) + (" ..." if len(imports) > 10 else "")
    return [
        f"imports not followed: {named} (term2id reads only the file given; import the files "
        "it names as stores of their own if their terms are needed)"
    ]


def _summarise_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    counts: dict[str, int] = {}
    for w in caught:
        if "unsound encoding" in str(w.message):
            continue  # pronto guessing the encoding of bytes we have already checked as UTF-8
        message = str(w.message).split("\n", 1)[0]
        message = re.sub(r"\d+", "N", message) if len(counts) > 20 else message
        counts[message] = counts.get(message, 0) + 1
    return [f"{m} ({n}×)" if n > 1 else m for m, n in sorted(counts.items())][:20]


def _line_from_message(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _clean_message(message: str) -> str:
    message = re.sub(r"\s*\(line \d+\)", "", message)  # the line goes in front, once
    return " ".join(message.split())[:300]


# --------------------------------------------------------------------------------------------
# HGNC


def _read_hgnc(path: Path, text: str) -> ParsedOntology:
    reader = csv.reader(io.StringIO(text), delimiter="\t")
    try:
        header = next(reader)
    except StopIteration:
        raise OntologyFileError(path, "the file is empty") from None
    header = [h.strip() for h in header]
    missing = [c for c in HGNC_REQUIRED_COLUMNS if c not in header]
    if missing:
        raise OntologyFileError(
            path,
            f"not an HGNC gene table: missing column(s) {', '.join(missing)} "
            f"(required: {', '.join(HGNC_REQUIRED_COLUMNS)}; found: {', '.join(header[:12])})",
            1,
        )
    col = {name: header.index(name) for name in header}
    optional = {name: col[name] for name in ("locus_group", "locus_type") if name in col}
    records: list[TermRecord] = []
    seen: dict[str, int] = {}
    for line_number, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            if line_number > 2 and not text.endswith("\n") and line_number == text.count("\n") + 1:
                raise OntologyFileError(
                    path, "the file is truncated: its last row is cut off", line_number
                )
            row = row + [""] * (len(header) - len(row))
        curie = row[col["hgnc_id"]].strip()
        symbol = row[col["symbol"]].strip()
        if not curie.startswith("HGNC:"):
            raise OntologyFileError(
                path, f"hgnc_id {curie!r} is not of the form HGNC:<number>", line_number
            )
        if curie in seen:
            raise OntologyFileError(
                path, f"duplicate term id {curie} (first at line {seen[curie]})", line_number
            )
        seen[curie] = line_number
        if not symbol:
            raise OntologyFileError(path, f"gene {curie} has no symbol (its name)", line_number)
        status = row[col["status"]].strip()
        synonyms: list[tuple[str, str, str | None]] = []
        name = row[col["name"]].strip()
        if name:
            synonyms.append((name, "EXACT", "gene_name"))
        synonyms.extend((a, "EXACT", "alias_symbol") for a in _split_list(row[col["alias_symbol"]]))
        synonyms.extend(
            (p, "RELATED", "previous_symbol") for p in _split_list(row[col["prev_symbol"]])
        )
        namespace = next((row[i].strip() for i in optional.values() if row[i].strip()), None)
        records.append(
            TermRecord(
                curie=curie,
                label=symbol,
                definition=name or None,
                namespace=namespace,
                obsolete="withdrawn" in status.lower(),
                synonyms=synonyms,
            )
        )
    if not records:
        raise OntologyFileError(path, "the HGNC table has a header but no genes")
    return ParsedOntology(
        records=records,
        source_path=path,
        source_format="hgnc",
        sha256="",
        ontology_id="hgnc",
        title="HUGO Gene Nomenclature Committee gene symbols",
    )


def _split_list(value: str) -> list[str]:
    """An HGNC list cell: values separated by |, sometimes quoted."""
    return [x.strip() for x in value.strip('"').split("|") if x.strip()]


def _check_records(path: Path, records: list[TermRecord]) -> None:
    if not records:
        raise OntologyFileError(path, "the file holds no terms")
