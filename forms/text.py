"""Tidying one submitted string before a field kind parses it.

Browsers and API clients send anything: NUL bytes (PostgreSQL refuses them in text),
lone surrogates (not encodable as UTF-8), full-width digits typed on a Chinese
keyboard, trailing spaces from phone keyboards.  Every kind starts from this.
"""
from __future__ import annotations

import re
import sys
import unicodedata
from typing import Any

from forms import messages as M
from forms.messages import InputError

# Control characters (Unicode category Cc) other than tab (and newline in long text), and
# lone surrogates (Cs), found by the regex engine: every step of ``tidy`` runs in C, so a
# body-sized string costs about what decoding it did, and no cap is needed in front of the
# field's own length check (such a cap gave its own number, "at most 100000", instead of
# the field's limit).
_FORBIDDEN = {False: re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]"),
              True: re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")}


# Bidirectional embeddings, overrides and isolates (U+202A–202E, U+2066–2069): never
# typed, and one in a title turns the text after it around where it is shown (an inbox,
# the wish wall) — taken out.  Invisible format characters (zero-width space and joiners,
# word joiner, BOM, soft hyphen) at either end are trimmed like spaces, so an answer made
# of nothing else is empty — a required field is then missing, not filled with nothing.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_INVISIBLE = "\\s\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff"
_EDGES = re.compile(f"^[{_INVISIBLE}]+|[{_INVISIBLE}]+$")


def first_value(valuelist: Any) -> Any:
    """The first submitted value (a web form may repeat a name; we read one)."""
    return valuelist[0] if valuelist else None


def tidy(raw: Any, *, multiline: bool = False, fold: bool = False) -> str | None:
    """The submitted text, stripped; None when empty.

    ``fold`` applies NFKC so full-width "１３８" reads as "138" (for numbers, phone
    and ID numbers).  Raises ``InputError`` for non-text or forbidden characters.
    """
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InputError(M.INVALID_INPUT)
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        text = text.replace("\n", " ")  # pasted into a one-line box: keep the words
    if has_forbidden(text, multiline=multiline):
        raise InputError(M.BAD_CHARACTERS)
    text = _EDGES.sub("", unicodedata.normalize("NFKC" if fold else "NFC", _BIDI.sub("", text)))
    if _too_many_digits(text):
        raise InputError(M.INVALID_INPUT)
    return text or None


def _too_many_digits(text: str) -> bool:
    """A numeral longer than Python turns into an int (4300 digits): ``int()`` raises on
    it, and kinds holding ids call it.  No answer is such a number."""
    limit = sys.get_int_max_str_digits()
    return bool(limit) and len(text) > limit and text.isdigit()


def has_forbidden(text: str, *, multiline: bool = False) -> bool:
    """Control characters (other than tab/newline in long text) or lone surrogates."""
    return _FORBIDDEN[multiline].search(text) is not None
