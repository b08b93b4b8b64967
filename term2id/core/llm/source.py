"""The local language model as a candidate source ("llm"): propose ids, or choose among candidates.

Modes (prompt templates in term2id/resources/prompts):
- propose: "What is the <ontology> identifier for <term>?", the answer confined by a grammar to
  ids of the ontology's shape, or (default) to ids that exist in the store; k answers with their
  log-probabilities become proposals, verified like any other source's;
- choose: the mapper's top candidates (with their labels) are listed and the model names one of
  them or "none", confined to that list; its choice moves to the top of the ranking.

The model is never an authority: every id it names is verified against the store (a label
mismatch or an unknown id is shown as such), and an answer that does not parse is counted and
reported on the row, never silently dropped and never a crash.

An adapter's manifest (`<adapter>.gguf.json`, written by the training export) says which tasks it
was trained on ("tasks") and may give its exact prompt ("prompt_template"); the source then asks
in that wording.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from term2id.core.candidates import Candidate, Evidence, Proposal, Query
from term2id.core.curie import canonical_curie
from term2id.core.errors import SourceUnavailable, Term2IdError
from term2id.core.llm.completion import SOURCE_NAME, Completion, CompletionBackend
from term2id.core.llm.grammar import (
    NONE_ANSWER,
    IdGrammar,
    allow_list_grammar,
    choices_grammar,
    symbol_grammar,
    syntax_grammar,
)
from term2id.core.llm.prompts import load_template, ontology_display_name
from term2id.core.ontology.store import OntologyStore

log = logging.getLogger(__name__)

MODES = ("propose", "choose", "both")
# Tasks of the training data that are answered by naming an id (propose) or picking one (choose).
_PROPOSE_TASKS = {"term2id", "synonym2id"}
_SYMBOL_TASKS = {"name2symbol"}


def read_manifest(gguf_path: Path | None) -> dict[str, Any]:
    """The training export's manifest beside a GGUF file (`<file>.json`), or {} if there is none."""
    if gguf_path is None:
        return {}
    path = gguf_path.with_name(gguf_path.name + ".json")
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable manifest, ignored (%s)", path, exc)
        return {}
    return manifest if isinstance(manifest, dict) else {}


@lru_cache(maxsize=256)
def _question_digest(template: str, gbnf: str, k: int) -> str:
    """Part of the answer-cache key: another wording, grammar or k is another question."""
    return hashlib.sha256(f"{template}\0{gbnf}\0{k}".encode()).hexdigest()[:16]


class ModelOutputUnparsable(SourceUnavailable):
    """The model answered, but not with anything of the expected shape."""

    def __init__(self, answer: str, count: int) -> None:
        super().__init__(SOURCE_NAME, "answer did not parse")
        self.answer = answer
        self.count = count
        self.message = (
            f"{SOURCE_NAME}: answer {answer[:60]!r} did not parse as an identifier "
            f"({count} unparsable answer{'s' if count != 1 else ''} so far)"
        )

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class LLMStats:
    asked: int  # prompts sent to the model
    cached: int  # answers taken from the store's answer cache
    unparsable: int  # answers that named no identifier of the expected shape


