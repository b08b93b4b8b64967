"""One verification function decides the verdict of every proposed id, from any source."""

from __future__ import annotations

from term2id.core.candidates import Verdict
from term2id.core.mapping.verification import verify_id
from term2id.core.ontology.catalog import StoreCatalog


def test_an_existing_id_whose_name_agrees_is_verified(tiny_catalog: StoreCatalog) -> None:
    store = tiny_catalog.open("tiny")
    checked = verify_id("TP:0000003", "Epileptic seizures", [store])
    assert checked.verdict is Verdict.VERIFIED
    assert checked.label == "Seizure" and checked.ontology == "tiny"
    assert checked.agreeing_name == "Epileptic seizure" and checked.agreement == 1.0


def test_an_existing_id_that_names_something_else_is_a_mismatch(
    tiny_catalog: StoreCatalog,
) -> None:
    checked = verify_id("TP:0000005", "Seizure", [tiny_catalog.open("tiny")])
    assert checked.verdict is Verdict.LABEL_MISMATCH
    assert checked.label == "Anemia"  # from the store
    assert "names something else" in checked.note


def test_an_obsolete_id_carries_its_replacements(tiny_catalog: StoreCatalog) -> None:
    checked = verify_id("TP:0000009", "Fits", [tiny_catalog.open("tiny")])
    assert checked.verdict is Verdict.OBSOLETE
    assert checked.replaced_by == ("TP:0000003",)
    assert "replaced by TP:0000003" in checked.note
    no_replacement = verify_id("TP:0000010", "Mental deficiency", [tiny_catalog.open("tiny")])
    assert (
        no_replacement.verdict is Verdict.OBSOLETE and "consider TP:0000008" in no_replacement.note
    )


def test_a_replacement_is_verified_like_any_other_id(tiny_catalog: StoreCatalog) -> None:
    store = tiny_catalog.open("tiny")
    agrees = verify_id("TP:0000003", "Epileptic seizures", [store], replacement_of="TP:0000009")
    assert agrees.verdict is Verdict.VERIFIED
    assert "replaces obsolete TP:0000009" in agrees.note
    # The ontology names the replacement of the obsolete term, not of whatever the cell says.
    differs = verify_id("TP:0000003", "Fits", [store], replacement_of="TP:0000009")
    assert differs.verdict is Verdict.LABEL_MISMATCH
    assert "names something else: 'Seizure'" in differs.note
    assert "replaces obsolete TP:0000009" in differs.note


def test_a_secondary_id_resolves_to_its_primary(tiny_catalog: StoreCatalog) -> None:
    checked = verify_id("tp_0000099", "Seizure", [tiny_catalog.open("tiny")])
    assert checked.curie == "TP:0000003" and checked.verdict is Verdict.VERIFIED
    assert "TP:0000099 is a secondary id of TP:0000003" in checked.note


def test_an_unknown_id_with_the_store_s_prefix(tiny_catalog: StoreCatalog) -> None:
    checked = verify_id("TP:7654321", "Seizure", [tiny_catalog.open("tiny")])
    assert checked.verdict is Verdict.UNKNOWN_ID and checked.label is None


def test_an_id_of_another_store_or_prefix_is_the_wrong_ontology(
    tiny_catalog: StoreCatalog,
) -> None:
    tiny = tiny_catalog.open("tiny")
    elsewhere = {"HGNC:11998": ("genes", "TP53")}.get
    other_store = verify_id("HGNC:11998", "TP53", [tiny], elsewhere)
    assert other_store.verdict is Verdict.WRONG_ONTOLOGY
    assert other_store.ontology == "genes" and other_store.label == "TP53"
    foreign_prefix = verify_id("GO:0005739", "mitochondrion", [tiny])
    assert foreign_prefix.verdict is Verdict.WRONG_ONTOLOGY
    assert "prefix GO is not used by tiny" in foreign_prefix.note


def test_an_id_typed_in_the_cell_is_compared_with_the_row_s_context(
    tiny_catalog: StoreCatalog,
) -> None:
    store = tiny_catalog.open("tiny")
    # Nothing to compare the id's names with: it is not verified, and the note says why.
    alone = verify_id("TP:0000003", "TP:0000003", [store])
    assert alone.verdict is Verdict.UNCHECKED
    assert "no context to compare its names with" in alone.note
    agrees = verify_id("TP:0000003", "TP:0000003", [store], context="epileptic seizures")
    assert agrees.verdict is Verdict.VERIFIED
    differs = verify_id("TP:0000003", "TP:0000003", [store], context="anaemia")
    assert differs.verdict is Verdict.LABEL_MISMATCH
    assert "compared with the context 'anaemia'" in differs.note


def test_several_requested_stores_are_all_searched(tiny_catalog: StoreCatalog) -> None:
    stores = [tiny_catalog.open("tiny"), tiny_catalog.open("genes")]
    checked = verify_id("HGNC:11998", "tumor protein p53", stores)
    assert checked.verdict is Verdict.VERIFIED and checked.ontology == "genes"
