"""Untrusted text made safe for a terminal: no control or format characters.

Strings from manifests, model folders, dataset manifests and the database can carry
escape sequences (which can rewrite what a terminal shows: a FAIL line turned into an
OK one) or bidirectional overrides such as U+202E. Everything printed goes through
`printable`; names and ids that carry such characters are refused where they enter.
This module imports nothing of the project, so every layer can use it.
"""

from __future__ import annotations

import unicodedata

HIDDEN_CATEGORIES = ("Cc", "Cf")  # control characters (ESC, CR, LF...) and format characters (U+202E...)
_WHITESPACE_CONTROLS = "\t\n\r\v\f"


def is_hidden(character: str) -> bool:
    return unicodedata.category(character) in HIDDEN_CATEGORIES


def has_hidden_characters(text: str) -> bool:
    """True when `text` holds a control or format character (Unicode categories Cc, Cf)."""
    return any(is_hidden(character) for character in text)


def printable(text: object) -> str:
    """`text` as one inert line: whitespace controls become spaces, other Cc/Cf characters go."""
    return "".join(
        " " if character in _WHITESPACE_CONTROLS else character
        for character in str(text)
        if character in _WHITESPACE_CONTROLS or not is_hidden(character)
    )


# Characters Markdown (CommonMark, and the HTML it may carry) gives a meaning; a backslash
# makes each literal. Text from records (names, licences, attributions, notes) is untrusted.
_MARKDOWN_SPECIALS = frozenset("\\`*_[]<>|~#!&")


def markdown_inert(text: object) -> str:
    """`text` as one inert line of Markdown: no raw HTML, links, emphasis, table breaks or newlines."""
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIALS else c for c in printable(text))
