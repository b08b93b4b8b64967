"""The llama.cpp backend: a GGUF model (and LoRA adapter) completing prompts under a grammar in-process.

`LlamaCppBackend` runs its own short decoding loop over llama-cpp-python's low-level API rather
than `Llama.__call__`, for three reasons:
- the grammar is parsed by llama.cpp once per grammar and cloned per query (`Llama.__call__`
  re-parses it on every call: ~10 ms for a 19k-id allow-list);
- it returns k answers with their log-probabilities under the *constrained* distribution: the
  greedy answer, then the best alternatives at the positions where the model hesitated most,
  each completed greedily (see `complete`);
- it keeps a saved KV state per prompt template, so that propose and choose prompts can
  interleave without re-reading each template's shared prefix;
- `complete_many` decodes several prompts side by side, one sequence each in one llama_decode
  per step, the shared prompt prefix read once and shared by all of them in the KV cache.
Between calls the KV cache keeps the longest common token prefix, as `Llama.__call__` does.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from term2id.core.errors import SourceUnavailable, Term2IdError
from term2id.core.files import file_sha256
from term2id.core.llm.completion import SOURCE_NAME, Completion
from term2id.core.llm.gguf_check import CheckedModel, ModelFileError, check_model_files
from term2id.core.llm.grammar import IdGrammar, validate_gbnf

log = logging.getLogger(__name__)

# Prompts decoded side by side by `complete_many` (llama.cpp sequences of one context).
BATCH_WIDTH = 8

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
        self._wide = False  # whether the context holds several sequences (complete_many)

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
                    from term2id.core.llm.runtime import load_llama, use_safe_kernels

                    use_safe_kernels()  # raises ImportError without llama-cpp-python
                except ImportError as exc:
                    raise SourceUnavailable(
                        SOURCE_NAME,
                        "llama-cpp-python is not installed (pip install 'term2id[llm]')",
                    ) from exc
                try:
                    self._llama = load_llama(
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
                self._allow_sequences(self._llama)
            return self._llama

    def _allow_sequences(self, llm: Any) -> None:
        """Give `llm` a context that holds BATCH_WIDTH sequences in one unified KV cache.

        `Llama` makes a one-sequence context and has no parameter for more, so its context is
        replaced by the same one with n_seq_max raised (the adapter set on it again). Unified:
        the sequences share the prompt prefix's cells instead of each holding a copy.
        """
        import llama_cpp
        from llama_cpp._internals import LlamaContext

        params = llm.context_params
        params.n_seq_max = BATCH_WIDTH + 1  # sequence 0 keeps the prefix, 1.. decode
        params.kv_unified = True
        try:
            wide = LlamaContext(model=llm._model, params=params, verbose=False)
        except ValueError:
            log.debug("no multi-sequence context; prompts are decoded one at a time")
            return
        if llm._lora_adapter is not None:
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(llm._lora_adapter)
            scales = (ctypes.c_float * 1)(llm.lora_scale)
            if llama_cpp.llama_set_adapters_lora(wide.ctx, adapters, 1, scales):
                wide.close()
                return
        narrow, llm._ctx = llm._ctx, wide
        narrow.close()
        llm._stack.callback(wide.close)  # freed by Llama.close, before the model it uses
        self._wide = True

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
                self._wide = False
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

    def _logprobs(
        self, grammar_state: Any, candidates: Any, index: int = -1, allowed: Any = None
    ) -> Any:
        """Log-probabilities of the next token, the grammar's forbidden tokens at -inf.

        `index`: the token of the last decoded batch whose logits to read (-1: its last);
        `allowed`: the grammar state's mask of allowed tokens when already known (`_allowed`).
        """
        import llama_cpp
        import numpy as np

        llm = self._llama
        n_vocab = llm.n_vocab()
        logits = np.ctypeslib.as_array(
            llama_cpp.llama_get_logits_ith(llm._ctx.ctx, index), shape=(n_vocab,)
        )
        if allowed is not None:
            masked = np.where(allowed, logits.astype(np.float64), -np.inf)
        else:
            candidates.copy_logits(logits)
            if grammar_state is not None:
                llama_cpp.llama_sampler_apply(grammar_state, ctypes.byref(candidates.candidates))
            masked = candidates.candidates_data.logit.astype(np.float64)
        top = masked.max()
        if not math.isfinite(top):
            return None
        shifted = masked - top
        return shifted - math.log(float(np.exp(shifted).sum()))

    def _allowed(self, grammar_state: Any, candidates: Any) -> tuple[Any, bool]:
        """The tokens the grammar allows next, as a mask, and whether only end-of-generation.

        Which tokens a grammar allows does not depend on their logits, so the mask found here
        spares the next step's `_logprobs` applying the grammar again.
        """
        import llama_cpp
        import numpy as np

        llm = self._llama
        candidates.copy_logits(np.zeros(llm.n_vocab(), dtype=np.single))
        llama_cpp.llama_sampler_apply(grammar_state, ctypes.byref(candidates.candidates))
        mask = np.isfinite(candidates.candidates_data.logit)
        allowed = np.flatnonzero(mask)
        only_end = 0 < len(allowed) <= 4 and all(
            llama_cpp.llama_vocab_is_eog(llm._model.vocab, int(t)) for t in allowed
        )
        return mask, only_end

    def _grammar_state(self, grammar: IdGrammar | None) -> Any:
        import llama_cpp

        if grammar is None:
            return None
        return llama_cpp.llama_sampler_clone(self._grammar_sampler(grammar))

    def _greedy(
        self, prompt_tokens: list[int], forced: list[int], grammar: IdGrammar | None,
        max_tokens: int, prefix_tokens: int, alternatives: int,
    ) -> _Greedy | None:  # fmt: skip
        """Greedy decoding after `prompt_tokens + forced` (forced tokens are already chosen)."""
        import llama_cpp
        from llama_cpp._internals import LlamaTokenDataArray

        llm = self._llama
        state = self._grammar_state(grammar)
        try:
            candidates = LlamaTokenDataArray(n_vocab=llm.n_vocab())
            run = _GreedyRun(self, state, candidates, forced, max_tokens, alternatives)
            # The logprobs of forced tokens are recomputed so every answer is scored the same way.
            self._feed(prompt_tokens, prefix_tokens)
            while (
                token := run.advance(self._logprobs(state, candidates, -1, run.allowed))
            ) is not None:
                llm.eval([token])
            return run.result
        finally:
            if state is not None:
                llama_cpp.llama_sampler_free(state)

    def _greedy_many(
        self, prompts: list[list[int]], grammar: IdGrammar | None, max_tokens: int,
        prefix_tokens: int, alternatives: int,
    ) -> list[_Greedy | None]:  # fmt: skip
        """`_greedy` for several prompts at once, each a sequence of one llama_decode per step.

        Sequence 0 holds the prompts' common opening (as `_feed` leaves it, so the one-prompt
        path finds it there too); sequences 1..n share its cells and add their own rest.
        """
        import llama_cpp
        from llama_cpp._internals import LlamaTokenDataArray

        llm = self._llama
        ctx = llm._ctx.ctx
        memory = llm._ctx.memory
        shared = min(len(p) for p in prompts) - 1  # each sequence decodes at least one token
        for position in range(shared):
            if any(p[position] != prompts[0][position] for p in prompts):
                shared = position
                break
        if shared < 1:
            return [self._greedy(p, [], grammar, max_tokens, 0, alternatives) for p in prompts]
        self._feed(prompts[0][:shared], min(prefix_tokens, shared))
        states = [self._grammar_state(grammar) for _ in prompts]
        rest = sum(len(p) - shared for p in prompts)
        batch = llama_cpp.llama_batch_init(max(rest, len(prompts)), 0, 1)
        try:
            candidates = LlamaTokenDataArray(n_vocab=llm.n_vocab())
            runs = [
                _GreedyRun(self, state, candidates, [], max_tokens, alternatives)
                for state in states
            ]
            feed: list[tuple[int, int, int]] = []  # (sequence, token, position)
            for sequence, prompt in enumerate(prompts, start=1):
                llama_cpp.llama_memory_seq_cp(memory, 0, sequence, -1, -1)
                feed.extend((sequence, t, shared + j) for j, t in enumerate(prompt[shared:]))
            next_position = [len(p) for p in prompts]
            while feed:
                index = _fill(batch, feed)
                if llama_cpp.llama_decode(ctx, batch) != 0:
                    raise _BatchFailed
                feed = []
                for sequence, run in enumerate(runs, start=1):
                    if sequence not in index:
                        continue
                    lp = self._logprobs(
                        states[sequence - 1], candidates, index[sequence], run.allowed
                    )
                    token = run.advance(lp)
                    if token is not None:
                        feed.append((sequence, token, next_position[sequence - 1]))
                        next_position[sequence - 1] += 1
            return [run.result for run in runs]
        finally:
            for sequence in range(1, len(prompts) + 1):
                llama_cpp.llama_memory_seq_rm(memory, sequence, -1, -1)
            for state in states:
                if state is not None:
                    llama_cpp.llama_sampler_free(state)
            llama_cpp.llama_batch_free(batch)

    def _tokenize(self, prompt: str, prefix: str, max_tokens: int) -> tuple[list[int], int]:
        """The prompt's tokens, and how many of them are the template's fixed opening."""
        llm = self._llama
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
        return prompt_tokens, prefix_tokens

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
            self.load()
            prompt_tokens, prefix_tokens = self._tokenize(prompt, prefix, max_tokens)
            first = self._greedy(prompt_tokens, [], grammar, max_tokens, prefix_tokens, k - 1)
            return self._answers(prompt_tokens, first, grammar, k, max_tokens, prefix_tokens)

    def complete_many(
        self, prompts: Sequence[str], grammar: IdGrammar | None, k: int = 1,
        max_tokens: int = 24, prefix: str = "",
    ) -> list[list[Completion]]:  # fmt: skip
        """`complete` for each prompt, the greedy answers of up to BATCH_WIDTH prompts decoded
        side by side (same answers as one by one: same greedy choices under the same grammar).
        """
        with self._lock:
            llm = self.load()
            tokenized = [self._tokenize(p, prefix, max_tokens) for p in prompts]
            if not self._wide or len(prompts) < 2:
                return [self.complete(p, grammar, k, max_tokens, prefix) for p in prompts]
            opening = min(n for _, n in tokenized)
            groups: list[list[int]] = [[]]
            cells = opening
            for i, (tokens, _) in enumerate(tokenized):
                need = len(tokens) - opening + max_tokens + 1
                group = groups[-1]
                if group and (
                    len(group) >= BATCH_WIDTH
                    or cells + need > self.n_ctx
                    or sum(len(tokenized[j][0]) - opening for j in group) + need > llm.n_batch
                ):
                    groups.append([])
                    cells = opening
                groups[-1].append(i)
                cells += need
            results: list[list[Completion]] = []
            for group in groups:
                group_tokens = [tokenized[i][0] for i in group]
                try:
                    firsts = self._greedy_many(group_tokens, grammar, max_tokens, opening, k - 1)
                except _BatchFailed:
                    log.debug("llama_decode refused a batch of %d prompts", len(group))
                    results.extend(self.complete(prompts[i], grammar, k, max_tokens, prefix)
                                   for i in group)  # fmt: skip
                    continue
                for i, first in zip(group, firsts, strict=True):
                    tokens, prefix_tokens = tokenized[i]
                    results.append(
                        self._answers(tokens, first, grammar, k, max_tokens, prefix_tokens)
                    )
            return results

    def _answers(
        self, prompt_tokens: list[int], first: _Greedy | None, grammar: IdGrammar | None,
        k: int, max_tokens: int, prefix_tokens: int,
    ) -> list[Completion]:  # fmt: skip
        """The greedy answer and up to k-1 branches from its points of hesitation, best first."""
        llm = self._llama
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
                answers.setdefault(text, sum(logprobs[:position]) + _lp_of(others[position], token))
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


# The generated tokens (forced included, end-of-generation excluded), their log-probabilities,
# and for each generated position the best other allowed tokens with theirs.
_Greedy = tuple[list[int], list[float], list[list[tuple[int, float]]]]


class _BatchFailed(Exception):
    """llama_decode refused a batch of sequences (no room in the KV cache)."""


class _GreedyRun:
    """One greedy decoding under a grammar, one token at a time: the same choices whether the
    forward passes are one prompt's (`_greedy`) or several prompts' side by side."""

    def __init__(
        self, backend: LlamaCppBackend, state: Any, candidates: Any, forced: list[int],
        max_tokens: int, alternatives: int,
    ) -> None:  # fmt: skip
        self.backend = backend
        self.state = state
        self.candidates = candidates
        self.forced = forced
        self.max_tokens = max_tokens
        self.alternatives = alternatives
        self.generated: list[int] = []
        self.logprobs: list[float] = []
        self.others: list[list[tuple[int, float]]] = []
        self.result: _Greedy | None = None
        self.allowed: Any = None  # the grammar's mask for the next token, once known

    def _finish(self, answered: bool) -> None:
        self.result = (self.generated, self.logprobs, self.others) if answered else None

    def advance(self, lp: Any) -> int | None:
        """Choose the next token from its log-probabilities; the token to evaluate next, or
        None when the answer is complete (`result`) or has no shape the grammar allows."""
        import llama_cpp
        import numpy as np

        if lp is None:
            return self._finish(False)  # the grammar allows nothing: no answer of this shape
        step = len(self.generated)
        forced = step < len(self.forced)
        token = self.forced[step] if forced else int(np.argmax(lp))
        if self.alternatives and not forced:
            best = np.argsort(-lp)[: self.alternatives + 1]
            self.others.append(
                [(int(t), float(lp[t])) for t in best if t != token and math.isfinite(lp[t])]
            )
        else:
            self.others.append([])
        llm = self.backend._llama
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
            return self._finish(True)
        if step == self.max_tokens:
            return self._finish(False)  # no end in sight: not an answer of the grammar's shape
        self.generated.append(token)
        self.logprobs.append(float(lp[token]))
        if self.state is not None:
            llama_cpp.llama_sampler_accept(self.state, token)
            self.allowed, only_end = self.backend._allowed(self.state, self.candidates)
            if only_end:
                # The answer is complete: skip the forward pass whose only use would be to
                # pick the end token, which the grammar already forces.
                self.others.append([])
                return self._finish(True)
        return token


def _fill(batch: Any, feed: list[tuple[int, int, int]]) -> dict[int, int]:
    """Put (sequence, token, position) triples in a llama_batch, logits wanted for each
    sequence's last token; returns sequence -> index of that token in the batch."""
    last: dict[int, int] = {}
    for i, (sequence, token, position) in enumerate(feed):
        batch.token[i] = token
        batch.pos[i] = position
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = sequence
        batch.logits[i] = False
        last[sequence] = i
    for i in last.values():
        batch.logits[i] = True
    batch.n_tokens = len(feed)
    return last
