"""The layout's one rule import-linter cannot state: outside core, core is reached through the
public names of its subpackages (`from term2id.core.mapping import Mapper`), never through a
module inside one, so that a subpackage can rearrange its rooms without breaking the window,
the command line, the engine or training."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import term2id

PACKAGE = Path(term2id.__file__).parent
LAYERS = ("ontology", "llm", "mapping", "exports", "curation", "evaluation")


def _imports_from_core(path: Path) -> list[tuple[int, str, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("term2id.core."):
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
    return found


def test_code_outside_core_imports_only_the_subpackages_public_names() -> None:
    outside = [p for p in PACKAGE.rglob("*.py") if PACKAGE / "core" not in p.parents]
    assert len(outside) > 20  # the GUI, the command line, the engine and training are all read
    wrong = []
    for path in outside:
        for line, module, name in _imports_from_core(path):
            parts = module.split(".")
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if parts[2] in LAYERS and len(parts) > 3:
                wrong.append(f"{where}: {name} from {module}")
            elif parts[2] in LAYERS and name not in importlib.import_module(module).__all__:
                wrong.append(f"{where}: {name} is not among {module}'s public names")
    assert wrong == []


def test_every_public_name_of_a_subpackage_loads() -> None:
    for layer in LAYERS:
        package = importlib.import_module(f"term2id.core.{layer}")
        assert package.__all__, layer
        for name in package.__all__:
            assert getattr(package, name) is not None, f"term2id.core.{layer}.{name}"
