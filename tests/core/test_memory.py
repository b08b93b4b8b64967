"""The mapping memory: remembered decisions, kept in step with session logs, proposed first."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from term2id.core.candidates import MappingPredicate, MappingStatus, Query, Verdict
from term2id.core.curation.decision_log import Action, Curator, NewDecision, ReviewRound
from term2id.core.curation.memory_files import export_memory, import_file
from term2id.core.curation.memory_sync import catch_up
from term2id.core.curation.session import CurationSession
from term2id.core.curation.session_input import SessionInput
from term2id.core.errors import InputFileError, Term2IdError
from term2id.core.evaluation.measure import GoldItem, evaluate
from term2id.core.mapping.config import MappingConfig, build_mapper
from term2id.core.mapping.mapper import Mapper
from term2id.core.mapping.memory import (
    MappingMemory,
    MappingMemoryError,
    MemoryAction,
    MemoryEntry,
    store_spec,
    term_key,
)
from term2id.core.mapping.sources import default_sources
from term2id.core.ontology.catalog import StoreCatalog

DATA = Path(__file__).parents[1] / "data"
ADA = Curator("Ada Curator", "0000-0002-1825-0097")
BOB = Curator("Bob Second")


def session_of(path: Path, terms: list[str], ontology: str = "tiny") -> CurationSession:
    return CurationSession.create(
        path,
        SessionInput(
            header=("term",), rows=[[t] for t in terms], term_column="term",
            default_ontology=ontology,
        ),
    )  # fmt: skip


def mapped_session(path: Path, catalog: StoreCatalog, terms: list[str]) -> CurationSession:
    """A session whose rows were mapped with exact and fuzzy (no memory), as the window does."""
    session = session_of(path, terms)
    mapper = Mapper(catalog, default_sources(["exact", "fuzzy"]))
    session.record_results(
        [(i, mapper.map(q)) for i, q in enumerate(session.queries())],
        {"tiny": catalog.open("tiny").release},
    )
    return session


def memory_mapper(catalog: StoreCatalog) -> Mapper:
    return build_mapper(MappingConfig(sources=("exact", "fuzzy"), memory=True), catalog)


# -- the store ----------------------------------------------------------------------------------


def test_terms_are_remembered_under_the_normalised_key_and_the_sorted_store_spec() -> None:
    assert term_key("  Anaemias ") == term_key("anemia")
    assert store_spec("hp, go") == store_spec("go,hp") == "go,hp"


def test_the_latest_word_on_a_term_and_id_counts(tmp_path: Path) -> None:
    memory = MappingMemory(tmp_path / "memory.sqlite")
    assert not memory.lookup("fits", "tiny") and not memory.path.exists()  # reading makes no file

    def entry(action: MemoryAction, at: str, session: str) -> MemoryEntry:
        return MemoryEntry("Fits", "tiny", action, ("TP:0000003",), "Ada", at, session, 1)

    memory.add([entry(MemoryAction.ACCEPTED, "2026-01-01T00:00:00", "s1")])
    assert [c for c, _ in memory.lookup("fits", "tiny").accepted] == ["TP:0000003"]
    assert not memory.lookup("fits", "hp")  # another store spec: another question
    memory.add([entry(MemoryAction.REJECTED, "2026-02-01T00:00:00", "s2")])
    recall = memory.lookup("FITS", "tiny")
    assert recall.accepted == () and recall.rejected["TP:0000003"].describe() == (
        "rejected by Ada on 2026-02-01"
    )
    memory.close()


def test_a_file_that_is_not_a_memory_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite"
    path.write_text("not a database at all, " * 100)
    with pytest.raises(MappingMemoryError, match="memory.sqlite: cannot open the mapping memory"):
        MappingMemory(path).lookup("fits", "tiny")


# -- catching up with a session's log ------------------------------------------------------------


def test_decisions_undo_and_redo_are_mirrored_in_the_memory(
    tmp_path: Path, tiny_catalog: StoreCatalog
) -> None:
    session = mapped_session(
        tmp_path / "s.t2id", tiny_catalog, ["Seizure", "fits", "Anemia", "Tumor", "Edema"]
    )
    memory = MappingMemory.in_folder(tiny_catalog.data_dir)
    accept = session.decide(0, Action.ACCEPT, ADA, "TP:0000003", "Seizure")
    session.decide(
        1, Action.MANUAL, ADA, "TP:0000003", "Seizure", predicate="broad", also=["TP:0000004"],
        review_round=ReviewRound.SECOND,
    )  # fmt: skip
    session.decide(2, Action.REJECT, ADA, evidence={"shown": [["TP:0000005", "Anemia"]]})
    session.decide(3, Action.SKIP, ADA)
    bulk = session.decide_many(
        [NewDecision(4, Action.ACCEPT, "TP:0000006", "Edema", {"bulk": True})], ADA
    )
    assert catch_up(memory, session) == 5
    assert catch_up(memory, session) == 0  # nothing new: nothing written twice
    entries = {e.row: e for e in memory.entries(session.session_id)}
    assert sorted(entries) == [0, 1, 2, 4]  # a skip is not a decision about the term
    fits = entries[1]
    assert (fits.action, fits.curies, fits.predicate, fits.review_round) == (
        MemoryAction.MANUAL, ("TP:0000003", "TP:0000004"), MappingPredicate.BROAD, 2,
    )  # fmt: skip
    assert fits.curator == "Ada Curator" and fits.orcid == "0000-0002-1825-0097"
    assert fits.release == tiny_catalog.open("tiny").release and fits.spec == "tiny"
    assert entries[2].action is MemoryAction.REJECTED and entries[2].curies == ("TP:0000005",)
    assert entries[4].bulk and not entries[0].bulk
    assert (entries[0].session_id, entries[0].decision_id) == (session.session_id, accept.id)

    session.undo([accept.id, bulk[0].id], ADA)
    catch_up(memory, session)
    assert sorted(e.row for e in memory.entries()) == [1, 2]
    session.redo([accept.id], ADA)
    catch_up(memory, session)
    assert sorted(e.row for e in memory.entries()) == [0, 1, 2]
    # A later decision on a row replaces what the memory held for it.
    session.decide(0, Action.CHOOSE, ADA, "TP:0000004", "Focal seizure")
    catch_up(memory, session)
    assert memory.lookup("seizure", "tiny").accepted[0][0] == "TP:0000004"
    assert len(memory) == 3
    session.close()


_DECIDE_THEN_DIE = textwrap.dedent(
    """
    import os, signal, sys
    from term2id.core.mapping.memory import MappingMemory
    from term2id.core.curation.memory_sync import catch_up
    from term2id.core.curation.decision_log import Action, Curator
    from term2id.core.curation.session import CurationSession
    session = CurationSession.open(sys.argv[1])
    memory = MappingMemory(sys.argv[2])
    curator = Curator("Kill Test")
    n = 0
    while True:
        row = n % 40
        if n % 3 == 2:
            last = session.decisions()[-1]
            session.undo([last.id], curator)
        else:
            action = Action.REJECT if n % 5 == 0 else Action.MANUAL
            curie = None if action is Action.REJECT else "TP:%07d" % (1 + n % 12)
            session.decide(row, action, curator, curie,
                           evidence={"shown": [["TP:0000006", "Edema"]]})
        print(n, flush=True)
        if n == int(sys.argv[3]):  # killed between the session's commit and the memory's
            os.kill(os.getpid(), signal.SIGKILL)
        catch_up(memory, session)
        n += 1
    """
)


def _projection(session: CurationSession) -> dict[int, tuple[str, tuple[str, ...]]]:
    """What the memory must hold for a session: each row's current mapping or rejection."""
    held = {}
    for row, decision in session.current_decisions().items():
        if decision.action in (Action.ACCEPT, Action.CHOOSE, Action.MANUAL):
            held[row] = ("map", decision.curies)
        elif decision.action is Action.REJECT:
            held[row] = ("reject", (decision.curie,) if decision.curie else ("TP:0000006",))
    return held


