"""Settings → stores: which sentence model each store uses, and tuning it from the window (the
real MiniLM, tuned by `term2id train embeddings` in a child process)."""

from __future__ import annotations

import pytest

from term2id.core.candidates import Query
from term2id.core.mapping.embedding_models import TUNED_MANIFEST, tuned_model_folder
from term2id.gui.settings_dialog import SettingsDialog

pytestmark = pytest.mark.slow


def store_text(dialog: SettingsDialog, name: str) -> str:
    for i in range(dialog.stores.count()):
        item = dialog.stores.item(i)
        if item.data(0x0100) == name:  # Qt.ItemDataRole.UserRole
            return item.text()
    raise AssertionError(f"{name} is not listed")


def select(dialog: SettingsDialog, name: str) -> None:
    for i in range(dialog.stores.count()):
        if dialog.stores.item(i).data(0x0100) == name:
            dialog.stores.setCurrentRow(i)
            return
    raise AssertionError(f"{name} is not listed")


def test_tuning_a_store_from_settings_is_used_by_the_next_mapping(qtbot, window) -> None:
    window.settings.sources = None  # the default sources, semantic among them
    store = window.catalog.open("tiny")
    dialog = window.settings_dialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert "sentence model: all-MiniLM-L6-v2 (packaged)" in store_text(dialog, "tiny")
    assert not dialog.use_tuned.isChecked()  # the packaged model is the default
    assert not dialog.tune_button.isEnabled()  # no store chosen yet
    select(dialog, "tiny")
    assert dialog.tune_button.isEnabled()

    steps: list[tuple[int, int, str]] = []
    dialog.tune_button.click()
    process = dialog._tuning
    process.progress.connect(lambda *step: steps.append(step))
    assert dialog.tune_progress.isVisible() and dialog.tune_cancel.isVisible()
    assert not dialog.tune_button.isEnabled()  # one tuning at a time
    with qtbot.waitSignal(process.finished, timeout=300000) as finished:
        pass
    ok, message = finished.args
    assert ok, message
    assert steps and steps[-1][0] == steps[-1][1] > 0  # the last step of the total counted
    assert "Tuned on" in dialog.tune_status.text() and "next mapping" in dialog.tune_status.text()
    assert (tuned_model_folder(store) / TUNED_MANIFEST).is_file()
    assert f"tuned on tiny {store.release}" in store_text(dialog, "tiny")
    assert dialog.use_tuned.isChecked() and window.settings.tuned_embeddings
    assert not dialog.tune_progress.isVisible()
    window.mapping_controller.mapper()  # the window's mapper as it was before tuning
    dialog.reject()  # even without Save, the tuned model is used from now on

    found = window.mapping_controller.mapper().map(Query("Lack of coordination", "tiny"))
    details = [e.detail for c in found.candidates for e in c.evidence if e.source == "semantic"]
    assert any(f"model tuned on tiny {store.release}" in d for d in details)


def test_tuning_can_be_cancelled_and_leaves_the_store_as_it_was(qtbot, window) -> None:
    store = window.catalog.open("tiny")
    dialog = SettingsDialog(window.catalog, window.settings, window)
    qtbot.addWidget(dialog)
    dialog.show()
    select(dialog, "tiny")
    dialog.tune_button.click()
    process = dialog._tuning
    with qtbot.waitSignal(process.progress, timeout=60000):
        pass  # the child process is running and reporting
    with qtbot.waitSignal(process.finished, timeout=30000) as finished:
        dialog.tune_cancel.click()
    ok, message = finished.args
    assert not ok and "cancelled" in message
    assert "cancelled" in dialog.tune_status.text()
    assert not tuned_model_folder(store).exists()
    assert not list(store.path.parent.glob(".*partial"))
    assert "(packaged)" in store_text(dialog, "tiny")
    assert not dialog.use_tuned.isChecked() and not window.settings.tuned_embeddings
    assert dialog.tune_button.isEnabled()  # it can be tried again
