"""A pool of OpenAI-compatible completion servers (llama.cpp server, llama_cpp.server, vLLM).

Each request goes to the next live server in turn. A server that fails (unreachable, an HTTP
error, no completion, no answer in time) is taken out of the pool for the rest of the run and the
same request is sent to the next one, so no row loses its answer while one server is left. Only
when every server has failed does the local-model source become unavailable (the rows then say
so, as with one `--server`).

Every server must serve the same weights: their answer-cache identities are compared once, and a
pool mixing models is refused, since cached answers and results would depend on which server
happened to answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from term2id.core.errors import SourceUnavailable, Term2IdError
from term2id.core.llm import Completion, OpenAICompletionsBackend

log = logging.getLogger(__name__)

SOURCE_NAME = "llm"


class ServerPool:
    """Completion requests spread over several servers; a failing one is dropped.

    `start` picks the server the first request goes to, so that workers of one run begin on
    different servers.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        start: int = 0,
    ) -> None:
        if not urls:
            raise Term2IdError("a server pool needs at least one --server URL")
        self.servers = [
            OpenAICompletionsBackend(url, timeout=timeout, api_key=api_key)
            for url in dict.fromkeys(urls)
        ]
        self._live = list(range(len(self.servers)))
        self._next = start % len(self.servers)
        self._lock = threading.Lock()
        self._identity: tuple[str, str] | None = None
        self.failures: dict[str, str] = {}  # URL -> why it was taken out
        self.answered: dict[str, int] = {s.base_url: 0 for s in self.servers}

    @property
    def live_urls(self) -> list[str]:
        with self._lock:
            return [self.servers[i].base_url for i in self._live]

    def _pick(self) -> tuple[int, OpenAICompletionsBackend]:
        with self._lock:
            if not self._live:
                reasons = "; ".join(self.failures.values()) or "no server given"
                raise SourceUnavailable(SOURCE_NAME, f"every server failed: {reasons}")
            position = self._next % len(self._live)
            self._next = position + 1
            index = self._live[position]
            return index, self.servers[index]

    def _drop(self, index: int, exc: Exception) -> None:
        with self._lock:
            if index in self._live:
                self._live.remove(index)
                url = self.servers[index].base_url
                self.failures[url] = str(exc)
                log.warning(
                    "server %s taken out of the pool (%s); %d left", url, exc, len(self._live)
                )

    def identity(self) -> tuple[str, str]:
        """The identity every live server shares; a server serving other weights is refused."""
        if self._identity is None:
            seen: dict[tuple[str, str], str] = {}
            for index, server in enumerate(self.servers):
                try:
                    seen.setdefault(server.identity(), server.base_url)
                except SourceUnavailable as exc:
                    self._drop(index, exc)
            if len(seen) > 1:
                raise Term2IdError(
                    "the servers given with --server serve different models ("
                    + ", ".join(seen.values())
                    + "); a pool must serve the same weights"
                )
            if not seen:
                self._pick()  # raises: every server failed
            self._identity = next(iter(seen))
        return self._identity

    def complete(
        self, prompt: str, grammar: Any, k: int = 1, max_tokens: int = 24, prefix: str = ""
    ) -> list[Completion]:
        while True:
            index, server = self._pick()
            try:
                answers = server.complete(
                    prompt, grammar, k=k, max_tokens=max_tokens, prefix=prefix
                )
            except SourceUnavailable as exc:
                self._drop(index, exc)
                continue
            with self._lock:
                self.answered[server.base_url] += 1
            return answers
