"""The one normaliser: used to build the exact-match index and to query it.

Two strings that a curator would call "the same term" should normalise to the same key:
case, Unicode forms, whitespace and punctuation, Greek letters, British/American spelling and
plural forms are folded. The folding is applied identically to the index and to the query, so an
over-eager rule (say "toes" -> "te") can only make two real words collide, never make a spelling
miss itself.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "µ": "mu",
    "ν": "nu", "ξ": "xi", "ο": "omicron", "π": "pi", "ρ": "rho", "σ": "sigma", "ς": "sigma",
    "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
}  # fmt: skip
_GREEK_RE = re.compile("|".join(map(re.escape, _GREEK)))
# Apostrophes are dropped (Crohn's -> crohns -> crohn); every other non-word character separates.
_APOSTROPHES_RE = re.compile(r"['’‘`´]")
_SEPARATORS_RE = re.compile(r"[\W_]+")

# British -> American, applied per token, longest patterns first.
_SPELLING_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"aemia"), "emia"),
    (re.compile(r"(?<=[a-z])ae|^ae"), "e"),  # haemorrhage, caesarean, aetiology
    (
        re.compile(r"(?<=[a-z])oe(?=[a-z])|^oe(?=[a-z])"),
        "e",
    ),  # oedema, oesophagus, foetal, diarrhoea
    (re.compile(r"(?<=[a-z]{2})our(?=s?$|ed$|ing$)"), "or"),  # tumour, colour, behaviour
    (re.compile(r"(?<=[a-z]{2})is(?=e$|es$|ed$|ing$|ation$|ations$)"), "iz"),  # -ise -> -ize
    (re.compile(r"(?<=[a-z])ys(?=e$|es$|ed$|ing$)"), "yz"),  # analyse -> analyze
    (re.compile(r"(?<=[a-z][bt])re(?=s?$)"), "er"),  # centre, fibre, litre
)


@lru_cache(maxsize=200_000)
def _fold_token(token: str) -> str:
    """Spelling and plural folding for one lower-case token."""
    if not token.isalpha() or len(token) <= 3:
        return token
    for pattern, replacement in _SPELLING_RULES:
        token = pattern.sub(replacement, token)
    return _singular(token)


def _singular(token: str) -> str:
    if len(token) <= 3:
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("sses", "xes", "zes", "ches", "shes")):
        return token[:-2]
    if token.endswith("s") and not token.endswith(("ss", "us", "is", "ys")):
        return token[:-1]
    return token


def normalize(text: str) -> str:
    """Return the matching key of `text` (an empty string for text with no letters or digits)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isascii():
        text = _GREEK_RE.sub(lambda m: f" {_GREEK[m.group()]} ", text)
        # Strip accents: café -> cafe, Sjögren -> sjogren.
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    text = _APOSTROPHES_RE.sub("", text)
    return " ".join(_fold_token(t) for t in _SEPARATORS_RE.split(text) if t)
