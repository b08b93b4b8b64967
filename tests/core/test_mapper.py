"""The Mapper as the CLI, the GUI and the exports use it: ranked, verified candidates per row."""

from __future__ import annotations

from pathlib import Path

import pytest

from term2id.core.candidates import Evidence, MappingStatus, Proposal, Query, Verdict
from term2id.core.errors import CancelledError, SourceUnavailable, StoreNotFoundError
from term2id.core.mapping.mapper import Mapper, default_sources
from term2id.core.mapping.ranking import rank
from term2id.core.mapping.verification import Verification, verify_id
from term2id.core.ontology.catalog import StoreCatalog
from term2id.core.progress import Progress

DATA = Path(__file__).resolve().parents[1] / "data"


class ProposesIds:
    """A source answering with fixed ids, as a language model might (right or wrong)."""

    name = "llm"

    def __init__(self, *ids: str, label: str = "made-up label") -> None:
        self.ids = ids
        self.label = label
        self.calls: list[str] = []

    def propose(self, query, store, limit):  # noqa: ANN001, ANN201
        self.calls.append(query.text)
        return [
            Proposal(curie, Evidence(self.name, 0.9, rank, self.label, "model answer"))
            for rank, curie in enumerate(self.ids, start=1)
        ]


class Unavailable:
    name = "llm"

    def propose(self, query, store, limit):  # noqa: ANN001, ANN201
        raise SourceUnavailable("llm", "model file not found")


@pytest.fixture
def mapper(tiny_catalog: StoreCatalog) -> Mapper:
    return Mapper(tiny_catalog, default_sources(["exact", "fuzzy"]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Anaemia", "TP:0000005"),
        ("haemorrhagic anaemias", None),  # nothing like it in the tiny store
        ("Oedema", "TP:0000006"),
        ("TUMOURS", "TP:0000007"),
        ("Seizures", "TP:0000003"),
        ("TGF-beta receptor defect", "TP:0000012"),
        ("TGF β receptor defects", "TP:0000012"),
    ],
)
def test_spelling_plurals_and_greek_letters_map_and_verify(
    mapper: Mapper, text: str, expected: str | None
) -> None:
    result = mapper.map(Query(text, "tiny"))
    if expected is None:
        assert result.status is not MappingStatus.VERIFIED
        return
    assert result.status is MappingStatus.VERIFIED
    best = result.best
    assert best.curie == expected and best.verdict is Verdict.VERIFIED
    assert best.confidence >= mapper.threshold
    assert "exact" in best.sources


def test_candidates_carry_store_labels_scores_and_evidence(mapper: Mapper) -> None:
    result = mapper.map(Query("epileptic seizures", "tiny"))
    best = result.best
    assert best.label == "Seizure" and best.ontology == "tiny"
    assert best.score_of("exact") == 1.0
    assert best.evidence[0].matched_text == "Epileptic seizure"
    assert "EXACT synonym" in best.evidence[0].detail
    confidences = [c.confidence for c in result.candidates]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)


def test_labels_come_from_the_store_never_from_a_source(tiny_catalog: StoreCatalog) -> None:
    mapper = Mapper(tiny_catalog, [ProposesIds("TP:0000007", label="Bone fracture")])
    best = mapper.map(Query("Neoplasm", "tiny")).best
    assert best.label == "Tumor" and best.verdict is Verdict.VERIFIED


def test_a_model_answer_naming_something_else_is_flagged(tiny_catalog: StoreCatalog) -> None:
    mapper = Mapper(tiny_catalog, [ProposesIds("TP:0000005")])
    result = mapper.map(Query("Ataxia", "tiny"))
    assert result.best.verdict is Verdict.LABEL_MISMATCH
    assert result.status is MappingStatus.MISMATCH


def test_an_obsolete_term_brings_its_replacement(mapper: Mapper) -> None:
    result = mapper.map(Query("Fits", "tiny"))
    by_id = {c.curie: c for c in result.candidates}
    assert by_id["TP:0000009"].verdict is Verdict.OBSOLETE
    assert by_id["TP:0000009"].replaced_by == ("TP:0000003",)
    replacement = by_id["TP:0000003"]
    assert replacement.sources == ("replacement",)
    assert "replaces obsolete TP:0000009" in replacement.evidence[0].detail
    assert result.best.curie == "TP:0000003"  # the live term ranks above the obsolete one


def tiny_variant(
    tmp_path: Path, replace_text: dict[str, str], name: str = "variant"
) -> StoreCatalog:
    """A catalog holding a modified copy of tests/data/tiny.obo (the shared fixture stays as is)."""
    text = (DATA / "tiny.obo").read_text(encoding="utf-8")
    for old, new in replace_text.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}.obo"
    path.write_text(text, encoding="utf-8")
    catalog = StoreCatalog(tmp_path / "data")
    catalog.import_file(path, name)
    return catalog


