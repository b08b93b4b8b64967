"""Ontologies on disk: reading OBO/OWL/gene files, the SQLite store of one release, and the
catalog of stores a mapping targets.

Its public names (the GUI and the CLI import only these) load on first use: term2id.core.public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from term2id.core.public import load_on_first_use

if TYPE_CHECKING:
    from term2id.core.ontology.catalog import DATA_DIR_ENV, DEFAULT_STORE, StoreCatalog
    from term2id.core.ontology.formats import FORMATS
    from term2id.core.ontology.store import OntologyStore, releases_of
    from term2id.core.ontology.terms import Term, TextMatch

_PUBLIC = {
    "releases_of": "store",
    "DATA_DIR_ENV": "catalog",
    "DEFAULT_STORE": "catalog",
    "FORMATS": "formats",
    "OntologyStore": "store",
    "StoreCatalog": "catalog",
    "Term": "terms",
    "TextMatch": "terms",
}
__all__ = [
    "releases_of",
    "DATA_DIR_ENV",
    "DEFAULT_STORE",
    "FORMATS",
    "OntologyStore",
    "StoreCatalog",
    "Term",
    "TextMatch",
]

__getattr__ = load_on_first_use(__name__, _PUBLIC)
