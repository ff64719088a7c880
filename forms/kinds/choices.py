"""Kinds that pick from options: ``choice``, ``multichoice`` and the dynamic ones.

Static options come from the definition.  ``org_unit``, ``station``, ``slot`` and
``record`` take their options from the database, which ``forms`` must not touch: the
web layer passes a provider ``(field_spec) -> [(value, label), …]`` and the submitted
value must be one of those values.
"""
from __future__ import annotations

from typing import Any

from forms import messages as M
from forms.kinds.base import BuildContext, FieldKind
from forms.messages import InputError, translate
from forms.registry import register
from forms.validators import Count
from forms.wtf import ChoiceField, MultiChoiceField
from workflows.fields import FieldSpec


def _value_text(value: Any) -> str:
    # Option values are text; ids may arrive from JSON as numbers.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(M.EXPECTED_CHOICE)
    return str(value)


class _OptionsKind(FieldKind):
    required_message = M.REQUIRED_CHOICE
    json_types = (str, int)
    json_type_message = M.EXPECTED_CHOICE

    def options(self, spec: FieldSpec, ctx: BuildContext, *, strict: bool
                ) -> list[tuple[str, str]] | None:
        return [(c.value, (c.label_en or c.label) if ctx.english else c.label)
                for c in spec.choices]

    def make_field(self, spec: FieldSpec, ctx: BuildContext, **options: Any) -> Any:
        return ChoiceField(options=self.options(spec, ctx, strict=True) or [],
                           placeholder=translate(ctx.locale, M.CHOOSE), **options)

    def from_json(self, spec: FieldSpec, value: Any) -> str | None:
        return None if value is None else _value_text(value)

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "enum": [c.value for c in spec.choices]}


@register
class ChoiceKind(_OptionsKind):
    """One option of the definition's list."""

    name = "choice"


@register
class MultiChoiceKind(_OptionsKind):
    """Any number of options; ``min``/``max`` bound how many."""

    name = "multichoice"
    json_types = (list, tuple)
    json_type_message = M.EXPECTED_LIST

    def make_field(self, spec: FieldSpec, ctx: BuildContext, **options: Any) -> Any:
        return MultiChoiceField(options=self.options(spec, ctx, strict=True) or [], **options)

    def checks(self, spec: FieldSpec, ctx: BuildContext) -> list[Any]:
        return [Count(spec.min, spec.max)] if spec.min or spec.max else []

    def api_input(self, spec: FieldSpec, value: Any) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, (list, tuple)):
            raise InputError(M.EXPECTED_LIST)
        return [_value_text(v) for v in value]

    def to_json(self, spec: FieldSpec, value: Any) -> list[str] | None:
        return list(value) or None  # nothing picked is stored as the engine stores it

    def from_json(self, spec: FieldSpec, value: Any) -> list[str]:
        return self.api_input(spec, value)

    def limits(self, spec: FieldSpec) -> dict[str, Any]:
        return {k: v for k, v in (("min", spec.min), ("max", spec.max)) if v is not None}

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        values = [c.value for c in spec.choices]
        out: dict[str, Any] = {"type": "array", "uniqueItems": True,
                               "items": {"type": "string", "enum": values}}
        out.update({k: v for k, v in (("minItems", spec.min), ("maxItems", spec.max))
                    if v is not None})
        return out


class DynamicChoiceKind(_OptionsKind):
    """One option from the web layer's provider (units, stations, duty slots)."""

    def options(self, spec: FieldSpec, ctx: BuildContext, *, strict: bool
                ) -> list[tuple[str, str]] | None:
        if ctx.choices is None:
            if strict:
                raise TypeError(f"field {spec.name!r} ({spec.type}) takes its options "
                                "from the database: pass choices=<provider>")
            return None
        return [(str(value), str(label)) for value, label in ctx.choices(spec)]

    def to_json(self, spec: FieldSpec, value: Any) -> Any:
        # Stored as the engine stores references: database ids as numbers.
        if isinstance(value, str) and value.isascii() and value.isdigit() \
                and value == str(int(value)):
            return int(value)
        return value

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": ["string", "integer"], "x-choices": "dynamic"}


@register
class OrgUnitKind(DynamicChoiceKind):
    name = "org_unit"


@register
class StationKind(DynamicChoiceKind):
    name = "station"


@register
class SlotKind(DynamicChoiceKind):
    name = "slot"


@register
class RecordKind(DynamicChoiceKind):
    """A business record the web layer lists (a course, a retreat batch); the
    provider reads ``field_spec.source`` to know which."""

    name = "record"
