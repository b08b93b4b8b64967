"""Verification: every identifier any source proposes is checked against the stores.

One function, `verify_id`, decides the Verdict of a proposed id for a term, and every path that
puts an id on a row goes through it: the mapper's candidates and replacements, an ontology-search
hit a curator picks, an id typed in a cell, an export, a session re-checked against a release.

- verified: the id (or the secondary id it resolves to) is in a requested store, the term is not
  obsolete, and one of its names says what the term says (`name_rules.compare_names`): the same
  words after normalisation, a spelling or typing variant of them, a reordering, or a known
  abbreviation;
- narrower / broader: its closest name says what the term says plus a qualifier ("Extra ring
  finger" for "extra finger") / less one the term has ("Cleft lip" for "bilateral cleft lip");
- contradicts: its closest name says the opposite in a word or an affix ("hypo" where the term
  says "hyper", "right" for "left", "absent" for "present"); `contrast` says which;
- label_mismatch: the id exists but names something else;
- unchecked: the cell holds the id itself and the row has no context its names could be
  compared with (with context, the context is the text compared);
- obsolete: the id exists but is obsolete; its replaced_by ids are returned so the mapper can
  offer them as further candidates;
- unknown_id: no requested store has it;
- wrong_ontology: the id belongs to another store than the ones asked for.

`agreement` (how alike the term and the best name are) stays a score for ranking; it no longer
decides the verdict: Macrocephaly and Microcephaly are 0.92 alike and opposite.

Labels always come from the store, never from the source that proposed the id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from term2id.core.candidates import (
    Candidate,
    Evidence,
    MappingResult,
    MappingStatus,
    Verdict,
    status_of_verdict,
)
from term2id.core.curie import canonical_curie, prefix_of
from term2id.core.mapping.lexical_index import MAX_SCORED_CHARS, index_of
from term2id.core.mapping.name_rules import name_agreement, relation
from term2id.core.normalize import normalize
from term2id.core.ontology.store import OntologyStore

# Finds an id in stores other than the requested ones: (store name, label) or None.
ElsewhereLookup = Callable[[str], tuple[str, str] | None]
# Why a verified name as likely as the threshold waits for a curator (the mapper notes it on the
# best candidate; a re-check keeps it while the name is still verified).
REWORDED_NOTE = "reworded: the term is neither its label nor an exact synonym, so it waits for you"


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
    contrast: str = ""  # "hypo/hyper": the name's word and the term's, when they contradict
    note: str = ""  # "HP:0001 is a secondary id of HP:0002", "obsolete; replaced by ..."
    reason: str = ""  # why the verdict is not verified, in a few words ("adds 'ring'")


@lru_cache(maxsize=4096)
def _key_of(term_text: str) -> str:
    return normalize(term_text[:MAX_SCORED_CHARS])


@lru_cache(maxsize=4096)
def _id_in_cell(term_text: str) -> str | None:
    text = term_text.strip()
    return canonical_curie(text) if len(text) < 200 else None


def verify_id(
    proposed: str,
    term_text: str,
    stores: Sequence[OntologyStore],
    elsewhere: ElsewhereLookup | None = None,
    replacement_of: str | None = None,
    context: str | None = None,
    compare: bool = True,
) -> Verification:
    """Check `proposed` for `term_text` against the requested `stores` (see the module docstring).

    `replacement_of` names the obsolete id that `proposed` replaces; the note says so. A
    replacement is judged like any other id: the ontology says what replaces the obsolete term,
    not that the replacement names what the curator wrote, so its names must agree with the term.
    `context` is the row's context text: when the cell holds the id itself, the id's names are
    compared with it (without context the verdict is unchecked).

    With `compare=False` the names are not compared with the term (most of the time this takes):
    a live term's verdict is then UNCHECKED, and its score (`ranking.score_of`) is at least what
    the full check would give. The mapper uses it to check in full only the candidates that can
    still be shown; such a Verification never reaches a curator.
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
        compared = term_text
        if typed_in_cell:
            compared = (context or "").strip()
            notes.append(
                f"the cell holds the id; its names compared with the context {compared!r}"
                if compared
                else "the cell holds the id; no context to compare its names with"
            )
        agreement, agreeing = (
            name_agreement(_key_of(compared), index, term) if compared else (1.0, term.label)
        )
        if typed_in_cell and not compared:
            meaning, why = Verdict.UNCHECKED, "no context to compare with"
        elif not compare:
            meaning, why = Verdict.UNCHECKED, "names not compared yet"
        else:
            meaning, why, closest = relation(_key_of(compared), index, term, compared)
        if term.obsolete:
            verdict = Verdict.OBSOLETE
            if term.replaced_by:
                notes.append(f"obsolete; replaced by {', '.join(term.replaced_by)}")
            elif term.consider:
                notes.append(f"obsolete; consider {', '.join(term.consider)}")
            else:
                notes.append("obsolete; no replacement given")
            why = "obsolete"
        else:
            verdict = meaning
            if verdict is Verdict.LABEL_MISMATCH:
                notes.append(f"names something else: {term.label!r}" + (f" ({why})" if why else ""))
            elif verdict is Verdict.CONTRADICTS:
                theirs, ours = why.split("/")
                notes.append(
                    f"contradicts the term: {closest!r} says {theirs!r} where it says {ours!r}"
                )
            elif verdict in (Verdict.NARROWER, Verdict.BROADER):
                notes.append(f"{verdict.value} than the term: {closest!r} {why}")
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
            contrast=why if meaning is Verdict.CONTRADICTS else "",
            note="; ".join(notes),
            reason="" if verdict is Verdict.VERIFIED else why,
        )
    requested = ", ".join(s.name for s in stores)
    other = elsewhere(curie) if elsewhere is not None else None
    if other is not None:
        store_name, label = other
        return Verification(
            proposed, curie, Verdict.WRONG_ONTOLOGY, store_name, label,
            note=f"an id of {store_name}, not of {requested}", reason=f"an id of {store_name}",
        )  # fmt: skip
    prefix = prefix_of(curie).upper()
    known_prefixes = {p.upper() for s in stores for p in s.prefixes}
    if ":" in curie and prefix not in known_prefixes:
        return Verification(
            proposed, curie, Verdict.WRONG_ONTOLOGY, "",
            note=f"prefix {prefix} is not used by {requested} ({', '.join(sorted(known_prefixes))})",
            reason=f"a {prefix} id",
        )  # fmt: skip
    return Verification(
        proposed, curie, Verdict.UNKNOWN_ID, "", note=f"not in {requested}", reason="not found"
    )


