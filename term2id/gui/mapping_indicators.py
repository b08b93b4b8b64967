"""The status bar's mapping indicators: the mapping job's progress, rate and cancel button, the
language model in use, and the semantic index being prepared; each follows a MappingController.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from term2id.gui.mapping_controller import MappingController


class MappingIndicators:
    """Adds the mapping widgets to `bar` and keeps them in step with `controller`."""

    def __init__(self, bar: QStatusBar, controller: MappingController) -> None:
        self.progress_bar = QProgressBar(objectName="mappingProgress")
        self.progress_bar.setMaximumWidth(260)
        self.rate_label = QLabel(objectName="mappingRate")
        self.cancel_button = QPushButton("Cancel", objectName="cancelMapping")
        self.cancel_button.clicked.connect(controller.cancel_mapping)
        self._job = (self.progress_bar, self.rate_label, self.cancel_button)
        for widget in self._job:
            bar.addPermanentWidget(widget)
            widget.setVisible(False)
        self.language_model_label = QLabel(objectName="modelState")
        bar.addPermanentWidget(self.language_model_label)
        self.semantic_label = QLabel(objectName="semanticState")
        self.semantic_progress = QProgressBar(objectName="semanticProgress")
        self.semantic_progress.setMaximumWidth(160)
        self.semantic_cancel = QPushButton("Cancel", objectName="cancelSemantic")
        self.semantic_cancel.setToolTip(
            "Stop preparing the semantic index; rows keep their exact and fuzzy candidates"
        )
        self.semantic_cancel.clicked.connect(controller.cancel_semantic)
        self._semantic = (self.semantic_label, self.semantic_progress, self.semantic_cancel)
        for widget in self._semantic:
            bar.addPermanentWidget(widget)
            widget.setVisible(False)

        controller.mapping_started.connect(self._mapping_started)
        controller.mapping_progress.connect(self._mapping_progress)
        controller.mapping_stopped.connect(lambda: self._show(self._job, False))
        controller.language_model_used.connect(self._language_model_used)
        controller.language_model_unavailable.connect(self._language_model_unavailable)
        controller.semantic_started.connect(self._semantic_started)
        controller.semantic_progress.connect(self._semantic_progress)
        controller.semantic_stopped.connect(lambda: self._show(self._semantic, False))

    @staticmethod
    def _show(widgets, visible: bool) -> None:
        for widget in widgets:
            widget.setVisible(visible)

    def _mapping_started(self, total: int) -> None:
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(0)
        self._show(self._job, True)

    def _mapping_progress(self, mapped: int, rate: float) -> None:
        self.progress_bar.setValue(mapped)
        self.rate_label.setText(f"{rate:,.0f} rows/s")

    def _language_model_used(self, name: str) -> None:
        if name:
            self.language_model_label.setText(f"model: {name}")
            self.language_model_label.setToolTip("")
        else:
            self.language_model_label.setText("")

    def _language_model_unavailable(self, reason: str) -> None:
        self.language_model_label.setText("⚡ model unavailable")
        self.language_model_label.setToolTip(reason)

    def _semantic_started(self, text: str) -> None:
        self.semantic_label.setText(text)
        self.semantic_progress.setRange(0, 0)
        self._show(self._semantic, True)

    def _semantic_progress(self, done: int, total: int, text: str) -> None:
        if total > 0:
            self.semantic_progress.setRange(0, total)
            self.semantic_progress.setValue(done)
        self.semantic_label.setText(text)
