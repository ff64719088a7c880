"""Shared by the process and task pages: building forms, showing data, reporting errors."""
from __future__ import annotations

from typing import Any

from flask import abort
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from forms import build_form_class, mask_data
from webapp.i18n import current_locale_short, select_locale
from webapp.labels import AUTOMATIC_ACTIONS
from sqlalchemy import select

from webapp.models import HistoryEntry, Instance, StoredFile, User
from webapp.extensions import db
from webapp.services import access
from webapp.services.choices import provider
from webapp.services.display import field_text
from webapp.services.privacy import mask_name
from webapp.services.workflow import spec_of_instance
from workflows.errors import InvalidInput
from workflows.fields import FormSpec
from workflows.spec import ProcessSpec


def form_class(form_spec: FormSpec, context: dict | None = None, *,
               narrowed: bool = False, instance: Instance | None = None) -> type:
    """``narrowed``: station selects list what their filter finds (the page draws the
    filter and handles its "find" button, see ``processes.start``).  ``instance``: the
    request a step form is for (its unit selects list the units it may take)."""
    locale = select_locale()
    return build_form_class(form_spec, locale=locale, base=FlaskForm,
                            choices=provider(locale, narrowed=narrowed, instance=instance),
                            context=context)


def viewable_instance(instance_id: int) -> Instance:
    """The instance, if the signed-in person may see it; 404 otherwise."""
    instance = db.session.get(Instance, instance_id)
    if instance is None or not access.can_view(current_user, instance):
        abort(404)
    return instance


def show_errors(form, error: InvalidInput) -> None:
    """Put the engine's field errors beside the fields (and the rest above the form)."""
    messages = error.field_messages(current_locale_short())
    for name, texts in messages.items():
        field = getattr(form, name, None) if name else None
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors or []) + texts
        else:
            form.form_errors = list(getattr(form, "form_errors", []) or []) + texts
    if not messages:
        form.form_errors = list(getattr(form, "form_errors", []) or []) + [
            error.message(current_locale_short())]


def all_fields(spec: ProcessSpec) -> list:
    """Every field of the start form and the step forms, first appearance wins."""
    seen, out = set(), []
    for fs in [spec.start.form] + [s.form for s in spec.steps]:
        for f in fs.fields:
            if f.name not in seen:
                seen.add(f.name)
                out.append(f)
    return out


def display_rows(instance: Instance, spec: ProcessSpec, may_see: bool | None = None
                 ) -> list[dict[str, Any]]:
    """(label, text, files) for each field with a value, masked unless ``may_see``
    (asked of the access rules when the caller has not already)."""
    fields = all_fields(spec)
    data = instance.state.get("data", {})
    if may_see is None:
        may_see = access.can_see_private(current_user, instance)
    masked = mask_data(FormSpec(fields=tuple(fields)), data, may_see)
    locale = current_locale_short()
    rows = []
    for f in fields:
        if f.name not in data or data[f.name] in (None, "", []):
            continue
        label = f.label_en if locale == "en" and f.label_en else f.label
        rows.append({"name": f.name, "label": label,
                     **render_value(f, masked.get(f.name), data[f.name], may_see, locale)})
    return rows


def render_value(f, shown, raw, may_see: bool, locale: str) -> dict[str, Any]:
    if f.type == "file":
        if not may_see and not f.public:
            return {"text": "***"}
        records = raw if isinstance(raw, list) else [raw]
        return {"files": [r for r in records if isinstance(r, dict) and r.get("key")]}
    if shown != raw:  # masked
        return {"text": str(shown)}
    # A choice's label, a station's or a course's name (``services.display``).
    return {"text": field_text(f, raw, locale)}


OBJECTION = "object"  # a real-name objection to a request on public notice


class _Withheld:
    """A history line whose comment the viewer may not read: an objection's reason (said
    to be withheld), or a reviewer's remark on a request the viewer only sees from
    outside (a nomination on public notice, a wish on the wall) — left out."""

    def __init__(self, entry, objection: bool = True):
        self._entry, self._objection = entry, objection

    def __getattr__(self, name):
        return getattr(self._entry, name)

    @property
    def comment(self):
        return _("异议内容仅核查人员可见。") if self._objection else None


def _actor_of(entry):
    return getattr(entry, "actor_id", None) if isinstance(entry, HistoryEntry) \
        else getattr(entry, "actor", None)


