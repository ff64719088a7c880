"""Building a fresh WTForms class from a definition's ``FormSpec``.

A new class (with new unbound fields and a new ``Meta``) per call: choices, labels and
the locale differ per request and per person, and nothing may leak between builds.
"""
from __future__ import annotations

from typing import Any, Mapping

import wtforms

from forms.kinds.base import BuildContext, ChoicesProvider
from forms.messages import ZH, normalise_locale, translations
from forms.registry import kind_of
from forms.spec_form import SpecForm
from forms.visibility import conditional_fields
from workflows.errors import DefinitionError
from workflows.fields import FormSpec, on_day

# Set on every form instance (by WTForms, Flask-WTF or the builder); a field may not
# take these names, nor any attribute of the base class.
_INSTANCE_NAMES = frozenset({"meta", "form_errors", "csrf_token", "form_spec", "locale",
                             "conditional_fields", "condition_context"})


def build_form_class(form_spec: FormSpec, *, locale: str = ZH, base: type = wtforms.Form,
                     choices: ChoicesProvider | None = None,
                     context: Mapping[str, Any] | None = None) -> type:
    """A new form class for ``form_spec``, speaking ``locale`` ("zh_CN" or "en").

    ``base`` is ``wtforms.Form`` or Flask-WTF's ``FlaskForm`` (for CSRF).  ``choices``
    supplies the options of ``org_unit``/``station``/``slot`` fields:
    ``(field_spec) -> [(value, label), …]``.  ``context`` adds names that ``show_if``
    and rules may read besides ``form`` (e.g. ``{"start": start_data}``).
    The class also has ``conditional_fields`` (see ``forms.visibility``).
    """
    locale = normalise_locale(locale)
    ctx = BuildContext(locale, choices)
    form_spec = on_day(form_spec)  # ``max: this_year`` is this year's number today
    attrs: dict[str, Any] = {
        "Meta": _meta_class(locale),
        "form_spec": form_spec,
        "locale": locale,
        "conditional_fields": conditional_fields(form_spec),
        "condition_context": dict(context or {}),
    }
    reserved = _reserved_names(base)
    for spec in form_spec.fields:
        if spec.name in reserved:
            raise DefinitionError(f"字段名 {spec.name} 是保留字，请换一个名称",
                                  f"field name {spec.name!r} is reserved; choose another")
        attrs[spec.name] = kind_of(spec).unbound_field(spec, ctx)
    return type("DefinitionForm", (SpecForm, base), attrs)


def _meta_class(locale: str) -> type:
    # WTForms merges this with the base's Meta; ours comes first, so its translations
    # win over Flask-WTF's request-bound ones: the locale is chosen per call.
    def get_translations(self: Any, form: Any) -> Any:
        return translations(locale)

    return type("Meta", (), {"locale": locale, "locales": [locale],
                             "get_translations": get_translations})


def _reserved_names(base: type) -> frozenset[str]:
    return frozenset(dir(base)) | frozenset(dir(SpecForm)) | _INSTANCE_NAMES
