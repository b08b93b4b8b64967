"""Reading the input of a distributed run: its files, as a Dask DataFrame in partitions, and each
partition's distinct terms, on the key plain `map` de-duplicates on (`core.mapper.result_key`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from term2id.core.errors import InputFileError
from term2id.core.mapping import holds_id
from term2id.core.tables import cell_text

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": "\t"}
PARQUET_SUFFIXES = (".parquet", ".pq")
BLOCKSIZE = "16MB"  # bytes of CSV per partition (about 300,000 rows of short terms)
# What a term is de-duplicated on (and the first columns of a chunk of mapped terms).
KEY = ["text", "key_context"]


def input_files(path: Path) -> list[Path]:
    """The files a run reads: `path` itself, or the CSV/TSV/Parquet files in the folder `path`."""
    known = (*TEXT_SUFFIXES, *PARQUET_SUFFIXES)
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in known
        )  # fmt: skip
        if not files:
            raise InputFileError(path, f"holds no {', '.join(known)} file")
    elif path.is_file():
        if path.suffix.lower() not in known:
            raise InputFileError(
                path, f"the engine reads {', '.join(known)} files (or a folder of them)"
            )
        files = [path]
    else:
        raise InputFileError(path, "no such file or folder")
    kinds = {p.suffix.lower() in PARQUET_SUFFIXES for p in files}
    if len(kinds) > 1:
        raise InputFileError(path, "mixes Parquet and text files; give one kind")
    return files


def read_frame(files: Sequence[Path], blocksize: str = BLOCKSIZE):  # noqa: ANN201 - a dask DataFrame
    """The input as a Dask DataFrame of text cells (Parquet columns keep their types)."""
    import dask.dataframe as dd

    if files[0].suffix.lower() in PARQUET_SUFFIXES:
        return dd.read_parquet([str(p) for p in files])
    separators = {TEXT_SUFFIXES[p.suffix.lower()] for p in files}
    if len(separators) > 1:
        raise InputFileError(files[0].parent, "mixes CSV and TSV files; give one kind")
    try:
        return dd.read_csv(
            [str(p) for p in files], sep=separators.pop(), dtype=str, keep_default_na=False,
            na_filter=False, skip_blank_lines=False, blocksize=blocksize, encoding="utf-8",
        )  # fmt: skip
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(files[0], f"cannot be read as a table ({exc})") from None


def _text_column(part: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series([""] * len(part), index=part.index, dtype=object)
    values = part[column]
    if pd.api.types.is_string_dtype(values.dtype):
        return values.fillna("").astype(str)
    return pd.Series([cell_text(v) for v in values.tolist()], index=part.index, dtype=object)


def row_keys(part: pd.DataFrame, column: str, context_column: str | None) -> pd.DataFrame:
    """Each row's term, its context (stripped, "" for none) and the context part of its key."""
    text = _text_column(part, column)
    context = _text_column(part, context_column).str.strip()
    ids = {t: holds_id(t) for t in text.unique()}
    key_context = context.where(text.map(ids).astype(bool), "")
    return pd.DataFrame(
        {
            "text": text.to_numpy(),
            "context": context.to_numpy(),
            "key_context": key_context.to_numpy(),
        }
    )


def distinct_of(
    part: pd.DataFrame, column: str, context_column: str | None
) -> tuple[pd.DataFrame, int]:
    """(the partition's distinct keys in order of first appearance, its row count)."""
    keys = row_keys(part, column, context_column)
    return keys.drop_duplicates(KEY, keep="first").reset_index(drop=True), len(part)