def _objections(instance: Instance, viewer: User | None, pairs: list,
                insider: bool = True) -> list:
    """``pairs`` (entry, actor's name) with each objection's objector and reason
    withheld from those who may not read them (``access.may_read_objections``): the
    nominee and the public see that an objection was made, not by whom or why.  Not
    ``insider`` (the viewer may not see the request's personal data: the public reading
    a notice, a volunteer before claiming), the remarks reviewers wrote are left out
    too, but for the viewer's own.  Lines the engine wrote by itself
    (``labels.AUTOMATIC_ACTIONS``) are shown as the system's."""
    me = getattr(viewer, "id", None)
    pairs = [(entry, None if entry.action in AUTOMATIC_ACTIONS else name)
             for entry, name in pairs]
    if not insider:
        pairs = [(_Withheld(entry, objection=False)
                  if entry.comment and entry.action != OBJECTION
                  and (me is None or _actor_of(entry) != me) else entry, name)
                 for entry, name in pairs]
    if not any(entry.action == OBJECTION for entry, _name in pairs):
        return pairs
    reader = viewer is not None and access.may_read_objections(viewer, instance)
    out = []
    for entry, name in pairs:
        if entry.action == OBJECTION and not reader and (me is None or _actor_of(entry) != me):
            entry, name = _Withheld(entry), _("异议人（姓名仅核查人员可见）")
        out.append((entry, name))
    return out


def history_rows(instance: Instance, may_see: bool, viewer: User | None = None,
                 insider: bool = True) -> list[tuple[HistoryEntry, str | None]]:
    """(entry, actor's name) in order; the applicant's name masked unless ``may_see``,
    objections withheld from ``viewer`` unless they may read them, and reviewers'
    remarks from one who is not an ``insider`` (``_objections``)."""
    rows = db.session.execute(
        select(HistoryEntry, User.display_name).outerjoin(User, User.id == HistoryEntry.actor_id)
        .where(HistoryEntry.instance_id == instance.id).order_by(HistoryEntry.seq))
    return _objections(instance, viewer, [
        (entry, name if may_see or name is None or entry.actor_id != instance.applicant_id
         else mask_name(name)) for entry, name in rows], insider)


def history_lines(instance: Instance, may_see: bool, viewer: User | None = None,
                  insider: bool | None = None) -> list[tuple[Any, str | None]]:
    """What ``history_rows`` reads from the history table, from the instance's own state
    instead — the engine writes every line of it there and nowhere else, one row per line
    in order (``workflow._append_history``) — so the API's answer after a step reads no
    table for it.  Actors' names come from people this session holds, else one query."""
    from webapp.database import loaded
    from webapp.services.workflow import state_of

    lines = state_of(instance).history
    ids = {line.actor for line in lines
           if isinstance(line.actor, int) and not isinstance(line.actor, bool)}
    names: dict[int, str] = {}
    for user_id in ids:
        person = loaded(User, user_id)
        if person is not None:
            names[user_id] = person.display_name
    missing = ids - names.keys()
    if missing:
        names.update((user_id, name) for user_id, name in db.session.execute(
            select(User.id, User.display_name).where(User.id.in_(missing))))
    out = []
    for line in lines:
        name = names.get(line.actor) if line.actor in ids else None
        if name is not None and not may_see and line.actor == instance.applicant_id:
            name = mask_name(name)
        out.append((line, name))
    return _objections(instance, viewer, out, may_see if insider is None else insider)


# The lines of a request's history a reviewer reads before deciding: what people did
# and said (the request's page has the rest: steps entered, places taken, reminders).
SAID = frozenset({"submit", "approve", "reject", "return", "resubmit", "complete", OBJECTION,
                  "withdraw", "comment", "correct", "delegate", "reassign"})


def said(pairs: list) -> list:
    """``pairs`` (history line, actor's name) that record what someone decided or said."""
    return [(entry, name) for entry, name in pairs if entry.action in SAID
            or (entry.comment and entry.action not in AUTOMATIC_ACTIONS)]


def on_notice(instance: Instance, spec: ProcessSpec) -> bool:
    """Whether the request is at a publicity step now (its current steps, no query)."""
    return instance.closed_at is None and any(
        (step := spec.step(s)) is not None and step.kind == "publicity"
        for s in instance.steps.split(",") if s)


