"""Datasets from an ontology store, split by popularity as in arXiv 2510.19036.

Live terms are ranked by popularity (HPO: diseases annotated with the term), cut into 20 bins of
equal size, and from each bin `per_bin` terms are drawn for training and a disjoint `per_bin`
withheld. Accuracy on the training terms measures memorisation, on the withheld ones
generalisation; per bin, it shows whether popular terms are easier.

Each sampled term gives one record per requested task it can serve, in several paraphrases.
No torch here: building a dataset needs only the store.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from term2id.core.curation import TrainingRecord, write_jsonl
from term2id.core.files import atomic_path
from term2id.core.llm import (
    NONE_ANSWER,
    TASKS,
    format_candidates,
    ontology_display_name,
    render_prompt,
)
from term2id.core.ontology import OntologyStore, StoreCatalog, Term
from term2id.core.progress import Progress
from term2id.training.errors import EmptyDatasetError, TrainingError

log = logging.getLogger(__name__)

N_BINS = 20
GENE_NAME_TYPE = "gene_name"  # the synonym type an HGNC store gives a gene's approved name
# Retrieval for the choose task: text -> up to `limit` (curie, label), best first.
Retriever = Callable[[str, int], list[tuple[str, str | None]]]


@dataclass(frozen=True, slots=True)
class SampledTerm:
    term: Term
    popularity_bin: int  # 0 = the most popular twentieth
    split: str  # "train" or "withheld"


@dataclass(frozen=True, slots=True)
class Dataset:
    train: tuple[TrainingRecord, ...]
    withheld: tuple[TrainingRecord, ...]
    ontology: str
    release: str
    tasks: tuple[str, ...]
    per_bin: int
    n_bins: int

    def summary(self) -> dict[str, object]:
        counts = Counter((r.split, r.task) for r in (*self.train, *self.withheld))
        return {
            "ontology": self.ontology,
            "release": self.release,
            "tasks": list(self.tasks),
            "per_bin": self.per_bin,
            "bins": self.n_bins,
            "records": {f"{split}/{task}": n for (split, task), n in sorted(counts.items())},
            "prompt_template": render_prompt(
                "term2id", 0, ontology=ontology_display_name(self.ontology), term="{term}"
            ),
        }


def parse_tasks(text: str | Iterable[str]) -> tuple[str, ...]:
    names = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    unknown = [t for t in names if t not in TASKS]
    if unknown or not names:
        raise TrainingError(
            f"unknown task(s) {', '.join(unknown) or '(none given)'}; tasks: {', '.join(TASKS)}"
        )
    return tuple(dict.fromkeys(names))


def _gene_name(term: Term) -> str | None:
    return next((s.text for s in term.synonyms if s.type == GENE_NAME_TYPE), None)


def _synonym(term: Term, rng: random.Random) -> str | None:
    """A synonym that is not the gene name nor a spelling of the label, EXACT ones first."""
    label = term.label.casefold()
    usable = [s for s in term.synonyms if s.type != GENE_NAME_TYPE and s.text.casefold() != label]
    exact = [s for s in usable if s.scope == "EXACT"]
    pool = exact or usable
    return rng.choice(pool).text if pool else None


def _eligible(term: Term, tasks: Sequence[str]) -> bool:
    gene_tasks = {"name2symbol", "symbol2name"}
    if any(t not in gene_tasks for t in tasks):
        return True
    return _gene_name(term) is not None


def popularity_split(
    terms: Sequence[Term], per_bin: int, n_bins: int = N_BINS, seed: int = 0
) -> list[SampledTerm]:
    """Rank by popularity, cut into `n_bins`, draw `per_bin` train and `per_bin` withheld per bin.

    Ties (most terms have no annotations) are broken at random with `seed`, so a bin of equally
    unpopular terms is a fair sample rather than the first ids.
    """
    if per_bin < 1:
        raise TrainingError(f"--per-bin must be at least 1, not {per_bin}")
    rng = random.Random(seed)
    shuffled = list(terms)
    rng.shuffle(shuffled)
    ranked = sorted(shuffled, key=lambda t: -(t.popularity or 0))
    sampled: list[SampledTerm] = []
    for index in range(n_bins):
        members = ranked[index * len(ranked) // n_bins : (index + 1) * len(ranked) // n_bins]
        take = min(per_bin, len(members) // 2)
        if take < per_bin:
            log.warning("popularity bin %d holds %d terms: %d per split instead of %d",
                        index, len(members), take, per_bin)  # fmt: skip
        drawn = rng.sample(members, 2 * take)
        sampled += [SampledTerm(t, index, "train") for t in drawn[:take]]
        sampled += [SampledTerm(t, index, "withheld") for t in drawn[take:]]
    return sampled


def store_retriever(store: OntologyStore) -> Retriever:
    def retrieve(text: str, limit: int) -> list[tuple[str, str | None]]:
        return [(m.curie, m.label) for m in store.search(text, limit=limit)]

    return retrieve


def mapper_retriever(catalog: StoreCatalog, store_name: str) -> Retriever:
    """Candidates as the mapper's exact and fuzzy sources rank them (no embeddings to build)."""
    from term2id.core.candidates import Query
    from term2id.core.mapping import Mapper, default_sources

    mapper = Mapper(catalog, default_sources(["exact", "fuzzy"]), top_k=10)

    def retrieve(text: str, limit: int) -> list[tuple[str, str | None]]:
        result = mapper.map(Query(text, store_name))
        return [(c.curie, c.label) for c in result.candidates[:limit]]

    return retrieve


