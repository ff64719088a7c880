"""Objects as the API shows them: the same masking and the same labels as the pages."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, url_for
from sqlalchemy import select

from forms import describe_form, mask_data
from webapp.database import loaded
from webapp.extensions import db
from webapp.i18n import current_locale_short, select_locale
from webapp.labels import decision_label, history_label, history_words
from webapp.models import Instance, Notification, OrgUnit, Station, Task, User
from webapp.notifications import title_of
from webapp.processes.helpers import (all_fields, applicant_of, history_lines, said,
                                      spec_for, task_label)
from webapp.services import access
from webapp.services import workflow as wf
from webapp.services.choices import drawn_filter, provider
from webapp.services.decisions import form_actions, reason_field, step_form, task_actions
from webapp.services.directory import DbDirectory
from webapp.services.display import field_text, is_empty
from webapp.services.privacy import mask_name
from webapp.services.progress import waiting_positions
from workflows.fields import FormSpec
from workflows.kinds import form_actions as step_form_actions
from workflows.org import ROLES, term
from workflows.spec import ProcessSpec


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the offset, in the union's time zone (China time)."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).isoformat()


def unit(row: OrgUnit | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"id": row.id, "code": row.code, "name": row.label(current_locale_short()),
            "kind": row.kind}


def me(user: User) -> dict[str, Any]:
    locale = current_locale_short()
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "locale": user.locale, "unit": unit(user.unit),
            "roles": [{"role": m.role, "label": term(ROLES, m.role, locale), "unit": unit(m.unit)}
                      for m in sorted(user.memberships, key=lambda m: (m.unit.path, m.role))]}


def form(form_spec: FormSpec, *, narrowed: bool = False,
         instance: Instance | None = None) -> dict[str, Any]:
    """``narrowed`` (a start form): a station field lists the caller's district only (at
    most STATION_CHOICES_LIMIT) and says so — ``choices_complete`` false when cut, and
    ``choices_search`` (the station directory) to find any other; every open station is
    accepted when sent.  ``instance``: a task's form, whose unit fields list the units
    that request may take."""
    locale = select_locale()
    described = describe_form(form_spec, locale=locale,
                              choices=provider(locale, narrowed=narrowed, instance=instance))
    for field in described["fields"]:
        if field["type"] == "org_unit" and field.get("choices"):
            field["choices"] = unit_choices(field["choices"])
        scope = drawn_filter(field["name"]) if narrowed and field["type"] == "station" else None
        if scope is not None:
            field.update(choices_complete=not scope.more and scope.district is None,
                         choices_district=scope.district,
                         choices_search=url_for("api.station_list"))
    return described


# Units named in one IN list, at most (SQLite's and drivers' limits on bound values).
_UNITS_PER_QUERY = 2000


def sent_with(described: dict[str, Any], form_spec: FormSpec,
              actions: tuple[str, ...]) -> dict[str, Any]:
    """A step's form, saying which actions send it (``form_on``: an approval may take it
    when rejecting too) and, for each field, which of them need it filled
    (``required_on``; ``required`` is true when all of them do)."""
    fields = {f.name: f for f in form_spec.fields}
    for field in described["fields"]:
        spec = fields.get(field["name"])
        field["required_on"] = [a for a in actions if spec is not None and spec.required_for(a)]
    return {**described, "form_on": list(actions)}


def unit_choices(choices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A unit field's options with plain labels: the select on the page indents each
    name by its depth with full-width spaces, which an app would show as they are; here
    the tree is given as members instead — ``depth`` (0 for the root) and ``parent``
    (the parent unit's value, or null)."""
    ids = [int(c["value"]) for c in choices if c["value"].isdigit()]
    # The choices were just read as rows of this session (``choices.unit_choices``):
    # their depth and parent are there; only a unit not among them costs a query.
    tree: dict[int, tuple[int, int | None]] = {}
    for unit_id in ids:
        row = loaded(OrgUnit, unit_id)
        if row is not None:
            tree[unit_id] = (row.depth, row.parent_id)
    missing = [i for i in ids if i not in tree]
    for start in range(0, len(missing), _UNITS_PER_QUERY):
        tree.update((row.id, (row.depth, row.parent_id)) for row in db.session.execute(
            select(OrgUnit.id, OrgUnit.depth, OrgUnit.parent_id).where(
                OrgUnit.id.in_(missing[start:start + _UNITS_PER_QUERY]))))
    out = []
    for choice in choices:
        depth, parent = tree.get(int(choice["value"]) if choice["value"].isdigit() else 0,
                                 (None, None))
        out.append({**choice, "label": choice["label"].lstrip("\u3000"), "depth": depth,
                    "parent": None if parent is None else str(parent)})
    return out


