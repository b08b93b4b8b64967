"""Shared fixtures: stores built from tests/data and, once per test session, the embedded HPO."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.store import OntologyStore

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `shared` need ../shared (benchmark data); skip them on a clone without it."""
    if (SHARED / "data").is_dir():
        return
    skip = pytest.mark.skip(reason="../shared/data is not present beside this checkout")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test ever touches the user's real data folder."""
    monkeypatch.setenv("TERM2ID_DATA_DIR", str(tmp_path_factory.mktemp("data-dir")))


@pytest.fixture
def catalog(tmp_path: Path) -> StoreCatalog:
    """An empty catalog in a fresh folder."""
    return StoreCatalog(tmp_path / "term2id-data")


@pytest.fixture
def tiny_catalog(catalog: StoreCatalog) -> StoreCatalog:
    """A catalog holding `tiny` (tests/data/tiny.obo) and `genes` (tests/data/hgnc_tiny.tsv)."""
    catalog.import_file(DATA / "tiny.obo", "tiny")
    catalog.import_file(DATA / "hgnc_tiny.tsv", "genes")
    return catalog


@pytest.fixture
def tiny_store(tiny_catalog: StoreCatalog) -> OntologyStore:
    return tiny_catalog.open("tiny")


@pytest.fixture(scope="session")
def hpo_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose embedded HPO store is built once for the whole test session."""
    path = tmp_path_factory.mktemp("hpo-data")
    StoreCatalog(path).build_default()
    return path


@pytest.fixture
def hpo_catalog(hpo_data_dir: Path) -> StoreCatalog:
    return StoreCatalog(hpo_data_dir)


@pytest.fixture
def hpo_store(hpo_catalog: StoreCatalog) -> OntologyStore:
    return hpo_catalog.open("hp")


@pytest.fixture
def read_only_folder(tmp_path: Path):
    """A folder this process cannot write in. Root ignores permissions, so /sys serves then."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except OSError:
        yield folder
        folder.chmod(0o755)
        return
    (folder / "probe").unlink()
    try:
        (Path("/sys") / "term2id-probe").touch()
    except OSError:
        yield Path("/sys")
        return
    pytest.skip("no folder this process cannot write in")


@pytest.fixture(scope="session")
def tiny_model(hpo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The tiny Llama model memorising 50 HPO pairs, built once for the whole test run.

    A TinyModelResult (term2id.training.tiny): `.model_gguf`, its Q8_0 copy, `.adapter_gguf`,
    `.pairs` ((term, curie) the model knows), `.prompt(term)`. About a minute on two cores; the
    training, model-source and GUI tests all share it.
    """
    from term2id.training.tiny import build_tiny_model

    store = StoreCatalog(hpo_data_dir).open("hp")
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), store, n_pairs=50, seed=0)


@pytest.fixture(scope="session")  # session: decided before the session's model fixtures
def cuda_device() -> str:
    """ "cuda" where torch sees a CUDA GPU; otherwise the test is skipped, saying why."""
    import shutil

    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.version.cuda is None and shutil.which("nvidia-smi"):
        pytest.skip(
            f"torch {torch.__version__} is a CPU build but nvidia-smi finds a GPU: "
            "install a CUDA build of torch to run this test"
        )
    pytest.skip("no CUDA GPU on this machine (torch.cuda.is_available() is False)")


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run the real `term2id` entry point in-process; returns exit code, stdout and stderr."""
    from term2id import cli

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        argv = sys.argv
        sys.argv = ["term2id", *map(str, args)]
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = argv
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
