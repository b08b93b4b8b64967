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
    note: str = ""  # "HP:0001 is a secondary id of HP:0002", "obsolete; replaced by ..."


@lru_cache(maxsize=4096)
def _key_of(term_text: str) -> str:
    return normalize(term_text[:MAX_SCORED_CHARS])


@lru_cache(maxsize=4096)
def _id_in_cell(term_text: str) -> str | None:
    text = term_text.strip()
    return canonical_curie(text) if len(text) < 200 else None


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
