"""What every form built from a definition can do beyond a plain WTForms form.

``SpecForm`` is mixed in before the WTForms base (``wtforms.Form`` or Flask-WTF's
``FlaskForm``): it skips fields whose ``show_if`` does not hold, checks the
definition's cross-field rules, and hands out the clean, JSON-ready data.
"""
from __future__ import annotations

from typing import Any, ClassVar, Mapping

from forms import messages as M
from forms.messages import pick
from forms.registry import kind_of
from forms.visibility import shown_names
from workflows.fields import FormSpec
from workflows.values import typed


class SpecForm:
    """Mixin for built form classes; the class attributes are set by the builder."""

    form_spec: ClassVar[FormSpec]
    locale: ClassVar[str]
    #: ``{field: {"show_if": source, "depends_on": [fields]}}`` for show/hide scripts.
    conditional_fields: ClassVar[dict[str, dict[str, Any]]]
    #: Names besides ``form`` that conditions may read (e.g. ``start``).
    condition_context: ClassVar[Mapping[str, Any]]

    _fields: dict[str, Any]
    form_errors: list[str]

    def field_values(self) -> dict[str, Any]:
        """Every definition field's clean value; None where the input was unreadable."""
        values: dict[str, Any] = {}
        for spec in self.form_spec.fields:
            field = self._fields[spec.name]
            readable = not field.process_errors
            values[spec.name] = kind_of(spec).to_json(spec, field.data) if readable else None
        return values

    def shown_fields(self) -> set[str]:
        """Names of the definition fields that apply to the current input."""
        return shown_names(self.form_spec, self.field_values(), self.condition_context)

    def is_shown(self, name: str) -> bool:
        """Whether to show field ``name`` now (templates render hidden ones hidden)."""
        return name not in self.conditional_fields or name in self.shown_fields()

    def validate(self, extra_validators: Mapping[str, Any] | None = None) -> bool:
        """Validate the fields that apply, then the cross-field rules.

        Rules run only once every field is fine, so people fix simple mistakes first
        (the engine does the same).  Rule errors go to their ``field`` or, without
        one, to ``form_errors`` (key "" in ``errors``).
        """
        shown = self.shown_fields()
        spec_names = set(self.form_spec.names)
        self.form_errors = []
        ok = True
        for name, field in self._fields.items():
            if name in spec_names and name not in shown:
                field.errors = []  # hidden: neither validated nor kept
                continue
            extra = list((extra_validators or {}).get(name, ()))
            inline = getattr(type(self), f"validate_{name}", None)
            if inline is not None:
                extra.append(inline)
            ok = field.validate(self, extra) and ok
        return ok and self._rules_hold(shown)

    def _rules_hold(self, shown: set[str]) -> bool:
        scope = {**self.condition_context, "form": typed(self.form_spec, self.clean_data())}
        ok = True
        for rule in self.form_spec.rules:
            if rule.record_names and "record" not in scope:
                continue  # needs rows only the engine can read; it checks them on submit
            if rule.check.holds(scope):
                continue
            ok = False
            message = pick(self.locale, rule.message, rule.message_en, M.RULE_FAILED)
            if rule.field in shown:
                self._fields[rule.field].errors.append(message)
            else:
                self.form_errors.append(message)
        return ok

    def clean_data(self) -> dict[str, Any]:
        """The JSON-ready values of the fields that apply (call after ``validate``).

        File fields hold ``forms.uploads.Upload`` objects; store them with
        ``forms.uploads.save_uploads`` before saving the data.
        """
        shown = self.shown_fields()
        return {spec.name: kind_of(spec).to_json(spec, self._fields[spec.name].data)
                for spec in self.form_spec.fields if spec.name in shown}