def recheck_result(
    result: MappingResult,
    stores: Sequence[OntologyStore],
    elsewhere: ElsewhereLookup | None = None,
    decided: str | None = None,
    decided_label: str | None = None,
    every_candidate: bool = False,
) -> MappingResult:
    """`result` with its verdicts decided again by `verify_id`, as an export or a reopened
    session needs them: the best candidate (every one with `every_candidate`), or the id a
    curator `decided` on, which then comes first (a candidate, or a manual one when no source
    proposed it).

    A decided id's row gets the status of its verdict (verified when it is). An undecided row
    keeps its status while its best candidate's verdict stands, and takes the status of the new
    verdict otherwise. Without `stores` (the store is not installed) verdicts cannot be checked:
    a decided id that is not a known candidate is then unchecked.
    """
    query = result.query

    def rechecked(candidate: Candidate) -> Candidate:
        if not stores:
            return candidate
        checked = verify_id(candidate.curie, query.text, stores, elsewhere, context=query.context)
        return replace(
            candidate,
            curie=checked.curie,
            label=checked.label if checked.label is not None else candidate.label,
            ontology=checked.ontology or candidate.ontology,
            verdict=checked.verdict,
            reason=checked.reason,
            note=_merged_note(candidate.note, checked.note, checked.verdict),
            proven=candidate.proven and checked.verdict is Verdict.VERIFIED,
        )

    candidates = list(result.candidates)
    if decided is not None:
        at = next((i for i, c in enumerate(candidates) if c.curie == decided), None)
        if at is None:
            chosen = Candidate(
                curie=decided,
                label=decided_label,
                ontology=query.ontology,
                verdict=Verdict.UNCHECKED,
                confidence=1.0,
                evidence=(Evidence("manual", 1.0, 1, decided_label, "chosen by the curator"),),
                note="" if stores else f"not checked: no store {query.ontology} installed",
                reason="" if stores else "store not installed",
            )
        else:
            chosen = candidates.pop(at)
        chosen = rechecked(chosen)
        if REWORDED_NOTE in chosen.note:  # a curator looked: it waits no more
            parts = [p for p in chosen.note.split("; ") if p != REWORDED_NOTE]
            chosen = replace(chosen, note="; ".join(parts))
        others = [rechecked(c) for c in candidates] if every_candidate else candidates
        status = (
            MappingStatus.VERIFIED
            if chosen.verdict is Verdict.VERIFIED
            else status_of_verdict(chosen.verdict)
        )
        return replace(result, candidates=(chosen, *others), status=status)
    if not candidates or not stores:
        return result
    if every_candidate:
        candidates = [rechecked(c) for c in candidates]
    else:
        candidates[0] = rechecked(candidates[0])
    best, before = candidates[0], result.candidates[0]
    status = result.status
    if best.verdict is not before.verdict:
        status = (
            MappingStatus.NEEDS_REVIEW
            if best.verdict is Verdict.VERIFIED
            else status_of_verdict(best.verdict)
        )
    return replace(result, candidates=tuple(candidates), status=status)


def _merged_note(before: str, now: str, verdict: Verdict) -> str:
    """The verdict's note in place of the old one; the mapper's own notes kept (ambiguity; why a
    reworded name waits, while it is still verified)."""
    kept = [
        part
        for part in before.split("; ")
        if part.startswith("ambiguous") or (part == REWORDED_NOTE and verdict is Verdict.VERIFIED)
    ]
    return "; ".join(filter(None, [now, *kept]))