def edema_also_named_neoplasm(tmp_path: Path, scope: str) -> StoreCatalog:
    """tiny.obo where Edema also has "Neoplasm", Tumor's exact synonym, in `scope`."""
    swelling = 'synonym: "Swelling" RELATED layperson []\n'
    return tiny_variant(tmp_path, {swelling: f'{swelling}synonym: "Neoplasm" {scope} []\n'})


def test_a_replacement_naming_something_else_is_not_verified(tmp_path: Path) -> None:
    # "obsolete Anemia" replaced by Edema: the ontology's word does not make "Anemia" an edema.
    catalog = tiny_variant(
        tmp_path,
        {
            "id: TP:0000005\nname: Anemia\n": "id: TP:0000005\nname: Blood disorder\n",
            "name: obsolete Fits\nis_obsolete: true\nreplaced_by: TP:0000003\n": (
                "name: obsolete Anemia\nis_obsolete: true\nreplaced_by: TP:0000006\n"
            ),
        },
    )
    result = Mapper(catalog, default_sources(["exact", "fuzzy"])).map(Query("Anemia", "variant"))
    edema = next(c for c in result.candidates if c.curie == "TP:0000006")
    assert edema.label == "Edema" and edema.sources == ("replacement",)
    assert edema.verdict is Verdict.LABEL_MISMATCH
    assert "replaces obsolete TP:0000009" in edema.note
    # "Blood disorder" keeps its synonym "Anaemia": it, not Edema, is the verified answer.
    assert result.best.curie == "TP:0000005" and result.best.verdict is Verdict.VERIFIED


def test_a_replacement_whose_names_agree_is_verified(tmp_path: Path) -> None:
    catalog = tiny_variant(
        tmp_path,
        {"name: obsolete Fits\n": "name: obsolete Seizure, epileptic\n"},
    )
    exact = Mapper(catalog, default_sources(["exact"]))  # the replacement is found only as one
    result = exact.map(Query("Seizures, epileptic", "variant"))
    seizure = next(c for c in result.candidates if c.curie == "TP:0000003")
    assert seizure.verdict is Verdict.VERIFIED  # "Epileptic seizure" in another order
    assert "replaces obsolete TP:0000009" in seizure.note


def test_a_name_several_terms_share_is_never_accepted_automatically(
    tmp_path: Path, tiny_catalog: StoreCatalog
) -> None:
    # Edema gets a synonym that is also Tumor's: an exact match no longer says which is meant.
    catalog = edema_also_named_neoplasm(tmp_path, "RELATED")
    mapper = Mapper(catalog, default_sources(["exact", "fuzzy"]))
    result = mapper.map(Query("Neoplasms", "variant"))
    assert result.status is MappingStatus.NEEDS_REVIEW
    by_id = {c.curie: c for c in result.candidates}
    tumor, edema = by_id["TP:0000007"], by_id["TP:0000006"]
    assert result.best is tumor  # the EXACT synonym still ranks first, for review
    assert tumor.verdict is Verdict.VERIFIED
    # a related synonym another term has too says nothing of which one is meant
    assert edema.verdict is Verdict.LABEL_MISMATCH
    assert edema.reason == "a related synonym other terms have too"
    assert tumor.confidence < mapper.threshold and edema.confidence < mapper.threshold
    assert "ambiguous: also TP:0000006 Edema" in tumor.note
    assert "ambiguous: also TP:0000007 Tumor" in edema.note
    # A name only one term carries is accepted as before.
    assert mapper.map(Query("Tumours", "variant")).status is MappingStatus.VERIFIED
    # In the store where only Tumor carries "Neoplasm", it is accepted.
    lexical = default_sources(["exact", "fuzzy"])
    alone = Mapper(tiny_catalog, lexical).map(Query("Neoplasms", "tiny"))
    assert alone.status is MappingStatus.VERIFIED and "ambiguous" not in alone.best.note


def test_a_secondary_id_maps_to_its_primary_and_says_so(mapper: Mapper) -> None:
    result = mapper.map(Query("TP:0000099", "tiny", context="epileptic seizure"))
    assert result.best.curie == "TP:0000003" and result.status is MappingStatus.VERIFIED
    assert "TP:0000099 is a secondary id of TP:0000003" in result.best.evidence[0].detail


