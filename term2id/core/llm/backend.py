"""Backends that complete a prompt under a grammar: llama.cpp in-process, or an OpenAI-compatible server.

`LlamaCppBackend` runs its own short decoding loop over llama-cpp-python's low-level API rather
than `Llama.__call__`, for three reasons:
- the grammar is parsed by llama.cpp once per grammar and cloned per query (`Llama.__call__`
  re-parses it on every call: ~10 ms for a 19k-id allow-list);
- it returns k answers with their log-probabilities under the *constrained* distribution: the
  greedy answer, then the best alternatives at the positions where the model hesitated most,
  each completed greedily (see `complete`);
- it keeps a saved KV state per prompt template, so that propose and choose prompts can
  interleave without re-reading each template's shared prefix.
Between calls the KV cache keeps the longest common token prefix, as `Llama.__call__` does.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import math
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from term2id.core.errors import SourceUnavailable, Term2IdError
from term2id.core.llm.gguf_check import CheckedModel, ModelFileError, check_model_files
from term2id.core.llm.grammar import IdGrammar, validate_gbnf

log = logging.getLogger(__name__)

SOURCE_NAME = "llm"
UNTRUSTED_MODEL_WARNING = (
    "GGUF files from untrusted sources are a known attack surface of llama.cpp: "
    "load only model and adapter files you obtained from people you trust."
)


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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_hash_lock = threading.Lock()
_hash_memo: dict[tuple[str, int, int], str] = {}


def cached_file_sha256(path: Path) -> str:
    """sha256 of a file, computed once per (path, size, mtime) in this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _hash_lock:
        if key not in _hash_memo:
            _hash_memo[key] = file_sha256(path)
        return _hash_memo[key]


