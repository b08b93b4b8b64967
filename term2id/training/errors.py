"""Errors the training module reports to a user: each one line, naming what is wrong and where."""

from __future__ import annotations

from pathlib import Path

from term2id.core.errors import InputFileError, Term2IdError


class TrainingError(Term2IdError):
    """Training, evaluation or export cannot go on."""

    exit_code = 4


class ModelDirectoryError(InputFileError):
    """A base model or adapter folder that cannot be used (missing, not a causal LM, pickled)."""

    exit_code = 4


class UnsupportedArchitectureError(TrainingError):
    def __init__(self, path: Path | str, architecture: str, supported: tuple[str, ...]) -> None:
        self.path = Path(path)
        self.architecture = architecture
        super().__init__(
            f"{self.path}: cannot export architecture {architecture!r} to GGUF; "
            f"supported: {', '.join(supported)}"
        )


class ConfigError(InputFileError):
    """A training configuration file or --set override that is not valid."""

    exit_code = 2


class EmptyDatasetError(TrainingError):
    def __init__(self, where: Path | str, detail: str = "") -> None:
        self.where = str(where)
        super().__init__(f"{where}: the dataset is empty" + (f" ({detail})" if detail else ""))


class OutOfMemoryError(TrainingError):
    """The accelerator ran out of memory: name the knobs that shrink a step."""

    def __init__(self, batch_size: int, max_length: int, load_in_4bit: bool) -> None:
        hint = (
            f"lower training.batch_size (now {batch_size}; raise "
            f"training.gradient_accumulation_steps to keep the effective batch), "
            f"lower data.max_length (now {max_length})"
        )
        if not load_in_4bit:
            hint += ", or load the base model in 4-bit (model.load_in_4bit=true, CUDA only)"
        super().__init__(f"the GPU ran out of memory: {hint}")
