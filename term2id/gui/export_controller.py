"""Writing the open session out: the sheet (CSV/XLSX), SSSOM mappings, training records and a
copy of the session file. No widgets: the window asks for the path and shows the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from term2id.core.curation import CurationSession

if TYPE_CHECKING:
    from term2id.core.ontology import OntologyStore


class ExportController:
    """Exports of the window's open session; `session_stores` gives the installed stores it was
    mapped against, by name (the exports verify every id against them)."""

    def __init__(self, session_stores: Callable[[], dict[str, OntologyStore]]) -> None:
        self._session_stores = session_stores
        self.session: CurationSession | None = None  # the window's open session

    def suggestion(self, suffix: str) -> str:
        """A path beside the session file, its name ending in `suffix`."""
        assert self.session is not None
        return str(self.session.path.with_name(self.session.path.stem + suffix))

    def second_review_done(self) -> bool:
        """Whether a second curator reviewed the session (so rows can be agreed or settled)."""
        from term2id.core.curation import has_second_review

        assert self.session is not None
        return has_second_review(self.session)

    def export_sheet(self, path: Path, only_reviewed: bool) -> int:
        from term2id.core.curation import export_sheet

        assert self.session is not None
        return export_sheet(self.session, path, self._session_stores(), only_reviewed=only_reviewed)

    def export_sssom(self, path: Path, only_reviewed: bool) -> int:
        from term2id.core.curation import export_sssom

        assert self.session is not None
        return export_sssom(self.session, path, self._session_stores(), only_reviewed=only_reviewed)

    def export_training(self, path: Path) -> int:
        from term2id.core.curation import export_training

        assert self.session is not None
        return export_training(self.session, path)

    def save_copy(self, path: Path) -> None:
        assert self.session is not None
        self.session.save_copy(path)