def test_an_id_in_a_cell_is_verified_against_its_row_s_context(mapper: Mapper) -> None:
    # The same id in three rows: its verdict depends on each row's context, not on the id alone.
    rows = [
        Query("TP:0000003", "tiny", context="Seizures"),
        Query("TP:0000003", "tiny", context="Anemia"),
        Query("TP:0000003", "tiny"),
    ]
    agrees, differs, alone = mapper.map_many(rows)
    assert agrees.status is MappingStatus.VERIFIED
    assert differs.best.verdict is Verdict.LABEL_MISMATCH
    assert differs.status is MappingStatus.MISMATCH
    assert alone.best.verdict is Verdict.UNCHECKED and alone.status is MappingStatus.UNCHECKED
    assert "no context to compare its names with" in alone.best.note


def test_an_id_of_another_store_is_the_wrong_ontology(mapper: Mapper) -> None:
    result = mapper.map(Query("HGNC:11998", "tiny"))
    best = result.best
    assert best.verdict is Verdict.WRONG_ONTOLOGY
    assert best.ontology == "genes" and best.label == "TP53" and best.confidence == 0.0
    assert result.status is not MappingStatus.VERIFIED


def test_several_ontologies_at_once(mapper: Mapper) -> None:
    gene = mapper.map(Query("TP53", "tiny,genes"))
    assert gene.best.curie == "HGNC:11998" and gene.best.ontology == "genes"
    phenotype = mapper.map(Query("anaemia", "tiny, genes"))
    assert phenotype.best.curie == "TP:0000005" and phenotype.best.ontology == "tiny"


def test_an_unknown_store_lists_the_stores(mapper: Mapper) -> None:
    with pytest.raises(StoreNotFoundError, match="genes, hp, tiny"):
        mapper.map(Query("anaemia", "nope"))


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_empty_cells_are_empty_not_errors(mapper: Mapper, text: str) -> None:
    result = mapper.map(Query(text, "tiny"))
    assert result.status is MappingStatus.EMPTY and result.candidates == ()


def test_a_huge_cell_is_cut_and_noted(mapper: Mapper) -> None:
    result = mapper.map(Query("seizure " * 12_500, "tiny"))  # 100 kB
    assert any("cut to its first" in note for note in result.notes)
    assert result.status is not MappingStatus.VERIFIED


@pytest.mark.parametrize("text", ["癫痫发作", "نوبة صرع", "эпилепсия", "🧠⚡", "\x00\x01", "??!!"])
def test_terms_in_other_scripts_do_not_crash(mapper: Mapper, text: str) -> None:
    result = mapper.map(Query(text, "tiny"))
    assert result.status in (
        MappingStatus.NO_MATCH,
        MappingStatus.NEEDS_REVIEW,
        MappingStatus.MISMATCH,
    )


def test_an_unavailable_source_leaves_the_others_answers(tiny_catalog: StoreCatalog) -> None:
    mapper = Mapper(tiny_catalog, [*default_sources(["exact"]), Unavailable()])
    found = mapper.map(Query("Anemia", "tiny"))
    assert found.best.curie == "TP:0000005" and found.status is MappingStatus.VERIFIED
    assert found.notes == ("llm unavailable: model file not found",)
    nothing = mapper.map(Query("something no store has", "tiny"))
    assert nothing.status is MappingStatus.MODEL_UNAVAILABLE
    alone = Mapper(tiny_catalog, [Unavailable()]).map(Query("Anemia", "tiny"))
    assert alone.status is MappingStatus.MODEL_UNAVAILABLE and alone.candidates == ()


def test_a_name_another_term_carries_as_a_broad_synonym_is_not_accepted_automatically(
    tmp_path: Path,
) -> None:
    # Edema files "Neoplasm" as a broad synonym: it is narrower than the term, and Tumor, whose
    # exact synonym it is, no longer the only term carrying the name.
    catalog = edema_also_named_neoplasm(tmp_path, "BROAD")
    mapper = Mapper(catalog, default_sources(["exact", "fuzzy"]))
    result = mapper.map(Query("Neoplasms", "variant"))
    by_id = {c.curie: c for c in result.candidates}
    tumor, edema = by_id["TP:0000007"], by_id["TP:0000006"]
    assert edema.verdict is Verdict.NARROWER and edema.reason == "via a broad synonym"
    assert tumor.verdict is Verdict.VERIFIED and tumor.confidence < mapper.threshold
    assert result.status is MappingStatus.NEEDS_REVIEW and "also TP:0000006 Edema" in tumor.note


