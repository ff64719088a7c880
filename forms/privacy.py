"""Masking personal data for people who may not see it (the wish wall, reports, history).

Phone and ID numbers are personal data whatever the definition says; any other field
is when the definition marks it ``private: true``.  Masks keep just enough to
recognise one's own entry: 138****5678, 500103********1234, a***@example.com, 张**.
"""
from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from forms.registry import KINDS
from workflows.fields import FieldSpec, FormSpec
from workflows.state import HistoryEntry

STAR = "*"
# Types whose values keep a recognisable part; any other kind of value is hidden whole.
_PARTLY_SHOWN = frozenset({"text", "textarea", "phone", "id_card", "email"})


def is_personal(field_spec: FieldSpec) -> bool:
    """Whether the field holds personal data (flagged private, or phone / ID number)."""
    kind = KINDS.get(field_spec.type)
    if field_spec.public:
        return False
    return field_spec.private or (kind is not None and kind.personal)


def mask_value(field_spec: FieldSpec, value: Any) -> Any:
    """``value`` masked the way its field type calls for; None stays None."""
    if value is None:
        return None
    if field_spec.type == "file":
        return None  # a photo of a person or a document cannot be partly shown
    if not isinstance(value, str) or field_spec.type not in _PARTLY_SHOWN:
        return STAR * 3  # a date, a number, a choice, a yes/no: nothing of it may show
    if field_spec.type == "phone":
        return _keep(value, 3, 4)
    if field_spec.type == "id_card":
        return _keep(value, 6, 4)
    if field_spec.type == "email" and "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}{STAR * 3}@{domain}"
    return _text(value)


def mask_data(form_spec: FormSpec, data: Mapping[str, Any], may_see_private: bool
              ) -> dict[str, Any]:
    """A copy of instance ``data`` with personal fields masked unless the viewer may see
    them.  Keys the form does not know are left as they are."""
    out = dict(data)
    if may_see_private:
        return out
    for spec in form_spec.fields:
        if spec.name in out and is_personal(spec):
            out[spec.name] = mask_value(spec, out[spec.name])
    return out


def mask_changes(form_spec: FormSpec, changes: Mapping[str, Any], may_see_private: bool
                 ) -> dict[str, Any]:
    """A copy of a history entry's ``changes`` (``{field: [old, new]}``, as the engine
    records them and the web layer stores them) with both values of personal fields
    masked unless the viewer may see them.  Pass the definition's ``spec.all_forms``:
    history holds values of the start form and of every step form."""
    out = dict(changes)
    if may_see_private:
        return out
    for spec in form_spec.fields:
        if spec.name in out and is_personal(spec):
            pair = out[spec.name]
            out[spec.name] = [mask_value(spec, v) for v in pair] \
                if isinstance(pair, (list, tuple)) else mask_value(spec, pair)
    return out


def mask_history(form_spec: FormSpec, history: Iterable[HistoryEntry], may_see_private: bool
                 ) -> list[HistoryEntry]:
    """An instance's history (``state.history``) with ``mask_changes`` applied to every
    entry, for a viewer without the right to see personal data."""
    return [entry if may_see_private or not entry.changes else
            replace(entry, changes=MappingProxyType(
                mask_changes(form_spec, entry.changes, may_see_private)))
            for entry in history]


def _keep(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return STAR * len(value)  # too short to show anything safely
    return value[:head] + STAR * (len(value) - head - tail) + value[len(value) - tail:]


def _text(value: str) -> str:
    # Names show their first character (张**); longer text such as an address keeps
    # its first few characters (the district), never the house number.
    if len(value) <= 1:
        return STAR
    shown = 1 if len(value) <= 4 else min(len(value) // 3, 6)
    return value[:shown] + STAR * min(len(value) - shown, 8)
