"""The one place where errors become dialogs: a clear message, details on demand, no traceback."""

from __future__ import annotations

import logging
import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from term2id.core.errors import InputFileError, SchemaVersionError, Term2IdError

log = logging.getLogger(__name__)


def describe(error: BaseException) -> tuple[str, str]:
    """(message a curator can act on, details for a bug report or a colleague)."""
    if isinstance(error, Term2IdError):
        details = [f"{type(error).__name__}: {error.message}"]
        if isinstance(error, InputFileError):
            details.append(f"file: {error.path}")
            if error.line is not None:
                details.append(f"line: {error.line}")
        if isinstance(error, SchemaVersionError):
            details.append(f"schema found {error.found}, supported {error.supported}")
        return error.message, "\n".join(details)
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or error}", f"{type(error).__name__}: {error}"
    # Not one of ours: a bug. Say so plainly; the traceback goes to the details and the log.
    details = "".join(traceback.format_exception(error))
    log.error("unexpected error\n%s", details)
    return f"Something went wrong that term2id did not expect: {error}", details


def show_error(parent: QWidget | None, error: BaseException, title: str = "term2id") -> None:
    message, details = describe(error)
    box = QMessageBox(
        QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent
    )
    box.setDetailedText(details)
    box.setObjectName("errorDialog")
    if parent is None:
        box.exec()
    else:
        # Window-modal and non-blocking: the work in progress behind it keeps running.
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
