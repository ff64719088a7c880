"""The same validation for the JSON API, and the description of a form for clients.

JSON values are turned into form input by each field's kind and fed through the very
class ``build_form_class`` makes for the web, so web and API can never disagree.
"""
from __future__ import annotations

from typing import Any, Mapping

from forms import messages as M
from forms.builder import build_form_class
from forms.kinds.base import BuildContext, ChoicesProvider
from forms.messages import ZH, InputError, normalise_locale, pick, translate, translations
from forms.registry import kind_of
from workflows.fields import FormSpec, on_day

Errors = dict[str, list[str]]


class FormInput(dict):
    """A minimal multi-dict (name -> list of values), what WTForms reads input from."""

    def getlist(self, key: str) -> list[Any]:
        return list(self.get(key, ()))


def validate_data(form_spec: FormSpec, data: Any, *, locale: str = ZH,
                  choices: ChoicesProvider | None = None,
                  files: Mapping[str, Any] | None = None,
                  context: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], Errors]:
    """Check JSON ``data`` against the form: ``(clean, errors)``.

    ``errors`` maps a field name ("" for the whole form) to messages in ``locale``;
    ``clean`` is empty unless there are no errors.  ``files`` maps file field names
    to uploaded file objects (or lists of them) from a multipart request.  Unknown
    keys and JSON values of the wrong type are errors, never exceptions.
    """
    if not isinstance(data, Mapping):
        return {}, {"": [translate(locale, M.NOT_AN_OBJECT)]}
    if not data and not files and not form_spec.fields and not form_spec.rules:
        return {}, {}  # nothing asked, nothing sent (most approvals): no form to build
    form_class = build_form_class(form_spec, locale=locale, choices=choices, context=context)
    formdata, wrong = _formdata(form_spec, data, files or {})
    form = form_class(formdata=formdata)
    form.validate()
    errors: Errors = {name: list(messages) for name, messages in form.errors.items()}
    shown = form.shown_fields()
    for name, problem in wrong.items():
        if name in shown or form_spec.field(name) is None:
            errors[name] = [problem.render(translations(normalise_locale(locale)))]
    return ({} if errors else form.clean_data()), errors


def _formdata(form_spec: FormSpec, data: Mapping[Any, Any], files: Mapping[Any, Any]
              ) -> tuple[FormInput, dict[str, InputError]]:
    formdata, wrong = FormInput(), {}
    for key, value in data.items():
        spec = form_spec.field(key) if isinstance(key, str) else None
        if spec is None:
            wrong[str(key)] = InputError(M.UNKNOWN_FIELD)
            continue
        try:
            formdata[key] = kind_of(spec).api_input(spec, value)
        except InputError as problem:
            wrong[key] = problem
        except ValueError:  # str() refuses an integer of thousands of digits
            wrong[key] = InputError(M.INVALID_INPUT)
    for key, value in files.items():
        spec = form_spec.field(key) if isinstance(key, str) else None
        if spec is None or spec.type != "file":
            wrong[str(key)] = InputError(M.UNKNOWN_FIELD if spec is None else M.NOT_FILE_FIELD)
            continue
        formdata[key] = list(value) if isinstance(value, (list, tuple)) else [value]
    return formdata, wrong


def describe_form(form_spec: FormSpec, *, locale: str = ZH,
                  choices: ChoicesProvider | None = None) -> dict[str, Any]:
    """The form for API clients: ``{"fields": [...], "rules": [...]}``.

    Each field has ``name``, ``type``, ``label``, ``required``, and where they apply
    ``help``, ``choices`` ([{"value", "label"}]; for units, stations and slots only
    when a provider is given), limits (``min``, ``max``, ``min_length``,
    ``max_length``, ``pattern``, ``places``, ``accept``, ``max_size``,
    ``max_files``), ``private``, ``show_if`` and ``default``.
    """
    ctx = BuildContext(normalise_locale(locale), choices)
    form_spec = on_day(form_spec)  # limits as they stand today
    return {
        "fields": [kind_of(spec).describe(spec, ctx) for spec in form_spec.fields],
        "rules": [{"check": rule.check.source, "field": rule.field,
                   "message": pick(ctx.locale, rule.message, rule.message_en, M.RULE_FAILED)}
                  for rule in form_spec.rules],
    }
