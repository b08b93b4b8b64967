"""Ontologies on disk: reading OBO/OWL/gene files, the SQLite store of one release, and the
catalog of stores a mapping targets.

The names below are its public face (the GUI and the CLI import only these); each is loaded on
first use, so that importing one does not load the libraries of all (the window must appear
before the mapper's libraries are loaded).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from term2id.core.ontology.catalog import DATA_DIR_ENV, DEFAULT_STORE, StoreCatalog
    from term2id.core.ontology.formats import FORMATS
    from term2id.core.ontology.store import OntologyStore
    from term2id.core.ontology.terms import Term, TextMatch

_PUBLIC = {
    "DATA_DIR_ENV": "catalog",
    "DEFAULT_STORE": "catalog",
    "FORMATS": "formats",
    "OntologyStore": "store",
    "StoreCatalog": "catalog",
    "Term": "terms",
    "TextMatch": "terms",
}
__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_STORE",
    "FORMATS",
    "OntologyStore",
    "StoreCatalog",
    "Term",
    "TextMatch",
]


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    globals()[name] = value
    return value
