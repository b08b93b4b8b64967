"""term2id: map biomedical terms to verified ontology identifiers, offline."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("term2id")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
