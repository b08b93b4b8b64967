"""The one small protocol long jobs use to report progress and notice cancellation.

A job takes a `Progress` and calls `progress.update(done, total, message)` now and then; it raises
`CancelledError` (via `progress.check()`) when the user asked it to stop. The CLI wraps it in a
rich progress bar, the GUI in a worker thread that turns updates into Qt signals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from term2id.core.errors import CancelledError

ProgressCallback = Callable[[int, int, str], None]


class Progress:
    """Progress reporting and cooperative cancellation for one job. Thread-safe."""

    def __init__(self, callback: ProgressCallback | None = None) -> None:
        self._callback = callback
        self._cancelled = threading.Event()

    def update(self, done: int, total: int, message: str = "") -> None:
        self.check()
        if self._callback is not None:
            self._callback(done, total, message)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """Raise CancelledError if cancel() was called."""
        if self._cancelled.is_set():
            raise CancelledError()
