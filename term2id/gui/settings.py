"""The application's settings, persisted with QSettings (curator, mapping, model, recent files)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from term2id.core.curation import Curator
from term2id.core.mapping import MappingConfig

MAX_RECENT = 10


def _text(value: object) -> str:
    return "" if value is None else str(value)


class GuiSettings:
    """Typed access to QSettings. Pass a QSettings (e.g. an INI file) to keep tests apart."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._q = qsettings if qsettings is not None else QSettings("term2id", "term2id")

    def _get(self, key: str, default: str = "") -> str:
        return _text(self._q.value(key, default))

    def _set(self, key: str, value: object) -> None:
        self._q.setValue(key, value)
        self._q.sync()

    # -- curator ------------------------------------------------------------------------------

    @property
    def curator_name(self) -> str:
        return self._get("curator/name")

    @curator_name.setter
    def curator_name(self, value: str) -> None:
        self._set("curator/name", value.strip())

    @property
    def curator_orcid(self) -> str:
        return self._get("curator/orcid")

    @curator_orcid.setter
    def curator_orcid(self, value: str) -> None:
        self._set("curator/orcid", value.strip())

    @property
    def curator(self) -> Curator:
        return Curator(self.curator_name or "anonymous curator", self.curator_orcid or None)

    # -- mapping ------------------------------------------------------------------------------

    @property
    def threshold(self) -> float:
        try:
            return min(1.0, max(0.0, float(self._get("mapping/threshold", "0.9"))))
        except ValueError:
            return 0.9

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._set("mapping/threshold", f"{value:.2f}")

    @property
    def default_ontology(self) -> str:
        return self._get("mapping/ontology", "hp") or "hp"

    @default_ontology.setter
    def default_ontology(self, value: str) -> None:
        self._set("mapping/ontology", value)

    @property
    def sources(self) -> tuple[str, ...] | None:
        """The candidate sources by name; None (nothing stored): the default sources."""
        return MappingConfig.parse_sources(self._get("mapping/sources") or None)

    @sources.setter
    def sources(self, value: tuple[str, ...] | None) -> None:
        self._set("mapping/sources", ",".join(value) if value else "")

    @property
    def tuned_embeddings(self) -> bool:
        """Whether the semantic source uses a store's own tuned sentence model (off by default)."""
        return self._get("mapping/tuned_embeddings", "false").lower() in ("true", "1")

    @tuned_embeddings.setter
    def tuned_embeddings(self, value: bool) -> None:
        self._set("mapping/tuned_embeddings", "true" if value else "false")

    @property
    def use_memory(self) -> bool:
        """Whether the data folder's mapping memory proposes first (on by default)."""
        return self._get("mapping/memory", "true").lower() in ("true", "1")

    @use_memory.setter
    def use_memory(self, value: bool) -> None:
        self._set("mapping/memory", "true" if value else "false")

    def mapping_config(self) -> MappingConfig:
        """The mapping these settings describe (term2id.core.mapping.config.build_mapper)."""
        return MappingConfig(
            sources=self.sources,
            threshold=self.threshold,
            model=self.model_path or None,
            adapter=self.adapter_path or None,
            server=self.server_url or None,
            threads=self.model_threads or None,
            tuned_embeddings=self.tuned_embeddings,
            memory=self.use_memory,
        )

    # -- local model --------------------------------------------------------------------------

    @property
    def model_path(self) -> str:
        return self._get("model/path")

    @model_path.setter
    def model_path(self, value: str) -> None:
        self._set("model/path", value.strip())

    @property
    def adapter_path(self) -> str:
        return self._get("model/adapter")

    @adapter_path.setter
    def adapter_path(self, value: str) -> None:
        self._set("model/adapter", value.strip())

    @property
    def model_threads(self) -> int:
        try:
            return max(0, int(self._get("model/threads", "0")))
        except ValueError:
            return 0

    @model_threads.setter
    def model_threads(self, value: int) -> None:
        self._set("model/threads", str(int(value)))

    @property
    def server_url(self) -> str:
        return self._get("model/server_url")

    @server_url.setter
    def server_url(self, value: str) -> None:
        self._set("model/server_url", value.strip())

    @property
    def model_configured(self) -> bool:
        return bool(self.model_path or self.server_url)

    # -- files --------------------------------------------------------------------------------

    @property
    def recent_files(self) -> list[str]:
        value = self._q.value("files/recent", [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in (value or [])]

    def add_recent_file(self, path: Path | str) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in self.recent_files if p != path]
        self._set("files/recent", [path, *recent][:MAX_RECENT])