def process_summary(spec: ProcessSpec, version: int) -> dict[str, Any]:
    en = current_locale_short() == "en"
    return {"key": spec.key, "name": spec.label(current_locale_short()), "version": version,
            "description": (spec.description_en if en and spec.description_en
                            else spec.description)}


def process(spec: ProcessSpec, version: int, can_start: bool,
            open_request: int | None = None, for_others: bool = False) -> dict[str, Any]:
    locale = current_locale_short()
    return {**process_summary(spec, version), "can_start": can_start,
            "open_request": open_request,
            # May start it for others (``on_behalf_of`` in the start request).
            "can_start_for_others": for_others,
            "form": form(spec.start.form, narrowed=True),
            "steps": [{"id": s.id, "name": s.label(locale), "kind": s.kind,
                       "form": sent_with(form(s.form), s.form, step_form_actions(s))}
                      for s in spec.steps]}


# Statuses the pages show in more detail; API.md names seven, and these are still running.
API_STATUS = {"returned": "running", "waitlisted": "running"}


def _state(instance: Instance) -> str:
    """The current step(s), else the end reached — else, for a request ended without
    reaching one (withdrawn, cancelled), how it ended: never empty."""
    return instance.steps or instance.state.get("end") or instance.status


def instance_summaries(rows: list[Instance]):
    """The presenter of a page of instances: their waiting places read at once."""
    positions = waiting_positions(rows)
    return lambda row: instance_summary(row, positions)


def instance_summary(instance: Instance,
                     positions: Mapping[int, int] | None = None) -> dict[str, Any]:
    """``positions``: the page's waiting places (``instance_summaries``); without them,
    this instance's is read if it is on a waiting list."""
    spec = spec_for(instance)
    if positions is None:
        positions = waiting_positions([instance])
    return {"id": instance.id, "process": instance.process_key,
            "process_name": spec.label(current_locale_short()),
            "version": instance.version.version,
            "title": instance.title_in(current_locale_short()) or "",
            "state": _state(instance), "status": API_STATUS.get(instance.status, instance.status),
            # API.md's statuses call it running; an app must still tell a sign-up on the
            # waiting list from one that has its place.
            "waitlisted": instance.status == "waitlisted",
            # 1 is next to get a place; null when not waiting.
            "waiting_position": positions.get(instance.id),
            "created_at": iso(instance.created_at), "updated_at": iso(instance.updated_at)}


def instance(row: Instance, user: User) -> dict[str, Any]:
    """The whole instance as ``user`` may see it (personal data masked as on the page)."""
    spec = spec_for(row)
    locale = current_locale_short()
    may_see = access.can_see_private(user, row)
    fields = all_fields(spec)
    data = with_file_urls(fields, mask_data(FormSpec(fields=tuple(fields)),
                                            row.state.get("data", {}), may_see), may_see)
    name = row.applicant.display_name
    words = history_words()
    open_tasks = wf.open_task_rows(row)
    available = wf.available_actions(row, user) if open_tasks else []  # asked once
    return {
        **instance_summary(row), "lock_version": row.lock_version, "data": data,
        "data_text": data_text(spec, row.state.get("data", {}), data, locale),
        "applicant": {"name": name if may_see else mask_name(name),
                      "username": row.applicant.username if may_see else None},
        "closed_at": iso(row.closed_at),
        "tasks": [{"id": t.id, "step": t.step, "name": task_label(spec, t, locale),
                   "kind": t.kind, "due_at": iso(t.due_at),
                   "actions": task_actions(row, t, user, available)} for t in open_tasks],
        "history": [_history_item(entry, actor, spec, words)
                    for entry, actor in history_lines(row, may_see, user)],
    }


