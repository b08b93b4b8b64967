"""An in-memory lexical index of one store: every name, its normalised key and its tokens.

Built once per store release (a second or two for GO) and shared by the exact and fuzzy sources
and by verification, so that mapping a term costs dictionary look-ups instead of SQL round trips.
The fuzzy source never scores every name: a token inverted index with IDF weights picks a few
dozen names that share rare words with the query ("blocking"), and only those are scored.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from term2id.core.normalize import normalize
from term2id.core.store import OntologyStore

log = logging.getLogger(__name__)

# Names longer than this are not useful to score; a query is cut to this length too.
MAX_SCORED_CHARS = 300
_OBSOLETE_PREFIX = "obsolete "


@dataclass(frozen=True, slots=True)
class IndexedTerm:
    curie: str
    label: str
    obsolete: bool
    replaced_by: tuple[str, ...]
    consider: tuple[str, ...]
    popularity: int | None
    names: tuple[int, ...]  # ids of this term's names in the index


@dataclass(frozen=True, slots=True)
class IndexedName:
    text: str
    norm: str
    term: int  # position of the term in LexicalIndex.terms
    kind: str  # "label" or "synonym"
    scope: str | None  # synonym scope; None for a label
    type: str | None  # synonym type


class LexicalIndex:
    """Names, keys, tokens and ids of one store, in memory. Read-only once built."""

    def __init__(self, store: OntologyStore) -> None:
        self.store_name = store.name
        self.release = store.release
        self.prefixes = frozenset(store.prefixes)
        self.terms: list[IndexedTerm] = []
        self.names: list[IndexedName] = []
        self.by_curie: dict[str, int] = {}
        self.by_alt_id: dict[str, int] = {}
        self.by_norm: dict[str, list[int]] = {}
        for term in store.terms(include_obsolete=True):
            position = len(self.terms)
            name_ids = []
            label = term.label
            if term.obsolete and label.lower().startswith(_OBSOLETE_PREFIX):
                label = label[len(_OBSOLETE_PREFIX) :]  # "obsolete Fits" is found as "Fits"
            entries = [(label, "label", None, None)] + [
                (s.text, "synonym", s.scope, s.type) for s in term.synonyms
            ]
            for text, kind, scope, synonym_type in entries:
                norm = normalize(text[:MAX_SCORED_CHARS])
                if not norm:
                    continue
                name_ids.append(len(self.names))
                self.by_norm.setdefault(norm, []).append(len(self.names))
                self.names.append(IndexedName(text, norm, position, kind, scope, synonym_type))
            self.terms.append(
                IndexedTerm(
                    term.curie, term.label, term.obsolete, term.replaced_by, term.consider,
                    term.popularity, tuple(name_ids),
                )
            )  # fmt: skip
            self.by_curie[term.curie] = position
            for alt in term.alt_ids:
                self.by_alt_id.setdefault(alt, position)
        self._build_token_index()
        self._max_popularity = max((t.popularity or 0 for t in self.terms), default=0)
        self._close_words: dict[str, list[tuple[str, float]]] = {}
        log.info(
            "indexed %s: %d terms, %d names, %d words",
            self.store_name, len(self.terms), len(self.names), len(self.postings),
        )  # fmt: skip

    def _build_token_index(self) -> None:
        postings: dict[str, list[int]] = {}
        self.name_tokens: list[tuple[str, ...]] = []
        for name_id, name in enumerate(self.names):
            tokens = tuple(dict.fromkeys(name.norm.split()))
            self.name_tokens.append(tokens)
            if self.terms[name.term].obsolete:
                continue  # obsolete names are found by exact match only
            for token in tokens:
                postings.setdefault(token, []).append(name_id)
        count = max(len(self.names), 1)
        self.postings = postings
        self.idf = {t: math.log(1 + count / len(ids)) for t, ids in postings.items()}
        self._default_idf = math.log(1 + count)
        self.name_weight = [
            math.sqrt(sum(self.idf.get(t, self._default_idf) ** 2 for t in tokens)) or 1.0
            for tokens in self.name_tokens
        ]
        self.vocabulary = list(postings)

    # -- ids ----------------------------------------------------------------------------------

    def resolve(self, curie: str) -> tuple[IndexedTerm, bool] | None:
        """The term of `curie` and whether `curie` is a secondary (alt) id of it."""
        position = self.by_curie.get(curie)
        if position is not None:
            return self.terms[position], False
        position = self.by_alt_id.get(curie)
        if position is not None:
            return self.terms[position], True
        return None

    def popularity_prior(self, term: IndexedTerm) -> float:
        """How used a term is, in [0, 1] (log scale); 1 (neutral) where the store has no counts."""
        if not self._max_popularity:
            return 1.0
        if not term.popularity:
            return 0.0
        return math.log1p(term.popularity) / math.log1p(self._max_popularity)

    # -- words --------------------------------------------------------------------------------

    def close_words(self, token: str) -> list[tuple[str, float]]:
        """Words of the index spelt like `token` (a typo, an unseen inflection), with similarity."""
        found = self._close_words.get(token)
        if found is None:
            if len(token) < 4:
                found = []
            else:
                found = [
                    (word, score / 100)
                    for word, score, _ in process.extract(
                        token, self.vocabulary, scorer=fuzz.ratio, limit=3, score_cutoff=80
                    )
                ]
            if len(self._close_words) > 50_000:
                self._close_words.clear()
            self._close_words[token] = found
        return found

    def blocked_names(
        self, tokens: list[str], limit: int, common: int = 2000
    ) -> list[tuple[int, float]]:
        """Names sharing words with `tokens`, by IDF-weighted cosine, best first (the blocking step).

        Words in more than `common` names ("abnormality", "of") only re-score names found through
        rarer words, so one query touches at most a few thousand postings.
        """
        weighted: dict[str, float] = {}
        for token in tokens:
            if token in self.postings:
                weighted[token] = max(weighted.get(token, 0.0), self.idf[token])
            else:
                for word, similarity in self.close_words(token):
                    weighted[word] = max(weighted.get(word, 0.0), self.idf[word] * similarity)
        if not weighted:
            return []
        query_weight = math.sqrt(sum(self.idf.get(t, self._default_idf) ** 2 for t in tokens))
        ordered = sorted(weighted, key=lambda t: len(self.postings[t]))
        scores: dict[int, float] = {}
        frequent = []
        for token in ordered:
            ids = self.postings[token]
            if len(ids) > common and scores:
                frequent.append(token)
                continue
            weight = weighted[token] ** 2
            get = scores.get
            for name_id in ids[: common * 4]:
                scores[name_id] = get(name_id, 0.0) + weight
        for token in frequent:
            weight = weighted[token] ** 2
            for name_id in scores:
                if token in self.name_tokens[name_id]:
                    scores[name_id] += weight
        name_weight = self.name_weight
        ranked = sorted(
            ((n, s / (query_weight * name_weight[n])) for n, s in scores.items()),
            key=lambda item: -item[1],
        )
        return ranked[:limit]


_cache: OrderedDict[tuple[str, str, str], LexicalIndex] = OrderedDict()
_cache_lock = threading.Lock()
_CACHED_STORES = 6


def index_of(store: OntologyStore) -> LexicalIndex:
    """The lexical index of `store`, built on first use and kept while the release is unchanged."""
    info = store.info
    key = (str(store.path), info.source_sha256, info.imported_at.isoformat())
    with _cache_lock:
        index = _cache.get(key)
        if index is not None:
            _cache.move_to_end(key)
            return index
        index = LexicalIndex(store)
        _cache[key] = index
        while len(_cache) > _CACHED_STORES:
            _cache.popitem(last=False)
        return index
