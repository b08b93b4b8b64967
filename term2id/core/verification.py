"""Verification: every identifier any source proposes is checked against the stores.

One function, `verify_id`, decides the Verdict of a proposed id for a term:

- verified: the id (or the secondary id it resolves to) is in a requested store, the term is not
  obsolete, and its label or one of its synonyms agrees with the term (normalised names at least
  AGREEMENT_THRESHOLD alike), or the cell holds the id itself;
- label_mismatch: the id exists but names something else;
- obsolete: the id exists but is obsolete; its replaced_by ids are returned so the mapper can
  offer them as further candidates;
- unknown_id: no requested store has it;
- wrong_ontology: the id belongs to another store than the ones asked for.

When every name of the id contradicts the term in a word that tells siblings apart ("3rd" where
the term says "4th", "short" where it says "increased"), `contrast` says which word, and ranking
lowers the candidate (CONTRASTING_WORDS).

Labels always come from the store, never from the source that proposed the id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from term2id.core.candidates import Verdict
from term2id.core.curie import canonical_curie, prefix_of
from term2id.core.normalize import normalize
from term2id.core.sources.index import MAX_SCORED_CHARS, IndexedTerm, LexicalIndex, index_of
from term2id.core.store import OntologyStore

# Normalised names this alike (rapidfuzz ratio, 0..1) count as "the same term".
AGREEMENT_THRESHOLD = 0.8

# Finds an id in stores other than the requested ones: (store name, label) or None.
ElsewhereLookup = Callable[[str], tuple[str, str] | None]


@dataclass(frozen=True, slots=True)
class Verification:
    proposed: str  # the id as the source wrote it
    curie: str  # the primary id (a secondary id resolved), or the proposed id when unknown
    verdict: Verdict
    ontology: str  # the store holding the id; "" when no store has it
    label: str | None = None
    replaced_by: tuple[str, ...] = ()
    agreement: float = 0.0  # how alike the term and the best of the id's names are, in [0, 1]
    agreeing_name: str | None = None  # that name
    popularity_prior: float = 0.0  # in [0, 1]
    contrast: str = ""  # a word that sets every name of the id apart from the term, if any
    note: str = ""  # "HP:0001 is a secondary id of HP:0002", "obsolete; replaced by ..."


@lru_cache(maxsize=4096)
def _key_of(term_text: str) -> str:
    return normalize(term_text[:MAX_SCORED_CHARS])


@lru_cache(maxsize=4096)
def _id_in_cell(term_text: str) -> str | None:
    text = term_text.strip()
    return canonical_curie(text) if len(text) < 200 else None


# Words that tell siblings apart: within one group, a name using a word of one class where the
# term uses a word of another ("4th" / "3rd", "increased" / "short", "left" / "right") names a
# different term, however alike the rest of the words are. Normalised forms (normalize.py).
CONTRASTING_WORDS: tuple[tuple[frozenset[str], ...], ...] = tuple(
    tuple(frozenset(words.split()) for words in group)
    for group in (
        (
            "increased elevated high raised enlarged large long tall excessive excess overgrowth",
            "decreased reduced low diminished small short deficient deficiency lack",
        ),
        ("left", "right"),
        ("upper superior", "lower inferior"),
        ("proximal innermost", "distal outermost"),
        ("anterior", "posterior"),
        ("1st first thumb hallux", "2nd second", "3rd third", "4th fourth", "5th fifth pinky"),
        ("male", "female"),
        ("primary", "secondary", "tertiary"),
        ("acute", "chronic"),
        ("complete total", "partial incomplete"),
        ("generalized", "focal"),
        ("mild", "moderate", "severe", "profound"),
    )
)
_WORD_CLASSES: dict[str, list[tuple[int, int]]] = {}
for _group, _classes in enumerate(CONTRASTING_WORDS):
    for _class, _words in enumerate(_classes):
        for _word in _words:
            _WORD_CLASSES.setdefault(_word, []).append((_group, _class))


def _classes_of(tokens: Sequence[str]) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    for token in tokens:
        for group, word_class in _WORD_CLASSES.get(token, ()):
            found.setdefault(group, set()).add(word_class)
    return found


def _contrast(term_classes: dict[int, set[int]], tokens: Sequence[str]) -> str:
    """'' or what sets a name apart from the term: "'3rd' where the term says '4th'"."""
    for group, name_classes in _classes_of(tokens).items():
        ours = term_classes.get(group)
        if ours and name_classes - ours and ours - name_classes:
            theirs = next(t for t in tokens if any(g == group for g, _ in _WORD_CLASSES.get(t, ())))
            return f"its names say {theirs!r} where the term does not"
    return ""


def contrast(term_key: str, index: LexicalIndex, term: IndexedTerm) -> str:
    """Why every name of `term` contradicts the term in a word that tells siblings apart, or ''.

    One name free of contradiction is enough to clear the term.
    """
    term_classes = _classes_of(term_key.split())
    if not term_classes:
        return ""
    found = ""
    for name_id in term.names:
        why = _contrast(term_classes, index.name_tokens[name_id])
        if not why:
            return ""
        found = found or why
    return found


def name_agreement(
    term_key: str, index: LexicalIndex, term: IndexedTerm
) -> tuple[float, str | None]:
    """How alike a normalised term is to the best of `term`'s names, and which name that is."""
    best, best_name = 0.0, None
    for name_id in term.names:
        name = index.names[name_id]
        if name.norm == term_key:
            return 1.0, name.text
        score = max(fuzz.ratio(term_key, name.norm), fuzz.token_sort_ratio(term_key, name.norm))
        if score > best:
            best, best_name = score, name.text
    return best / 100, best_name


