"""GBNF grammars that confine the model's answer to identifiers (or to a list of choices).

Two kinds, per ontology:
- syntax: any id of the ontology's shape (`HP:` and seven digits, `HGNC:` and digits, a gene
  symbol), derived from the ids in the store;
- allow-list: only ids that exist in the store, written as a prefix trie (one rule per branching
  point), which llama.cpp matches in about 10 ms per query for 19k ids, against about 3 s for a
  flat alternation of the same ids.

An invalid grammar makes llama.cpp crash the whole process, so grammars are built only from ids
that match a strict pattern and every grammar is parsed once by llama.cpp's own parser
(`validate_gbnf`) before anything uses it.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from term2id.core.errors import Term2IdError

log = logging.getLogger(__name__)

# Ids that may enter a grammar: letters/digits/underscore prefix, a colon, a plain local part.
SAFE_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}:[A-Za-z0-9_.-]{1,64}$")
# Gene symbols as HGNC writes them (TP53, HLA-DRB1, C1orf112, MT-ND1).
GENE_SYMBOL_GBNF = r"[A-Za-z0-9] [A-Za-z0-9.-]{0,24}"
NONE_ANSWER = "none"


class GrammarError(Term2IdError):
    """A generated grammar that llama.cpp's parser rejects (a bug: reported, never run)."""


@dataclass(frozen=True, slots=True)
class IdGrammar:
    """A grammar with the regex that checks the same language after the fact."""

    kind: str  # "syntax", "allow-list", "symbol", "choices"
    gbnf: str
    pattern: re.Pattern[str]  # matches a whole answer, after stripping surrounding whitespace

    def accepts(self, answer: str) -> bool:
        return self.pattern.fullmatch(answer.strip()) is not None


def _literal(text: str) -> str:
    # Only SAFE_ID_RE characters reach here, none of which needs escaping in a GBNF string.
    return '"' + text + '"'


def syntax_pattern(prefix: str, local_lengths: Counter[int], digits_only: bool) -> tuple[str, str]:
    """(GBNF body, regex) for ids PREFIX:LOCAL with the observed local-part shape."""
    if digits_only and len(local_lengths) == 1:
        (n,) = local_lengths
        return f"{_literal(prefix + ':')} [0-9]{{{n}}}", rf"{re.escape(prefix)}:[0-9]{{{n}}}"
    if digits_only:
        longest = max(local_lengths)
        return (
            f"{_literal(prefix + ':')} [0-9]{{1,{longest}}}",
            rf"{re.escape(prefix)}:[0-9]{{1,{longest}}}",
        )
    return (
        f"{_literal(prefix + ':')} [A-Za-z0-9_.-]{{1,64}}",
        rf"{re.escape(prefix)}:[A-Za-z0-9_.-]{{1,64}}",
    )


def syntax_grammar(curies: Iterable[str]) -> IdGrammar:
    """Any id shaped like the given ones (one alternative per prefix)."""
    lengths: dict[str, Counter[int]] = {}
    digits: dict[str, bool] = {}
    for curie in curies:
        if not SAFE_ID_RE.match(curie):
            continue
        prefix, local = curie.split(":", 1)
        lengths.setdefault(prefix, Counter())[len(local)] += 1
        digits[prefix] = digits.get(prefix, True) and local.isdigit()
    if not lengths:
        raise GrammarError("no identifiers of a recognisable shape in the store")
    bodies, patterns = [], []
    for prefix in sorted(lengths):
        body, pattern = syntax_pattern(prefix, lengths[prefix], digits[prefix])
        bodies.append(f"( {body} )")
        patterns.append(f"(?:{pattern})")
    gbnf = f'root ::= " "? ( {" | ".join(bodies)} )\n'
    return IdGrammar("syntax", gbnf, re.compile("|".join(patterns)))


def symbol_grammar() -> IdGrammar:
    gbnf = f'root ::= " "? {GENE_SYMBOL_GBNF}\n'
    return IdGrammar("symbol", gbnf, re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,24}"))


def allow_list_grammar(curies: Iterable[str]) -> IdGrammar:
    """Exactly the given ids, as a prefix trie in GBNF. Ids of an unsafe shape are left out."""
    safe = sorted({c for c in curies if SAFE_ID_RE.match(c)})
    if not safe:
        raise GrammarError("no identifiers to build an allow-list grammar from")
    rules: list[str] = []
    body = _trie_rules(safe, 0, rules)
    gbnf = f'root ::= " "? {body}\n' + "".join(rules)
    allowed = frozenset(safe)
    return IdGrammar("allow-list", gbnf, _SetPattern(allowed))  # type: ignore[arg-type]


def choices_grammar(choices: Sequence[str]) -> IdGrammar:
    """One of the given ids, or "none"."""
    safe = [c for c in dict.fromkeys(choices) if SAFE_ID_RE.match(c)]
    options = " | ".join(_literal(c) for c in [*safe, NONE_ANSWER])
    allowed = frozenset([*safe, NONE_ANSWER])
    return IdGrammar("choices", f'root ::= " "? ( {options} )\n', _SetPattern(allowed))  # type: ignore[arg-type]


class _SetPattern:
    """The `fullmatch` of a regex, for a finite set of strings."""

    __slots__ = ("allowed",)

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed

    def fullmatch(self, text: str) -> bool | None:
        return True if text in self.allowed else None


def _trie_rules(words: list[str], depth: int, rules: list[str]) -> str:
    """GBNF expression matching `words[i][depth:]` for sorted, distinct `words`."""
    # Extend the shared run of characters as far as all words agree (a chain in the trie).
    end = depth
    while all(len(w) > end for w in words) and len({w[end] for w in words}) == 1:
        end += 1
    literal = _literal(words[0][depth:end]) if end > depth else ""
    ends_here = [w for w in words if len(w) == end]
    rest = [w for w in words if len(w) > end]
    if not rest:
        return literal or '""'
    branches: list[str] = []
    start = 0
    while start < len(rest):
        char = rest[start][end]
        stop = start
        while stop < len(rest) and rest[stop][end] == char:
            stop += 1
        branches.append(_trie_rules(rest[start:stop], end, rules))
        start = stop
    if ends_here:
        branches.append('""')
    if len(branches) == 1:
        return f"{literal} {branches[0]}".strip()
    name = f"t{len(rules)}"
    rules.append("")  # reserve the slot so nested rules get distinct names
    rules[int(name[1:])] = f"{name} ::= {' | '.join(branches)}\n"
    return f"{literal} {name}".strip()


@lru_cache(maxsize=64)
def validate_gbnf(gbnf: str) -> None:
    """Parse with llama.cpp's own parser; GrammarError if it would not parse.

    Needs llama-cpp-python (the `llm` extra). Passing no vocabulary only parses the grammar.
    """
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(None, gbnf.encode("utf-8"), b"root")
    if not sampler:
        raise GrammarError(f"llama.cpp rejects a generated grammar: {gbnf[:200]!r}")
    llama_cpp.llama_sampler_free(sampler)
