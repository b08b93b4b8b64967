"""Tuning a store's sentence model from the window, as a child process.

The window never imports term2id.training (torch, and the import contract): it runs
`term2id train embeddings --progress-json` in a QProcess and reads its JSON lines. Cancelling
ends the process; the tuned model is swapped in only when tuning finishes, so a cancelled run
leaves the store as it was.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

log = logging.getLogger(__name__)

# How long a cancelled process gets to end on its own before it is killed.
TERMINATE_GRACE_MS = 3000


class EmbeddingTuningProcess(QObject):
    """One `term2id train embeddings` run for one store, with its progress as signals."""

    progress = Signal(int, int, str)  # done, total, message (total 0: not known yet)
    finished = Signal(bool, str)  # succeeded, what happened (the error's message on failure)

    def __init__(self, store: str, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.data_dir = Path(data_dir)
        self.tuned: dict | None = None  # the command's summary once it has succeeded
        self._cancelled = False
        self._buffer = b""
        self._process = QProcess(self)
        self._process.setProgram(sys.executable)
        self._process.setArguments(self.arguments())
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("HF_HUB_OFFLINE", "1")  # never reach for the network
        self._process.setProcessEnvironment(environment)
        self._process.readyReadStandardOutput.connect(self._read)
        self._process.finished.connect(self._finished)
        self._process.errorOccurred.connect(self._failed_to_start)

    def arguments(self) -> list[str]:
        return [
            "-m", "term2id.cli", "train", "embeddings", "--ontology", self.store,
            "--data-dir", str(self.data_dir), "--progress-json",
        ]  # fmt: skip

    @property
    def running(self) -> bool:
        return self._process.state() != QProcess.ProcessState.NotRunning

    def start(self) -> None:
        log.info("tuning the sentence model of %s: %s", self.store, " ".join(self.arguments()))
        self._process.start()

    def cancel(self) -> None:
        if not self.running:
            return
        self._cancelled = True
        self._process.terminate()
        if not self._process.waitForFinished(TERMINATE_GRACE_MS):
            self._process.kill()
            self._process.waitForFinished(TERMINATE_GRACE_MS)

    def _read(self) -> None:
        self._buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                fields = json.loads(line)
            except ValueError:
                continue  # not one of the command's lines (a library printing)
            if not isinstance(fields, dict):
                continue
            if "tuned" in fields:
                self.tuned = fields["tuned"]
            elif "done" in fields:
                self.progress.emit(
                    int(fields["done"]), int(fields.get("total") or 0), str(fields.get("message"))
                )

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read()
        if self._cancelled:
            self.finished.emit(False, "Tuning cancelled; the store keeps the model it had.")
        elif status == QProcess.ExitStatus.NormalExit and code == 0 and self.tuned is not None:
            seconds = self.tuned.get("seconds", 0)
            self.finished.emit(
                True,
                f"Tuned on {self.tuned.get('pairs', 0):,} name pairs of {self.store} "
                f"{self.tuned.get('release', '')} in {seconds:,.0f} s.",
            )
        else:
            self.finished.emit(False, self._error_text(code))

    def _error_text(self, code: int) -> str:
        error = bytes(self._process.readAllStandardError().data()).decode("utf-8", "replace")
        lines = [line.strip() for line in error.splitlines() if line.strip()]
        said = next((line for line in reversed(lines) if line.startswith("error:")), None)
        if said is None and lines:
            said = lines[-1]
        return f"Tuning {self.store} failed (exit code {code}): {said or 'no message'}"

    def _failed_to_start(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.finished.emit(False, f"Tuning could not start: {self._process.errorString()}")
