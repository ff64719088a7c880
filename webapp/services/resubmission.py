"""A returned request sent back: the files it already holds stay unless replaced.

A browser cannot put a stored file back into a file input, and an app should not have
to upload a photo again to fix a typo.  So on ``resubmit`` a file field that gets no
new file keeps the files the request has in it — a required one too; through the API a
record naming some of them (``{"key": ...}``, as ``data`` shows it) keeps those, and
``null`` removes them.  A record naming any other file (another request's, or a key
made up) is refused: a key is never a way to take someone else's file.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from flask_babel import gettext as _
from sqlalchemy import select

from webapp.extensions import db
from webapp.i18n import current_locale_short, punctuation
from webapp.models import Instance, StoredFile
from webapp.services.uploads import file_keys
from workflows.fields import FieldSpec, FormSpec


@dataclass
class KeptFiles:
    form: FormSpec  # the start form; a field whose files are kept is no longer required
    data: Any  # the JSON data sent, without the records it keeps by
    kept: dict[str, Any] = field(default_factory=dict)  # field → its stored value kept
    errors: dict[str, list[str]] = field(default_factory=dict)  # records refused

    def restore(self, clean: dict[str, Any]) -> dict[str, Any]:
        """The form's clean data with the kept files where a field that applies got
        no new file (a field the form no longer shows is left to the engine)."""
        return {**clean, **{name: value for name, value in self.kept.items()
                            if name in clean and clean[name] is None}}


def keep_files(form: FormSpec, instance: Instance, data: Any = None,
               files: Mapping[str, Any] | None = None) -> KeptFiles:
    """What of ``instance``'s files its resubmission keeps: ``data`` is the JSON data
    sent (None: a web form, which sends no records) and ``files`` the file fields
    sent as parts."""
    current = instance.state.get("data", {})
    attached = _attached(instance, current)
    out = KeptFiles(form=form, data=dict(data) if isinstance(data, Mapping) else data)
    sent = out.data if isinstance(out.data, dict) else {}
    relaxed = []
    for spec in form.fields:
        have = current.get(spec.name) if spec.type == "file" else None
        if not have:
            relaxed.append(spec)
            continue
        if spec.name not in sent:
            out.kept[spec.name] = have
        elif sent[spec.name] is not None:
            wanted = sent.pop(spec.name)
            chosen = _chosen(spec, have, wanted, attached)
            if chosen is None:
                out.errors[spec.name] = [_("只能保留本申请这一项中已有的文件；新文件请以文件形式上传。")]
            elif spec.name in (files or {}):
                out.errors[spec.name] = [_("请二选一：保留原有文件，或上传新文件。")]
            elif chosen:
                out.kept[spec.name] = chosen
            else:  # an empty list: keep none
                sent[spec.name] = None
        relaxed.append(_optional(spec, have) if spec.name in out.kept else spec)
    out.form = replace(form, fields=tuple(relaxed))
    return out


def _attached(instance: Instance, current: Mapping[str, Any]) -> set[str]:
    """Keys of the files in the request's data that are indeed stored as its own."""
    keys = set(file_keys(current))
    if not keys:
        return set()
    return set(db.session.scalars(select(StoredFile.key).where(
        StoredFile.key.in_(keys), StoredFile.instance_id == instance.id)))


def _chosen(spec: FieldSpec, have: Any, wanted: Any, attached: set[str]) -> Any:
    """The field's stored value cut down to the records ``wanted`` names (in that order),
    an empty list for ``[]``, or None when one of them is not a file of this field."""
    records = have if isinstance(have, list) else [have]
    by_key = {r["key"]: r for r in records if isinstance(r, dict) and r.get("key") in attached}
    named = wanted if isinstance(wanted, list) else [wanted]
    keys = [r.get("key") if isinstance(r, dict) else None for r in named]
    if not all(isinstance(k, str) and k in by_key for k in keys):
        return None
    kept = [by_key[k] for k in dict.fromkeys(keys)]
    if not kept:
        return []
    return kept if spec.max_files > 1 else kept[0]


def _optional(spec: FieldSpec, have: Any) -> FieldSpec:
    """The field as the resubmission asks it: not required (its files are there), and
    saying which files stay unless new ones are chosen."""
    names = punctuation(current_locale_short())["list_sep"].join(
        str(r.get("name", "")) for r in (have if isinstance(have, list) else [have])
        if isinstance(r, dict))
    note = _("已有文件：%(names)s。不选新文件则保留。", names=names)
    return replace(spec, required=False, help=" ".join(filter(None, (spec.help, note))),
                   help_en=" ".join(filter(None, (spec.help_en or spec.help, note))))


__all__ = ["KeptFiles", "keep_files"]
