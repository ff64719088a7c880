"""The text a field's value is shown as: a choice's label, a unit's or station's name, a
record's name (a course, a retreat batch, a duty slot).

One answer for the pages, the API and an instance's title, so a course never reads "6"
in one place and its name in another.  Units come from the directory (this process's
copy of the organisation), so showing a station costs no query in a step's answer.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from webapp.i18n import punctuation
from webapp.services.directory import DbDirectory
from workflows.fields import FieldSpec
from workflows.rules import record_source
from workflows.spec import UNTITLED_TYPES, ProcessSpec, title_field

# Record sources ("course", "retreat_batch", "slot") register how one of their records
# is named: source → function(record id, locale, directory) → its name, or None if
# there is no such record.
RECORD_NAMES: dict[str, Callable[[Any, str, DbDirectory], str | None]] = {}
# ...and may say why a start form has none of their records to offer (the course's
# registration closed, nominations closed): source → function(field spec, locale) → text.
# A source without one gets "目前没有可选的<field>".
RECORD_EMPTY: dict[str, Callable[[FieldSpec, str], str]] = {}
# Separators a title is trimmed of when a field it names was left empty.
_TITLE_TRIM = " ·-—|/:：,，、"
_EMPTY = "\x00"  # stands for an empty field while a title is made
_EMPTY_WITH_SEPARATOR = re.compile(f"[{re.escape(_TITLE_TRIM)}]*{_EMPTY}")
TITLE_LENGTH = 200  # Instance.title's column
# Fields an instance is called by when its definition gives no ``title``, first found.
FALLBACK_TITLE_FIELDS = ("title", "subject", "course", "category")


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def field_text(field: FieldSpec, value: Any, locale: str,
               directory: DbDirectory | None = None) -> str:
    """``value`` of ``field`` as people read it, in ``locale`` ("zh" or "en").  Files
    and personal data are the caller's business (this shows what it is given)."""
    if is_empty(value):
        return ""
    english = locale.startswith("en")
    if field.type in ("choice", "multichoice"):
        labels = {c.value: (c.label_en if english and c.label_en else c.label)
                  for c in field.choices}
        values = value if isinstance(value, list) else [value]
        return punctuation(locale)["list_sep"].join(labels.get(str(v), str(v)) for v in values)
    if field.type == "boolean":
        return ("Yes" if value else "No") if english else ("是" if value else "否")
    if field.type in ("station", "org_unit"):
        row = (directory or DbDirectory()).unit_row(value)
        return row.label(locale) if row is not None else str(value)
    source = record_source(field) if field.type in ("record", "slot") else None
    if source in RECORD_NAMES:
        name = RECORD_NAMES[source](value, locale, directory or DbDirectory())
        return name if name else str(value)
    return str(value)


def instance_title(spec: ProcessSpec, data: dict, directory: DbDirectory | None = None,
                   locale: str = "zh") -> str:
    """What lists call an instance, stored with it (``title``, and ``title_en`` where
    English reads otherwise — see ``english_title``): the definition's ``title`` with
    each field shown as its text, else the first of FALLBACK_TITLE_FIELDS that has a
    value, else the process's name."""
    fields = spec.start.form
    if spec.title is not None:
        text = spec.title.render(
            lambda name: _title_text(fields.field(title_field(name)), data, directory,
                                     locale) or _EMPTY) or ""
        # A field left empty goes with the separator before it: "停车难 · " is "停车难".
        text = " ".join(_EMPTY_WITH_SEPARATOR.sub("", text).split()).strip(_TITLE_TRIM)
        if text:
            return text[:TITLE_LENGTH]
    for name in FALLBACK_TITLE_FIELDS:
        text = _title_text(spec.fields.get(name), data, directory, locale)
        if text:
            return text[:TITLE_LENGTH]
    english = locale.startswith("en") and spec.name_en
    return (spec.name_en if english else spec.name)[:TITLE_LENGTH]


def english_title(spec: ProcessSpec, data: dict, title: str,
                  directory: DbDirectory | None = None) -> str | None:
    """The instance's title in English (its choices', stations' and records' English
    names) — None where it reads the same as ``title`` (a title the applicant typed)."""
    english = instance_title(spec, data, directory, "en")
    return english if english != title else None


def title_inputs(spec: ProcessSpec, data: dict) -> tuple:
    """The values an instance's title is made from: it is made again only when these
    change (a returned request resubmitted with another title), not on every step."""
    names = spec.title_fields or FALLBACK_TITLE_FIELDS
    return tuple(data.get(name) for name in names)


def _title_text(field: FieldSpec | None, data: dict, directory, locale: str = "zh") -> str:
    if field is None or field.private or field.type in UNTITLED_TYPES:
        return ""
    return field_text(field, data.get(field.name), locale, directory)
