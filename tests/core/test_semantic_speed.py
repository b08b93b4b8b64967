"""The semantic source's faster path gives the answers of the plain one (ONNX Runtime, batches)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from term2id.core.candidates import Query
from term2id.core.mapping.embedding_models import (
    MODEL_NAME,
    ONNX_FOLDER,
    PACKAGED_MODEL,
    OnnxEncoder,
    export_onnx,
    int8_key,
)
from term2id.core.mapping.sources.semantic import SemanticSource
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.store import OntologyStore
from term2id.core.progress import Progress

DATA = Path(__file__).resolve().parents[1] / "data"
TERMS = [
    "not enough red blood cells",
    "dysfunction of the cerebellum",
    "Anemia",  # a name as it stands: its rewordings cannot change its best candidate
    "fits and convulsions",
    "swelling of the legs",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> OntologyStore:
    """The tiny store, its names embedded once for the module (the ONNX export too)."""
    catalog = StoreCatalog(tmp_path_factory.mktemp("semantic") / "data")
    catalog.import_file(DATA / "tiny.obo", "tiny")
    return catalog.open("tiny")


def test_onnx_runtime_embeds_like_sentence_transformers(store: OntologyStore) -> None:
    from sentence_transformers import SentenceTransformer

    source = SemanticSource()
    source.prepare(store)
    encoder = source._load(PACKAGED_MODEL)
    assert isinstance(encoder, OnnxEncoder)  # exported once, beside the store
    assert list((store.path.parent / ONNX_FOLDER).glob("*.onnx"))
    texts = [*TERMS, "Cerebellar ataxia refers to ataxia due to dysfunction of the cerebellum."]
    reference = SentenceTransformer(str(source._model_folder(PACKAGED_MODEL)), device="cpu")
    expected = reference.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    found = encoder.encode(texts)
    # The same vectors: where no int8 copy can be made, the float32 export embeds as before.
    assert np.min(np.sum(found * expected, axis=1)) > 0.9999


def test_preparing_reports_progress_up_to_the_last_text(store: OntologyStore) -> None:
    store.clear_embeddings()
    updates: list[tuple[int, int]] = []
    SemanticSource().prepare(store, Progress(lambda done, total, _: updates.append((done, total))))
    total = updates[0][1]
    assert updates[0] == (0, total) and updates[-1] == (total, total)
    cached = store.cached_embeddings(int8_key(MODEL_NAME))  # names and definitions, by one model
    assert total == len(cached) > 10
    assert "Anemia" in cached and any(text.endswith("cerebellum.") for text in cached)


def test_a_batch_finds_what_terms_one_by_one_find(store: OntologyStore) -> None:
    queries = [Query(text, "tiny") for text in TERMS]
    batched = SemanticSource()
    batched.prefetch(queries, store)  # as the mapper does before mapping a chunk of rows
    one_by_one = SemanticSource()
    for query in queries:
        found = batched.propose(query, store, 10)
        alone = one_by_one.propose(query, store, 10)
        assert [(p.curie, p.evidence.score, p.evidence.detail) for p in found] == [
            (p.curie, p.evidence.score, p.evidence.detail) for p in alone
        ]
    assert batched.propose(Query("Anemia", "tiny"), store, 1)[0].curie == "TP:0000005"


def test_terms_are_embedded_by_an_int8_copy_that_keeps_the_answers(store: OntologyStore) -> None:
    from sentence_transformers import SentenceTransformer

    source = SemanticSource()
    source.prepare(store)  # makes the int8 copy too, before the first term
    encoder = source._load(PACKAGED_MODEL, terms=True)
    assert isinstance(encoder, OnnxEncoder)
    assert list((store.path.parent / ONNX_FOLDER).glob("*.int8.onnx"))
    # Names are embedded by the same copy as the terms (a name mapped as a term finds itself).
    anaemia = store.cached_embeddings(int8_key(MODEL_NAME))["Anemia"]
    assert np.array_equal(
        np.frombuffer(anaemia, dtype=np.float16), encoder.encode(["Anemia"])[0].astype(np.float16)
    )
    reference = SentenceTransformer(str(source._model_folder(PACKAGED_MODEL)), device="cpu")
    expected = reference.encode(TERMS, normalize_embeddings=True, convert_to_numpy=True)
    found = encoder.encode(TERMS)
    cosines = np.sum(found * expected, axis=1)
    assert np.min(cosines) > 0.95 and np.max(cosines) < 0.99999  # int8: near, not the same
    # The same best candidate as the float32 model finds (names and terms), for every term.
    float32 = SemanticSource()
    float32.prepare(store)
    float32._models[PACKAGED_MODEL.key, True] = float32._load(PACKAGED_MODEL)
    float32._stores.clear()  # the names again, in float32 this time
    for text in TERMS:
        query = Query(text, "tiny")
        assert source.propose(query, store, 1)[0].curie == float32.propose(query, store, 1)[0].curie
    assert "Anemia" in store.cached_embeddings(MODEL_NAME)  # each model's vectors under its key


def test_a_terms_int8_vector_does_not_depend_on_its_batch(store: OntologyStore) -> None:
    # Fixed scales: plain map, the window and the engine's workers embed a term in different
    # company and must agree to the bit (scales per batch would make them differ).
    source = SemanticSource()
    source.prepare(store)
    encoder = source._load(PACKAGED_MODEL, terms=True)
    together = encoder.encode([*TERMS, "a much longer text " * 8])
    for at, text in enumerate(TERMS):
        assert np.array_equal(encoder.encode([text])[0], together[at])


def test_terms_fall_back_to_float32_when_no_int8_copy_can_be_made(
    store: OntologyStore, caplog: pytest.LogCaptureFixture
) -> None:
    source = SemanticSource()
    source.prepare(store)
    quantized = next((store.path.parent / ONNX_FOLDER).glob("*.int8.onnx"))
    quantized.unlink()
    quantized.mkdir()  # where the copy would go: it cannot be written
    try:
        fresh = SemanticSource()
        fresh.prepare(store)
        assert fresh._load(PACKAGED_MODEL, terms=True) is fresh._load(PACKAGED_MODEL)
        assert "terms embedded in float32" in caplog.text
        assert fresh.propose(Query("Anemia", "tiny"), store, 1)[0].curie == "TP:0000005"
        # Definitions are then embedded in float32 too, and cached as the model's own vectors.
        definition = "Cerebellar ataxia refers to ataxia due to dysfunction of the cerebellum."
        assert definition in store.cached_embeddings(MODEL_NAME)
        assert not list(quantized.parent.glob("*.partial"))  # nothing half-written left behind
    finally:
        quantized.rmdir()


def test_a_failed_onnx_export_leaves_nothing_half_written(
    store: OntologyStore, tmp_path: Path
) -> None:
    source = SemanticSource()
    source.prepare(store)
    out = tmp_path / "model.onnx"
    out.mkdir()  # where the export would go: it cannot be written
    with pytest.raises(RuntimeError):
        export_onnx(source._model_folder(PACKAGED_MODEL), out)
    assert not list(tmp_path.glob("*.partial"))


def test_a_terms_kept_neighbours_hold_only_its_candidates(store: OntologyStore) -> None:
    # Memory per mapped term stays small: a view into the ranking of every name would keep
    # the whole ranking alive (half a megabyte per term on HPO, gigabytes over a big table).
    source = SemanticSource(candidates_per_term=3)
    source.prefetch([Query(text, "tiny") for text in TERMS], store)
    assert len(source._neighbours) == len(TERMS)
    for rows, cosines, reading in source._neighbours.values():
        for kept in (rows, cosines, reading):
            held = kept.base if kept.base is not None else kept
            assert held.size <= 3
