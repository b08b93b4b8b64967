"""Killing the application in the middle of a review loses no decision it had made."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from term2id.core.candidates import Query
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput
from term2id.core.mapping.mapper import Mapper, default_sources
from term2id.core.ontology.catalog import StoreCatalog

# The real window, offscreen, driven by key presses; after each key it prints the newest entry
# of the decision log, which the window has committed by then.
_REVIEW_FOREVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from PySide6.QtCore import QSettings, QThreadPool, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from term2id.core.ontology.catalog import StoreCatalog
    from term2id.gui.app import MainWindow
    from term2id.gui.settings import GuiSettings

    data_dir, settings_path, session_path = sys.argv[1:4]
    settings = GuiSettings(QSettings(settings_path, QSettings.Format.IniFormat))
    window = MainWindow(StoreCatalog(data_dir), settings, QThreadPool())
    window.show()
    window.activateWindow()
    QTest.qWaitForWindowActive(window)  # window shortcuts need an active window
    assert window.open_session(Path(session_path))
    window.table.setFocus()
    keys = [
        (Qt.Key.Key_A, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_R, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier),
        (Qt.Key.Key_S, Qt.KeyboardModifier.NoModifier),
    ]
    last = 0
    n = 0
    while True:
        if window.current_row() in (None, len(window.session) - 1):
            window.select_row(0)
        key, modifier = keys[n % len(keys)]
        QTest.keyClick(window.table, key, modifier)
        app.processEvents()
        newest = window.session.decisions()[-1].id
        if newest == last:
            sys.exit(f"key {n} recorded nothing")
        last = newest
        print(newest, window.session.synchronous, flush=True)
        n += 1
    """
)


@pytest.mark.slow
def test_killing_the_window_mid_review_keeps_every_decision_made(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    terms = ["Seizure", "Anaemia", "Oedema", "Tumour", "Neoplasm", "ID"] * 5
    path = tmp_path / "review.t2id"
    session = CurationSession.create(
        path,
        SessionInput(header=("term",), rows=[[t] for t in terms], term_column="term",
                     default_ontology="tiny"),
    )  # fmt: skip
    mapper = Mapper(tiny_catalog, default_sources(["exact", "fuzzy"]))
    session.record_results(
        enumerate(mapper.map_many([Query(t, "tiny") for t in terms])),
        {"tiny": tiny_catalog.open("tiny").release},
    )
    session.close()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    process = subprocess.Popen(
        [sys.executable, "-c", _REVIEW_FOREVER, str(tiny_catalog.data_dir),
         str(tmp_path / "settings.ini"), str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    printed = []
    modes = set()
    try:
        for line in process.stdout:
            decision_id, mode = line.split()
            printed.append(int(decision_id))
            modes.add(mode)
            if len(printed) == 60:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        _, errors = process.communicate()
    assert len(printed) == 60, errors
    # SIGKILL keeps what the OS had buffered, so surviving it does not show FULL: ask for it.
    assert modes == {"FULL"}
    with CurationSession.open(path) as reopened:
        log = reopened.decisions()
        assert set(printed) <= {d.id for d in log}
        actions = {d.action.value for d in log}
        assert {"accept", "reject", "undo", "skip"} <= actions
        assert reopened.row_summaries().decisions.count(None) < len(terms)
