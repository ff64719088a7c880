"""A JSON Schema (2020-12, as OpenAPI 3.1 uses) for a form's data.

It documents what ``validate_data`` accepts; ``validate_data`` stays the judge (it
also checks the things a schema cannot say: ID check digits, conditional fields,
cross-field rules, options from the database).
"""
from __future__ import annotations

from typing import Any

from forms.registry import kind_of
from workflows.fields import FieldSpec, FormSpec, on_day


def json_schema(form_spec: FormSpec) -> dict[str, Any]:
    """The schema of the ``data`` object for this form.

    File fields appear as ``format: binary`` (multipart parts, in OpenAPI's way);
    ``x-show-if`` and ``x-private`` carry what JSON Schema has no words for.
    """
    form_spec = on_day(form_spec)  # limits as they stand today
    return {
        "type": "object",
        "properties": {spec.name: _field_schema(spec) for spec in form_spec.fields},
        # A conditional field is required only when shown: the schema cannot say so.
        "required": [spec.name for spec in form_spec.fields
                     if spec.required and spec.show_if is None],
        "additionalProperties": False,
    }


def _field_schema(spec: FieldSpec) -> dict[str, Any]:
    kind = kind_of(spec)
    schema = kind.schema(spec)
    if not spec.required or spec.show_if is not None:
        schema = _nullable(schema)
    schema["title"] = spec.label
    if spec.label_en:
        schema["x-title-en"] = spec.label_en
    if spec.help:
        schema["description"] = spec.help
    if spec.show_if is not None:
        schema["x-show-if"] = spec.show_if.source
    if spec.private or kind.personal:
        schema["x-private"] = True
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    # null is what "not answered" looks like in JSON.
    schema = dict(schema)
    kinds = schema.get("type")
    if isinstance(kinds, str):
        schema["type"] = [kinds, "null"]
    elif isinstance(kinds, list):
        schema["type"] = [*kinds, "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema
