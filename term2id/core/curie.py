"""Reading identifiers the way curators write them: HP:0001250, hp:0001250, HP_0001250, PURLs."""

from __future__ import annotations

import re

_PURL_RE = re.compile(r"^https?://purl\.obolibrary\.org/obo/([A-Za-z][A-Za-z0-9]*)_(\S+)$")
_UNDERSCORE_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)_(\d+)$")
_CURIE_RE = re.compile(r"^([A-Za-z][A-Za-z0-9._-]*):(\S+)$")


def canonical_curie(text: str) -> str | None:
    """Return `text` as PREFIX:LOCAL with the prefix upper-cased, or None if it is not an id."""
    text = text.strip()
    for pattern in (_PURL_RE, _UNDERSCORE_RE, _CURIE_RE):
        match = pattern.match(text)
        if match:
            return f"{match.group(1).upper()}:{match.group(2)}"
    return None


def prefix_of(curie: str) -> str:
    return curie.split(":", 1)[0]
