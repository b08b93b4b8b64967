"""The ontology store: queries by id and by name, metadata, atomic builds, schema versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from term2id.core.errors import OntologyFileError, SchemaVersionError, StoreNotFoundError
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.store import OntologyStore

DATA = Path(__file__).parents[1] / "data"


def test_lookup_by_id_resolves_alt_ids_and_reports_replacements(tiny_store: OntologyStore) -> None:
    found = tiny_store.lookup("TP:0000099")
    assert found is not None and found.via_alt_id and found.term.curie == "TP:0000003"
    for spelling in ("tp:0000009", "TP_0000009", "http://purl.obolibrary.org/obo/TP_0000009"):
        old = tiny_store.lookup(spelling)
        assert old is not None and old.obsolete and old.replacements == ("TP:0000003",), spelling
    assert tiny_store.lookup("TP:7777777") is None


def test_exact_lookup_folds_spelling_plurals_and_greek(tiny_store: OntologyStore) -> None:
    assert [m.curie for m in tiny_store.find_exact("Anaemia")] == ["TP:0000005"]
    assert [m.curie for m in tiny_store.find_exact("seizures")] == ["TP:0000003"]
    assert [m.curie for m in tiny_store.find_exact("TGF-beta receptor defect")] == ["TP:0000012"]
    [match] = tiny_store.find_exact("OEDEMA")
    assert (match.curie, match.label, match.kind, match.synonym_type) == (
        "TP:0000006",
        "Edema",
        "label",
        None,
    )
    assert tiny_store.find_exact("fits") == []  # obsolete terms are left out unless asked for
    assert [m.curie for m in tiny_store.find_exact("obsolete fits", include_obsolete=True)] == [
        "TP:0000009"
    ]


def test_search_ranks_the_closest_name_first(tiny_store: OntologyStore) -> None:
    results = tiny_store.search("seizure")
    assert [m.curie for m in results[:2]] == ["TP:0000003", "TP:0000004"]
    assert tiny_store.search("lack coordination")[0].curie == "TP:0000011"
    assert tiny_store.search("zzzz") == []


def test_parents_and_children(tiny_store: OntologyStore) -> None:
    assert [t.curie for t in tiny_store.parents("TP:0000004")] == ["TP:0000003"]
    children = {t.curie for t in tiny_store.children("TP:0000002")}
    assert children == {"TP:0000003", "TP:0000008", "TP:0000011"}


def test_store_records_its_release_and_source(tiny_store: OntologyStore) -> None:
    info = tiny_store.info
    assert info.name == "tiny" and info.ontology_id == "tiny"
    assert info.data_version == "tiny/releases/2024-01-01"
    assert info.term_count == 12 and info.obsolete_count == 2
    assert info.source_path.endswith("tiny.obo") and len(info.source_sha256) == 64
    assert info.prefixes == ("TP",)


def test_hgnc_symbol_and_name_resolve_to_the_same_gene(tiny_catalog: StoreCatalog) -> None:
    genes = tiny_catalog.open("genes")
    assert [m.curie for m in genes.find_exact("TP53")] == ["HGNC:11998"]
    assert [m.curie for m in genes.find_exact("tumor protein p53")] == ["HGNC:11998"]
    assert genes.search("tumor protein p53")[0].curie == "HGNC:11998"


def test_failed_import_leaves_the_existing_store_untouched(tiny_catalog: StoreCatalog) -> None:
    path = tiny_catalog.path_of("tiny")
    before = path.read_bytes()
    for bad in ("truncated.obo", "duplicate_ids.obo", "empty.obo"):
        with pytest.raises(OntologyFileError):
            tiny_catalog.import_file(DATA / bad, "tiny")
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    assert tiny_catalog.open("tiny").term("TP:0000003").label == "Seizure"


def test_store_from_a_newer_schema_is_refused(tiny_catalog: StoreCatalog) -> None:
    path = tiny_catalog.path_of("tiny")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaVersionError, match="newer version of term2id"):
        OntologyStore(path)
    with pytest.raises(SchemaVersionError):
        tiny_catalog.import_file(DATA / "tiny.obo", "tiny")  # never overwrite what we cannot read


def test_unknown_store_names_list_the_available_ones(tiny_catalog: StoreCatalog) -> None:
    with pytest.raises(StoreNotFoundError, match="genes, hp, tiny"):
        tiny_catalog.open("go")


def test_embedded_hpo_is_built_on_first_use_and_reused(hpo_catalog: StoreCatalog) -> None:
    store = hpo_catalog.open("hp")
    info = store.info
    assert info.data_version == "hp/releases/2025-01-16"
    assert info.term_count > 19000
    seizure = store.term("HP:0001250")
    assert seizure.label == "Seizure" and seizure.popularity and seizure.popularity > 1000
    mtime = hpo_catalog.path_of("hp").stat().st_mtime_ns
    assert StoreCatalog(hpo_catalog.data_dir).open("hp").term("HP:0001250") == seizure
    assert hpo_catalog.path_of("hp").stat().st_mtime_ns == mtime
