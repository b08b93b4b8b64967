"""What a language model backend gives and must do: a `Completion`, and the `CompletionBackend`
protocol that `LLMSource` asks of the llama.cpp backend and of the completion-server backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from term2id.core.llm.grammar import IdGrammar

SOURCE_NAME = "llm"


@dataclass(frozen=True, slots=True)
class Completion:
    text: str  # the answer as generated, leading space included
    logprob: (
        float  # sum of the answer's token log-probabilities (constrained where a grammar was used)
    )


class CompletionBackend(Protocol):
    """What LLMSource needs from a model."""

    def identity(self) -> tuple[str, str]:
        """(model fingerprint, adapter fingerprint or "") for the answer cache."""
        ...

    def complete(
        self, prompt: str, grammar: IdGrammar | None, k: int = 1, max_tokens: int = 24,
        prefix: str = "",
    ) -> list[Completion]:  # fmt: skip
        """Up to k distinct answers, best first. `prefix` is the template's fixed opening."""
        ...
