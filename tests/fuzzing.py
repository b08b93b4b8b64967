"""Mutation fuzzing of the readers of files users bring: GGUF headers, OBO files, tables.

A fuzzed file is a well-formed seed with a few mutations applied (bit flips, boundary integers,
deleted, duplicated and inserted chunks, format tokens, truncation); in an XLSX workbook the
mutations usually go into one of the XML members and the archive is zipped again, so that the
XML parsers are reached rather than the archive's checksums. Reading a fuzzed file must end in
a result or in the project's own error (a Term2IdError of one line): anything else is a failure.

Used by tests/core/test_fuzz.py (a short run with hypothesis, part of `make test`) and by
benchmarks/fuzz.py (a long run, each file timed and watched from another process).
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from term2id.core.errors import Term2IdError

DATA = Path(__file__).parent / "data"

# (kind, position, size, value): positions are taken modulo the data's length.
Mutation = tuple[int, int, int, int]
N_KINDS = 9
MAX_MUTATIONS = 8
MAX_POSITION = 1 << 32
MAX_VALUE = (1 << 64) - 1
MAX_SIZE = 64
MAX_FILE_BYTES = 1 << 20

_INTERESTING = (0, 1, 2, 7, 8, 9, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x7FFFFFFF,
                0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63, (1 << 64) - 1)  # fmt: skip
_TOKENS = (
    b"\n", b"\r\n", b"\r", b"\x00", b'"', b"'", b",", b"\t", b";", b"|", b"\\", b"!", b" ",
    b"[Term]\n", b"[Typedef]\n", b"id: ", b"name: ", b"is_a: ", b'synonym: "', b"alt_id: ",
    b"def: ", b"replaced_by: ", b"is_obsolete: true\n", b"xref: ", b"{", b"}", b"[", b"]",
    b"<", b">", b"&", b"&amp;", b"<![CDATA[", b"]]>", b"<!ENTITY", b"<c r=\"XFD1048576\">",
    b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xc3", b"\xe2\x80\xa8", b"=HYPERLINK(",
    b"\x1f\x8b", b"PK\x03\x04", b"GGUF",
)  # fmt: skip


def mutate(data: bytes, mutations: Sequence[Mutation]) -> bytes:
    """Apply mutations in order; the result never exceeds MAX_FILE_BYTES."""
    out = bytearray(data)
    for kind, position, size, value in mutations:
        at = position % (len(out) + 1)
        size = 1 + size % MAX_SIZE
        if kind == 0 and out:  # flip one bit
            at %= len(out)
            out[at] ^= 1 << (value % 8)
        elif kind == 1 and out:  # one byte set to a value of interest
            at %= len(out)
            out[at] = _INTERESTING[value % len(_INTERESTING)] & 0xFF
        elif kind == 2:  # an integer of interest written over the data, 1 to 8 bytes wide
            width = (1, 2, 4, 8)[size % 4]
            number = _INTERESTING[value % len(_INTERESTING)] & ((1 << (8 * width)) - 1)
            out[at : at + width] = number.to_bytes(width, "little")
        elif kind == 3:  # a chunk deleted
            del out[at : at + size]
        elif kind == 4:  # arbitrary bytes inserted
            out[at:at] = value.to_bytes(8, "little")[: 1 + size % 8]
        elif kind == 5:  # a chunk duplicated in place
            out[at:at] = out[at : at + size]
        elif kind == 6:  # the file cut short
            del out[at:]
        elif kind == 7:  # a token of one of the formats inserted
            out[at:at] = _TOKENS[value % len(_TOKENS)]
        elif kind == 8:  # a chunk repeated many times (long lines, many rows, big counts)
            chunk = bytes(out[at : at + size]) or b"\n"
            out[at:at] = chunk * (1 + value % 4096)
        if len(out) > MAX_FILE_BYTES:
            del out[MAX_FILE_BYTES:]
    return bytes(out)


def random_mutations(rng: random.Random) -> list[Mutation]:
    """The benchmark's draw of what hypothesis draws in the test (`mutations_strategy`)."""
    return [
        (
            rng.randrange(N_KINDS),
            rng.randrange(MAX_POSITION),
            rng.randrange(MAX_SIZE),
            rng.randrange(MAX_VALUE + 1),
        )  # fmt: skip
        for _ in range(rng.randint(1, MAX_MUTATIONS))
    ]


