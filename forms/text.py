"""Tidying one submitted string before a field kind parses it.

Browsers and API clients send anything: NUL bytes (PostgreSQL refuses them in text),
lone surrogates (not encodable as UTF-8), full-width digits typed on a Chinese
keyboard, trailing spaces from phone keyboards.  Every kind starts from this.
"""
from __future__ import annotations

import unicodedata
from typing import Any

from forms import messages as M
from forms.messages import InputError

# Far beyond any real answer; checked before any parsing so huge input costs nothing.
MAX_INPUT = 100_000


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
    if len(raw) > MAX_INPUT:
        raise InputError(M.TOO_LONG, max=MAX_INPUT)
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        text = text.replace("\n", " ")  # pasted into a one-line box: keep the words
    if has_forbidden(text, multiline=multiline):
        raise InputError(M.BAD_CHARACTERS)
    text = unicodedata.normalize("NFKC" if fold else "NFC", text).strip()
    return text or None


def has_forbidden(text: str, *, multiline: bool = False) -> bool:
    """Control characters (other than tab/newline in long text) or lone surrogates."""
    allowed = "\t\n" if multiline else "\t"
    return any(
        (unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed) for ch in text)