@pytest.mark.parametrize("die_at", [7, 10_000])
def test_a_kill_between_the_two_writes_loses_nothing(tmp_path: Path, die_at: int) -> None:
    """Killed right after a decision is committed (before the memory took it in), or at a moment
    the test does not choose: reopening the session brings the memory up to date."""
    path, memory_path = tmp_path / "kill.t2id", tmp_path / "memory.sqlite"
    session_of(path, [f"term {i}" for i in range(40)]).close()
    process = subprocess.Popen(
        [sys.executable, "-c", _DECIDE_THEN_DIE, str(path), str(memory_path), str(die_at)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    printed = 0
    try:
        for _line in process.stdout:
            printed += 1
            if printed == 120:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert printed == min(die_at + 1, 120)
    memory = MappingMemory(memory_path)
    with CurationSession.open(path) as session:
        expected = _projection(session)
        if die_at == 7:  # the last decision is in the session, not yet in the memory
            held = {e.row: e.curies for e in memory.entries()}
            assert held != {row: curies for row, (_kind, curies) in expected.items()}
        catch_up(memory, session)
        held = {
            e.row: ("reject" if e.rejected else "map", e.curies)
            for e in memory.entries(session.session_id)
        }
        assert held == expected and expected
        assert catch_up(memory, session) == 0
    memory.close()


# -- the curated source in the mapper -------------------------------------------------------------


def test_a_remembered_id_comes_first_and_a_rejected_one_is_never_accepted(
    tmp_path: Path, tiny_catalog: StoreCatalog
) -> None:
    terms = ["Swelling", "Anemia", "Seizure"]
    session = mapped_session(tmp_path / "s.t2id", tiny_catalog, terms)
    before = memory_mapper(tiny_catalog)
    assert before.map(Query("Anemia", "tiny")).status is MappingStatus.VERIFIED
    session.decide(0, Action.CHOOSE, ADA, "TP:0000006", "Edema")  # a RELATED synonym: capped
    session.decide(1, Action.REJECT, ADA, evidence={"shown": [["TP:0000005", "Anemia"]]})
    session.decide(2, Action.MANUAL, ADA, "TP:0000004", "Focal seizure")
    catch_up(MappingMemory.in_folder(tiny_catalog.data_dir), session)
    today = session.decisions()[-1].at[:10]

    mapper = memory_mapper(tiny_catalog)
    swelling = mapper.map(Query("swelling", "tiny"))
    assert swelling.best.curie == "TP:0000006" and swelling.best.sources[0] == "curated"
    assert swelling.best.note.startswith(f"accepted by Ada Curator on {today}")
    anemia = mapper.map(Query("Anaemia", "tiny"))  # the same key, another spelling
    assert anemia.status is not MappingStatus.VERIFIED
    assert anemia.best.confidence < mapper.threshold
    assert f"rejected by Ada Curator on {today}" in anemia.best.note
    # The exact name "Seizure" is verified, but the curator chose Focal seizure: that comes first.
    seizure = mapper.map(Query("Seizure", "tiny"))
    assert [c.curie for c in seizure.candidates[:2]] == ["TP:0000004", "TP:0000003"]
    assert seizure.best.verdict is Verdict.NARROWER  # the store's word on it still shows
    # Terms nobody decided map exactly as without the memory (the calibration still applies).
    plain = Mapper(tiny_catalog, default_sources(["exact", "fuzzy"]))
    for text in ("Tumour", "fits", "Ataxia", "lack of coordination"):
        assert mapper.map(Query(text, "tiny")) == plain.map(Query(text, "tiny"))
    session.close()


def test_at_a_threshold_of_1_only_what_a_curator_accepted_is_accepted(
    tmp_path: Path, tiny_catalog: StoreCatalog
) -> None:
    session = mapped_session(tmp_path / "s.t2id", tiny_catalog, ["Anemia"])
    session.decide(0, Action.CHOOSE, ADA, "TP:0000005", "Anemia")
    catch_up(MappingMemory.in_folder(tiny_catalog.data_dir), session)
    config = MappingConfig(sources=("exact", "fuzzy"), memory=True, threshold=1.0)
    mapper = build_mapper(config, tiny_catalog)
    assert mapper.map(Query("Anemia", "tiny")).status is MappingStatus.VERIFIED
    # the term's own name, calibrated, reads a little below 1: it waits
    seizure = mapper.map(Query("Seizure", "tiny"))
    assert seizure.best.label == "Seizure" and seizure.status is MappingStatus.NEEDS_REVIEW
    session.close()


def test_a_remembered_id_made_obsolete_by_a_new_release_is_flagged_not_reused(
    tmp_path: Path, catalog: StoreCatalog
) -> None:
    catalog.import_file(DATA / "tiny.obo", "tiny")
    session = mapped_session(tmp_path / "s.t2id", catalog, ["low blood count"])
    session.decide(0, Action.MANUAL, ADA, "TP:0000005", "Anemia")
    catch_up(MappingMemory.in_folder(catalog.data_dir), session)
    assert memory_mapper(catalog).map(Query("low blood count", "tiny")).best.curie == "TP:0000005"
    # The next release makes Anemia obsolete (replaced by TP:0000006, for the test).
    newer = tmp_path / "tiny2.obo"
    newer.write_text(
        (DATA / "tiny.obo")
        .read_text()
        .replace(
            "id: TP:0000005\nname: Anemia\n",
            "id: TP:0000005\nname: Anemia\nis_obsolete: true\nreplaced_by: TP:0000006\n",
        )
        .replace("tiny/releases/2024-01-01", "tiny/releases/2025-01-01")
    )
    catalog.import_file(newer, "tiny")
    catalog.close()
    result = memory_mapper(StoreCatalog(catalog.data_dir)).map(Query("low blood count", "tiny"))
    assert result.best.curie == "TP:0000005" and result.best.verdict is Verdict.OBSOLETE
    assert result.status is MappingStatus.OBSOLETE  # flagged: never accepted automatically
    assert "TP:0000006" in [c.curie for c in result.candidates]  # its replacement is offered
    session.close()


def test_a_remembered_id_of_another_store_is_flagged(
    tmp_path: Path, tiny_catalog: StoreCatalog
) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("tumor suppressor\tTP:0000007\n")
    import_file(MappingMemory.in_folder(tiny_catalog.data_dir), pairs, "genes")
    result = memory_mapper(tiny_catalog).map(Query("tumor suppressor", "genes"))
    assert result.best.curie == "TP:0000007" and result.best.verdict is Verdict.WRONG_ONTOLOGY
    assert result.status is MappingStatus.WRONG_ONTOLOGY


def test_an_evaluation_never_uses_the_memory(tmp_path: Path, tiny_catalog: StoreCatalog) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("term,id\nAnemia,TP:0000011\n")  # a wrong answer, remembered
    import_file(MappingMemory.in_folder(tiny_catalog.data_dir), pairs, "tiny")
    assert memory_mapper(tiny_catalog).map(Query("Anemia", "tiny")).best.curie == "TP:0000011"
    with pytest.raises(Term2IdError, match="never uses the mapping memory"):
        evaluate(memory_mapper(tiny_catalog), [GoldItem("Anemia", "TP:0000005")], "tiny")
    # The default configuration, which eval and demo use, has no memory.
    plain = build_mapper(MappingConfig(sources=("exact", "fuzzy")), tiny_catalog)
    assert [s.name for s in plain.sources] == ["exact", "fuzzy"]
    assert evaluate(plain, [GoldItem("Anemia", "TP:0000005")], "tiny").top1 == 1.0


# -- import and export --------------------------------------------------------------------------

SSSOM = """\
#curie_map:
#  TP: http://purl.obolibrary.org/obo/TP_
#mapping_set_id: https://example.org/curated.sssom.tsv
subject_id\tsubject_label\tpredicate_id\tpredicate_modifier\tobject_id\tobject_label\tmapping_justification\tauthor_id\tauthor_label\tmapping_date
x:1\tfits\tskos:exactMatch\t\tTP:0000003\tSeizure\tsemapv:ManualMappingCuration\torcid:0000-0001-0000-0001\tCy Curator\t2025-03-04
x:2\tswelling\tskos:broadMatch\t\tTP:0000006\tEdema\tsemapv:ManualMappingCuration\t\t\t
x:3\tlow blood count\tskos:exactMatch\tNot\tTP:0000005\tAnemia\tsemapv:ManualMappingCuration\t\tCy Curator\t2025-03-05
"""


def test_sssom_and_term_id_tables_import_and_the_memory_exports_as_sssom(
    tmp_path: Path, tiny_catalog: StoreCatalog
) -> None:
    memory = MappingMemory.in_folder(tiny_catalog.data_dir)
    sssom = tmp_path / "curated.sssom.tsv"
    sssom.write_text(SSSOM)
    summary = import_file(memory, sssom, "tiny", curator="Import Desk")
    assert (summary.kind, summary.accepted, summary.rejected) == ("SSSOM", 2, 1)
    assert import_file(memory, sssom, "tiny").new == 0  # the same file again adds nothing
    assert len(memory) == 3
    fits = memory.lookup("Fits", "tiny").accepted[0][1]
    assert (fits.curator, fits.orcid, fits.at) == (
        "Cy Curator",
        "0000-0001-0000-0001",
        "2025-03-04",
    )
    swelling = memory.lookup("swelling", "tiny").accepted[0][1]
    assert swelling.predicate is MappingPredicate.BROAD and swelling.curator == "Import Desk"
    assert "TP:0000005" in memory.lookup("low blood count", "tiny").rejected

    pairs = tmp_path / "pairs.csv"
    pairs.write_text("term,id\nlack of coordination,tp:0000011\n\nneoplasm,HP_0002664\n")
    assert import_file(memory, pairs, "tiny").accepted == 2
    assert memory.lookup("neoplasms", "tiny").accepted[0][0] == "HP:0002664"

    exported = tmp_path / "memory.sssom.tsv"
    assert export_memory(memory, exported) == 5
    lines = [line.split("\t") for line in exported.read_text().splitlines() if line[0] != "#"]
    header, rows = lines[0], {row[1]: dict(zip(lines[0], row, strict=True)) for row in lines[1:]}
    assert header[:5] == [
        "subject_id", "subject_label", "predicate_id", "predicate_modifier", "object_id"
    ]  # fmt: skip
    assert rows["low blood count"]["predicate_modifier"] == "Not"
    assert rows["swelling"]["predicate_id"] == "skos:broadMatch"
    assert rows["fits"]["author_id"] == "orcid:0000-0001-0000-0001"
    # Exported and imported into another data folder, the memory says the same.
    other = MappingMemory(tmp_path / "other" / "memory.sqlite")
    assert import_file(other, exported, "tiny").rejected == 1
    for term in ("fits", "swelling", "low blood count", "neoplasm", "lack of coordination"):
        mine, theirs = memory.lookup(term, "tiny"), other.lookup(term, "tiny")
        assert [c for c, _ in mine.accepted] == [c for c, _ in theirs.accepted]
        assert set(mine.rejected) == set(theirs.rejected)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("term,id\nfits,TP:0000003\nswelling,edema\n", "pairs.csv:3: 'edema' is not an identifier"),
        ("fits,TP:0000003,extra\n", "pairs.csv:1: expected two columns, a term and an id, found 3"),
        ("term,id\n", "pairs.csv: no mappings found"),
        (
            "subject_label\tobject_id\tpredicate_id\nfits\tTP:0000003\towl:sameAs\n",
            "pairs.csv:2: predicate_id 'owl:sameAs' is not one of skos:exactMatch",
        ),
        ("#mapping_set_id: x\nsubject_id\tobject_id\n", "pairs.csv:2: not an SSSOM table"),
    ],
)
def test_a_bad_file_is_refused_whole_with_the_line_named(
    tmp_path: Path, content: str, message: str
) -> None:
    memory = MappingMemory(tmp_path / "memory.sqlite")
    good = tmp_path / "good.csv"
    good.write_text("fits,TP:0000003\n")
    import_file(memory, good, "tiny")
    bad = tmp_path / "pairs.csv"
    bad.write_text(content)
    with pytest.raises(InputFileError) as raised:
        import_file(memory, bad, "tiny")
    assert message in str(raised.value)
    assert len(memory) == 1  # nothing of the bad file was added


class _Reverse:
    """A reranker that puts the last candidate first (as a model choosing another might)."""

    name = "reverse"

    def rerank(self, query, candidates, stores):  # noqa: ANN001, ANN201
        return list(reversed(candidates)), ["reversed"]


def test_a_reranking_model_never_overrules_the_curator(
    tmp_path: Path, tiny_catalog: StoreCatalog
) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("seizure,TP:0000004\n")  # Focal seizure, for this lab
    import_file(MappingMemory.in_folder(tiny_catalog.data_dir), pairs, "tiny")
    base = memory_mapper(tiny_catalog)
    mapper = Mapper(tiny_catalog, base.sources, rerankers=[_Reverse()])
    result = mapper.map(Query("seizure", "tiny"))
    assert result.best.curie == "TP:0000004" and "reversed" in result.notes
    assert [c.curie for c in result.candidates[1:]] == [
        c.curie for c in reversed(base.map(Query("seizure", "tiny")).candidates[1:])
    ]
