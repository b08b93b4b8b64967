"""The public face of core's subpackages: names loaded on first use.

Each subpackage's `__init__` maps its public names to the modules that define them, and sets
`__getattr__ = load_on_first_use(__name__, _PUBLIC)`. Importing a package then costs nothing,
and one name loads only its own module: the window must appear before the mapper's libraries
(rapidfuzz, numpy, onnxruntime) are loaded. Python's module `__getattr__` (PEP 562) does it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def load_on_first_use(package: str, public: Mapping[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` for `package`: `public` maps each name to its module's short name."""

    def load(name: str) -> object:
        if name not in public:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{public[name]}"), name)
        setattr(sys.modules[package], name, value)  # later lookups do not come here again
        return value

    return load
