"""The base of every field kind: one small class per definition field type.

A kind knows, for a ``FieldSpec``: its WTForms field and validators, how submitted text
becomes a clean value (``read``), how that value is stored as JSON and read back
(``to_json``/``from_json``), how a JSON API value becomes form input (``api_input``, so
the API goes through the very same field), and how to describe itself (``describe``
for the API, ``schema`` for OpenAPI).  Subclasses override only what differs.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, ClassVar, Iterable

from wtforms import widgets
from wtforms.fields.core import UnboundField

from forms import messages as M
from forms.messages import EN, ZH, InputError, normalise_locale
from forms.text import tidy
from forms.validators import Presence
from forms.wtf import ParsedField
from workflows.fields import FieldSpec

ChoicesProvider = Callable[[FieldSpec], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class BuildContext:
    """What one build needs besides the spec: the locale and the choices provider."""

    locale: str = ZH
    choices: ChoicesProvider | None = None

    @property
    def english(self) -> bool:
        return normalise_locale(self.locale) == EN


def label_of(spec: FieldSpec, locale: str) -> str:
    """The field's label in ``locale`` (the Chinese one when no English is given)."""
    return spec.label_en if normalise_locale(locale) == EN and spec.label_en else spec.label


def help_of(spec: FieldSpec, locale: str) -> str | None:
    english = normalise_locale(locale) == EN
    return (spec.help_en or spec.help) if english else spec.help


class FieldKind:
    """A field type.  The defaults describe a one-line text input."""

    name: ClassVar[str] = ""
    multiline: ClassVar[bool] = False   # keep newlines in the input
    fold: ClassVar[bool] = False        # NFKC: full-width digits become ASCII
    required_message: ClassVar[str] = M.REQUIRED
    json_types: ClassVar[tuple[type, ...]] = (str,)
    json_type_message: ClassVar[str] = M.EXPECTED_TEXT
    personal: ClassVar[bool] = False    # personal data (phone, ID) even when not flagged

    # --- the WTForms field ------------------------------------------------------------
    def unbound_field(self, spec: FieldSpec, ctx: BuildContext) -> UnboundField:
        """A fresh unbound WTForms field for ``spec``."""
        render_kw = self.render_attrs(spec)
        if spec.show_if is not None:
            render_kw["data-show-if"] = spec.show_if.source
        return self.make_field(
            spec, ctx, label=label_of(spec, ctx.locale),
            description=help_of(spec, ctx.locale) or "", validators=self.validators(spec, ctx),
            render_kw=render_kw, default=spec.default)

    def make_field(self, spec: FieldSpec, ctx: BuildContext, **options: Any) -> UnboundField:
        return ParsedField(reader=partial(self.read, spec), loader=partial(self.from_json, spec),
                           formatter=partial(self.format, spec), widget=self.widget(spec),
                           **options)

    def widget(self, spec: FieldSpec) -> Any:
        return widgets.TextInput()

    def render_attrs(self, spec: FieldSpec) -> dict[str, Any]:
        """Extra HTML attributes (input mode, min/max, accept …)."""
        return {}

    def validators(self, spec: FieldSpec, ctx: BuildContext) -> list[Any]:
        # A hidden required input would block the browser's submit; conditional
        # fields are required on the server only.
        presence = Presence(spec.required, self.required_message)
        if spec.show_if is not None:
            presence.field_flags = {}
        return [presence, *self.checks(spec, ctx)]

    def checks(self, spec: FieldSpec, ctx: BuildContext) -> list[Any]:
        """Validators for the definition's limits, run on a non-empty clean value."""
        return []

    # --- reading input ----------------------------------------------------------------
    def read(self, spec: FieldSpec, raw: Any) -> Any:
        """The clean value of one submitted string; None when empty."""
        text = tidy(raw, multiline=self.multiline, fold=self.fold)
        return None if text is None else self.parse(spec, text)

    def parse(self, spec: FieldSpec, text: str) -> Any:
        return text

    def format(self, spec: FieldSpec, value: Any) -> str:
        """A clean value as the input box shows it."""
        return str(value)

    # --- stored values ----------------------------------------------------------------
    def to_json(self, spec: FieldSpec, value: Any) -> Any:
        """The field's data as stored in instance data."""
        return value

    def from_json(self, spec: FieldSpec, value: Any) -> Any:
        """A stored value as field data, e.g. to pre-fill a form."""
        return self.read(spec, value if isinstance(value, str) else str(value))

    # --- the JSON API -----------------------------------------------------------------
    def api_input(self, spec: FieldSpec, value: Any) -> list[Any]:
        """A JSON value as form input (a list of strings); ``InputError`` if its JSON
        type is wrong for this field."""
        if value is None:
            return []
        # bool is an int in Python, but true is no answer to "how many".
        if (isinstance(value, bool) and bool not in self.json_types) \
                or not isinstance(value, self.json_types):
            raise InputError(self.json_type_message)
        return [self.api_text(value)]

    def api_text(self, value: Any) -> str:
        return str(value)

    def describe(self, spec: FieldSpec, ctx: BuildContext) -> dict[str, Any]:
        """The field for API clients: name, type, label, required, choices, limits."""
        out: dict[str, Any] = {"name": spec.name, "type": spec.type,
                               "label": label_of(spec, ctx.locale), "required": spec.required}
        help_text = help_of(spec, ctx.locale)
        if help_text:
            out["help"] = help_text
        out.update(self.limits(spec))
        options = self.options(spec, ctx, strict=False)
        if options is not None:
            out["choices"] = [{"value": v, "label": label} for v, label in options]
        if spec.private or self.personal:
            out["private"] = True
        if spec.show_if is not None:
            out["show_if"] = spec.show_if.source
        if spec.default is not None:
            out["default"] = spec.default
        return out

    def limits(self, spec: FieldSpec) -> dict[str, Any]:
        """The definition's limits as JSON (only those that are set)."""
        return {}

    def options(self, spec: FieldSpec, ctx: BuildContext, *, strict: bool
                ) -> list[tuple[str, str]] | None:
        """(value, label) pairs for kinds with choices; None for the others."""
        return None

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        """A JSON Schema for the field's value in API input."""
        return {"type": "string"}