def test_the_threshold_decides_what_is_verified(tiny_catalog: StoreCatalog) -> None:
    query = Query("lack of coordination", "tiny")  # a RELATED synonym: good, not certain
    lexical = default_sources(["exact", "fuzzy"])
    assert Mapper(tiny_catalog, lexical, threshold=0.5).map(query).status is MappingStatus.VERIFIED
    strict = Mapper(tiny_catalog, lexical, threshold=1.0).map(query)
    assert strict.status is MappingStatus.NEEDS_REVIEW and strict.best.curie == "TP:0000011"


def test_two_sources_agreeing_beat_either_alone(tiny_catalog: StoreCatalog) -> None:
    query = Query("partial seizures", "tiny")
    fuzzy_only = Mapper(tiny_catalog, default_sources(["fuzzy"])).map(query).best
    both = Mapper(tiny_catalog, [*default_sources(["fuzzy"]), ProposesIds("TP:0000004")])
    fused = both.map(query).best
    assert fused.curie == fuzzy_only.curie == "TP:0000004"
    assert fused.confidence > fuzzy_only.confidence
    assert set(fused.sources) == {"fuzzy", "llm"}


def test_a_sibling_contradicting_the_term_ranks_below_the_right_one(tmp_path: Path) -> None:
    siblings = "".join(
        f"[Term]\nid: TP:00000{n}\nname: {name}\nis_a: TP:0000001 ! All\n\n"
        for n, name in [
            (13, "Right ventricular hypertrophy"),
            (14, "Left ventricular hypertrophy"),
            (15, "Ventricular hypertrophy"),
        ]
    )
    catalog = tiny_variant(tmp_path, {"[Typedef]": siblings + "[Typedef]"})
    store = catalog.open("variant")
    right = verify_id("TP:0000013", "Hypertrophy of the left ventricle", [store])
    assert right.verdict is Verdict.CONTRADICTS and right.contrast == "right/left"
    assert "'Right ventricular hypertrophy' says 'right' where it says 'left'" in right.note
    assert verify_id("TP:0000015", "Hypertrophy of the left ventricle", [store]).contrast == ""
    result = Mapper(catalog, default_sources(["fuzzy"])).map(
        Query("Hypertrophy of the left ventricle", "variant")
    )
    ids = [c.curie for c in result.candidates]
    assert ids[0] == "TP:0000014"
    assert ids.index("TP:0000015") < ids.index("TP:0000013")  # the parent says nothing either way


def test_top_k_bounds_the_candidates(tiny_catalog: StoreCatalog) -> None:
    lexical = default_sources(["exact", "fuzzy"])
    assert len(Mapper(tiny_catalog, lexical, top_k=1).map(Query("seizure", "tiny")).candidates) == 1


def test_map_many_keeps_order_and_maps_each_distinct_term_once(tiny_catalog: StoreCatalog) -> None:
    counting = ProposesIds("TP:0000003")
    mapper = Mapper(tiny_catalog, [counting])
    queries = [
        Query("Seizure", "tiny"),
        Query("fits", "tiny"),
        Query("Seizure", "tiny", context="row 3"),
        Query("", "tiny"),
        Query("Seizure", "tiny"),
    ]
    results = list(mapper.map_many(queries))
    assert [r.query for r in results] == queries  # each row keeps its own query and context
    assert sorted(counting.calls) == ["Seizure", "fits"]
    assert results[3].status is MappingStatus.EMPTY


