"""Candidate sources on the tiny store: what each one proposes, and why (its evidence)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from term2id.core.candidates import Query
from term2id.core.errors import Term2IdError
from term2id.core.mapping.sources import (
    CandidateSource,
    default_sources,
    register_source,
    source_names,
)
from term2id.core.mapping.sources.exact import ExactSource
from term2id.core.mapping.sources.fuzzy import FuzzySource
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.ontology.store import OntologyStore


def _ids(proposals) -> list[str]:  # noqa: ANN001
    return [p.curie for p in proposals]


@pytest.mark.parametrize(
    ("text", "expected", "matched"),
    [
        ("Seizures", "TP:0000003", "Seizure"),  # plural
        ("ANAEMIA", "TP:0000005", "Anemia"),  # case and British spelling fold to the label
        ("oedemas", "TP:0000006", "Edema"),
        ("tumours", "TP:0000007", "Tumor"),
        ("TGF-beta receptor defects", "TP:0000012", "TGF-β receptor defect"),  # Greek letter
        ("  epileptic   seizure ", "TP:0000003", "Epileptic seizure"),
    ],
)
def test_exact_source_folds_spelling_plurals_and_greek(
    tiny_store: OntologyStore, text: str, expected: str, matched: str
) -> None:
    proposals = ExactSource().propose(Query(text, "tiny"), tiny_store, 10)
    assert _ids(proposals) == [expected]
    assert proposals[0].evidence.matched_text == matched
    assert proposals[0].evidence.source == "exact"


def test_exact_source_says_which_kind_of_name_matched(tiny_store: OntologyStore) -> None:
    label = ExactSource().propose(Query("Ataxia", "tiny"), tiny_store, 10)[0].evidence
    layperson = ExactSource().propose(Query("lack of coordination", "tiny"), tiny_store, 10)[0]
    assert label.name_kind == "label" and "label" in label.detail
    assert layperson.evidence.name_kind == "RELATED"
    assert "RELATED synonym (layperson)" in layperson.evidence.detail


def test_exact_source_proposes_an_id_typed_in_the_cell(tiny_store: OntologyStore) -> None:
    proposals = ExactSource().propose(Query("tp:0000099", "tiny"), tiny_store, 10)
    assert _ids(proposals) == ["TP:0000099"]  # as typed; verification resolves it
    assert "identifier typed in the cell" in proposals[0].evidence.detail


def test_exact_source_finds_obsolete_terms_by_their_old_name(tiny_store: OntologyStore) -> None:
    assert _ids(ExactSource().propose(Query("fits", "tiny"), tiny_store, 10)) == ["TP:0000009"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Epileptc seizures", "TP:0000003"),  # a typo
        ("lack of co-ordination", "TP:0000011"),
        ("seizure, focal", "TP:0000004"),  # word order
        ("intellectual disabilities severe", "TP:0000008"),
    ],
)
def test_fuzzy_source_ranks_the_intended_term_first(
    tiny_store: OntologyStore, text: str, expected: str
) -> None:
    proposals = FuzzySource().propose(Query(text, "tiny"), tiny_store, 5)
    assert proposals[0].curie == expected
    assert 0 < proposals[0].evidence.score <= 1
    assert "similarity" in proposals[0].evidence.detail
    scores = [p.evidence.score for p in proposals]
    assert scores == sorted(scores, reverse=True)


def test_fuzzy_source_only_scores_the_names_its_blocking_step_picks(
    tiny_store: OntologyStore,
) -> None:
    wide = FuzzySource().propose(Query("seizure", "tiny"), tiny_store, 10)
    narrow = FuzzySource(block_size=1).propose(Query("seizure", "tiny"), tiny_store, 10)
    assert len(wide) >= 2  # Seizure, Focal seizure, ...
    assert len(narrow) == 1


def test_fuzzy_source_finds_another_form_of_a_word_among_many_alike_names(
    tmp_path: Path,
) -> None:
    # 80 names share "abnormal ... morphology"; only the word's other form tells the right one.
    organs = [f"organ{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(80)]
    labels = [f"Abnormal {organ} morphology" for organ in organs]
    labels += ["Abnormality of the mitochondrion", "Abnormal mitochondrial morphology"]
    stanzas = "".join(
        f"[Term]\nid: TP:{i:07d}\nname: {label}\n\n" for i, label in enumerate(labels, 1)
    )
    source = tmp_path / "forms.obo"
    source.write_text(f"format-version: 1.2\nontology: tp\n\n{stanzas}", encoding="utf-8")
    catalog = StoreCatalog(tmp_path / "data")
    catalog.import_file(source, "forms")
    found = FuzzySource().propose(
        Query("Abnormal mitochondrion morphology", "forms"), catalog.open("forms"), 5
    )
    assert found[0].evidence.matched_text == "Abnormal mitochondrial morphology"


def test_fuzzy_source_finds_nothing_for_words_no_name_shares(tiny_store: OntologyStore) -> None:
    assert FuzzySource().propose(Query("xylophone quartet", "tiny"), tiny_store, 10) == []
    assert FuzzySource().propose(Query("癫痫发作", "tiny"), tiny_store, 10) == []


def test_sources_cut_a_huge_term_and_say_so(tiny_store: OntologyStore) -> None:
    text = "seizure " * 20_000
    proposals = FuzzySource().propose(Query(text, "tiny"), tiny_store, 3)
    assert proposals and "cut to its first" in proposals[0].evidence.detail
    assert ExactSource().propose(Query(text, "tiny"), tiny_store, 3) == []


def test_default_sources_builds_sources_by_name() -> None:
    sources = default_sources(["exact", "fuzzy"])
    assert [s.name for s in sources] == ["exact", "fuzzy"]
    assert all(isinstance(s, CandidateSource) for s in sources)


def test_unknown_source_name_lists_the_known_ones() -> None:
    with pytest.raises(Term2IdError, match="unknown candidate source 'fuzy'.*exact, fuzzy"):
        default_sources(["exact", "fuzy"])


def test_a_registered_source_can_be_named() -> None:
    class Nothing:
        name = "nothing-test"

        def propose(self, query, store, limit):  # noqa: ANN001, ANN201
            return []

    register_source("nothing-test", Nothing)
    assert "nothing-test" in source_names()
    assert [s.name for s in default_sources(["nothing-test"])] == ["nothing-test"]


@pytest.mark.slow
def test_semantic_source_finds_paraphrases_and_caches_vectors_in_the_store(
    tiny_store: OntologyStore,
) -> None:
    from term2id.core.mapping.embedding_models import MODEL_NAME, int8_key
    from term2id.core.mapping.sources.semantic import SemanticSource

    assert tiny_store.cached_embeddings(int8_key(MODEL_NAME)) == {}
    source = SemanticSource()
    proposals = source.propose(Query("not enough red blood cells", "tiny"), tiny_store, 3)
    assert proposals[0].curie == "TP:0000005"
    assert proposals[0].evidence.detail.startswith("cosine ")
    # Embedded as the terms are, by the model's int8 copy, and cached under its key.
    cached = tiny_store.cached_embeddings(int8_key(MODEL_NAME))
    assert "Low red blood cell count" in cached and "Anaemia" in cached
    assert "obsolete Fits" not in cached  # obsolete names are not searched by meaning
    # A second source (a later run) reads the vectors from the store instead of computing them.
    again = SemanticSource()
    again._embed = None  # type: ignore[assignment]  # any attempt to embed names would fail
    again._vectors(tiny_store)


@pytest.mark.slow
def test_semantic_source_searches_definitions_too(tiny_store: OntologyStore) -> None:
    from term2id.core.mapping.embedding_models import MODEL_NAME, int8_key
    from term2id.core.mapping.sources.semantic import SemanticSource

    found = SemanticSource().propose(Query("dysfunction of the cerebellum", "tiny"), tiny_store, 3)
    ataxia = next(p for p in found if p.curie == "TP:0000011")
    assert ataxia.evidence.detail.startswith("cosine ")
    assert ataxia.evidence.detail.endswith("to its definition")
    assert ataxia.evidence.name_kind is None  # a definition is no name: it verifies nothing
    # Embedded as terms and names are (the model's int8 copy), and cached under its key.
    definition = "Cerebellar ataxia refers to ataxia due to dysfunction of the cerebellum."
    assert definition in tiny_store.cached_embeddings(int8_key(MODEL_NAME))
    assert definition not in tiny_store.cached_embeddings(MODEL_NAME)


@pytest.mark.slow
def test_semantic_source_rewords_the_term_with_words_the_ontology_pairs(tmp_path: Path) -> None:
    from term2id.core.mapping.sources.semantic import SemanticSource

    terms = [
        ("Distal finger fracture", "Outermost finger fracture"),
        ("Distal toe fracture", "Outermost toe fracture"),
        ("Distal humerus hypoplasia", None),
        ("Humerus fracture", None),
    ]
    obo = "format-version: 1.2\nontology: pairs\n\n" + "".join(
        f"[Term]\nid: PR:000000{n}\nname: {label}\n"
        + (f'synonym: "{synonym}" EXACT []\n' if synonym else "")
        + "\n"
        for n, (label, synonym) in enumerate(terms, start=1)
    )
    (tmp_path / "pairs.obo").write_text(obo, encoding="utf-8")
    catalog = StoreCatalog(tmp_path / "data")
    catalog.import_file(tmp_path / "pairs.obo", "pairs")
    store = catalog.open("pairs")
    query = Query("Outermost humerus hypoplasia", "pairs")
    best = SemanticSource().propose(query, store, 3)[0]
    assert best.curie == "PR:0000003"
    assert "term read as 'distal humerus hypoplasia'" in best.evidence.detail
    plain = SemanticSource(expansion_readings=0).propose(query, store, 3)
    assert all("read as" not in p.evidence.detail for p in plain)


def test_a_terms_cosines_are_the_same_alone_as_among_other_terms() -> None:
    # Mapped alone (the window's quick map, a partition of the distributed engine holding one
    # term) or in a block of terms, a term's cosines must be the same to the last bit: else
    # near-tied candidates change places depending on what else was mapped with it.
    import numpy as np

    from term2id.core.mapping.sources.semantic import cosines

    rng = np.random.default_rng(7)
    names = rng.standard_normal((2_000, 384)).astype(np.float32)
    terms = rng.standard_normal((7, 384)).astype(np.float32)
    together = cosines(terms, names)
    for i in range(len(terms)):
        assert np.array_equal(cosines(terms[i : i + 1], names)[0], together[i])
        assert np.array_equal(cosines(terms[: i + 2], names)[i], together[i])


_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
_ASSOCIATIONS_OF = """
import json, sys
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.mapping.lexical_index import index_of
from term2id.core.candidates import Query
from term2id.core.mapping.sources.fuzzy import FuzzySource
store = StoreCatalog(sys.argv[1]).open("ties")
found = FuzzySource().propose(Query("small thing", "ties"), store, 10)
print(json.dumps([index_of(store).associations["small"], [p.curie for p in found]]))
"""


def test_the_same_term_gets_the_same_fuzzy_candidates_in_every_process(tmp_path: Path) -> None:
    # "small" is named interchangeably with eight words, two at a time, all equally often: which
    # of them the index keeps must not depend on the order of a set (it changes from process to
    # process); nor which of four equally close words a misspelt word is read as.
    import subprocess
    import sys

    lines = ["format-version: 1.2", "ontology: ties", ""]
    for k in range(0, len(_WORDS), 2):
        for j, bone in enumerate(["ulna", "radius"]):
            lines += [
                "[Term]", f"id: TI:{k * 2 + j:07d}", f"name: Small {bone}",
                f'synonym: "{_WORDS[k]} {_WORDS[k + 1]} {bone}" EXACT []', "",
            ]  # fmt: skip
    for k, ending in enumerate("abcd"):  # four words equally close to a misspelt "thing"
        lines += ["[Term]", f"id: TI:{100 + k:07d}", f"name: Thing{ending}", ""]
    (tmp_path / "ties.obo").write_text("\n".join(lines), encoding="utf-8")
    catalog = StoreCatalog(tmp_path / "data")
    catalog.import_file(tmp_path / "ties.obo", "ties")
    seen = set()
    for seed in ("1", "2", "3", "4"):
        done = subprocess.run(
            [sys.executable, "-c", _ASSOCIATIONS_OF, str(catalog.data_dir)],
            capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )  # fmt: skip
        seen.add(done.stdout)
    assert len(seen) == 1, seen
