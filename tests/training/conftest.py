"""Fixtures for the training tests: the tiny model, built once per test run."""

from __future__ import annotations

from pathlib import Path

import pytest

from term2id.core.catalog import StoreCatalog


@pytest.fixture(scope="session")
def tiny_model(hpo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The tiny Llama model (GGUF F32 + Q8_0, LoRA adapter) memorising 50 HPO pairs.

    A TinyModelResult: `.model_gguf`, `.adapter_gguf`, `.pairs` ((term, curie) the model knows),
    `.prompt(term)` the question it was trained on. About a minute on two cores.
    """
    pytest.importorskip("torch")
    pytest.importorskip("llama_cpp")
    from term2id.training.tiny import build_tiny_model

    store = StoreCatalog(hpo_data_dir).open("hp")
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), store, n_pairs=50, seed=0)