def _history_item(entry, actor: str | None, spec: ProcessSpec, words) -> dict[str, Any]:
    # ``label``: the line in the caller's language, as the page words it — which tells a
    # place taken from a spot on the waiting list (both ``reserve``), and words a decision
    # as the definition does (``action_labels``).
    return {"at": iso(entry.at), "actor": actor, "action": entry.action,
            "label": history_label(entry.action, entry.details, words, spec=spec,
                                   step=entry.step),
            "step": entry.step, "comment": entry.comment}


def with_file_urls(fields, data: dict, may_see: bool) -> dict:
    """``data`` with each file record given its ``url`` (``GET /api/v1/files/{key}``);
    a file that is not a public field's is hidden from whoever may not see personal
    data, as the page shows it (***) and as its download refuses it."""
    out = dict(data)
    for f in fields:
        value = out.get(f.name)
        if f.type != "file" or value is None:
            continue
        if not may_see and not f.public:
            out[f.name] = None
        elif isinstance(value, list):
            out[f.name] = [_linked(record) for record in value]
        else:
            out[f.name] = _linked(value)
    return out


def _linked(record: Any) -> Any:
    if not isinstance(record, dict) or not isinstance(record.get("key"), str):
        return record
    return {**record, "url": url_for("api.file_download", key=record["key"])}


def data_text(spec: ProcessSpec, raw: dict, shown: dict, locale: str) -> dict[str, str]:
    """Each value as the page shows it — a choice's label, a station's or a course's name
    instead of its code or id — masked as ``shown`` is; files are only in ``data``."""
    directory = DbDirectory()
    out = {}
    for f in all_fields(spec):
        value = raw.get(f.name)
        if f.type == "file" or is_empty(value):
            continue
        masked = shown.get(f.name) != value
        out[f.name] = str(shown.get(f.name)) if masked else field_text(f, value, locale,
                                                                       directory)
    return out


def tasks(rows: list[Task], user: User):
    """The presenter of a page of tasks: their deadline marks read for the page at once."""
    from webapp.services import deadlines

    held = _load_people_of(rows, user)  # held: the session keeps only what is referenced
    marks = deadlines.flags(rows)
    return lambda row, held=held: task(row, user, marks[row.id])


def _load_people_of(rows: list[Task], user: User) -> list:
    """The requests of a page of tasks, their applicants, units and the people named in
    their history, and which of them were given to ``user``, read in one query each — so
    each task's applicant and what was said before it (``task``) find them in the
    session instead of asking one task at a time."""
    from webapp.services.workflow import state_of

    held: list = []
    wanted = {row.instance_id for row in rows} - {
        i for i in (row.instance_id for row in rows) if loaded(Instance, i) is not None}
    if wanted:
        held += db.session.scalars(select(Instance).where(Instance.id.in_(wanted))).all()
    instances = [row.instance for row in rows]
    access.note_given(user, [i.id for i in instances])
    people = {i.applicant_id for i in instances}
    for inst in instances:
        people.update(line.actor for line in state_of(inst).history
                      if isinstance(line.actor, int) and not isinstance(line.actor, bool))
    people = [p for p in people if loaded(User, p) is None]
    if people:
        held += db.session.scalars(select(User).where(User.id.in_(people))).all()
    units = {i.unit_id for i in instances
             if i.unit_id is not None and loaded(OrgUnit, i.unit_id) is None}
    if units:
        held += db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(units))).all()
    return held