def verify_id(
    proposed: str,
    term_text: str,
    stores: Sequence[OntologyStore],
    elsewhere: ElsewhereLookup | None = None,
    replacement_of: str | None = None,
) -> Verification:
    """Check `proposed` for `term_text` against the requested `stores` (see the module docstring).

    `replacement_of` names the obsolete id that `proposed` replaces; the note says so. A
    replacement is judged like any other id: the ontology says what replaces the obsolete term,
    not that the replacement names what the curator wrote, so its names must agree with the term.
    """
    indexes = [index_of(store) for store in stores]
    # Sources usually propose ids exactly as the store spells them: skip parsing then.
    if any(proposed in index.by_curie for index in indexes):
        curie = proposed
    else:
        curie = canonical_curie(proposed) or proposed.strip()
    cell_id = _id_in_cell(term_text)
    for store, index in zip(stores, indexes, strict=True):
        found = index.resolve(curie)
        if found is None:
            continue
        term, via_alt = found
        notes = [f"{curie} is a secondary id of {term.curie}"] if via_alt else []
        typed_in_cell = cell_id is not None and cell_id in (curie, term.curie)
        if typed_in_cell:
            agreement, agreeing = 1.0, term.label
        else:
            agreement, agreeing = name_agreement(_key_of(term_text), index, term)
        contrasted = (
            "" if typed_in_cell or agreement == 1.0 else contrast(_key_of(term_text), index, term)
        )
        if term.obsolete:
            verdict = Verdict.OBSOLETE
            if term.replaced_by:
                notes.append(f"obsolete; replaced by {', '.join(term.replaced_by)}")
            elif term.consider:
                notes.append(f"obsolete; consider {', '.join(term.consider)}")
            else:
                notes.append("obsolete; no replacement given")
        elif typed_in_cell or agreement >= AGREEMENT_THRESHOLD:
            verdict = Verdict.VERIFIED
        else:
            verdict = Verdict.LABEL_MISMATCH
            notes.append(f"names something else: {term.label!r}")
        if contrasted:
            notes.append(contrasted)
        if replacement_of is not None:
            notes.append(f"replaces obsolete {replacement_of}")
        return Verification(
            proposed=proposed,
            curie=term.curie,
            verdict=verdict,
            ontology=store.name,
            label=term.label,
            replaced_by=term.replaced_by if term.obsolete else (),
            agreement=agreement,
            agreeing_name=agreeing,
            popularity_prior=index.popularity_prior(term),
            contrast=contrasted,
            note="; ".join(notes),
        )
    requested = ", ".join(s.name for s in stores)
    other = elsewhere(curie) if elsewhere is not None else None
    if other is not None:
        store_name, label = other
        return Verification(
            proposed, curie, Verdict.WRONG_ONTOLOGY, store_name, label,
            note=f"an id of {store_name}, not of {requested}",
        )  # fmt: skip
    prefix = prefix_of(curie).upper()
    known_prefixes = {p.upper() for s in stores for p in s.prefixes}
    if ":" in curie and prefix not in known_prefixes:
        return Verification(
            proposed, curie, Verdict.WRONG_ONTOLOGY, "",
            note=f"prefix {prefix} is not used by {requested} ({', '.join(sorted(known_prefixes))})",
        )  # fmt: skip
    return Verification(proposed, curie, Verdict.UNKNOWN_ID, "", note=f"not in {requested}")