def records_for_term(
    sampled: SampledTerm,
    store_name: str,
    tasks: Sequence[str],
    paraphrases: int,
    rng: random.Random,
    retrieve: Retriever | None,
    n_candidates: int,
) -> list[TrainingRecord]:
    term = sampled.term
    display = ontology_display_name(term.prefix or store_name)
    gene_name = _gene_name(term)
    synonym = _synonym(term, rng)
    records = []

    def add(task: str, asked: str, answer: str, paraphrase: int, **values: str) -> None:
        prompt = render_prompt(task, paraphrase, ontology=display, **values)
        records.append(
            TrainingRecord(
                prompt=prompt,
                completion=f" {answer}",
                task=task,
                ontology=store_name,
                term=asked,
                answer=answer,
                split=sampled.split,
                curie=None if answer == NONE_ANSWER else term.curie,
                popularity=term.popularity,
                popularity_bin=sampled.popularity_bin,
                paraphrase=paraphrase,
            )  # fmt: skip
        )

    for task in tasks:
        for p in range(paraphrases):
            if task == "term2id":
                add(task, term.label, term.curie, p, term=term.label)
            elif task == "id2term":
                add(task, term.curie, term.label, p, curie=term.curie)
            elif task == "synonym2id" and synonym:
                add(task, synonym, term.curie, p, term=synonym)
            elif task == "name2symbol" and gene_name:
                add(task, gene_name, term.label, p, term=gene_name)
            elif task == "symbol2name" and gene_name:
                add(task, term.label, gene_name, p, symbol=term.label)
            elif task == "choose" and retrieve is not None:
                asked = synonym or term.label
                candidates = retrieve(asked, n_candidates)
                # One record in four leaves the right term out: the model must learn "none".
                if rng.random() < 0.25:
                    candidates = [c for c in candidates if c[0] != term.curie]
                    candidates = candidates or retrieve(asked, n_candidates + 1)[1:]
                right = any(curie == term.curie for curie, _ in candidates)
                answer = term.curie if right else NONE_ANSWER
                add(task, asked, answer, p, term=asked,
                    candidates=format_candidates(candidates))  # fmt: skip
    return records


def build_dataset(
    store: OntologyStore,
    tasks: Sequence[str],
    per_bin: int,
    n_bins: int = N_BINS,
    paraphrases: int = 2,
    seed: int = 0,
    retrieve: Retriever | None = None,
    n_candidates: int = 5,
    progress: Progress | None = None,
) -> Dataset:
    progress = progress or Progress()
    tasks = parse_tasks(tasks)
    if "choose" in tasks and retrieve is None:
        retrieve = store_retriever(store)
    terms = [t for t in store.terms(include_obsolete=False) if _eligible(t, tasks)]
    if not terms:
        raise EmptyDatasetError(store.path, f"no live terms serve the tasks {', '.join(tasks)}")
    sampled = popularity_split(terms, per_bin, n_bins, seed)
    rng = random.Random(seed + 1)
    train: list[TrainingRecord] = []
    withheld: list[TrainingRecord] = []
    for done, item in enumerate(sampled, start=1):
        if done % 50 == 0:
            progress.update(done, len(sampled), "writing prompts")
        records = records_for_term(
            item, store.name, tasks, paraphrases, rng, retrieve, n_candidates
        )
        (train if item.split == "train" else withheld).extend(records)
    if not train:
        raise EmptyDatasetError(store.path, f"no record for the tasks {', '.join(tasks)}")
    return Dataset(tuple(train), tuple(withheld), store.name, store.release, tasks, per_bin, n_bins)


def write_dataset(dataset: Dataset, out_dir: Path | str) -> dict[str, Path]:
    """train.jsonl, withheld.jsonl and dataset.json (what was asked for, counts) in out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"train": out_dir / "train.jsonl", "withheld": out_dir / "withheld.jsonl"}
    write_jsonl(dataset.train, paths["train"])
    write_jsonl(dataset.withheld, paths["withheld"])
    paths["summary"] = out_dir / "dataset.json"
    with atomic_path(paths["summary"]) as temporary, temporary.open("w", encoding="utf-8") as out:
        json.dump(dataset.summary(), out, indent=2)
    return paths