class LlamaCppBackend:
    """One GGUF model (and optional LoRA adapter) in this process, loaded on first use.

    Thread-safe: one lock serialises loading and every completion (one llama context).
    """

    def __init__(
        self,
        model_path: Path | str,
        lora_path: Path | str | None = None,
        n_threads: int | None = None,
        n_ctx: int = 2048,
        available_memory: int | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.lora_path = Path(lora_path) if lora_path is not None else None
        self.n_threads = n_threads or max(1, (os.cpu_count() or 2))
        self.n_ctx = n_ctx
        self.available_memory = available_memory
        self._lock = threading.RLock()
        self._llama: Any = None
        self._checked: CheckedModel | None = None
        self._grammars: dict[
            str, Any
        ] = {}  # gbnf -> parsed llama_sampler (pristine, cloned per use)
        self._prefix_states: dict[tuple[int, ...], Any] = {}  # prefix tokens -> saved KV bytes
        self._identity: tuple[str, str] | None = None

    # -- loading ------------------------------------------------------------------------------

    def check(self) -> CheckedModel:
        """Header checks (format, architecture, adapter fit, memory) without loading."""
        if self._checked is None:
            self._checked = check_model_files(
                self.model_path, self.lora_path, self.n_ctx, self.available_memory
            )
        return self._checked

    def load(self) -> Any:
        with self._lock:
            if self._llama is None:
                checked = self.check()
                # A context longer than the model was trained on only costs memory.
                trained = checked.base.get_int("context_length")
                if trained:
                    self.n_ctx = min(self.n_ctx, trained)
                try:
                    from llama_cpp import Llama
                except ImportError as exc:
                    raise SourceUnavailable(
                        SOURCE_NAME,
                        "llama-cpp-python is not installed (pip install 'term2id[llm]')",
                    ) from exc
                try:
                    self._llama = Llama(
                        model_path=str(self.model_path),
                        lora_path=str(self.lora_path) if self.lora_path else None,
                        n_ctx=self.n_ctx,
                        n_threads=self.n_threads,
                        n_batch=min(512, self.n_ctx),
                        logits_all=False,
                        verbose=False,
                    )
                except (ValueError, RuntimeError) as exc:
                    path = self.lora_path if "lora" in str(exc).lower() else self.model_path
                    raise ModelFileError(path, f"llama.cpp cannot load it ({exc})") from exc
            return self._llama

    def identity(self) -> tuple[str, str]:
        if self._identity is None:
            adapter = cached_file_sha256(self.lora_path) if self.lora_path else ""
            self._identity = (cached_file_sha256(self.model_path), adapter)
        return self._identity

    def close(self) -> None:
        with self._lock:
            import llama_cpp

            for sampler in self._grammars.values():
                llama_cpp.llama_sampler_free(sampler)
            self._grammars.clear()
            self._prefix_states.clear()
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    # -- decoding -----------------------------------------------------------------------------

    def _grammar_sampler(self, grammar: IdGrammar) -> Any:
        import llama_cpp

        parsed = self._grammars.get(grammar.gbnf)
        if parsed is None:
            validate_gbnf(grammar.gbnf)  # never hand llama.cpp a grammar it cannot parse
            parsed = llama_cpp.llama_sampler_init_grammar(
                self._llama._model.vocab, grammar.gbnf.encode("utf-8"), b"root"
            )
            if not parsed:
                raise Term2IdError(f"llama.cpp rejected a {grammar.kind} grammar")
            if len(self._grammars) >= 32:  # the choose grammars differ per term: keep a few
                stale = next(iter(self._grammars))
                llama_cpp.llama_sampler_free(self._grammars.pop(stale))
            self._grammars[grammar.gbnf] = parsed
        return parsed

    def _feed(self, tokens: list[int], prefix_tokens: int = 0) -> None:
        """Make the KV cache hold exactly `tokens`, re-evaluating as little as possible."""
        import numpy as np

        llm = self._llama
        cached = llm.input_ids[: llm.n_tokens]
        common = 0
        limit = min(len(cached), len(tokens))
        if limit:
            differ = np.nonzero(cached[:limit] != np.asarray(tokens[:limit]))[0]
            common = int(differ[0]) if len(differ) else limit
        common = min(common, len(tokens) - 1)  # always evaluate one token for fresh logits
        if prefix_tokens and common < prefix_tokens:
            common = min(self._restore_prefix(tokens[:prefix_tokens], common), len(tokens) - 1)
        llm.n_tokens = common
        llm.eval(tokens[common:])

    def _restore_prefix(self, prefix: list[int], common: int) -> int:
        """Restore (or build and save) the KV state of a template's fixed prefix."""
        import llama_cpp

        llm = self._llama
        ctx = llm._ctx.ctx
        key = tuple(prefix)
        saved = self._prefix_states.get(key)
        if saved is None:
            llm.n_tokens = common
            llm.eval(prefix[common:])
            size = llama_cpp.llama_state_seq_get_size(ctx, 0)
            buffer = (ctypes.c_uint8 * size)()
            llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
            if len(self._prefix_states) >= 8:
                self._prefix_states.pop(next(iter(self._prefix_states)))
            self._prefix_states[key] = buffer
            return len(prefix)
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        if not llama_cpp.llama_state_seq_set_data(ctx, saved, len(saved), 0):
            log.debug("could not restore a saved prompt state; evaluating the prompt again")
            return 0
        llm.input_ids[: len(prefix)] = prefix
        return len(prefix)

    def _logprobs(self, grammar_state: Any, candidates: Any) -> Any:
        """Log-probabilities of the next token, the grammar's forbidden tokens at -inf."""
        import llama_cpp
        import numpy as np

        llm = self._llama
        n_vocab = llm.n_vocab()
        logits = np.ctypeslib.as_array(
            llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,)
        )
        candidates.copy_logits(logits)
        if grammar_state is not None:
            llama_cpp.llama_sampler_apply(grammar_state, ctypes.byref(candidates.candidates))
        masked = candidates.candidates_data.logit.astype(np.float64)
        top = masked.max()
        if not math.isfinite(top):
            return None
        shifted = masked - top
        return shifted - math.log(float(np.exp(shifted).sum()))

    def _only_end_allowed(self, grammar_state: Any, candidates: Any) -> bool:
        """Whether the grammar, in its current state, allows nothing but end-of-generation."""
        import llama_cpp
        import numpy as np

        llm = self._llama
        candidates.copy_logits(np.zeros(llm.n_vocab(), dtype=np.single))
        llama_cpp.llama_sampler_apply(grammar_state, ctypes.byref(candidates.candidates))
        allowed = np.flatnonzero(np.isfinite(candidates.candidates_data.logit))
        return 0 < len(allowed) <= 4 and all(
            llama_cpp.llama_vocab_is_eog(llm._model.vocab, int(t)) for t in allowed
        )

    def _greedy(
        self, prompt_tokens: list[int], forced: list[int], grammar: IdGrammar | None,
        max_tokens: int, prefix_tokens: int, alternatives: int,
    ) -> tuple[list[int], list[float], list[list[tuple[int, float]]]] | None:  # fmt: skip
        """Greedy decoding after `prompt_tokens + forced` (forced tokens are already chosen).

        Returns the generated tokens (forced included, end-of-generation excluded), their
        log-probabilities, and for each generated position the best other allowed tokens.
        """
        import llama_cpp
        import numpy as np
        from llama_cpp._internals import LlamaTokenDataArray

        llm = self._llama
        vocab = llm._model.vocab
        state = None
        if grammar is not None:
            state = llama_cpp.llama_sampler_clone(self._grammar_sampler(grammar))
        try:
            candidates = LlamaTokenDataArray(n_vocab=llm.n_vocab())
            generated: list[int] = []
            logprobs: list[float] = []
            others: list[list[tuple[int, float]]] = []
            # The logprobs of forced tokens are recomputed so every answer is scored the same way.
            self._feed(prompt_tokens, prefix_tokens)
            for step in range(max_tokens + 1):
                lp = self._logprobs(state, candidates)
                if lp is None:
                    return None  # the grammar allows nothing: no answer of this shape
                token = forced[step] if step < len(forced) else int(np.argmax(lp))
                if alternatives and step >= len(forced):
                    best = np.argsort(-lp)[: alternatives + 1]
                    others.append(
                        [
                            (int(t), float(lp[t]))
                            for t in best
                            if t != token and math.isfinite(lp[t])
                        ]
                    )
                else:
                    others.append([])
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    return generated, logprobs, others
                if step == max_tokens:
                    return None  # no end in sight: not an answer of the grammar's shape
                generated.append(token)
                logprobs.append(float(lp[token]))
                if state is not None:
                    llama_cpp.llama_sampler_accept(state, token)
                    if self._only_end_allowed(state, candidates):
                        # The answer is complete: skip the forward pass whose only use would
                        # be to pick the end token, which the grammar already forces.
                        others.append([])
                        return generated, logprobs, others
                llm.eval([token])
            return None
        finally:
            if state is not None:
                llama_cpp.llama_sampler_free(state)

    def complete(
        self, prompt: str, grammar: IdGrammar | None, k: int = 1, max_tokens: int = 24,
        prefix: str = "",
    ) -> list[Completion]:  # fmt: skip
        """Up to k distinct answers, best first, with log-probabilities.

        Method: greedy decoding under the grammar gives the first answer. For more, every
        position of that answer offers its best other allowed tokens; the k-1 branches with the
        highest log-probability so far are each completed greedily under the grammar. This is a
        one-level beam over the model's points of hesitation: cheap (a few tokens per branch)
        and exact for the answers it returns, though not guaranteed to find the k most likely.
        """
        with self._lock:
            llm = self.load()
            prompt_tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
            if len(prompt_tokens) + max_tokens > self.n_ctx:
                raise Term2IdError(
                    f"prompt of {len(prompt_tokens)} tokens does not fit the context of {self.n_ctx}"
                )
            prefix_tokens = 0
            if prefix:
                opening = llm.tokenize(prefix.encode("utf-8"), add_bos=True, special=True)
                for a, b in zip(opening, prompt_tokens, strict=False):
                    if a != b:
                        break
                    prefix_tokens += 1
                if prefix_tokens < 4:
                    prefix_tokens = 0  # not worth a saved state
            first = self._greedy(prompt_tokens, [], grammar, max_tokens, prefix_tokens, k - 1)
            if first is None:
                return []
            tokens, logprobs, others = first
            answers = {self._text(tokens): sum(logprobs)}
            branches = []
            for position, alternatives in enumerate(others):
                so_far = sum(logprobs[:position])
                for token, lp in alternatives:
                    branches.append((so_far + lp, position, token))
            branches.sort(reverse=True)
            for _, position, token in branches:
                if len(answers) >= k:
                    break
                forced = [*tokens[:position], token]
                if llama_cpp_is_eog(llm, token):
                    text = self._text(tokens[:position])
                    answers.setdefault(
                        text, sum(logprobs[:position]) + _lp_of(others[position], token)
                    )
                    continue
                branch = self._greedy(prompt_tokens, forced, grammar, max_tokens, prefix_tokens, 0)
                if branch is None:
                    continue
                text = self._text(branch[0])
                answers.setdefault(text, sum(branch[1]))
            ranked = sorted(answers.items(), key=lambda item: -item[1])
            return [Completion(text, logprob) for text, logprob in ranked[:k]]

    def _text(self, tokens: list[int]) -> str:
        return self._llama.detokenize(tokens).decode("utf-8", errors="replace")

    # -- a bare call, for comparison ----------------------------------------------------------

    def plain_call(self, prompt: str, grammar: IdGrammar | None, max_tokens: int = 24) -> str:
        """The same greedy answer through `Llama.__call__` (used by the benchmark and tests)."""
        from llama_cpp import LlamaGrammar

        with self._lock:
            llm = self.load()
            kwargs: dict[str, Any] = {}
            if grammar is not None:
                validate_gbnf(grammar.gbnf)
                kwargs["grammar"] = LlamaGrammar.from_string(grammar.gbnf, verbose=False)
            out = llm(prompt, max_tokens=max_tokens, temperature=0.0, **kwargs)
            return out["choices"][0]["text"]


def llama_cpp_is_eog(llm: Any, token: int) -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_vocab_is_eog(llm._model.vocab, token))


def _lp_of(alternatives: list[tuple[int, float]], token: int) -> float:
    return next(lp for t, lp in alternatives if t == token)


# -- OpenAI-compatible completion servers ------------------------------------------------------


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


class OpenAICompletionsBackend:
    """A completions server on the local network (llama.cpp server, llama_cpp.server, vLLM).

    Sends the grammar in the `grammar` field (llama.cpp's servers honour it; others ignore it),
    and checks every answer against the same grammar afterwards, so a server that ignores it
    cannot slip an answer of another shape through. One answer per query, scored by the sum
    of the token log-probabilities the server reports (unconstrained ones where it ignores the
    grammar).
    """

    def __init__(
        self, url: str, model: str | None = None, timeout: float = 30.0,
        allow_remote: bool = False,
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
        self._model_id: str | None = None

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - checked scheme
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")[:200]
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
        if self._model_id is None:
            models = self._send(urllib.request.Request(self.base_url + "/v1/models"))
            data = models.get("data") or [{}]
            self._model_id = self.model or str(data[0].get("id", "unknown"))
        return (f"server:{self.base_url}:{self._model_id}", "")

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
