"""Prompts of the local model: the wording of each task, read from term2id/resources/prompts.

The model source asks in the first wording of a task; the training records teach it in every
wording (term2id.core.curation.training_records), so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources

TASKS = ("term2id", "id2term", "synonym2id", "name2symbol", "symbol2name", "choose")
NONE_ANSWER = "none"


def load_template(name: str) -> str:
    """A prompt template from term2id/resources/prompts, without its final newline: the wording
    the local model source asks in, and the first wording of the training records that teach
    it (PROMPT_TEMPLATES)."""
    text = (resources.files("term2id") / "resources" / "prompts" / f"{name}.txt").read_text("utf-8")
    return text[:-1] if text.endswith("\n") else text


# Paraphrases per task. Placeholders: {ontology} (display name, e.g. HPO), {term} (a term, or
# a gene's name), {curie}, {symbol} (gene symbol), {candidates} (one "<id> <label>" per line).
# The first wording of a task the model source asks is read from its resource file.
PROMPT_TEMPLATES: Mapping[str, tuple[str, ...]] = {
    "term2id": (
        load_template("propose"),
        "Give the {ontology} ID of the term: {term}.",
        "Which {ontology} identifier denotes {term}?",
        "{term} has the {ontology} identifier",
    ),
    "id2term": (
        "What is the name of the {ontology} term {curie}?",
        "Which term has the {ontology} identifier {curie}?",
        "{curie} is the {ontology} identifier of",
    ),
    "name2symbol": (
        load_template("propose_symbol"),
        "Give the official symbol of the gene named {term}.",
        "The gene {term} has the symbol",
    ),
    "symbol2name": (
        "What is the full name of the gene {symbol}?",
        "Give the approved name of the gene with symbol {symbol}.",
        "The gene symbol {symbol} stands for",
    ),
    "choose": (
        load_template("choose"),
        "Term: {term}\n{ontology} candidates:\n{candidates}\n"
        "Reply with the identifier that means the term, or none if no candidate does.\nAnswer:",
    ),
}
# A synonym is asked for like a label: same questions, different wording of the term.
PROMPT_TEMPLATES = {**PROMPT_TEMPLATES, "synonym2id": PROMPT_TEMPLATES["term2id"]}

_DISPLAY_NAMES = {"hp": "HPO", "go": "GO", "hgnc": "HGNC", "mondo": "MONDO", "doid": "DO"}


def ontology_display_name(name_or_prefix: str) -> str:
    """How a prompt names an ontology: HP -> HPO, go -> GO; others in capitals."""
    return _DISPLAY_NAMES.get(name_or_prefix.lower(), name_or_prefix.upper())


def format_candidates(candidates: Sequence[tuple[str, str | None]]) -> str:
    return "\n".join(f"- {curie} {label or ''}".rstrip() for curie, label in candidates)


def render_prompt(task: str, paraphrase: int = 0, **values: str) -> str:
    """The prompt of `task` in its `paraphrase`-th wording (wrapping around)."""
    if task not in PROMPT_TEMPLATES:
        raise ValueError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    templates = PROMPT_TEMPLATES[task]
    return templates[paraphrase % len(templates)].format(**values)
