"""What changed between two releases of an ontology, as a curator re-checking old mappings needs it."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from term2id.core.exports.sheet_writer import atomic_output, neutralise
from term2id.core.ontology.store import OntologyStore


@dataclass(frozen=True, slots=True)
class TermChange:
    curie: str
    kind: str  # "obsoleted", "merged", "relabelled", "added", "removed"
    old_label: str
    new_label: str | None = None
    replaced_by: tuple[str, ...] = ()
    consider: tuple[str, ...] = ()
    merged_into: str | None = None  # for "merged": the primary id that now holds this id

    def describe(self) -> str:
        if self.kind == "obsoleted":
            if self.replaced_by:
                return "replaced by " + ", ".join(self.replaced_by)
            if self.consider:
                return "obsolete; consider " + ", ".join(self.consider)
            return "obsolete, no replacement given"
        if self.kind == "merged":
            return f"now a secondary id of {self.merged_into} ({self.new_label})"
        if self.kind == "relabelled":
            return f"now {self.new_label!r}"
        if self.kind == "added":
            return f"added: {self.new_label}"
        return "absent from the new release"


@dataclass(slots=True)
class ReleaseDiff:
    old: str
    new: str
    obsoleted: list[TermChange] = field(default_factory=list)
    merged: list[TermChange] = field(default_factory=list)
    relabelled: list[TermChange] = field(default_factory=list)
    added: list[TermChange] = field(default_factory=list)
    removed: list[TermChange] = field(default_factory=list)

    def all_changes(self) -> list[TermChange]:
        return [*self.obsoleted, *self.merged, *self.relabelled, *self.added, *self.removed]

    def write_tsv(self, path: Path, inputs: Sequence[Path | str] = ()) -> None:
        """Every change as TSV. Written whole or not at all, never over one of `inputs`; cells
        that a spreadsheet would run as formulas (labels come from the files) are quoted."""
        with (
            atomic_output(path, *inputs) as temporary,
            temporary.open("w", encoding="utf-8", newline="") as handle,
        ):
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(
                ["id", "change", "old_label", "new_label", "replaced_by", "consider", "merged_into"]
            )
            for c in self.all_changes():
                writer.writerow(
                    [neutralise(cell) for cell in (
                        c.curie, c.kind, c.old_label, c.new_label or "", "|".join(c.replaced_by),
                        "|".join(c.consider), c.merged_into or "")]
                )  # fmt: skip


def diff_stores(old: OntologyStore, new: OntologyStore) -> ReleaseDiff:
    """Compare two stores of the same ontology: every id of `old` and what became of it."""
    diff = ReleaseDiff(old=old.release, new=new.release)
    old_terms = {t.curie: t for t in old.terms()}
    new_labels = new.labels()
    new_status = new.obsolete_status()
    new_alt = new.alt_id_map()
    new_terms_needed: set[str] = set()
    for curie, term in old_terms.items():
        if curie in new_labels:
            obsolete, replaced_by = new_status[curie]
            if obsolete and not term.obsolete:
                new_terms_needed.add(curie)
            elif not obsolete and new_labels[curie] != term.label:
                diff.relabelled.append(
                    TermChange(curie, "relabelled", term.label, new_labels[curie])
                )
        elif curie in new_alt:
            primary = new_alt[curie]
            diff.merged.append(
                TermChange(
                    curie, "merged", term.label, new_labels.get(primary), merged_into=primary
                )
            )
        else:
            diff.removed.append(TermChange(curie, "removed", term.label))
    for curie in sorted(new_terms_needed):
        now = new.term(curie)
        assert now is not None
        diff.obsoleted.append(
            TermChange(
                curie, "obsoleted", old_terms[curie].label, now.label, now.replaced_by, now.consider
            )
        )
    old_alt = old.alt_id_map()
    for curie, label in new_labels.items():
        if curie not in old_terms and curie not in old_alt and not new_status[curie][0]:
            diff.added.append(TermChange(curie, "added", "", label))
    return diff
