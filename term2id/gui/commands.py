"""Undoable decisions: QUndoCommands whose undo and redo are written to the session's log.

The decision itself is written before the command is pushed (so a write error reaches the
curator before anything changes on screen); undo appends `undo` entries, redo `redo` entries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtGui import QUndoCommand

from term2id.core.curation import CurationSession, Curator
from term2id.core.errors import Term2IdError

log = logging.getLogger(__name__)


class DecisionCommand(QUndoCommand):
    def __init__(
        self,
        session: CurationSession,
        curator: Curator,
        decision_ids: Sequence[int],
        rows: Sequence[int],
        text: str,
        refresh: Callable[[Sequence[int]], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        super().__init__(text)
        self._session = session
        self._curator = curator
        self._ids = list(decision_ids)
        self._rows = list(rows)
        self._refresh = refresh
        self._on_error = on_error
        self._written = True  # the first redo() (from QUndoStack.push) writes nothing

    @property
    def rows(self) -> list[int]:
        return self._rows

    def redo(self) -> None:
        if self._written:
            self._written = False
            return
        self._apply(self._session.redo)

    def undo(self) -> None:
        self._apply(self._session.undo)

    def _apply(self, write: Callable[[Sequence[int], Curator], None]) -> None:
        try:
            write(self._ids, self._curator)
        except Term2IdError as exc:
            # Qt swallows exceptions raised inside undo/redo: hand it to the error dialog.
            log.warning("undo/redo not written: %s", exc)
            self._on_error(exc)
            return
        self._refresh(self._rows)
