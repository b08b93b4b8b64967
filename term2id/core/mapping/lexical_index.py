"""An in-memory lexical index of one store: every name, its normalised key and its tokens.

Built once per store release (a second or two for GO) and shared by the exact and fuzzy sources
and by verification, so that mapping a term costs dictionary look-ups instead of SQL round trips.
The fuzzy source never scores every name: a token inverted index with IDF weights picks a few
dozen names that share rare words with the query ("blocking"), and only those are scored.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import weakref
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz

from term2id.core.normalize import normalize
from term2id.core.ontology.store import OntologyStore

log = logging.getLogger(__name__)

# Names longer than this are not useful to score; a query is cut to this length too.
MAX_SCORED_CHARS = 300
_OBSOLETE_PREFIX = "obsolete "
# Learning which words a store uses interchangeably (see _learn_word_associations).
ASSOCIATION_NAMES = 8  # names per term compared pairwise
ASSOCIATION_MIN_COUNT = 2
ASSOCIATION_MIN_STRENGTH = 0.1
ASSOCIATIONS_PER_WORD = 6
ASSOCIATION_DISCOUNT = 0.7
# Forms of one word ("mitochondrion" / "mitochondrial", "mandible" / "mandibular") block each
# other's names: words of at least STEM letters sharing all but their last three.
STEM = 6
DERIVED_DISCOUNT = 0.8
DERIVED_MAX_NAMES = 100


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
        self._member_vectors: dict[str, np.ndarray] = {}
        # Built with the index, not on the first typo: mapping times stay even.
        self._deletions = _deletion_index(self.vocabulary)
        self._by_stem: dict[str, list[str]] = {}
        for word in self.vocabulary:
            if len(word) >= STEM and word.isalpha():
                self._by_stem.setdefault(word[:STEM], []).append(word)
        self._derived: dict[str, list[str]] = {}
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
        # Sorted id arrays: blocking sums them with numpy and finds members by binary search.
        self.postings = {t: np.array(ids, dtype=np.int32) for t, ids in postings.items()}
        self.idf = {t: math.log(1 + count / len(ids)) for t, ids in postings.items()}
        self._default_idf = math.log(1 + count)
        self.name_weight = [
            math.sqrt(sum(self.idf.get(t, self._default_idf) ** 2 for t in tokens)) or 1.0
            for tokens in self.name_tokens
        ]
        self.inverse_name_weight = 1.0 / np.array(self.name_weight)
        self.vocabulary = list(postings)
        self.associations = self._learn_word_associations()

    def _learn_word_associations(self) -> dict[str, list[tuple[str, float]]]:
        """Words the ontology itself uses interchangeably, learnt from the names of each term.

        Two names of one term that differ in a few words ("Small ulna" / "Hypoplasia of the
        ulna", "outermost bone" / "distal phalanx") pair the words that differ. A word pair seen
        often enough, relative to how often the word differs at all, becomes an association that
        the blocking step adds to a query, weaker than the word itself. Learnt from the store
        being searched, so held-out synonyms never teach their own answer.
        """
        pairs: Counter[tuple[str, str]] = Counter()
        differing: Counter[str] = Counter()
        for term in self.terms:
            if term.obsolete or len(term.names) < 2:
                continue
            token_sets = [set(self.name_tokens[n]) for n in term.names[:ASSOCIATION_NAMES]]
            for i, first in enumerate(token_sets):
                for second in token_sets[i + 1 :]:
                    only_first, only_second = first - second, second - first
                    if not only_first or not only_second:
                        continue
                    if len(only_first) > 4 or len(only_second) > 4:
                        continue
                    differing.update(only_first)
                    differing.update(only_second)
                    for x in only_first:
                        for y in only_second:
                            pairs[x, y] += 1
                            pairs[y, x] += 1
        associations: dict[str, list[tuple[str, float]]] = {}
        for (x, y), count in pairs.items():
            if count < ASSOCIATION_MIN_COUNT or y not in self.postings:
                continue
            strength = count / differing[x]
            if strength >= ASSOCIATION_MIN_STRENGTH:
                associations.setdefault(x, []).append((y, strength))
        for found in associations.values():
            # Ties by word: pairs come out of sets, whose order changes from process to process,
            # and the words kept must not (the same term, mapped twice, gets the same answer).
            found.sort(key=lambda item: (-item[1], item[0]))
            del found[ASSOCIATIONS_PER_WORD:]
        return associations

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
        """Words of the index one edit away from `token` (a typo, an unseen inflection).

        A deletion index (each word under itself and each one-letter deletion of it) finds them
        by dictionary look-ups instead of comparing `token` with the whole vocabulary.
        """
        found = self._close_words.get(token)
        if found is not None:
            return found
        found = []
        if len(token) >= 4:
            seen: set[str] = set()
            for variant in (token, *_deletions_of(token)):
                seen.update(self._deletions.get(variant, ()))
            scored = ((word, fuzz.ratio(token, word) / 100) for word in seen)
            # Ties by word: `seen` is a set, whose order changes from process to process.
            found = sorted((w for w in scored if w[1] >= 0.8), key=lambda w: (-w[1], w[0]))[:3]
        if len(self._close_words) > 50_000:
            self._close_words.clear()
        self._close_words[token] = found
        return found

    def derived_words(self, token: str) -> list[str]:
        """Words of the index that are other forms of `token`: the same letters but for the
        last three of the shorter, at least STEM of them ("mitochondri-on" / "-al")."""
        found = self._derived.get(token)
        if found is None:
            found = []
            if len(token) >= STEM:
                for word in self._by_stem.get(token[:STEM], ()):
                    shared = os.path.commonprefix([token, word])
                    if word != token and len(shared) >= min(len(token), len(word)) - 3:
                        found.append(word)
            if len(self._derived) > 50_000:
                self._derived.clear()
            self._derived[token] = found
        return found

    def _members(self, token: str) -> np.ndarray:
        """A 0/1 vector over all names: does the name hold `token`? Kept for frequent words."""
        members = self._member_vectors.get(token)
        if members is None:
            members = np.zeros(len(self.names), dtype=bool)
            members[self.postings[token]] = True
            self._member_vectors[token] = members
        return members

    def blocked_names(
        self, tokens: list[str], limit: int, common: int = 2000, expand: bool = True
    ) -> list[tuple[int, float]]:
        """Names sharing words with `tokens`, by IDF-weighted cosine, best first (the blocking step).

        Words in more than `common` names ("abnormality", "of") only re-score names found through
        rarer words, so one query touches at most a few thousand postings; numpy does the sums.
        """
        weighted: dict[str, float] = {}
        for token in tokens:
            if token in self.postings:
                weighted[token] = max(weighted.get(token, 0.0), self.idf[token])
            else:
                for word, similarity in self.close_words(token):
                    weighted[word] = max(weighted.get(word, 0.0), self.idf[word] * similarity)
        if expand:
            for token in tokens:
                # other forms of a rare word: of a common one, the block has names enough
                if len(self.postings.get(token, ())) <= DERIVED_MAX_NAMES:
                    for word in self.derived_words(token):
                        if word not in weighted:
                            weighted[word] = self.idf[word] * DERIVED_DISCOUNT
                for word, strength in self.associations.get(token, ()):
                    if word not in weighted:
                        weighted[word] = self.idf[word] * strength * ASSOCIATION_DISCOUNT
        if not weighted:
            return []
        query_weight = math.sqrt(sum(self.idf.get(t, self._default_idf) ** 2 for t in tokens))
        ordered = sorted(weighted, key=lambda t: len(self.postings[t]))
        rare = [t for t in ordered if len(self.postings[t]) <= common] or ordered[:1]
        frequent = [t for t in ordered if t not in rare]
        arrays = [self.postings[t] for t in rare]
        ids = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
        weights = np.repeat(np.array([weighted[t] ** 2 for t in rare]), [len(a) for a in arrays])
        names, inverse = np.unique(ids, return_inverse=True)
        sums = np.bincount(inverse, weights=weights, minlength=len(names))
        for token in frequent:
            sums += self._members(token)[names] * weighted[token] ** 2
        sums *= self.inverse_name_weight[names] / query_weight
        top = np.argpartition(-sums, limit)[:limit] if len(names) > limit else np.arange(len(names))
        # Equal sums in name order (labels before synonyms): argpartition leaves ties in an
        # order that depends on every other name's sum.
        top = top[np.lexsort((names[top], -sums[top]))]
        return list(zip(names[top].tolist(), sums[top].tolist(), strict=True))


def _deletions_of(word: str) -> list[str]:
    return [word[:i] + word[i + 1 :] for i in range(len(word))]


def _deletion_index(vocabulary: list[str]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for word in vocabulary:
        if len(word) >= 3 and word.isalpha():
            for variant in (word, *_deletions_of(word)):
                index.setdefault(variant, []).append(word)
    return index


_cache: OrderedDict[tuple[str, str, str], LexicalIndex] = OrderedDict()
_cache_lock = threading.Lock()
_CACHED_STORES = 6


_by_store: weakref.WeakKeyDictionary[OntologyStore, LexicalIndex] = weakref.WeakKeyDictionary()


def index_of(store: OntologyStore) -> LexicalIndex:
    """The lexical index of `store`, built on first use and kept while the release is unchanged."""
    index = _by_store.get(store)
    if index is not None:
        return index
    info = store.info
    key = (str(store.path), info.source_sha256, info.imported_at.isoformat())
    with _cache_lock:
        index = _cache.get(key)
        if index is None:
            index = LexicalIndex(store)
            _cache[key] = index
            while len(_cache) > _CACHED_STORES:
                _cache.popitem(last=False)
        else:
            _cache.move_to_end(key)
        _by_store[store] = index
        return index