def mutations_strategy():  # -> hypothesis SearchStrategy[list[Mutation]]
    from hypothesis import strategies as st

    mutation = st.tuples(
        st.integers(0, N_KINDS - 1),
        st.integers(0, MAX_POSITION - 1),
        st.integers(0, MAX_SIZE - 1),
        st.integers(0, MAX_VALUE),
    )
    return st.lists(mutation, min_size=1, max_size=MAX_MUTATIONS)


# -- seeds ------------------------------------------------------------------------------------


def _gguf_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _gguf_value(value: object) -> bytes:
    """Type and payload of a GGUF metadata value (uint32, float32, bool, string, arrays)."""
    if isinstance(value, bool):
        return struct.pack("<I?", 7, value)
    if isinstance(value, int):
        return struct.pack("<II", 4, value)
    if isinstance(value, float):
        return struct.pack("<If", 6, value)
    if isinstance(value, str):
        return struct.pack("<I", 8) + _gguf_string(value)
    assert isinstance(value, list) and value
    items = [_gguf_value(v) for v in value]
    element_type = struct.unpack("<I", items[0][:4])[0]
    return struct.pack("<IIQ", 9, element_type, len(items)) + b"".join(i[4:] for i in items)


def gguf_bytes(
    metadata: dict[str, object], tensors: dict[str, tuple[int, ...]], version: int = 3
) -> bytes:
    """A GGUF file: header, metadata, tensor table (f32, dims in ggml order), zero weights."""
    out = [b"GGUF", struct.pack("<IQQ", version, len(tensors), len(metadata))]
    out += [_gguf_string(key) + _gguf_value(value) for key, value in metadata.items()]
    offset = 0
    for name, dims in tensors.items():
        out += [_gguf_string(name), struct.pack(f"<I{len(dims)}Q", len(dims), *dims)]
        out.append(struct.pack("<IQ", 0, offset))
        n = 1
        for d in dims:
            n *= d
        offset += 4 * n
    header = b"".join(out)
    header += b"\0" * (-len(header) % 32)
    return header + b"\0" * offset


_BASE_TENSORS = {"token_embd.weight": (16, 8), "blk.0.attn_q.weight": (16, 16)}


def gguf_seeds() -> list[bytes]:
    """A tiny llama model and a LoRA adapter for it, with the kinds of values real files have."""
    common: dict[str, object] = {
        "general.architecture": "llama",
        "general.name": "fuzz",
        "llama.context_length": 256,
        "llama.embedding_length": 16,
        "llama.block_count": 1,
        "llama.attention.head_count": 2,
        "llama.attention.head_count_kv": 1,
        "llama.rope.freq_base": 10000.0,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.tokens": [f"t{i}" for i in range(8)],
        "tokenizer.ggml.scores": [float(-i) for i in range(8)],
        "fuzz.nested": [[1, 2], [3]],
    }
    model = gguf_bytes(common, _BASE_TENSORS)
    adapter = gguf_bytes(
        {**common, "general.type": "adapter", "adapter.type": "lora", "adapter.lora.alpha": 16.0},
        {"blk.0.attn_q.weight.lora_a": (16, 4), "blk.0.attn_q.weight.lora_b": (4, 16)},
    )
    return [model, adapter]


def obo_seeds() -> list[bytes]:
    return [(DATA / "tiny.obo").read_bytes(), (DATA / "duplicate_ids.obo").read_bytes()]


def text_table_seeds() -> list[bytes]:
    names = ("table_terms.tsv", "table_semicolon.csv", "table_latin1.csv", "table_bom.csv",
             "table_ragged.csv")  # fmt: skip
    return [(DATA / name).read_bytes() for name in names]