class LLMSource:
    """A CandidateSource (propose) and a reranker (choose) over one CompletionBackend."""

    name = SOURCE_NAME

    def __init__(
        self,
        backend: CompletionBackend,
        mode: str = "propose",
        k: int = 3,
        allow_list: bool = True,
        cache: bool = True,
        manifest: dict[str, Any] | None = None,
        choose_among: int = 5,
        constrained: bool = True,
    ) -> None:
        if mode not in MODES:
            raise Term2IdError(f"unknown model mode {mode!r}; modes: {', '.join(MODES)}")
        self.backend = backend
        self.mode = mode
        self.k = max(1, k)
        self.allow_list = allow_list
        self.cache = cache
        self.manifest = manifest or {}
        self.choose_among = choose_among
        # False: the grammar only checks answers afterwards (for servers that reject grammars)
        self.constrained = constrained
        tasks = self.manifest.get("tasks")
        self.tasks = frozenset(tasks if isinstance(tasks, list) else [])
        self._grammars: dict[tuple[str, str], IdGrammar] = {}
        self._lock = threading.Lock()
        self._asked = self._cached = self._unparsable = 0
        # (store path, cache key, term) -> answers asked by `prefetch`, taken by `propose`
        self._prefetched: dict[tuple[str, str, str], list[Completion]] = {}

    # -- bookkeeping ----------------------------------------------------------------------------

    @property
    def stats(self) -> LLMStats:
        return LLMStats(self._asked, self._cached, self._unparsable)

    def _count(self, asked: int = 0, cached: int = 0, unparsable: int = 0) -> int:
        with self._lock:
            self._asked += asked
            self._cached += cached
            self._unparsable += unparsable
            return self._unparsable

    # -- templates and grammars -----------------------------------------------------------------

    def _symbol_mode(self, store: OntologyStore) -> bool:
        return (
            "HGNC" in store.prefixes[:1]
            and bool(self.tasks & _SYMBOL_TASKS)
            and not (self.tasks & _PROPOSE_TASKS)
        )

    def _propose_template(self, store: OntologyStore) -> tuple[str, str]:
        """(template name, template text with {term} left open)."""
        if self._symbol_mode(store):
            return "propose_symbol", load_template("propose_symbol")
        given = self.manifest.get("prompt_template")
        if isinstance(given, str) and "{term}" in given:
            return "manifest", given
        display = ontology_display_name(store.prefixes[0] if store.prefixes else store.name)
        return "propose", load_template("propose").replace("{ontology}", display)

    def _grammar(self, store: OntologyStore, symbol: bool) -> IdGrammar:
        kind = "symbol" if symbol else ("allow-list" if self.allow_list else "syntax")
        key = (str(store.path), kind)
        grammar = self._grammars.get(key)
        if grammar is None:
            if symbol:
                grammar = symbol_grammar()
            else:
                ids = list(store.labels()) + list(store.alt_id_map())
                grammar = allow_list_grammar(ids) if self.allow_list else syntax_grammar(ids)
            self._grammars[key] = grammar
        return grammar

    def _question(
        self, store: OntologyStore, template_key: str, template: str, cache_term: str,
        grammar: IdGrammar, k: int,
    ) -> tuple[str, str, str, str, IdGrammar | None]:  # fmt: skip
        """(model, adapter, cache key, cache term, grammar sent to the model) of one question."""
        model, adapter = self.backend.identity() if self.cache else ("", "")
        sent = grammar if self.constrained else None
        digest = _question_digest(template, sent.gbnf if sent else "", k)
        return model, adapter, f"{template_key}:{digest}", cache_term, sent

    def _ask(
        self, store: OntologyStore, template_key: str, template: str, cache_term: str,
        prompt: str, prefix: str, grammar: IdGrammar, k: int,
    ) -> list[Completion]:  # fmt: skip
        """The model's answers, from the store's answer cache when this exact question was asked."""
        model, adapter, key, _, sent = self._question(
            store, template_key, template, cache_term, grammar, k
        )
        if self.cache:
            hit = store.cached_model_answer(model, adapter, key, cache_term)
            if hit is not None:
                self._count(cached=1)
                return [Completion(text, logprob) for text, logprob in json.loads(hit)]
        with self._lock:
            answers = self._prefetched.pop((str(store.path), key, cache_term), None)
        if answers is None:
            answers = self.backend.complete(prompt, sent, k=k, prefix=prefix)
            self._count(asked=1)
        if self.cache:
            payload = json.dumps([[a.text, a.logprob] for a in answers], ensure_ascii=False)
            store.cache_model_answer(model, adapter, key, cache_term, payload)
        return answers

    def prefetch(
        self, queries: Sequence[Query], store: OntologyStore, limit: int | None = None
    ) -> None:
        """Ask the model about a batch of terms at once (propose mode), for `propose` to use.

        A backend with `complete_many` decodes several prompts side by side, which is faster
        than one by one; the answers are the same. Terms whose answer is in the store's answer
        cache are not asked again. `limit`: what `propose` will be asked for (None: k), since
        asking for fewer answers is another question.
        """
        complete_many = getattr(self.backend, "complete_many", None)
        if self.mode == "choose" or complete_many is None:
            return
        symbol = self._symbol_mode(store)
        name, template = self._propose_template(store)
        prefix = template.split("{term}", 1)[0]
        grammar = self._grammar(store, symbol)
        k = self._answers_wanted(limit)
        todo: dict[str, str] = {}  # term -> cache key
        sent: IdGrammar | None = None
        for query in queries:
            term = " ".join(query.text.split())
            if not term or term in todo:
                continue
            model, adapter, key, _, sent = self._question(store, name, template, term, grammar, k)
            if self.cache and store.cached_model_answer(model, adapter, key, term) is not None:
                continue
            todo[term] = key
        if not todo:
            return
        prompts = [template.replace("{term}", term) for term in todo]
        try:
            answers = complete_many(prompts, sent, k=k, prefix=prefix)
        except SourceUnavailable:
            raise
        except Term2IdError as exc:  # e.g. a prompt too long: each row asks alone and says so
            log.debug("prefetch skipped: %s", exc)
            return
        self._count(asked=len(prompts))
        with self._lock:
            if len(self._prefetched) > 4 * len(todo) + 1024:
                self._prefetched.clear()  # answers prefetched for rows that never came
            for (term, key), answer in zip(todo.items(), answers, strict=True):
                self._prefetched[str(store.path), key, term] = answer

    # -- propose --------------------------------------------------------------------------------

    def _answers_wanted(self, limit: int | None) -> int:
        """How many answers to ask for when `limit` candidates are wanted: the one number
        `prefetch` and `propose` must agree on, since it is part of the question."""
        return self.k if limit is None else max(1, min(self.k, limit))

    def propose(self, query: Query, store: OntologyStore, limit: int) -> list[Proposal]:
        if self.mode == "choose":
            return []
        symbol = self._symbol_mode(store)
        name, template = self._propose_template(store)
        term = " ".join(query.text.split())
        prompt = template.replace("{term}", term)
        prefix = template.split("{term}", 1)[0]
        grammar = self._grammar(store, symbol)
        answers = self._ask(
            store, name, template, term, prompt, prefix, grammar, self._answers_wanted(limit)
        )
        proposals: list[Proposal] = []
        rejected: list[str] = []
        for answer in answers:
            curie = self._parse(answer.text, grammar, store, symbol)
            if curie is None:
                rejected.append(answer.text)
                continue
            if any(p.curie == curie for p in proposals):
                continue
            proposals.append(
                Proposal(
                    curie,
                    Evidence(
                        SOURCE_NAME,
                        round(math.exp(answer.logprob), 4),
                        len(proposals) + 1,
                        answer.text.strip(),
                        f"model answer, log-probability {answer.logprob:.2f}",
                    ),
                )
            )
        if not proposals:
            count = self._count(unparsable=1)
            raise ModelOutputUnparsable(rejected[0] if rejected else "", count)
        return proposals

    def _parse(
        self, text: str, grammar: IdGrammar, store: OntologyStore, symbol: bool
    ) -> str | None:
        answer = text.strip()
        if not answer or not grammar.accepts(answer):
            return None
        if symbol:
            found = store.find_exact(answer)
            return found[0].curie if found else None
        return canonical_curie(answer)

    # -- choose ---------------------------------------------------------------------------------

    def rerank(
        self, query: Query, candidates: Sequence[Candidate], stores: Sequence[OntologyStore]
    ) -> tuple[list[Candidate], list[str]]:
        """Let the model pick one of the top candidates (or none); its pick goes first."""
        ranked = list(candidates)
        if self.mode == "propose" or not ranked or not stores:
            return ranked, []
        shown = ranked[: self.choose_among]
        store = stores[0]
        display = ontology_display_name(store.prefixes[0] if store.prefixes else store.name)
        lines = "\n".join(f"- {c.curie} {c.label or ''}".rstrip() for c in shown)
        template = load_template("choose").replace("{ontology}", display)
        term = " ".join(query.text.split())
        prompt = template.replace("{term}", term).replace("{candidates}", lines)
        grammar = choices_grammar([c.curie for c in shown])
        cache_term = term + "\x1f" + ",".join(c.curie for c in shown)
        prefix = template.split("{term}", 1)[0]
        answers = self._ask(store, "choose", template, cache_term, prompt, prefix, grammar, 1)
        answer = answers[0].text.strip() if answers else ""
        if not answer or not grammar.accepts(answer):
            count = self._count(unparsable=1)
            return ranked, [str(ModelOutputUnparsable(answer, count))]
        if answer == NONE_ANSWER:
            return ranked, [
                f"{SOURCE_NAME}: the model chose none of the top {len(shown)} candidates"
            ]
        position = next(i for i, c in enumerate(ranked) if c.curie == answer)
        chosen = ranked.pop(position)
        evidence = Evidence(
            SOURCE_NAME,
            round(math.exp(answers[0].logprob), 4),
            1,
            answer,
            f"chosen by the model among the top {len(shown)} candidates",
        )
        ranked.insert(0, replace(chosen, evidence=(*chosen.evidence, evidence)))
        return ranked, []

    # -- preparing ------------------------------------------------------------------------------

    def prepare(self, store: OntologyStore, progress: Any = None) -> None:
        """Load the model and build the store's grammar before the first row, not during it."""
        load = getattr(self.backend, "load", None)
        if load is not None and self.mode != "choose":
            load()
        if self.mode != "choose":
            self._grammar(store, self._symbol_mode(store))


