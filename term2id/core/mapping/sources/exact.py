"""Exact source: the term's normalised key equals a label or synonym, or the cell holds an id."""

from __future__ import annotations

from term2id.core.candidates import Evidence, Proposal, Query
from term2id.core.curie import canonical_curie
from term2id.core.mapping.lexical_index import MAX_SCORED_CHARS, IndexedName, index_of
from term2id.core.normalize import normalize
from term2id.core.ontology.store import OntologyStore
from term2id.core.ontology.terms import name_order

# Among several terms matching one key, terms.name_order ranks them (the confidence prior for
# each kind of name lives in ranking.SCOPE_PRIOR).


def name_kind(name: IndexedName) -> str:
    return "label" if name.kind == "label" else (name.scope or "RELATED")


def describe_name(name: IndexedName) -> str:
    """'label' or 'EXACT synonym (layperson)': what kind of name matched."""
    if name.kind == "label":
        return "label"
    return f"{name.scope or 'RELATED'} synonym" + (f" ({name.type})" if name.type else "")


class ExactSource:
    """Normalised label, synonym or id match; the identifier typed in the cell is proposed as is."""

    name = "exact"

    def propose(self, query: Query, store: OntologyStore, limit: int) -> list[Proposal]:
        text = query.text.strip()
        curie = canonical_curie(text) if len(text) < 200 else None
        if curie is not None:
            # Checked by verification like any other proposal: it may be unknown or obsolete.
            return [
                Proposal(curie, Evidence(self.name, 1.0, 1, text, "identifier typed in the cell"))
            ]
        index = index_of(store)
        key = normalize(text[:MAX_SCORED_CHARS])
        found: dict[str, IndexedName] = {}
        for name_id in index.by_norm.get(key, ()):
            name = index.names[name_id]
            term = index.terms[name.term]
            best = found.get(term.curie)
            if best is None or name_order(name.scope) < name_order(best.scope):
                found[term.curie] = name
        ranked = sorted(
            found.items(),
            key=lambda item: (
                name_order(item[1].scope),
                index.terms[item[1].term].obsolete,
                -(index.terms[item[1].term].popularity or 0),
            ),
        )
        return [
            Proposal(
                curie,
                Evidence(
                    self.name, 1.0, rank, name.text,
                    f"normalised match of {describe_name(name)}", name_kind(name),
                ),
            )
            for rank, (curie, name) in enumerate(ranked[:limit], start=1)
        ]  # fmt: skip
