"""Reading ontology files: every supported format, and every kind of bad input with a clear message."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from term2id.core.errors import OntologyFileError
from term2id.core.ontology.formats import read_ontology_file

DATA = Path(__file__).parents[1] / "data"


def test_obo_records_carry_everything_a_curator_needs() -> None:
    parsed = read_ontology_file(DATA / "tiny.obo")
    assert parsed.source_format == "obo"
    assert parsed.data_version == "tiny/releases/2024-01-01"
    assert parsed.ontology_id == "tiny"
    seizure = next(r for r in parsed.records if r.curie == "TP:0000003")
    assert seizure.label == "Seizure"
    assert seizure.definition == "An intermittent abnormality of nervous system physiology."
    assert ("Epilepsy", "RELATED", "layperson") in seizure.synonyms
    assert seizure.alt_ids == ["TP:0000099"]
    assert seizure.parents == ["TP:0000002"]
    assert seizure.xrefs == ["UMLS:C0036572"]
    fits = next(r for r in parsed.records if r.curie == "TP:0000009")
    assert fits.obsolete and fits.replaced_by == ["TP:0000003"]
    deficiency = next(r for r in parsed.records if r.curie == "TP:0000010")
    assert deficiency.consider == ["TP:0000008"]


def test_gzipped_obo_reads_like_plain(tmp_path: Path) -> None:
    gz = tmp_path / "tiny.obo.gz"
    gz.write_bytes(gzip.compress((DATA / "tiny.obo").read_bytes()))
    plain, packed = read_ontology_file(DATA / "tiny.obo"), read_ontology_file(gz)
    assert [r.curie for r in packed.records] == [r.curie for r in plain.records]


def test_owl_and_obo_json_are_read_through_pronto() -> None:
    owl = read_ontology_file(DATA / "tiny.owl")
    assert owl.source_format == "owl"
    by_id = {r.curie: r for r in owl.records}
    assert by_id["TP:0000003"].label == "Seizure"
    assert ("Seizures", "EXACT", None) in by_id["TP:0000003"].synonyms
    assert by_id["TP:0000009"].obsolete and by_id["TP:0000009"].replaced_by == ["TP:0000003"]
    obojson = read_ontology_file(DATA / "tiny.json")
    assert obojson.source_format == "json"
    by_id = {r.curie: r for r in obojson.records}
    assert by_id["TP:0000005"].synonyms == [("Anaemia", "EXACT", None)]
    assert by_id["TP:0000003"].alt_ids == ["TP:0000099"]


def test_hgnc_genes_become_terms_named_by_symbol() -> None:
    parsed = read_ontology_file(DATA / "hgnc_tiny.tsv")
    assert parsed.source_format == "hgnc"
    tp53 = next(r for r in parsed.records if r.curie == "HGNC:11998")
    assert tp53.label == "TP53"
    assert ("tumor protein p53", "EXACT", "gene_name") in tp53.synonyms
    assert ("LFS1", "EXACT", "alias_symbol") in tp53.synonyms
    brca1 = next(r for r in parsed.records if r.curie == "HGNC:1100")
    assert ("BRCC1", "RELATED", "previous_symbol") in brca1.synonyms
    withdrawn = next(r for r in parsed.records if r.curie == "HGNC:99999")
    assert withdrawn.obsolete


@pytest.mark.parametrize(
    ("fixture", "line", "words"),
    [
        ("not_an_ontology.obo", None, "not an ontology file"),
        ("plain_text.txt", None, "not an ontology file"),
        ("truncated.obo", 31, "truncated"),
        ("truncated.obo.gz", None, "truncated"),
        ("invalid_utf8.obo", 44, "invalid UTF-8"),
        ("duplicate_ids.obo", 43, "duplicate term id TP:0000005 (first defined at line 36)"),
        ("term_without_name.obo", 75, "term TP:0000011 has no name"),
        ("hgnc_missing_columns.tsv", 1, "missing column(s) status, alias_symbol, prev_symbol"),
        ("empty.obo", None, "empty"),
        ("does_not_exist.obo", None, "no such file"),
    ],
)
def test_bad_files_are_refused_with_file_line_and_reason(
    fixture: str, line: int | None, words: str
) -> None:
    with pytest.raises(OntologyFileError) as caught:
        read_ontology_file(DATA / fixture)
    error = caught.value
    assert error.path == DATA / fixture
    assert error.line == line
    assert words in str(error)
    assert str(error).startswith(f"{DATA / fixture}" + (f":{line}:" if line else ":"))
    assert "\n" not in str(error)


def test_undeclared_synonym_types_are_tolerated_with_a_warning(tmp_path: Path) -> None:
    text = (
        (DATA / "tiny.obo")
        .read_text()
        .replace(
            'synonym: "Partial seizure" EXACT []', 'synonym: "Partial seizure" EXACT hasDbXref []'
        )
    )
    messy = tmp_path / "messy.obo"
    messy.write_text(text)
    parsed = read_ontology_file(messy)
    assert any("hasDbXref" in w and "line 32" in w for w in parsed.warnings), parsed.warnings
    focal = next(r for r in parsed.records if r.curie == "TP:0000004")
    assert focal.synonyms == [("Partial seizure", "EXACT", "hasDbXref")]


def test_syntax_error_lines_point_into_the_original_file_after_tolerated_fixes(
    tmp_path: Path,
) -> None:
    text = (DATA / "tiny.obo").read_text()
    text = text.replace(
        'synonym: "Partial seizure" EXACT []', 'synonym: "Partial seizure" EXACT hasDbXref []'
    )
    text = text.replace(
        "is_a: TP:0000001 ! All\n\n[Term]\nid: TP:0000006",
        "is_a TP:0000001\n\n[Term]\nid: TP:0000006",
    )
    broken = tmp_path / "broken.obo"
    broken.write_text(text)
    bad_line = text.splitlines().index("is_a TP:0000001") + 1
    with pytest.raises(OntologyFileError) as caught:
        read_ontology_file(broken)
    assert caught.value.line == bad_line


@pytest.mark.shared
def test_hpo_2018_release_imports_with_a_warning() -> None:
    path = Path(__file__).resolve().parents[3] / "shared" / "data" / "hp-2018-12-21.obo.gz"
    parsed = read_ontology_file(path)
    assert len(parsed.records) == 14090
    assert parsed.data_version == "releases/2018-12-21"
    assert any("hasDbXref" in w for w in parsed.warnings)


def _records_by_pronto(path: Path) -> dict:
    from term2id.core.ontology.formats import _read_with_pronto

    return {r.curie: r for r in _read_with_pronto(path, path.read_bytes(), "obo").records}


def _assert_same_records(ours: list, theirs: dict) -> None:
    assert {r.curie for r in ours} == set(theirs)
    for record in ours:
        other = theirs[record.curie]
        for field in (
            "label",
            "definition",
            "obsolete",
            "replaced_by",
            "consider",
            "alt_ids",
            "parents",
            "xrefs",
        ):
            assert getattr(record, field) == getattr(other, field), (record.curie, field)
        assert sorted(record.synonyms, key=str) == sorted(other.synonyms, key=str), record.curie


def test_our_obo_reader_agrees_with_pronto_on_every_record() -> None:
    ours = read_ontology_file(DATA / "tiny.obo")
    _assert_same_records(ours.records, _records_by_pronto(DATA / "tiny.obo"))
    # pronto leaves a term without a namespace tag in no namespace; the OBO default applies here.
    assert {r.namespace for r in ours.records} == {"tiny_phenotype"}


@pytest.mark.slow
def test_our_obo_reader_agrees_with_pronto_on_the_whole_of_hpo() -> None:
    from term2id.core.ontology.catalog import embedded_hpo_files

    obo = embedded_hpo_files()[0]
    _assert_same_records(read_ontology_file(obo).records, _records_by_pronto(obo))
