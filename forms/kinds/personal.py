"""Personal identifiers: ``phone`` (mainland mobile) and ``id_card`` (resident ID).

Both always count as personal data: they are masked for people who may not see it,
whether or not the definition flags them ``private``.
"""
from __future__ import annotations

from typing import Any

from wtforms import widgets

from forms.identity import normalise_id_card, normalise_phone
from forms.kinds.base import FieldKind
from forms.registry import register
from workflows.fields import FieldSpec


@register
class PhoneKind(FieldKind):
    """A mainland mobile number, stored as its 11 digits."""

    name = "phone"
    fold = True
    personal = True
    json_types = (str, int)  # some apps send the number as a JSON number

    def widget(self, spec: FieldSpec) -> Any:
        return widgets.TelInput()

    def render_attrs(self, spec: FieldSpec) -> dict[str, Any]:
        return {"autocomplete": "tel", "inputmode": "tel", "maxlength": 20}

    def parse(self, spec: FieldSpec, text: str) -> str:
        return normalise_phone(text)

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "pattern": r"^1[3-9][0-9]{9}$",
                "description": "11 digits; spaces, dashes and +86 are accepted on input"}


@register
class IdCardKind(FieldKind):
    """An 18-character resident ID number with a valid check character and birth date."""

    name = "id_card"
    fold = True
    personal = True

    def render_attrs(self, spec: FieldSpec) -> dict[str, Any]:
        return {"autocomplete": "off", "maxlength": 22, "spellcheck": "false"}

    def parse(self, spec: FieldSpec, text: str) -> str:
        return normalise_id_card(text)

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "pattern": r"^[0-9]{17}[0-9Xx]$"}
