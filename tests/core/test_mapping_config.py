"""One mapping configuration, one factory: what the default engine is, and what it refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from term2id.core.candidates import Query
from term2id.core.errors import Term2IdError
from term2id.core.mapping.config import DEFAULT_SOURCES, MappingConfig, build_mapper
from term2id.core.ontology.catalog import StoreCatalog

DATA = Path(__file__).parents[1] / "data"


def test_the_default_sources_are_exact_fuzzy_and_semantic() -> None:
    assert MappingConfig().source_names() == DEFAULT_SOURCES == ("exact", "fuzzy", "semantic")
    # A configured model joins the default sources; explicit sources are kept as given.
    assert MappingConfig(model="m.gguf").source_names() == (*DEFAULT_SOURCES, "llm")
    assert MappingConfig(sources=("fuzzy",)).source_names() == ("fuzzy",)
    assert MappingConfig.parse_sources(" exact, ,fuzzy ") == ("exact", "fuzzy")
    assert MappingConfig.parse_sources(None) is None


def test_build_mapper_builds_the_default_engine_with_the_packaged_sentence_model(
    tiny_catalog: StoreCatalog,
) -> None:
    mapper = build_mapper(MappingConfig(threshold=0.8, top_k=3), tiny_catalog)
    assert [s.name for s in mapper.sources] == ["exact", "fuzzy", "semantic"]
    assert (mapper.threshold, mapper.top_k) == (0.8, 3)
    semantic = mapper.sources[2]
    assert semantic.use_tuned is False
    # A paraphrase only the meaning of the words finds.
    result = mapper.map(Query("not enough red blood cells", "tiny"))
    assert result.best.curie == "TP:0000005" and "semantic" in result.best.sources
    tuned = build_mapper(MappingConfig(tuned_embeddings=True), tiny_catalog)
    assert tuned.sources[2].use_tuned is True


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (MappingConfig(sources=()), "no candidate source named"),
        (MappingConfig(sources=("exact", "magic")), "unknown candidate source 'magic'"),
        (MappingConfig(sources=("exact", "llm")), "the llm source needs --model"),
        (MappingConfig(adapter="a.gguf"), "--adapter needs --model"),
        (MappingConfig(server="http://127.0.0.1:9", mode="guess"), "--mode must be one of"),
        (MappingConfig(model="m.gguf", server="http://127.0.0.1:9"), "--model or --server"),
        (
            MappingConfig(sources=("llm",), server="http://127.0.0.1:9", mode="choose"),
            "--mode choose picks among the other sources' candidates",
        ),
    ],
)  # fmt: skip
def test_bad_configurations_are_refused_with_a_message(
    tiny_catalog: StoreCatalog, config: MappingConfig, message: str
) -> None:
    with pytest.raises(Term2IdError, match=message):
        build_mapper(config, tiny_catalog)


def test_choose_mode_makes_the_model_a_reranker(tiny_catalog: StoreCatalog) -> None:
    config = MappingConfig(sources=("exact", "fuzzy"), server="http://127.0.0.1:9", mode="choose")
    mapper = build_mapper(config, tiny_catalog)
    assert [s.name for s in mapper.sources] == ["exact", "fuzzy"]
    assert [r.name for r in mapper.rerankers] == ["llm"]


# Runs the installed command with sentence-transformers made unimportable, as on a bare install.
_WITHOUT_SEMANTIC = (
    "import sys; sys.modules['sentence_transformers'] = None; "
    "from term2id.cli import main; sys.argv = ['term2id', *sys.argv[1:]]; main()"
)


def _without_semantic(*args: str | Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", _WITHOUT_SEMANTIC, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=os.environ, timeout=120)


def test_without_the_semantic_extra_the_default_says_so_once_and_maps_with_the_rest(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    out = tmp_path / "mapped.tsv"
    done = _without_semantic(
        "map", DATA / "table_terms.tsv", "-c", "term", "--ontology-column", "ontology",
        "-o", out, "--data-dir", tiny_catalog.data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("the semantic source is not installed") == 1, done.stderr
    assert "sentence-transformers is not installed" in done.stderr
    assert "mapped with exact and fuzzy only" in done.stderr
    assert "pip install 'term2id[semantic]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert "mapped 5 rows" in done.stdout and out.is_file()


def test_without_the_semantic_extra_naming_it_is_a_one_line_error(
    tiny_catalog: StoreCatalog, tmp_path: Path
) -> None:
    gold = tmp_path / "gold.tsv"
    gold.write_text("term\texpected_curie\nSeizures\tTP:0000003\n", encoding="utf-8")
    done = _without_semantic(
        "eval", gold, "--ontology", "tiny", "--sources", "exact,semantic",
        "--data-dir", tiny_catalog.data_dir,
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "the semantic source needs the semantic extra" in lines[0]
