"""Run core jobs on a QThreadPool; their progress, yielded items, result and error become signals.

A job is any Qt-free callable taking a `term2id.core.progress.Progress` as its keyword argument
`progress`. If it returns a generator, each yielded item is sent as `item` while it runs. Cancel
through `Worker.cancel()`, which sets the Progress's cancel flag: the job raises CancelledError
at its next check and the worker reports `cancelled` instead of `error`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import GeneratorType
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal

from term2id.core.errors import CancelledError
from term2id.core.progress import Progress

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    progress = Signal(int, int, str)  # done, total, message
    item = Signal(object)  # one yielded item of a generator job
    result = Signal(object)  # the return value (None for a generator job)
    error = Signal(object)  # the exception
    cancelled = Signal()
    finished = Signal()  # always last, after result, error or cancelled


class Worker(QRunnable):
    """One job on the thread pool. Keep a reference until `finished` (signals live on it)."""

    # Progress signals are thinned out so that a fast job cannot flood the event loop.
    PROGRESS_INTERVAL_S = 0.05

    def __init__(self, job: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.signals = WorkerSignals()
        self._job = job
        self._args = args
        self._kwargs = kwargs
        self._last_progress = 0.0
        self.progress = Progress(self._report)

    def _report(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if now - self._last_progress >= self.PROGRESS_INTERVAL_S or done >= total:
            self._last_progress = now
            self.signals.progress.emit(done, total, message)

    def cancel(self) -> None:
        self.progress.cancel()

    def run(self) -> None:
        try:
            outcome = self._job(*self._args, progress=self.progress, **self._kwargs)
            if isinstance(outcome, GeneratorType):
                for item in outcome:
                    self.signals.item.emit(item)
                    self.progress.check()
                outcome = None
            self.signals.result.emit(outcome)
        except CancelledError:
            self.signals.cancelled.emit()
        except Exception as exc:  # every failure goes to the GUI's one error dialog
            log.debug("job %r failed", self._job, exc_info=True)
            self.signals.error.emit(exc)
        finally:
            self.signals.finished.emit()


def time_left(done: int, total: int, seconds: float) -> str:
    """'about 3 min left' from the work done so far; empty until there is a rate to go by."""
    if done <= 0 or total <= done or seconds <= 0:
        return ""
    left = seconds / done * (total - done)
    if left < 60:
        return f"about {max(1, round(left))} s left"
    if left < 3600:
        return f"about {round(left / 60)} min left"
    return f"about {left / 3600:.1f} h left"


class TimeLeft:
    """The time left of a job, from the rate since its first progress update with a total."""

    def __init__(self) -> None:
        self._start: tuple[float, int] | None = None

    def update(self, done: int, total: int) -> str:
        now = time.monotonic()
        if total <= 0 or self._start is None or done < self._start[1]:
            # No total yet, or a new phase started counting from lower: measure from here.
            self._start = (now, done) if total > 0 else None
            return ""
        started, first = self._start
        return time_left(done - first, total - first, now - started)
