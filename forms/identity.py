"""Mainland mobile numbers and resident ID numbers: reading and checking them.

Input has already been folded to ASCII (NFKC), so full-width digits typed on a
Chinese keyboard arrive as plain digits.
"""
from __future__ import annotations

import re
from datetime import date

from forms import messages as M
from forms.messages import InputError

_PHONE = re.compile(r"1[3-9][0-9]{9}")
_PHONE_NOISE = re.compile(r"[\s\-().]")  # how people group digits: 138-1234-5678
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"  # indexed by the weighted sum mod 11 (ISO 7064 MOD 11-2)


def normalise_phone(text: str) -> str:
    """The 11 digits of a mainland mobile number, from "+86 138-1234-5678" and alike."""
    digits = _PHONE_NOISE.sub("", text)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
            break
    if not _PHONE.fullmatch(digits):
        raise InputError(M.PHONE)
    return digits


def id_check_char(first17: str) -> str:
    """The check character of an 18-character resident ID (GB 11643)."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS))
    return ID_CHECK_CHARS[total % 11]


def normalise_id_card(text: str, *, today: date | None = None) -> str:
    """An 18-character resident ID number, upper-case X, checked.

    Checks the shape, the check character and the date of birth inside (a real
    day, not before 1900 and not in the future).
    """
    number = re.sub(r"[\s\-]", "", text).upper()
    if not _ID_SHAPE.fullmatch(number):
        raise InputError(M.ID_CARD_FORM)
    if id_check_char(number[:17]) != number[17]:
        raise InputError(M.ID_CARD_CHECK)
    if not _birth_ok(number[6:14], today or date.today()):
        raise InputError(M.ID_CARD_BIRTH)
    return number


def _birth_ok(digits: str, today: date) -> bool:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= today