def xlsx_members() -> dict[str, bytes]:
    """The members of a small two-column workbook written by openpyxl (fixed timestamps)."""
    from datetime import datetime

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "terms"
    sheet.append(["Term", "Note", "Count"])
    for i, term in enumerate(["Seizure", "Anaemia", "Lack of coordination", "Tumour"]):
        sheet.append([term, f"row {i}", i * 1.5])
    sheet.append([None, "=SUM(C2:C5)", datetime(2024, 1, 2, 3, 4, 5)])
    workbook.properties.created = workbook.properties.modified = datetime(2024, 1, 1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_members(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


# -- targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FuzzTarget:
    name: str
    build: Callable[[int, Sequence[Mutation]], tuple[str, bytes]]  # (seed, mutations) -> file
    read: Callable[[Path, Path], None]  # (fuzzed file, scratch folder) -> None or Term2IdError
    seeds: int


class FuzzFailure(AssertionError):
    """Reading a fuzzed file ended in something other than a result or a one-line error."""


def _read_gguf(path: Path, folder: Path) -> None:
    from term2id.core.llm.gguf_check import check_model_files, read_gguf_header

    plenty = 1 << 50  # memory is not what is fuzzed
    if read_gguf_header(path).file_type == "adapter":
        base = folder / "base.gguf"
        if not base.exists():
            base.write_bytes(gguf_seeds()[0])
        check_model_files(base, path, available_memory=plenty)
    else:
        check_model_files(path, available_memory=plenty)


def _read_obo(path: Path, folder: Path) -> None:
    from term2id.core.ontology.formats import read_ontology_file

    read_ontology_file(path)


def _read_table(path: Path, folder: Path) -> None:
    from term2id.core.tables import cell_text, open_table

    table = open_table(path)
    for row in table.rows():
        for cell in row.cells:
            cell_text(cell)
    assert all("\n" not in warning for warning in table.warnings)


def _build_with(seeds: Callable[[], list[bytes]], suffix: str):
    cache: list[bytes] = []

    def build(seed: int, mutations: Sequence[Mutation]) -> tuple[str, bytes]:
        if not cache:
            cache.extend(seeds())
        return suffix, mutate(cache[seed % len(cache)], mutations)

    return build


_xlsx_cache: dict[str, bytes] = {}


def _build_table(seed: int, mutations: Sequence[Mutation]) -> tuple[str, bytes]:
    """Text tables for most seeds; a workbook for the last, mutated inside one XML member
    (or, for one draw in eight, as raw bytes of the archive)."""
    texts = text_table_seeds()
    if seed % (len(texts) + 1) < len(texts):
        data = texts[seed % (len(texts) + 1)]
        return (".tsv" if data.count(b"\t") > data.count(b",") else ".csv"), mutate(data, mutations)
    if not _xlsx_cache:
        _xlsx_cache.update(xlsx_members())
    members = dict(_xlsx_cache)
    if mutations[0][3] % 8 == 0:
        return ".xlsx", mutate(zip_members(members), mutations)
    names = sorted(members)
    chosen = names[mutations[0][2] % len(names)]
    members[chosen] = mutate(members[chosen], mutations)
    return ".xlsx", zip_members(members)


TARGETS = {
    "gguf": FuzzTarget("gguf", _build_with(gguf_seeds, ".gguf"), _read_gguf, 2),
    "obo": FuzzTarget("obo", _build_with(obo_seeds, ".obo"), _read_obo, 2),
    "table": FuzzTarget("table", _build_table, _read_table, 6),
}


def run_one(target: FuzzTarget, seed: int, mutations: Sequence[Mutation], folder: Path) -> str:
    """Write one fuzzed file and read it: "read", or "refused: <error class>".

    Raises FuzzFailure for any other ending: an exception that is not the project's own, or an
    error message of more than one line (or none).
    """
    suffix, data = target.build(seed, mutations)
    for stale in folder.glob("fuzzed.*"):
        stale.unlink()
    path = folder / f"fuzzed{suffix}"
    path.write_bytes(data)
    try:
        target.read(path, folder)
    except Term2IdError as exc:
        message = str(exc)
        if not message.strip() or "\n" in message or "\r" in message:
            lines = len(message.splitlines())
            raise FuzzFailure(
                f"{target.name}: a {type(exc).__name__} of {lines} lines: {message[:300]!r}"
            ) from exc
        return f"refused: {type(exc).__name__}"
    except Exception as exc:
        raise FuzzFailure(f"{target.name}: {type(exc).__name__} escaped the reader: {exc}") from exc
    return "read"
