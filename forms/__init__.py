"""Forms built at run time from a definition's field specs, for the web and the API.

Public API::

    build_form_class(form_spec, *, locale="zh_CN", base=wtforms.Form, choices=None,
                     context=None) -> type
    validate_data(form_spec, data, *, locale="zh_CN", choices=None, files=None,
                  context=None) -> (clean, errors)
    describe_form(form_spec, *, locale="zh_CN", choices=None) -> {"fields": [...], ...}
    json_schema(form_spec) -> dict
    mask_value(field_spec, value), mask_data(form_spec, data, may_see_private)
    mask_changes(form_spec, changes, may_see_private)   # one history entry's changes
    mask_history(form_spec, state.history, may_see_private)
    Upload, save_uploads(clean, save)

Field types are classes in ``forms.kinds``, registered in ``forms.registry.KINDS``.
This package imports ``wtforms`` and ``workflows`` only: no Flask, no ``webapp``.
"""
from forms import kinds  # noqa: F401  (registers every field kind)
from forms.api import describe_form, validate_data
from forms.builder import build_form_class
from forms.privacy import mask_changes, mask_data, mask_history, mask_value
from forms.registry import KINDS
from forms.schema import json_schema
from forms.uploads import Upload, save_uploads

__all__ = ["KINDS", "Upload", "build_form_class", "describe_form", "json_schema",
           "mask_changes", "mask_data", "mask_history", "mask_value", "save_uploads",
           "validate_data"]