def applicant_of(instance: Instance, spec: ProcessSpec, viewer: User) -> dict[str, Any]:
    """Who asked, as ``viewer`` may see it: ``name`` and ``unit`` for those who may see the
    request's personal data and, while it is on public notice, for everyone (the notice
    board names them); else the name masked and no unit.  ``may_see``: the former."""
    may_see = access.can_see_private(viewer, instance)
    named = may_see or on_notice(instance, spec)
    name = instance.applicant.display_name
    return {"name": name if named else mask_name(name),
            "unit": instance.unit.label(current_locale_short())
            if named and instance.unit is not None else None,
            "named": named, "may_see": may_see}


def file_visible(stored: StoredFile) -> bool:
    """Files are for those who may see the request's personal data — except files of a
    ``public`` field (a wish's photo), shown to whoever sees the request or its card on
    a claim wall."""
    if stored.instance_id is None:
        return stored.uploaded_by_id == current_user.id
    instance = db.session.get(Instance, stored.instance_id)
    if instance is None:
        return False
    if stored.key in public_file_keys(instance):
        return access.can_view(current_user, instance) or on_a_wall(instance)
    return access.can_view(current_user, instance) and access.can_see_private(current_user,
                                                                              instance)


def public_file_keys(instance: Instance) -> set[str]:
    from webapp.services.uploads import file_keys

    data = instance.state.get("data", {})
    return {key for f in all_fields(spec_for(instance)) if f.type == "file" and f.public
            for key in file_keys(data.get(f.name))}


def on_a_wall(instance: Instance) -> bool:
    """Whether the request waits in a claim pool, whose card everyone signed in sees."""
    from webapp.models import Task

    return db.session.scalar(select(Task.id).where(
        Task.instance_id == instance.id, Task.status == "open",
        Task.pool_role.is_not(None)).limit(1)) is not None


def spec_for(instance: Instance) -> ProcessSpec:
    return spec_of_instance(instance)


def task_label(spec: ProcessSpec, task, locale: str) -> str:
    """What a task asks of its holder.  A request returned to its applicant keeps the
    reviewer's step (it goes back there), but what the applicant does is correct it."""
    from webapp.services.progress import step_label

    if task.kind == "revise":
        return _("修改后重新提交")
    return step_label(spec, task.step, locale)


def sent_back(instance: Instance, task) -> dict[str, Any] | None:
    """Why an open task's step is being done again: the return from a later step that
    opened it (the reason, who gave it and when) — for whoever redoes it."""
    from webapp.services.workflow import state_of

    if task.status != "open" or task.kind == "revise":
        return None
    opened = task.opened_at
    entry = next((line for line in reversed(state_of(instance).history)
                  if line.action == "return" and line.details.get("to") == task.step
                  and abs((line.at - opened).total_seconds()) < 1), None)
    return _return_note(entry)


def _return_note(entry) -> dict[str, Any] | None:
    """A return's history line as shown: the reason, who gave it and when."""
    if entry is None:
        return None
    who = db.session.get(User, entry.actor) if isinstance(entry.actor, int) else None
    return {"comment": entry.comment, "at": entry.at,
            "by": who.display_name if who else None}


def end_reason(instance: Instance) -> dict[str, Any] | None:
    """What the decision that ended the request said with it (a rejection's reason),
    who said it and when — for those who may read the reviewers' remarks, at the top
    of the request's page rather than only far down its history."""
    from webapp.services.workflow import state_of
    from workflows.runtime import SYSTEM

    if instance.closed_at is None:
        return None
    history = state_of(instance).history
    # A result corrected since (更正): why it was, by whom and when.
    corrected = next((line for line in reversed(history) if line.action == "correct"), None)
    if corrected is not None:
        return dict(_return_note(corrected), corrected=True)
    end = next((i for i in range(len(history) - 1, -1, -1) if history[i].action == "end"), None)
    if end is None:
        return None
    # The lines written in the step that ended it: those at the end's own moment.
    entry = next((line for line in reversed(history[:end])
                  if line.at == history[end].at and line.comment
                  and line.actor not in (SYSTEM, instance.applicant_id)), None)
    return _return_note(entry)


def return_reason(instance: Instance) -> dict[str, Any] | None:
    """The latest return of the request to its applicant while it waits for them:
    the reason, who gave it and when — what the applicant has to fix."""
    from webapp.services.workflow import state_of
    from workflows.kinds.approval import APPLICANT

    if instance.status != "returned":
        return None
    entry = next((line for line in reversed(state_of(instance).history)
                  if line.action == "return" and line.details.get("to") == APPLICANT), None)
    return _return_note(entry)
