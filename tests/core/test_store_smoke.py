from term2id.core.catalog import StoreCatalog


def test_tiny_store_resolves_alt_ids_and_obsolete_terms(tiny_catalog: StoreCatalog) -> None:
    store = tiny_catalog.open("tiny")
    found = store.lookup("TP:0000099")
    assert found is not None and found.via_alt_id and found.term.curie == "TP:0000003"
    old = store.lookup("tp:0000009")
    assert old is not None and old.obsolete and old.replacements == ("TP:0000003",)
