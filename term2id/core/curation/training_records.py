"""Training records for a local model: the record format, and records from curated decisions.

Kept in core (no torch) because the GUI writes training data too: a curator's accepted and
rejected mappings become records for the next adapter. The store-driven dataset builder lives in
`term2id.training.datasets`.

A record is one prompt/completion pair. Completions start with a space, as a model continues
the prompt text ("What is the HPO identifier for Seizure?" -> " HP:0001250"); the first
paraphrase of the term -> id task is the question asked in arXiv 2510.19036.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from term2id.core.errors import InputFileError
from term2id.core.files import atomic_path
from term2id.core.llm.prompts import (
    NONE_ANSWER,
    TASKS,
    format_candidates,
    ontology_display_name,
    render_prompt,
)


@dataclass(frozen=True, slots=True)
class TrainingRecord:
    """One prompt/completion pair and where it came from."""

    prompt: str
    completion: str  # starts with a space: " HP:0001250", " none"
    task: str
    ontology: str  # the store's name
    term: str  # the text asked about (label, synonym, gene name, or the id for id2term)
    answer: str  # the completion without its leading space: what a correct answer equals
    split: str = "train"  # "train", "withheld" or "curated"
    curie: str | None = None  # the term's id (None for a "none" answer)
    popularity: int | None = None
    popularity_bin: int | None = None  # 0 = most popular of the 20 bins
    paraphrase: int = 0
    source: str = "store"  # "store" or "session"


_FIELDS = tuple(f.name for f in fields(TrainingRecord))
_REQUIRED = ("prompt", "completion", "task", "ontology", "term", "answer")


def write_jsonl(records: Iterable[TrainingRecord], path: Path | str) -> int:
    """Write records as JSON lines (atomically); returns how many were written."""
    count = 0
    with atomic_path(path) as temporary, temporary.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path | str) -> Iterator[TrainingRecord]:
    """Read records written by write_jsonl (or any JSONL with the required fields)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such dataset file")
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(path, f"not valid JSON ({exc.msg})", line_number) from exc
            if not isinstance(data, dict):
                raise InputFileError(path, "each line must be a JSON object", line_number)
            missing = [key for key in _REQUIRED if not isinstance(data.get(key), str)]
            if missing:
                raise InputFileError(
                    path, f"missing or non-text field(s): {', '.join(missing)}", line_number
                )
            if data["task"] not in TASKS:
                raise InputFileError(
                    path, f"unknown task {data['task']!r}; tasks: {', '.join(TASKS)}", line_number
                )
            yield TrainingRecord(**{k: v for k, v in data.items() if k in _FIELDS})


# -- curated decisions -----------------------------------------------------------------------

# (term, ontology, accepted_curie or None, rejected curies, candidates shown as (curie, label))
Decision = tuple[str, str, str | None, Sequence[str], Sequence[tuple[str, str | None]]]


def records_from_decisions(
    decisions: Iterable[Decision], paraphrases: int = 1
) -> list[TrainingRecord]:
    """Training records from a curator's decisions.

    An accepted mapping gives a term -> id record and a choose record answering it; a row where
    every shown candidate was rejected gives a choose record answering "none" (the negatives).
    Rows without a decision give nothing.
    """
    records: list[TrainingRecord] = []
    for term, ontology, accepted, rejected, candidates in decisions:
        term = term.strip()
        if not term or (accepted is None and not rejected):
            continue
        display = ontology_display_name(ontology)
        if accepted is not None:
            shown = list(candidates)
            if accepted not in {curie for curie, _ in shown}:
                shown.append((accepted, None))
        else:
            # "none" is true only of the candidates the curator actually rejected.
            labels = dict(candidates)
            shown = [(curie, labels.get(curie)) for curie in rejected]
        for paraphrase in range(paraphrases):
            if accepted is not None:
                prompt = render_prompt("term2id", paraphrase, ontology=display, term=term)
                records.append(
                    TrainingRecord(prompt, f" {accepted}", "term2id", ontology, term, accepted,
                                   "curated", accepted, paraphrase=paraphrase, source="session")
                )  # fmt: skip
            if shown:
                answer = accepted or NONE_ANSWER
                prompt = render_prompt(
                    "choose", paraphrase, ontology=display, term=term,
                    candidates=format_candidates(shown),
                )  # fmt: skip
                records.append(
                    TrainingRecord(prompt, f" {answer}", "choose", ontology, term, answer,
                                   "curated", accepted, paraphrase=paraphrase, source="session")
                )  # fmt: skip
    return records
