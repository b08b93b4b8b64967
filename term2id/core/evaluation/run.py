"""One evaluation from request to report: a gold file, or synonyms held out of a temporary copy of
a store (with the sentence model tuned on the rest first, if asked), measured with a mapper."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from term2id.core.errors import Term2IdError
from term2id.core.evaluation.measure import (
    EvaluationReport,
    evaluate,
    held_out_synonyms_seen,
    hold_out_synonyms,
    read_gold,
)
from term2id.core.mapping.mapper import Mapper
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.store import OntologyStore
from term2id.core.progress import Progress

Step = Callable[[str], AbstractContextManager[Progress | None]]
"""Opens one named step of a run and gives its progress handle (the CLI shows each as a bar)."""

Tuner = Callable[[OntologyStore, Progress | None], int]
"""Tunes the sentence model on a store's names; returns the number of pairs it was tuned on."""


def quiet_step(description: str) -> AbstractContextManager[Progress | None]:
    """A step that reports nothing."""
    return contextlib.nullcontext()


@dataclass(frozen=True, slots=True)
class EvaluationRun:
    """What an evaluation measured, and on what."""

    report: EvaluationReport
    measured: str  # the gold file, or "N held-out synonyms of STORE (seed S)..."


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    """What to measure: the gold file `gold`, or `hold_out` synonyms of `ontology` sampled with
    `seed` (with `tune_embeddings`, the sentence model tuned on the rest of that store first)."""

    ontology: str = "hp"
    gold: Path | None = None
    hold_out: int | None = None
    seed: int = 0
    tune_embeddings: bool = False

    def check(self, trained_model: Path | None = None) -> str | None:
        """Refuse what cannot be measured (Term2IdError); return a warning to show, if any.

        `trained_model` is the local model's adapter, or the model itself when there is none:
        a model trained on the held-out synonyms would only recite them.
        """
        if (self.gold is None) == (self.hold_out is None):
            raise Term2IdError("give either a GOLD file or --hold-out-synonyms N (not both)")
        if self.hold_out is None or trained_model is None:
            return None
        from term2id.core.llm.source import read_manifest

        message, refuse = held_out_synonyms_seen(
            trained_model, read_manifest(trained_model), self.ontology
        )
        if refuse:
            raise Term2IdError(message)
        return message

    def check_mapper(self, mapper: Mapper) -> None:
        """Refuse tuning the sentence model where there is none to tune, or nothing held out."""
        semantic = any(source.name == "semantic" for source in mapper.sources)
        if self.tune_embeddings and (self.hold_out is None or not semantic):
            raise Term2IdError(
                "--tune-embeddings needs --hold-out-synonyms and the semantic source "
                "(to tune a store itself: term2id train embeddings --ontology NAME)"
            )

    def run(
        self,
        mapper: Mapper,
        catalog: StoreCatalog,
        step: Step = quiet_step,
        tune: Tuner | None = None,
    ) -> EvaluationRun:
        """Measure `mapper` (whose stores come from `catalog`); each long step runs in `step`.

        With held-out synonyms the mapper's sources are pointed at the temporary copy; `tune`
        is needed when the request asks to tune the sentence model.
        """
        if self.tune_embeddings and tune is None:
            raise ValueError("tune_embeddings needs a tune function")
        with tempfile.TemporaryDirectory(prefix="term2id-eval-") as folder:
            if self.hold_out is not None:
                eval_catalog, items, measured = self._hold_out(mapper, catalog, folder, step, tune)
            else:
                assert self.gold is not None  # check() refuses a request with neither
                eval_catalog, items, measured = catalog, read_gold(self.gold), str(self.gold)
            if not items:
                raise Term2IdError(f"{self.gold}: no rows to evaluate")
            if eval_catalog is not catalog:  # the same sources, over the held-out copy
                mapper = Mapper(
                    eval_catalog, mapper.sources, threshold=mapper.threshold, top_k=mapper.top_k,
                    rerankers=mapper.rerankers,
                )  # fmt: skip
            # evaluate() prepares the mapper first (shown in this step) and reports that time apart.
            with step("evaluating") as progress:
                report = evaluate(mapper, items, self.ontology, progress)
            eval_catalog.close()
        return EvaluationRun(report, measured)

    def _hold_out(
        self, mapper: Mapper, catalog: StoreCatalog, folder: str, step: Step, tune: Tuner | None
    ) -> tuple[StoreCatalog, list, str]:
        """(a catalog with a copy of the store less the held-out synonyms, the gold, what it is)."""
        assert self.hold_out is not None
        if "," in self.ontology:
            raise Term2IdError("--hold-out-synonyms works on one store; give one --ontology")
        if any(hasattr(source, "prepare") for source in mapper.sources):
            # Embeddings cached in the real store once are copied into every held-out copy.
            with step(f"preparing {', '.join(s.name for s in mapper.sources)}") as progress:
                mapper.prepare(self.ontology, progress)
        with step(f"holding out {self.hold_out} synonyms") as progress:
            eval_catalog, items = hold_out_synonyms(
                catalog.open(self.ontology), self.hold_out, self.seed, folder, progress
            )
        measured = f"{self.hold_out} held-out synonyms of {self.ontology} (seed {self.seed})"
        if self.tune_embeddings and tune is not None:
            with step("tuning the sentence model without them") as progress:
                pairs = tune(eval_catalog.open(self.ontology), progress)
            measured += f", sentence model tuned on {pairs:,} pairs of the rest"
        return eval_catalog, items, measured
