"""The completion-server backend: an OpenAI-compatible server on the local network (llama.cpp's
server, llama_cpp.server, vLLM) asked over HTTP, its answers checked against the grammar.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

from term2id.core.errors import SourceUnavailable, Term2IdError
from term2id.core.llm.completion import SOURCE_NAME, Completion
from term2id.core.llm.grammar import IdGrammar

log = logging.getLogger(__name__)


def _is_local_network(host: str) -> bool:
    import ipaddress
    import socket

    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not (ip.is_loopback or ip.is_private or ip.is_link_local):
            return False
    return bool(addresses)


# The environment variable a server's API key is read from when none is given.
API_KEY_ENV = "TERM2ID_API_KEY"
# Asked once per run to fingerprint a server's weights (see `OpenAICompletionsBackend.identity`).
_PROBE_PROMPT = "term2id weights fingerprint: 1, 2, 3,"


class OpenAICompletionsBackend:
    """A completions server on the local network (llama.cpp server, llama_cpp.server, vLLM).

    Sends the grammar in the `grammar` field (llama.cpp's servers honour it; others ignore it),
    and checks every answer against the same grammar afterwards, so a server that ignores it
    cannot slip an answer of another shape through. One answer per query, scored by the sum
    of the token log-probabilities the server reports (unconstrained ones where it ignores the
    grammar).

    `api_key` (or the TERM2ID_API_KEY environment variable) is sent as a Bearer token with every
    request and kept only in memory: it is never part of the answer cache's key, a message or
    a log line.
    """

    def __init__(
        self, url: str, model: str | None = None, timeout: float = 30.0,
        allow_remote: bool = False, api_key: str | None = None,
    ) -> None:  # fmt: skip
        parsed = urlparse(url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise Term2IdError(f"server URL {url!r} is not an http(s) URL")
        self.base_url = url.rstrip("/")
        if self.base_url.endswith("/v1"):
            self.base_url = self.base_url[:-3]
        self.model = model
        self.timeout = timeout
        if not allow_remote and not _is_local_network(parsed.hostname):
            raise Term2IdError(
                f"server {parsed.hostname} is not on the local network; term2id sends terms "
                "only to servers on this machine or its local network"
            )
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self._api_key = key.strip() if key and key.strip() else None
        self._model_id: str | None = None
        self._identity: tuple[str, str] | None = None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _get(self, path: str) -> dict[str, Any]:
        return self._send(urllib.request.Request(self.base_url + path, headers=self._headers()))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body).encode("utf-8"),
            headers=self._headers(),
            method="POST",
        )
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - checked scheme
                reply = json.loads(response.read().decode("utf-8"))
                if not isinstance(reply, dict):
                    raise json.JSONDecodeError("not an object", "", 0)
                return reply
        except urllib.error.HTTPError as exc:
            detail = " ".join(exc.read().decode("utf-8", errors="replace")[:200].split())
            if self._api_key:  # a server that echoes the request must not put the key in a note
                detail = detail.replace(self._api_key, "***")
            if exc.code in (401, 403):
                given = "was refused" if self._api_key else "is needed"
                detail = (
                    f"{detail} (an API key {given}: --api-key or the {API_KEY_ENV} "
                    "environment variable)"
                )
            raise SourceUnavailable(
                SOURCE_NAME, f"server {self.base_url} answered HTTP {exc.code}: {detail}"
            ) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise SourceUnavailable(
                    SOURCE_NAME, f"server {self.base_url} did not answer within {self.timeout:g} s"
                ) from exc
            raise SourceUnavailable(
                SOURCE_NAME, f"server {self.base_url} unreachable ({reason})"
            ) from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceUnavailable(
                SOURCE_NAME, f"server {self.base_url} sent something that is not JSON"
            ) from exc

    def identity(self) -> tuple[str, str]:
        """The answer cache's name for the served weights, from what the server reports.

        A model's name (llama_cpp.server reports the path or alias it was started with) does
        not change when other weights are served under it, so the identity is a digest of the
        name, of the weights metadata the server reports (llama.cpp's llama-server: parameter
        count, file size, vocabulary and context in /v1/models, the model path in /props; vLLM:
        the model's root), and of the log-probabilities it gives for a fixed probe prompt,
        which change with any change of weights or adapter. A server that reports no
        log-probabilities can be told apart only by URL, name and metadata: said in a warning.
        """
        if self._identity is None:
            models = self._get("/v1/models")
            data = [d for d in models.get("data") or [] if isinstance(d, dict)] or [{}]
            entry = next((d for d in data if self.model and d.get("id") == self.model), data[0])
            self._model_id = self.model or str(entry.get("id", "unknown"))
            reported: dict[str, Any] = {
                key: entry[key] for key in ("meta", "root", "parent") if entry.get(key)
            }
            props = self._optional_get("/props")
            if isinstance(props.get("model_path"), str):
                reported["model_path"] = props["model_path"]
            probe = self._probe()
            if probe is None:
                log.warning(
                    "server %s reports no log-probabilities, so changed weights under the same "
                    "name cannot be recognised: its cached answers are keyed by URL, model name "
                    "and the metadata it reports (%s)",
                    self.base_url, ", ".join(sorted(reported)) or "none",
                )  # fmt: skip
                reported["url"] = self.base_url
            else:
                reported["probe"] = probe
            digest = hashlib.sha256(
                json.dumps([self._model_id, reported], sort_keys=True, default=str).encode()
            ).hexdigest()[:32]
            self._identity = (f"server:{self._model_id}:{digest}", "")
        return self._identity

    def _optional_get(self, path: str) -> dict[str, Any]:
        """A GET that only some servers answer (e.g. llama.cpp's /props): {} from the others."""
        try:
            return self._get(path)
        except SourceUnavailable:
            return {}

    def _probe(self) -> list[Any] | None:
        """The greedy tokens of a fixed prompt and the top log-probabilities at each, rounded
        (numerics differ slightly between runs on some hardware); None without log-probabilities."""
        body: dict[str, Any] = {
            "prompt": _PROBE_PROMPT, "max_tokens": 4, "temperature": 0.0, "logprobs": 3, "n": 1,
            "model": self._model_id,
        }  # fmt: skip
        try:
            choice = self._post("/v1/completions", body)["choices"][0]
            logprobs = choice.get("logprobs") or {}
            tops = logprobs.get("top_logprobs") or []
            tokens = logprobs.get("tokens") or []
        except (SourceUnavailable, KeyError, IndexError, TypeError, AttributeError):
            return None
        rounded = [
            sorted((str(t), round(float(lp), 2)) for t, lp in top.items()
                   if isinstance(lp, int | float))
            for top in tops if isinstance(top, dict)
        ]  # fmt: skip
        if not any(rounded):
            return None
        return [choice.get("text"), tokens, rounded]

    def complete(
        self, prompt: str, grammar: IdGrammar | None, k: int = 1, max_tokens: int = 24,
        prefix: str = "",
    ) -> list[Completion]:  # fmt: skip
        body: dict[str, Any] = {
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "logprobs": 1,
            "n": 1,
        }
        if self.model or self._model_id:
            body["model"] = self.model or self._model_id
        if grammar is not None:
            body["grammar"] = grammar.gbnf
        reply = self._post("/v1/completions", body)
        try:
            choice = reply["choices"][0]
            text = choice["text"]
        except (KeyError, IndexError, TypeError) as exc:
            raise SourceUnavailable(
                SOURCE_NAME, f"server {self.base_url} sent no completion"
            ) from exc
        logprob = 0.0
        token_logprobs = ((choice.get("logprobs") or {}).get("token_logprobs")) or []
        logprob = float(sum(lp for lp in token_logprobs if isinstance(lp, int | float)))
        return [Completion(str(text), logprob)]
