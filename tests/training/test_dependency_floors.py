"""The lowest torch and transformers the pyproject allows must resume training safely."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _allowed(extra: str) -> dict[str, Requirement]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    requirements = map(Requirement, project["optional-dependencies"][extra])
    return {r.name: r for r in requirements}


def test_resume_never_unpickles_optimizer_or_rng_state_in_full() -> None:
    train = _allowed("train")
    # transformers before 5.0 loads rng_state.pth with a plain torch.load: a crafted checkpoint
    # runs code on resume. 5.0 loads it and optimizer.pt with weights_only=True.
    assert not train["transformers"].specifier.contains("4.57.6")
    assert train["transformers"].specifier.contains("5.0.0")
    # weights_only=True itself could be made to run code before torch 2.6 (CVE-2025-32434) and
    # to corrupt memory before 2.10 (CVE-2026-24747).
    for unsafe in ("2.4.0", "2.5.1", "2.6.0", "2.9.1"):
        assert not train["torch"].specifier.contains(unsafe), unsafe
    assert train["torch"].specifier.contains("2.10.0")
