"""Free text kinds: ``text``, ``textarea`` and ``email``."""
from __future__ import annotations

from typing import Any, ClassVar

from email_validator import EmailNotValidError, validate_email
from wtforms import widgets

from forms import messages as M
from forms.kinds.base import BuildContext, FieldKind
from forms.messages import InputError, pick
from forms.registry import register
from forms.validators import Length, Pattern
from workflows.fields import DEFAULT_MAX_LENGTH, FieldSpec


@register
class TextKind(FieldKind):
    """One line of text, with the definition's length limits and pattern."""

    name = "text"
    # Without a limit in the definition a text box still has one, the engine's too.
    default_max_length: ClassVar[int] = DEFAULT_MAX_LENGTH["text"]

    def max_length(self, spec: FieldSpec) -> int:
        return spec.max_length or self.default_max_length

    def checks(self, spec: FieldSpec, ctx: BuildContext) -> list[Any]:
        checks: list[Any] = [Length(spec.min_length, self.max_length(spec))]
        if spec.pattern:
            message = pick(ctx.locale, spec.pattern_message, spec.pattern_message_en, M.PATTERN)
            checks.append(Pattern(spec.pattern, message))
        return checks

    def limits(self, spec: FieldSpec) -> dict[str, Any]:
        out: dict[str, Any] = {"max_length": self.max_length(spec)}
        if spec.min_length is not None:
            out["min_length"] = spec.min_length
        if spec.pattern:
            out["pattern"] = spec.pattern
        return out

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "maxLength": self.max_length(spec)}
        if spec.min_length is not None:
            out["minLength"] = spec.min_length
        if spec.pattern:
            out["pattern"] = f"^(?:{spec.pattern})$"
        return out


@register
class TextareaKind(TextKind):
    """Several lines of text (a story, a description, a report)."""

    name = "textarea"
    multiline = True
    default_max_length = DEFAULT_MAX_LENGTH["textarea"]

    def widget(self, spec: FieldSpec) -> Any:
        return widgets.TextArea()


@register
class EmailKind(FieldKind):
    """An email address, checked for shape (no DNS lookup) and normalised."""

    name = "email"

    def widget(self, spec: FieldSpec) -> Any:
        return widgets.EmailInput()

    def render_attrs(self, spec: FieldSpec) -> dict[str, Any]:
        return {"autocomplete": "email", "maxlength": 254}

    def parse(self, spec: FieldSpec, text: str) -> str:
        if len(text) > 254:
            raise InputError(M.EMAIL)
        try:
            return validate_email(text, check_deliverability=False).normalized
        except (EmailNotValidError, ValueError, UnicodeError):
            raise InputError(M.EMAIL) from None

    def limits(self, spec: FieldSpec) -> dict[str, Any]:
        return {"max_length": 254}

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "format": "email", "maxLength": 254}
