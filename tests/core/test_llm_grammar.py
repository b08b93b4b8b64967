"""Grammars confine the model to real ids, and a broken grammar never reaches llama.cpp's sampler."""

from __future__ import annotations

import re

import llama_cpp  # noqa: F401 - installed by `make test`: missing, the install is broken
import pytest

from term2id.core.llm.grammar import (
    GrammarError,
    allow_list_grammar,
    choices_grammar,
    symbol_grammar,
    syntax_grammar,
    validate_gbnf,
)

IDS = ["HP:0001250", "HP:0001251", "HP:0002000", "HP:0000118", "HP:0012638"]


def test_allow_list_accepts_exactly_the_ids_and_parses_in_llama_cpp() -> None:
    grammar = allow_list_grammar(IDS)
    validate_gbnf(grammar.gbnf)
    for curie in IDS:
        assert grammar.accepts(curie) and grammar.accepts(" " + curie)
    assert not grammar.accepts("HP:0001252")
    assert not grammar.accepts("HP:000125")
    # written as a trie: shared prefixes appear once, not once per id
    assert grammar.gbnf.count('"HP:') == 1


def test_ids_of_an_unsafe_shape_never_enter_a_grammar() -> None:
    hostile = ['HP:1" | [', "HP:2\\n", "X:a b", 'EVIL:"quote"']
    grammar = allow_list_grammar([*IDS, *hostile])
    validate_gbnf(grammar.gbnf)  # still parses: the malformed ids were left out
    assert not any(grammar.accepts(h) for h in hostile)
    with pytest.raises(GrammarError):
        allow_list_grammar(hostile)


def test_syntax_grammar_follows_the_store_id_shape() -> None:
    grammar = syntax_grammar([*IDS, "HGNC:5", "HGNC:11998", "GO:0005739"])
    validate_gbnf(grammar.gbnf)
    assert grammar.accepts("HP:9999999")
    assert not grammar.accepts("HP:99999999")  # HPO ids have seven digits
    assert grammar.accepts("HGNC:123")
    assert grammar.accepts("GO:0000001")
    assert not grammar.accepts("MONDO:0000001")


def test_choices_grammar_allows_the_listed_ids_or_none() -> None:
    grammar = choices_grammar(["HP:0001250", "HP:0002000"])
    validate_gbnf(grammar.gbnf)
    assert grammar.accepts("HP:0001250") and grammar.accepts("none")
    assert not grammar.accepts("HP:0001251")


def test_gene_symbol_grammar() -> None:
    grammar = symbol_grammar()
    validate_gbnf(grammar.gbnf)
    assert grammar.accepts("TP53") and grammar.accepts("HLA-DRB1")
    assert not grammar.accepts("TP53 is a gene")


def test_an_invalid_grammar_is_an_error_not_a_crash() -> None:
    with pytest.raises(GrammarError, match="rejects"):
        validate_gbnf('root ::= " HP:" [0-9{7}')
    with pytest.raises(GrammarError):
        validate_gbnf("root ::= undefined-rule")


def test_allow_list_of_all_hpo_ids_parses(hpo_store) -> None:
    ids = list(hpo_store.labels())
    grammar = allow_list_grammar(ids)
    validate_gbnf(grammar.gbnf)
    assert all(grammar.accepts(c) for c in ids[:: max(1, len(ids) // 200)])
    assert re.search(r"t\d+ ::=", grammar.gbnf)
