"""Validators built from a field's definition: presence, length, range, pattern, count.

They run after a kind has read the input into a clean value, so they compare values
(numbers, dates, lists), not raw text.  Messages come from the form's translations.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from wtforms.validators import StopValidation, ValidationError

from forms import messages as M


def is_empty(value: Any) -> bool:
    """Nothing entered: None, "", an empty list, or an unticked box."""
    return value is None or value is False or value == "" or value == []


class Presence:
    """First in every chain: stops on unreadable input, then on empty input.

    Unreadable input already has its message (e.g. "enter a whole number"); adding
    "required" or a range error beside it would only confuse.
    """

    def __init__(self, required: bool, message: str = M.REQUIRED):
        self.required, self.message = required, message
        self.field_flags = {"required": True} if required else {}

    def __call__(self, form: Any, field: Any) -> None:
        if field.process_errors:
            raise StopValidation()
        if is_empty(field.data):
            if self.required:
                raise StopValidation(field.gettext(self.message))
            raise StopValidation()  # optional and empty: nothing more to check


class Length:
    """Text length in characters (a Chinese character counts as one)."""

    def __init__(self, least: int | None, most: int | None):
        self.least, self.most = least, most
        self.field_flags = {k: v for k, v in (("minlength", least), ("maxlength", most))
                            if v is not None}

    def __call__(self, form: Any, field: Any) -> None:
        size = len(field.data)
        if self.least is not None and size < self.least:
            raise ValidationError(field.gettext(M.TOO_SHORT) % {"min": self.least})
        if self.most is not None and size > self.most:
            raise ValidationError(field.gettext(M.TOO_LONG) % {"max": self.most})


class Range:
    """A number or date between bounds; ``show`` formats a bound for the message."""

    def __init__(self, least: Any, most: Any, *, too_small: str, too_big: str,
                 show: Callable[[Any], str] = str):
        self.least, self.most, self.show = least, most, show
        self.too_small, self.too_big = too_small, too_big

    def __call__(self, form: Any, field: Any) -> None:
        if self.least is not None and field.data < self.least:
            raise ValidationError(field.gettext(self.too_small) % {"min": self.show(self.least)})
        if self.most is not None and field.data > self.most:
            raise ValidationError(field.gettext(self.too_big) % {"max": self.show(self.most)})


class Pattern:
    """The whole text matches a definition's regular expression."""

    def __init__(self, pattern: str, message: str):
        self.regex, self.message = re.compile(pattern), message

    def __call__(self, form: Any, field: Any) -> None:
        if field.errors:
            # Too long already (``Length`` runs first): a definition's expression is not
            # run over text of any size the request limit lets through.
            return
        if not self.regex.fullmatch(field.data):
            raise ValidationError(self.message)


class Count:
    """How many options are picked in a multiple choice."""

    def __init__(self, least: int | None, most: int | None):
        self.least, self.most = least, most

    def __call__(self, form: Any, field: Any) -> None:
        if self.least is not None and len(field.data) < self.least:
            raise ValidationError(field.gettext(M.CHOICES_MIN) % {"min": self.least})
        if self.most is not None and len(field.data) > self.most:
            raise ValidationError(field.gettext(M.CHOICES_MAX) % {"max": self.most})