def open_llm_source(
    model: Path | str | None = None,
    adapter: Path | str | None = None,
    server: str | None = None,
    mode: str = "propose",
    k: int = 3,
    allow_list: bool = True,
    cache: bool = True,
    n_threads: int | None = None,
    n_ctx: int = 2048,
    timeout: float = 30.0,
    available_memory: int | None = None,
    constrained: bool = True,
    api_key: str | None = None,
) -> LLMSource:
    """An LLMSource over a local GGUF model (checked now, loaded on first use) or a server URL.

    `api_key`: the server's key, sent as a Bearer token (None: the TERM2ID_API_KEY environment
    variable, if set); held in memory only.
    """
    from term2id.core.llm.llama import LlamaCppBackend
    from term2id.core.llm.server import OpenAICompletionsBackend

    backend: CompletionBackend
    if server:
        backend = OpenAICompletionsBackend(server, timeout=timeout, api_key=api_key)
    elif model:
        local = LlamaCppBackend(model, adapter, n_threads=n_threads, n_ctx=n_ctx,
                                available_memory=available_memory)  # fmt: skip
        local.check()
        backend = local
    else:
        raise Term2IdError(
            "the llm source needs a model file (--model PATH.gguf) or a server (--server URL)"
        )
    manifest = read_manifest(Path(adapter) if adapter else None) or read_manifest(
        Path(model) if model else None
    )
    return LLMSource(
        backend, mode=mode, k=k, allow_list=allow_list, cache=cache, manifest=manifest,
        constrained=constrained,
    )  # fmt: skip
