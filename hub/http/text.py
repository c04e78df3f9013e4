"""Texts people write for others to read: a request, a note, a comment, a notice.

What nobody can see is refused: a text of spaces, zero-width characters or controls only
would open a request, close a case or reach every household looking blank. Bidi embeddings,
overrides and isolates are dropped from what is kept: they make a text read otherwise in the
console or on a resident's phone than it was written. Chinese, emoji (their joiners too) and
newlines are kept as they are.
"""

import unicodedata

from hub.errors import InvalidInputError

BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
"""Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069)."""

_NO_BIDI = dict.fromkeys(map(ord, BIDI_CONTROLS))

_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
"""Characters that are letters (or symbols) but show nothing: Hangul fillers, blank Braille."""


def _shows(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] not in "CZM" and char not in _BLANK_LETTERS


def visible_text(text: str, refusal: str, code: str | None = None) -> str:
    """Return ``text`` without bidi controls, or raise InvalidInputError (``refusal``, with
    ``code``) if nothing of it is visible (only spaces, zero-width characters, controls)."""
    kept = text.translate(_NO_BIDI)
    if not any(_shows(char) for char in kept):
        raise InvalidInputError(refusal, code=code)
    return kept


def visible_or_none(text: str | None, refusal: str, code: str | None = None) -> str | None:
    """Return an optional text as ``visible_text`` does; None when it is absent or only
    spaces (left empty), refused when it holds characters of which none shows."""
    if text is None or not text.strip():
        return None
    return visible_text(text, refusal, code)
