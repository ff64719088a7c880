"""Number kinds: ``integer`` and ``decimal``.

Integers are stored as JSON numbers, limited to what JavaScript clients read exactly.
Decimals are stored as text ("12.50"), as the engine stores them, so money stays exact.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from wtforms import widgets

from forms import messages as M
from forms.kinds.base import BuildContext, FieldKind
from forms.messages import InputError
from forms.registry import register
from forms.validators import Range
from workflows.fields import FieldSpec

MAX_SAFE_INTEGER = 2 ** 53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER
MAX_DECIMAL_DIGITS = 30
_SEPARATORS = re.compile(r"[,\s]")  # "1,000" and "1 000" are how people write numbers
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")


class NumberKind(FieldKind):
    """What integers and decimals share: folding, API types, range checks."""

    fold = True
    json_types = (int, float, str)
    json_type_message = M.EXPECTED_NUMBER

    def bound(self, value: Any) -> Any:
        return value

    def checks(self, spec: FieldSpec, ctx: BuildContext) -> list[Any]:
        if spec.min is None and spec.max is None:
            return []
        least = None if spec.min is None else self.bound(spec.min)
        most = None if spec.max is None else self.bound(spec.max)
        return [Range(least, most, too_small=M.NUMBER_MIN, too_big=M.NUMBER_MAX)]

    def render_attrs(self, spec: FieldSpec) -> dict[str, Any]:
        attrs = {k: str(v) for k, v in (("min", spec.min), ("max", spec.max)) if v is not None}
        return attrs

    def api_text(self, value: Any) -> str:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise InputError(M.EXPECTED_NUMBER)
            return repr(value)
        return str(value)

    def limits(self, spec: FieldSpec) -> dict[str, Any]:
        return {k: self.to_json(spec, self.bound(v))
                for k, v in (("min", spec.min), ("max", spec.max)) if v is not None}


@register
class IntegerKind(NumberKind):
    """A whole number (a rating, a count of people)."""

    name = "integer"

    def widget(self, spec: FieldSpec) -> Any:
        return widgets.NumberInput()

    def parse(self, spec: FieldSpec, text: str) -> int:
        text = _SEPARATORS.sub("", text)
        if not _INTEGER.fullmatch(text):
            raise InputError(M.NOT_INTEGER)
        number = int(text) if len(text) <= 20 else MAX_SAFE_INTEGER + 1
        if abs(number) > MAX_SAFE_INTEGER:
            raise InputError(M.TOO_MANY_DIGITS)
        return number

    def api_text(self, value: Any) -> str:
        # 5.0 is what some JSON encoders send for 5.
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return super().api_text(value)

    def bound(self, value: Any) -> int:
        return int(value)

    def from_json(self, spec: FieldSpec, value: Any) -> int | None:
        return self.read(spec, self.api_text(value)) if value is not None else None

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer"}
        out.update({k: v for k, v in (("minimum", spec.min), ("maximum", spec.max))
                    if v is not None})
        return out


@register
class DecimalKind(NumberKind):
    """A number with a fraction (an amount, a distance)."""

    name = "decimal"

    def widget(self, spec: FieldSpec) -> Any:
        return widgets.NumberInput(step="any")

    def parse(self, spec: FieldSpec, text: str) -> Decimal:
        text = _SEPARATORS.sub("", text)
        if not _DECIMAL.fullmatch(text):
            raise InputError(M.NOT_DECIMAL)
        if sum(ch.isdigit() for ch in text) > MAX_DECIMAL_DIGITS:
            raise InputError(M.TOO_MANY_DIGITS)
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise InputError(M.NOT_DECIMAL) from None
        places = -number.as_tuple().exponent
        if spec.places is not None and isinstance(places, int) and places > spec.places:
            raise InputError(M.TOO_MANY_PLACES, places=spec.places)
        return number + 0  # turns -0 into 0

    def bound(self, value: Any) -> Decimal:
        return Decimal(str(value))

    def to_json(self, spec: FieldSpec, value: Any) -> str | None:
        return None if value is None else str(value)

    def from_json(self, spec: FieldSpec, value: Any) -> Decimal | None:
        return self.read(spec, self.api_text(value)) if value is not None else None

    def limits(self, spec: FieldSpec) -> dict[str, Any]:
        out = super().limits(spec)
        if spec.places is not None:
            out["places"] = spec.places
        return out

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        # Sent as a number or as text; stored and returned as text to stay exact.
        out: dict[str, Any] = {"type": ["number", "string"], "format": "decimal"}
        out.update({k: float(v) for k, v in (("minimum", spec.min), ("maximum", spec.max))
                    if v is not None})
        return out
