"""Which fields apply: ``show_if`` conditions, evaluated as the engine evaluates them.

A field whose condition does not hold is hidden: not validated, not kept.  Fields are
looked at in order and a hidden field's value is dropped before later conditions are
checked, exactly as ``workflows.values.clean_form`` does, so the web form, the API and
the engine always agree on what was asked.
"""
from __future__ import annotations

from typing import Any, Mapping

from workflows.fields import FormSpec
from workflows.values import typed


def shown_names(form_spec: FormSpec, values: Mapping[str, Any],
                context: Mapping[str, Any] | None = None) -> set[str]:
    """Names of the fields that apply, given every field's clean value.

    ``context`` adds names besides ``form`` (e.g. the start form as ``start`` for a
    step form's conditions).
    """
    visible = {spec.name: values.get(spec.name) for spec in form_spec.fields}
    for spec in form_spec.fields:
        if spec.show_if is None:
            continue
        scope = {**(context or {}), "form": typed(form_spec, visible)}
        if not spec.show_if.holds(scope):
            visible.pop(spec.name, None)
    return set(visible)


def conditional_fields(form_spec: FormSpec) -> dict[str, dict[str, Any]]:
    """For templates and clients: each conditional field's condition and the fields
    it reads, so a few lines of JavaScript can show and hide it as people type.

    ``{"detail": {"show_if": "form.category == 'other'", "depends_on": ["category"]}}``
    """
    out: dict[str, dict[str, Any]] = {}
    names = {spec.name for spec in form_spec.fields}
    for spec in form_spec.fields:
        if spec.show_if is None:
            continue
        read = sorted(n.removeprefix("form.") for n in spec.show_if.names()
                      if n.startswith("form.") and n.removeprefix("form.") in names)
        out[spec.name] = {"show_if": spec.show_if.source, "depends_on": read}
    return out
