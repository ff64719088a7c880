"""Thin WTForms field classes whose input is read by a field kind.

WTForms' stock fields store whatever arrives (a file object in a text box, a list, a
NUL byte) or raise odd errors on it.  These read input only through a kind's ``read``
function, which returns a clean value or raises ``InputError``; the error is rendered
in the form's language and recorded as a processing error, never raised further.
"""
from __future__ import annotations

from typing import Any, Callable

from wtforms import widgets
from wtforms.fields import BooleanField, Field, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from forms import messages as M
from forms.messages import InputError
from forms.text import first_value, tidy

Reader = Callable[[Any], Any]


class _ReadsInput:
    """Turns ``InputError`` from a reader into a WTForms processing error."""

    _translations: Any

    def _read(self, reader: Reader, value: Any) -> Any:
        try:
            return reader(value)
        except InputError as exc:
            raise ValueError(exc.render(self._translations)) from None


class ParsedField(_ReadsInput, Field):
    """One value typed into a box (text, number, date, phone, …)."""

    widget = widgets.TextInput()

    def __init__(self, label: Any = None, validators: Any = None, *, reader: Reader,
                 loader: Reader, formatter: Callable[[Any], str] = str, **kwargs: Any):
        super().__init__(label, validators, **kwargs)
        self.reader, self.loader, self.formatter = reader, loader, formatter

    def process_data(self, value: Any) -> None:
        # Stored JSON (``data=``) or the definition's default, to pre-fill the box; a
        # value that no longer reads (the definition changed) is simply left out.
        try:
            self.data = None if value is None else self.loader(value)
        except InputError:
            self.data = None

    def process_formdata(self, valuelist: list) -> None:
        self.data = None
        self.data = self._read(self.reader, first_value(valuelist))

    def _value(self) -> str:
        # After a failed submit, show what the person typed so they can correct it.
        if self.raw_data and isinstance(self.raw_data[0], str):
            return self.raw_data[0]
        return "" if self.data is None else self.formatter(self.data)


def select_choices(options: list[tuple[str, str]], placeholder: str) -> list[SelectChoice]:
    """WTForms options with a leading empty one, so nobody submits a default by accident."""
    return [SelectChoice("", placeholder)] + [SelectChoice(v, label) for v, label in options]


class ChoiceField(_ReadsInput, SelectField):
    """One value from a list of options (static or supplied by the web layer)."""

    def __init__(self, label: Any = None, validators: Any = None, *,
                 options: list[tuple[str, str]], placeholder: str, **kwargs: Any):
        super().__init__(label, validators, choices=select_choices(options, placeholder),
                         **kwargs)
        self.allowed = frozenset(v for v, _ in options)

    def process_data(self, value: Any) -> None:
        self.data = None if value is None else str(value)

    def process_formdata(self, valuelist: list) -> None:
        self.data = None
        self.data = self._read(tidy, first_value(valuelist))

    def pre_validate(self, form: Any) -> None:
        if self.data is not None and self.data not in self.allowed:
            raise ValidationError(self.gettext(M.NOT_A_CHOICE))


class MultiChoiceField(_ReadsInput, SelectMultipleField):
    """Several values from a list of options; order kept, repeats dropped."""

    def __init__(self, label: Any = None, validators: Any = None, *,
                 options: list[tuple[str, str]], **kwargs: Any):
        super().__init__(label, validators,
                         choices=[SelectChoice(v, label) for v, label in options], **kwargs)
        self.allowed = frozenset(v for v, _ in options)

    def process_data(self, value: Any) -> None:
        self.data = [str(v) for v in value] if isinstance(value, (list, tuple)) else []

    def process_formdata(self, valuelist: list) -> None:
        self.data = []
        picked = [self._read(tidy, v) for v in valuelist]
        self.data = list(dict.fromkeys(v for v in picked if v is not None))

    def pre_validate(self, form: Any) -> None:
        if any(v not in self.allowed for v in self.data):
            raise ValidationError(self.gettext(M.NOT_A_CHOICE))


# What an unticked checkbox, or a "no" from a script, may send.
FALSE_VALUES = frozenset({"", "false", "0", "off", "no", "n"})


class CheckField(_ReadsInput, BooleanField):
    """A tick box: ticked or not, never an error for odd text."""

    def process_data(self, value: Any) -> None:
        self.data = value is True

    def process_formdata(self, valuelist: list) -> None:
        self.data = False
        text = self._read(tidy, first_value(valuelist))
        self.data = text is not None and text.lower() not in FALSE_VALUES


class UploadField(_ReadsInput, Field):
    """One or more uploaded files, each read into a checked ``forms.uploads.Upload``."""

    widget = widgets.FileInput()

    def __init__(self, label: Any = None, validators: Any = None, *, reader: Reader,
                 max_files: int = 1, **kwargs: Any):
        super().__init__(label, validators, **kwargs)
        self.reader, self.max_files = reader, max_files
        if max_files > 1:
            self.widget = widgets.FileInput(multiple=True)

    def process_data(self, value: Any) -> None:
        self.data = []  # a browser cannot pre-fill a file input

    def process_formdata(self, valuelist: list) -> None:
        self.data = []
        uploads = [self._read(self.reader, v) for v in valuelist]
        uploads = [u for u in uploads if u is not None]
        if len(uploads) > self.max_files:
            raise ValueError(self.gettext(M.FILE_COUNT) % {"max": self.max_files})
        self.data = uploads

    def _value(self) -> Any:
        return False
