"""The ``boolean`` kind: a tick box ("I agree", "I have read the briefing")."""
from __future__ import annotations

from typing import Any

from forms import messages as M
from forms.kinds.base import BuildContext, FieldKind
from forms.messages import InputError
from forms.registry import register
from forms.wtf import CheckField
from workflows.fields import FieldSpec


@register
class BooleanKind(FieldKind):
    """Ticked or not.  A required box must be ticked (a declaration, a consent)."""

    name = "boolean"
    required_message = M.REQUIRED_CHECK
    json_types = (bool,)
    json_type_message = M.EXPECTED_BOOLEAN

    def make_field(self, spec: FieldSpec, ctx: BuildContext, **options: Any) -> Any:
        return CheckField(**options)

    def api_input(self, spec: FieldSpec, value: Any) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, bool):
            raise InputError(M.EXPECTED_BOOLEAN)
        return ["y"] if value else []

    def to_json(self, spec: FieldSpec, value: Any) -> bool:
        return value is True

    def from_json(self, spec: FieldSpec, value: Any) -> bool:
        return value is True

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "boolean"}