def test_map_many_keeps_a_frequent_term_while_rare_ones_pass_through(
    tiny_catalog: StoreCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A column where one phrase recurs between many rare ones maps that phrase once, however
    # many rare phrases came since it was first mapped (the least recently used go first).
    monkeypatch.setattr("term2id.core.mapping.mapper.RESULT_CACHE_SIZE", 2)
    counting = ProposesIds("TP:0000003")
    rare = [f"rare phrase {i}" for i in range(6)]
    texts = [t for phrase in rare for t in ("Seizure", phrase)] + ["Seizure"]
    results = list(Mapper(tiny_catalog, [counting]).map_many([Query(t, "tiny") for t in texts]))
    assert [r.query.text for r in results] == texts
    assert counting.calls.count("Seizure") == 1
    assert sorted(counting.calls) == sorted(["Seizure", *rare])


def test_map_many_streams_reports_progress_and_can_be_cancelled(mapper: Mapper) -> None:
    seen: list[tuple[int, int]] = []
    progress = Progress(lambda done, total, message: seen.append((done, total)))
    queries = (Query(f"seizure {i}", "tiny") for i in range(250))  # a generator: no len()
    results = mapper.map_many(queries, progress)
    first = next(results)
    assert first.query.text == "seizure 0"
    progress.cancel()
    with pytest.raises(CancelledError):
        list(results)
    assert seen[0] == (0, 0)


@pytest.mark.slow
def test_the_embedded_hpo_maps_everyday_phenotype_terms(hpo_catalog: StoreCatalog) -> None:
    mapper = Mapper(hpo_catalog, default_sources(["exact", "fuzzy"]))
    expected = {
        "Seizures": "HP:0001250",
        "intellectual disability": "HP:0001249",
        "Anaemia": "HP:0001903",
        "short stature": "HP:0004322",
    }
    results = mapper.map_many([Query(text, "hp") for text in expected])
    for (text, curie), result in zip(expected.items(), results, strict=True):
        assert result.best.curie == curie, text
        assert result.status is MappingStatus.VERIFIED, text
    # "ASD" abbreviates both Atrial septal defect and Autistic behavior in HPO.
    asd = mapper.map(Query("ASD", "hp"))
    assert asd.status is MappingStatus.NEEDS_REVIEW
    shared = {c.curie: c for c in asd.candidates if "ambiguous: also" in c.note}
    assert {"HP:0001631", "HP:0000729"} <= set(shared)
    assert all(c.confidence < mapper.threshold for c in shared.values())
    assert "ambiguous: also HP:0000729 Autistic behavior" in shared["HP:0001631"].note
    # the other term is named once: the shared name says more than a tie with it
    assert shared["HP:0001631"].note.count("HP:0000729") == 1


def test_checking_names_only_where_a_candidate_can_be_shown_changes_no_answer(
    hpo_catalog: StoreCatalog,
) -> None:
    """The mapper compares names with the term only for candidates that can still be shown (the
    rest cannot outscore them); what it shows is what checking every candidate shows."""

    class ChecksEveryCandidate(Mapper):
        def _compared(self, query, stores, elsewhere, grouped, replacing, limit, weights):  # noqa: ANN001, ANN202, ARG002
            return [
                (verify_id(v.proposed, query.text, stores, elsewhere,
                           replacement_of=replacing.get(curie), context=query.context), evidence)
                for curie, (v, evidence) in grouped.items()
            ]  # fmt: skip

    class CountsSkipped(Mapper):
        skipped = 0

        def _compared(self, query, stores, elsewhere, grouped, replacing, limit, weights):  # noqa: ANN001, ANN202
            entries = super()._compared(
                query, stores, elsewhere, grouped, replacing, limit, weights
            )
            CountsSkipped.skipped += len(grouped) - len(entries)
            return entries

    # Two ranking sources: a pool of 20 candidates for the 10 shown.
    sources = [*default_sources(["exact", "fuzzy"]), ProposesIds("HP:0001250", "HP:0012758")]
    texts = [
        "floppy baby", "learning difficulties", "cannot walk", "seizures", "fits",
        "short stature", "extra finger", "hypertension", "low blood pressure", "macrocephaly",
        "big head", "small head", "bilateral cleft lip", "hearing loss", "ASD",
        "developmental delay", "abnormal gait", "absent thumb", "hypotonia", "kidney cysts",
    ]  # fmt: skip
    queries = [Query(text, "hp") for text in texts]
    lazy = list(CountsSkipped(hpo_catalog, sources).map_many(queries))
    every = list(ChecksEveryCandidate(hpo_catalog, sources).map_many(queries))
    for shown, reference in zip(lazy, every, strict=True):
        assert shown == reference, shown.query.text
        assert all(c.reason != "names not compared yet" for c in shown.candidates)
    assert sum(r.best.verdict is Verdict.VERIFIED for r in lazy) >= 5  # verdicts are real ones
    assert CountsSkipped.skipped > 50  # and many candidates were never compared


def test_a_tie_at_the_top_never_drops_below_the_candidates_after_it() -> None:
    # Two terms fuzzy scores alike lose confidence for the tie, but no more than down to the
    # next term: a tie says which of the two is unsure, not that a lower one is likelier.
    def entry(curie: str, score: float) -> tuple[Verification, list[Evidence]]:
        checked = Verification(curie, curie, Verdict.LABEL_MISMATCH, "tp", label=curie)
        return checked, [Evidence("fuzzy", score, 1, curie, "WRatio", "label")]

    ranked = rank([entry("TP:1", 0.80), entry("TP:2", 0.80), entry("TP:3", 0.60)])
    assert [c.curie for c in ranked] == ["TP:1", "TP:2", "TP:3"]
    assert ranked[0].confidence == ranked[1].confidence >= ranked[2].confidence
    assert "ambiguous" in ranked[0].note and "ambiguous" not in ranked[2].note
    assert ranked[0].confidence < rank([entry("TP:1", 0.80)])[0].confidence