def task(row: Task, user: User, marks) -> dict[str, Any]:
    inst = row.instance
    spec = spec_for(inst)
    locale = current_locale_short()
    actions = task_actions(inst, row, user)
    who = applicant_of(inst, spec, user)
    reason = reason_field(spec, row)
    words = history_words()
    # What the levels before said (the page's history lines on a task, masked as there);
    # the whole history is the instance's.
    said_so_far = said(history_lines(inst, who["named"], user, insider=who["may_see"]))
    return {"id": row.id, "instance_id": inst.id, "process": inst.process_key,
            "title": inst.title_in(locale) or "", "step": row.step,
            "name": task_label(spec, row, locale), "kind": row.kind,
            "description": spec.step(row.step).describe(locale)
            if spec.step(row.step) is not None and row.kind != "revise" else None,
            "applicant": {"name": who["name"], "unit": who["unit"]},
            "actions": actions,
            # Each action in the caller's language, as the page's button words it (an
            # approval may word its decisions itself: 异议成立，取消推荐).
            "action_labels": {a: decision_label(spec, row.step, a) for a in actions},
            # A field of the form whose text is a rejection's reason when no comment is
            # sent (the comment may then be left out).
            "reason_field": reason.name if reason is not None else None,
            "history": [_history_item(entry, actor, spec, words)
                        for entry, actor in said_so_far],
            "form": sent_with(_revise_form(spec, inst, user) if row.kind == "revise"
                              else form(step_form(spec, row), instance=inst),
                              step_form(spec, row), form_actions(spec, row)),
            "due_at": iso(row.due_at), "overdue": marks.overdue,
            "escalated": marks.escalated, "opened_at": iso(row.opened_at)}


def _revise_form(spec: ProcessSpec, inst: Instance, user: User) -> dict[str, Any]:
    """A returned request's form: the start form as the start offers it (a station field
    narrowed to the caller's district, with the directory to search), each field with
    its ``value`` now — what to change, not to type again (masked as ``data`` is)."""
    described = form(spec.start.form, narrowed=True, instance=inst)
    fields = list(spec.start.form.fields)
    may_see = access.can_see_private(user, inst)
    current = with_file_urls(fields, mask_data(spec.start.form, inst.state.get("data", {}),
                                               may_see), may_see)
    for field in described["fields"]:
        field["value"] = current.get(field["name"])
    return described


# Notifications about a request their reader may no longer open (an objector told how
# the review of the notice went): no instance to follow, only the title.
UNLINKED_KINDS = frozenset({"objection_reviewed"})


def notification(row: Notification, instance_title: str | None) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "title": title_of(row, current_locale_short()),
            "body": instance_title or "",
            "instance_id": None if row.kind in UNLINKED_KINDS else row.instance_id,
            "created_at": iso(row.created_at), "read": row.read_at is not None}


def station(row: Station) -> dict[str, Any]:
    locale = current_locale_short()
    return {"id": row.unit_id, "code": row.unit.code, "name": row.unit.label(locale),
            "district": row.district.label(locale) if row.district else None,
            "district_id": row.district_id,
            "address": row.address or "", "landmark": row.landmark or None,
            "hours": row.opening_hours or None, "open": bool(row.is_open),
            "services": {"water": bool(row.has_water), "toilet": bool(row.has_toilet),
                         "microwave": bool(row.has_microwave),
                         "charging_piles": row.charging_piles or 0,
                         "car_parking": row.car_parking or 0,
                         "motorcycle_parking": row.motorcycle_parking or 0},
            "phone": row.phone or None}


def district(row: OrgUnit) -> dict[str, Any]:
    return {"id": row.id, "code": row.code, "name": row.label(current_locale_short()),
            "name_en": row.name_en or None}
