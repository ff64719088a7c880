"""Reading the audit log: who may see which entries, filters, and a readable diff.

Viewers see the entries of their part of the tree (the entry's unit path below a unit
where they hold a viewer role); platform administrators see every entry, including the
platform-wide ones (definitions).  Personal data is masked for viewers who could not see
it elsewhere: a request's private fields follow the request's own rule
(``access.can_see_private``); an account's e-mail and phone are shown to account
administrators (platform, city, district) only, not to supervisors.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import false, func, or_, select, true

from forms.privacy import mask_changes
from webapp.extensions import db
from webapp.i18n import local_time, punctuation
from webapp.labels import action_label, status_label
from webapp.models import (ApiToken, AuditEntry, DefinitionVersion, Instance, OrgUnit, Pairing,
                           ProcessDefinition, RetreatBatch, RetreatQuota, User)
from webapp.models.org import subtree_range
from webapp.services.org import unit_by_code
from workflows.fields import FieldSpec, FormSpec
from workflows.kinds.approval import APPLICANT
from workflows.org import ROLES, UNIT_KINDS, term

VIEWER_ROLES = frozenset({"platform_admin", "city_admin", "supervisor", "district_admin"})
ACCOUNT_ADMIN_ROLES = frozenset({"platform_admin", "city_admin", "district_admin"})
MAX_ID_LENGTH = 64

# The actions the filter offers; "instance." stands for every step of every request.
# Named as what happened, in the context "audit": a page's button may say 新建用户 as
# "Create a user", the log says "User created".
ACTIONS: dict[str, Any] = {
    "instance.": _l("办理事项（全部环节）"),
    "user.create": _lp("audit", "新建用户"),
    "user.update": _lp("audit", "修改用户"),
    "user.deactivate": _lp("audit", "停用用户"),
    "user.reactivate": _lp("audit", "恢复用户"),
    "user.password_reset": _lp("audit", "重置密码"),
    "user.password_change": _lp("audit", "修改本人密码"),
    "membership.grant": _lp("audit", "授予角色"),
    "membership.revoke": _lp("audit", "取消角色"),
    "unit.create": _lp("audit", "新建单位"),
    "unit.update": _lp("audit", "修改单位"),
    "unit.deactivate": _lp("audit", "停用单位"),
    "unit.reactivate": _lp("audit", "恢复单位"),
    "user.import": _lp("audit", "导入人员"),
    "unit.import": _lp("audit", "导入单位"),
    "station.import": _lp("audit", "导入驿站"),
    "quota.allocate": _lp("audit", "下拨疗休养名额"),
    "quota.return": _lp("audit", "退回疗休养名额"),
    "retreat_batch.create": _lp("audit", "新建疗休养批次"),
    "retreat_batch.update": _lp("audit", "修改疗休养批次"),
    "definition.publish": _lp("audit", "发布流程定义"),
    "definition.retire": _lp("audit", "停用流程"),
    "definition.reinstate": _lp("audit", "恢复流程"),
    "token.issue": _lp("audit", "签发 API 令牌"),
    "token.revoke": _lp("audit", "撤销 API 令牌"),
    "course.create": _lp("audit", "新建培训课程"),
    "course.update": _lp("audit", "修改培训课程"),
    "course.session_add": _lp("audit", "增加课次"),
    "course.session_remove": _lp("audit", "删除课次"),
    "calendar.set": _lp("audit", "登记节假日或调休"),
    "calendar.remove": _lp("audit", "删除节假日或调休"),
    "pairing.create": _lp("audit", "支部与驿站结对"),
    "pairing.end": _lp("audit", "解除结对"),
}
OBJECT_TYPES: dict[str, Any] = {
    "instance": _l("事项"), "user": _l("用户"), "membership": _l("角色"),
    "station": _l("驿站"), "unit": _l("单位"), "retreat_quota": _l("疗休养名额"),
    "definition_version": _l("流程定义版本"), "process_definition": _l("流程"),
    "api_token": _l("API 令牌"), "user_import": _l("人员导入"), "unit_import": _l("单位导入"),
    "course": _l("培训课程"), "calendar_day": _l("工作日历"),
    "retreat_batch": _l("疗休养批次"), "pairing": _l("结对"),
}
KEY_LABELS: dict[str, Any] = {
    "status": _l("状态"), "steps": _l("当前环节"), "step": _l("环节"), "comment": _l("意见"),
    "details": _l("详情"), "amount": _l("名额"), "username": _l("用户名"),
    "display_name": _l("姓名"), "unit": _l("单位"), "email": _l("邮箱"), "phone": _l("电话"),
    "locale": _l("语言"), "role": _l("角色"), "user": _l("用户"), "version": _l("版本"),
    "key": _l("流程"), "digest": _l("内容摘要"), "retired": _l("已停用"),
    "revoked_at": _l("撤销时间"), "expires_at": _l("到期时间"), "name": _l("名称"),
    "working": _l("调休上班"),
    "title": _l("课程名称"), "venue": _l("地点"), "capacity": _l("招收人数"),
    "sessions": _l("课次"), "opens_on": _l("报名开始"), "closes_on": _l("报名截止"),
    "starts_on": _l("开课日期"), "ends_on": _l("结课日期"), "requires_approval": _l("需要审核"),
    "description": _l("介绍"), "occupations": _l("面向职业"), "min_age": _l("最低年龄"),
    "max_age": _l("最高年龄"), "starts_at": _l("开始时间"), "ends_at": _l("结束时间"),
    "topic": _l("内容"),
    "active": _l("启用"), "name_en": _l("英文名称"), "code": _l("编码"), "kind": _l("类型"),
    "parent": _l("上级单位"), "by": _l("操作人"), "tokens_revoked": _l("撤销的令牌数"),
    "format": _l("文件格式"), "rows": _l("行数"), "created": _l("新建"),
    "created_count": _l("新建数"), "rejected_count": _l("退回数"),
    "site": _l("疗休养地点"), "site_en": _l("英文地点"),
    "nominations_close_on": _l("推荐截止日期"),
    "file_digest": _l("文件摘要（SHA-256）"), "content_digest": _l("内容摘要（SHA-256）"),
    # A station's columns (station.import), as the import file's headers name them.
    "district": _l("区县"), "address": _l("地址"), "landmark": _l("地标"),
    "hours": _l("开放时间"), "water": _l("饮水"), "toilet": _l("卫生间"), "microwave": _l("微波炉"),
    "charging_piles": _l("充电桩"), "car_parking": _l("汽车车位"),
    "motorcycle_parking": _l("电动车摩托车车位"), "open": _l("是否开放"),
    # A pairing (结对) of a branch with a station: its period, and why it ended.
    "branch": _l("党支部"), "station": _lp("audit", "驿站"), "since": _l("结对日期"),
    "ended_on": _l("解除日期"), "cause": _l("解除原因"),
}
# Why a pairing ended (``cause``; none: by hand).
PAIRING_END_CAUSES: dict[str, Any] = {
    "moved": _l("支部另与其他驿站结对"), "branch_deactivated": _l("党支部停用"),
    "station_deactivated": _l("驿站停用"),
}
# A retreat batch's fields where a course's read otherwise (开课日期, 招收人数).
BATCH_LABELS: dict[str, Any] = {
    "name": _l("批次名称"), "starts_on": _l("开始日期"), "ends_on": _l("结束日期"),
    "capacity": _l("名额总数"), "unit": _l("组织单位"),
    # Moved with its dates (re-timed, their people told): how many.
    "nominations_moved": _l("随日期调整的推荐（份）"),
}
# The personal fields of an account, masked like the same kinds of form field.
ACCOUNT_FIELDS = FormSpec((FieldSpec("phone", "phone", "电话", private=True),
                           FieldSpec("email", "email", "邮箱", private=True)))


# ------------------------------------------------------------------------------ scope

def may_view(viewer: User) -> bool:
    return viewer.has_role(*VIEWER_ROLES)


def _paths(viewer: User, roles) -> list[str]:
    return [m.unit.path for m in viewer.memberships if m.role in roles]


def scope_clause(viewer: User):
    """WHERE clause: the entries ``viewer`` may read."""
    if viewer.has_role("platform_admin"):
        return true()
    ranges = [subtree_range(AuditEntry.unit_path, p) for p in _paths(viewer, VIEWER_ROLES)]
    return or_(*ranges) if ranges else false()


def _covers(viewer: User, roles, path: str) -> bool:
    if viewer.has_role("platform_admin") and "platform_admin" in roles:
        return True
    return bool(path) and any(path.startswith(p) for p in _paths(viewer, roles))


# ------------------------------------------------------------------------------ filters

@dataclass
class Filters:
    since: str = ""
    until: str = ""
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    errors: dict[str, Any] = field(default_factory=dict)

    def args(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in ("since", "until", "actor", "action",
                                              "object_type", "object_id")}


def parse_filters(args: Mapping[str, str]) -> Filters:
    """The filters as typed; anything that cannot be used gets a message beside it."""
    f = Filters(**{k: (args.get(k) or "").strip()[:MAX_ID_LENGTH] for k in (
        "since", "until", "actor", "action", "object_type", "object_id")})
    for name in ("since", "until"):
        if getattr(f, name) and _day(getattr(f, name)) is None:
            f.errors[name] = _l("请按 年-月-日 填写日期，例如 2026-03-01")
    if f.since and f.until and not f.errors and _day(f.since) > _day(f.until):
        f.errors["until"] = _l("截止日期不能早于起始日期")
    if f.action and f.action not in ACTIONS and not f.action.startswith("instance."):
        f.errors["action"] = _l("没有这种操作")
    if f.object_type and f.object_type not in OBJECT_TYPES:
        f.errors["object_type"] = _l("没有这种对象")
    if f.object_id and not f.object_id.isdigit():
        f.errors["object_id"] = _l("编号应为数字")
    return f


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        return None


def entries_query(viewer: User, f: Filters, tz: ZoneInfo):
    """The viewer's entries matching ``f``, newest first (an unusable filter: none)."""
    stmt = select(AuditEntry).where(scope_clause(viewer), AuditEntry.seq.is_not(None))
    if f.errors:
        return stmt.where(false())
    if f.since:
        stmt = stmt.where(AuditEntry.at >= datetime.combine(_day(f.since), time.min, tz))
    if f.until:
        end = datetime.combine(_day(f.until) + timedelta(days=1), time.min, tz)
        stmt = stmt.where(AuditEntry.at < end)
    if f.actor:
        actor_ids = select(User.id).where(func.lower(User.username) == f.actor.lower())
        stmt = stmt.where(AuditEntry.actor_id.in_(actor_ids.scalar_subquery()))
    if f.action.endswith("."):
        stmt = stmt.where(AuditEntry.action.startswith(f.action))
    elif f.action:
        stmt = stmt.where(AuditEntry.action == f.action)
    if f.object_type:
        stmt = stmt.where(AuditEntry.object_type == f.object_type)
    if f.object_id:
        stmt = stmt.where(AuditEntry.object_id == f.object_id)
    return stmt.order_by(AuditEntry.seq.desc())


# ------------------------------------------------------------------------------ presenting

@dataclass
class Change:
    label: str
    before: str
    after: str


@dataclass
class Line:
    entry: AuditEntry
    actor: str | None
    action: str
    object_label: str
    object_url: str | None
    changes: list[Change]
    # The stored before/after as this viewer may see them: personal data masked where
    # the viewer may not see it (then the entry's hash cannot be recomputed from them).
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)

    @property
    def masked(self) -> bool:
        return self.before != (self.entry.before or {}) or self.after != (self.entry.after or {})


def present(entries: list[AuditEntry], viewer: User, locale: str) -> list[Line]:
    """Entries as a viewer reads them: names, labels, links, and masked personal data."""
    objects = _load_objects(entries)
    actors = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_({e.actor_id for e in entries if e.actor_id})))}
    lines = []
    names = _Names(locale)
    for entry in entries:
        obj = objects.get((entry.object_type, entry.object_id))
        label, url = _describe(entry, obj, locale)
        actor = actors.get(entry.actor_id)
        changes, before, after = _changes(entry, obj, viewer, locale, names)
        lines.append(Line(entry, actor.display_name + f" ({actor.username})" if actor else None,
                          _action_text(entry.action), label, url, changes, before, after))
    return lines


def _action_text(action: str) -> str:
    if action.startswith("instance."):
        return f"{OBJECT_TYPES['instance']} · {action_label(action.split('.', 1)[1])}"
    return str(ACTIONS.get(action, action))


_MODELS = {"instance": Instance, "user": User, "station": OrgUnit, "unit": OrgUnit,
           "pairing": Pairing,
           "retreat_quota": RetreatQuota, "retreat_batch": RetreatBatch,
           "definition_version": DefinitionVersion,
           "process_definition": ProcessDefinition, "api_token": ApiToken}


def _load_objects(entries: list[AuditEntry]) -> dict[tuple[str, str], Any]:
    """The rows the entries are about, one query per kind of object."""
    wanted: dict[str, set[int]] = {}
    for e in entries:
        if e.object_type in _MODELS and e.object_id.isdigit():
            wanted.setdefault(e.object_type, set()).add(int(e.object_id))
    found = {}
    for kind, ids in wanted.items():
        model = _MODELS[kind]
        for row in db.session.scalars(select(model).where(model.id.in_(ids))):
            found[(kind, str(row.id))] = row
    return found


def _describe(entry: AuditEntry, obj, locale: str) -> tuple[str, str | None]:
    kind = str(OBJECT_TYPES.get(entry.object_type, entry.object_type))
    fallback = f"{kind} #{entry.object_id}"
    if obj is None:
        if entry.object_type in ("user_import", "unit_import") and "@" in entry.object_id:
            return f"{kind} · {entry.object_id.partition('@')[0]}", None  # the file's digest
        if entry.object_type == "membership":
            a = entry.after or entry.before  # a revoked role: what it was
            role = term(ROLES, a["role"], locale) if a.get("role") else ""
            return f"{kind} · {a.get('user', '')} · {role}", \
                url_for("admin.users", q=a.get("user", "")) if a.get("user") else None
        return fallback, None
    if isinstance(obj, Instance):
        return f"{kind} #{obj.id} {obj.title_in(locale)}", url_for("processes.instance",
                                                         instance_id=obj.id)
    if isinstance(obj, User):
        return f"{kind} {obj.username}", url_for("admin.users", q=obj.username)
    if isinstance(obj, OrgUnit):
        url = url_for("stations.station", unit_id=obj.id) if obj.kind == "station" else None
        return f"{kind} {obj.label(locale)}", url
    if isinstance(obj, RetreatBatch):
        return f"{kind} · {obj.label(locale)}", url_for("retreat.batch", batch_id=obj.id)
    if isinstance(obj, Pairing):
        return f"{kind} · {obj.branch.label(locale)} · {obj.station.label(locale)}", \
            url_for("stations.station", unit_id=obj.station_id) + "#pairings"
    if isinstance(obj, RetreatQuota):
        return f"{kind} · {obj.batch.label(locale)} · {obj.unit.label(locale)}", \
            url_for("retreat.batch", batch_id=obj.batch_id) + f"#unit-{obj.unit_id}"
    if isinstance(obj, DefinitionVersion):
        return f"{kind} {obj.definition.key} v{obj.version}", None
    if isinstance(obj, ProcessDefinition):
        return f"{kind} {obj.key}", None
    return fallback, None


def _changes(entry: AuditEntry, obj, viewer: User, locale: str, names: "_Names"
             ) -> tuple[list[Change], dict, dict]:
    """The changes as read, and ``before``/``after`` as stored with what the viewer may
    not see masked (identical to the stored content when nothing is)."""
    before, after = entry.before or {}, entry.after or {}
    keys = list(dict.fromkeys([*before, *after]))
    pairs = {k: [before.get(k), after.get(k)] for k in keys}
    labels: dict[str, str] = {}
    spec = None
    if isinstance(obj, Instance):
        from webapp.services import access
        from webapp.services.workflow import spec_of

        spec = spec_of(obj.version)
        forms = spec.all_forms
        pairs = mask_changes(forms, pairs, access.can_see_private(viewer, obj))
        labels = {f.name: (f.label_en or f.label) if locale == "en" else f.label
                  for f in forms.fields}
        # What a step keeps under its own id (an attendance step's counts): the step's name.
        from webapp.services.progress import step_label

        labels.update({k: step_label(spec, k, locale) for k in pairs
                       if k not in labels and spec.step(k) is not None})
    elif entry.object_type == "instance":  # the request is gone: mask what might be personal
        pairs = {k: ["***" if v is not None else None for v in pair] if k not in (
            "status", "steps", "step") else pair for k, pair in pairs.items()}
    elif entry.object_type == "user":
        pairs = mask_changes(ACCOUNT_FIELDS, pairs,
                             _covers(viewer, ACCOUNT_ADMIN_ROLES, entry.unit_path))
    elif entry.object_type == "retreat_batch":
        labels = dict(BATCH_LABELS)
    seen = ({k: pairs[k][0] for k in before}, {k: pairs[k][1] for k in after})
    if entry.object_type in ("unit", "station") and "kind" in pairs:
        pairs["kind"] = [term(UNIT_KINDS, v, locale) if isinstance(v, str) else v
                         for v in pairs["kind"]]
    fields = {f.name: f for f in spec.all_forms.fields} if spec is not None else {}
    return [Change(str(labels.get(k) or KEY_LABELS.get(k, k)),
                   _text(k, pair[0], spec, locale, fields.get(k), names),
                   _text(k, pair[1], spec, locale, fields.get(k), names))
            for k, pair in pairs.items()], *seen


# Field types whose stored value is a key, shown as what the form called it.
_LABELLED_TYPES = ("choice", "multichoice", "boolean", "station", "org_unit", "record",
                   "slot", "file")


def _text(key: str, value, spec, locale: str, field, names: "_Names") -> str:
    if value is None or value == [] or value == "":
        return "—"
    if field is None and isinstance(value, str):  # an account's, a role's, a unit's
        if key == "role":
            return term(ROLES, value, locale)
        if key in ("unit", "parent", "branch", "station"):
            return names.unit(value)
        if key == "cause" and value in PAIRING_END_CAUSES:
            return str(PAIRING_END_CAUSES[value])
        if key == "locale":
            return LANGUAGES.get(value, value)
    if key == "details" and isinstance(value, dict):
        return names.details(value, spec)
    if isinstance(value, dict) and {"attended", "total"} <= set(value):  # an attendance step
        return _attended(value, locale)
    if field is not None and field.type in _LABELLED_TYPES and value != "***":
        from webapp.processes.helpers import render_value

        shown = render_value(field, value, value, True, locale)
        if "files" in shown:
            return punctuation(locale)["list_sep"].join(
                str(f.get("name") or f.get("key")) for f in shown["files"]) or "—"
        return shown["text"]
    if key == "status" and isinstance(value, str):
        return status_label(value)
    if key in ("steps", "step") and spec is not None:
        from webapp.services.progress import step_label

        steps = value if isinstance(value, list) else [value]
        return punctuation(locale)["list_sep"].join(step_label(spec, s, locale) for s in steps)
    if isinstance(value, bool):
        return str(_l("是") if value else _l("否"))
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return punctuation(locale)["list_sep"].join(str(v) for v in value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and _INSTANT.match(value):
        return _local_time(value)
    return str(value)


# A moment as the log stores it (ISO 8601 with its offset, UTC): shown in the
# installation's time zone, as every other time on the page and in its downloads.
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})\Z")


def _local_time(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return local_time(moment).strftime("%Y-%m-%d %H:%M")


def _attended(value: Mapping[str, Any], locale: str) -> str:
    text = str(_l("到课 %(attended)s 次 / 共 %(total)s 次", attended=value.get("attended"),
                  total=value.get("total")))
    if value.get("rate") is not None:
        text += f" ({value['rate']}%)" if locale == "en" else f"（{value['rate']}%）"
    return text


LANGUAGES = {"zh_CN": "中文", "en": "English"}
# What the engine notes beside a step (``details``), as a reader calls it.
DETAIL_LABELS: dict[str, Any] = {
    "to": _l("交给"), "claimer": _l("认领人"), "resource": _l("名额"), "result": _l("结果"),
    "waitlist": _l("候补"), "when": _l("条件"), "rule": _l("规则"), "status": _l("状态"),
    "end": _l("结束于"), "attended": _l("到课次数"), "total": _l("总课次"),
    "pass_rate": _l("结业出勤率"), "before": _l("更改前"), "after": _l("更改后"),
    "before_status": _l("更改前状态"), "escalated": _l("已升级处理"), "no_date": _l("没有日期"),
    "on_behalf_of": _l("代为申请的申请人")}
RESERVATION_RESULTS: dict[str, Any] = {"granted": _l("已获得名额"), "waitlisted": _l("进入候补"),
                                       "refused": _l("名额已满")}


class _Names:
    """Names for the codes and ids entries keep — people, units, places, steps — each
    looked up once per page or download."""

    def __init__(self, locale: str):
        self.locale = locale
        self._people: dict[int, str] = {}
        self._units: dict[str, str] = {}

    def person(self, user_id: int) -> str:
        if user_id not in self._people:
            user = db.session.get(User, user_id)
            self._people[user_id] = (f"{user.display_name} ({user.username})" if user
                                     else f"#{user_id}")
        return self._people[user_id]

    def unit(self, code: str) -> str:
        if code not in self._units:
            row = unit_by_code(code)
            self._units[code] = f"{row.label(self.locale)} ({code})" if row else code
        return self._units[code]

    def place(self, resource: str) -> str:
        """A reserved place (``retreat:<batch>:<unit>``, ``course:<id>``, ``slot:<id>``)
        by the names of what it is a place in."""
        from webapp.services.directory import DbDirectory
        from webapp.services.display import RECORD_NAMES

        kind, _sep, rest = str(resource).partition(":")
        directory = DbDirectory()
        if kind == "retreat":
            batch, _sep, unit = rest.partition(":")
            name = RECORD_NAMES["retreat_batch"](int(batch), self.locale, directory) \
                if batch.isdigit() and "retreat_batch" in RECORD_NAMES else None
            row = directory.unit_row(int(unit)) if unit.isdigit() else None
            parts = [name or batch, row.label(self.locale) if row is not None else unit]
            return " · ".join(p for p in parts if p)
        if kind in ("course", "slot") and rest.isdigit() and kind in RECORD_NAMES:
            return RECORD_NAMES[kind](int(rest), self.locale, directory) or str(resource)
        return str(resource)

    def details(self, details: Mapping[str, Any], spec) -> str:
        from webapp.services.progress import step_label

        marks = punctuation(self.locale)
        step = (lambda s: step_label(spec, s, self.locale)) if spec is not None else str

        def one(value) -> str:
            if isinstance(value, int) and not isinstance(value, bool):
                return self.person(value)
            if value == APPLICANT and (spec is None or spec.step(APPLICANT) is None):
                return str(_l("申请人"))  # returned to the applicant: not a step's id
            return step(value) if isinstance(value, str) else str(value)

        parts = []
        for key, value in details.items():
            if key == "task" or value is None:
                continue  # the task's own key: nothing a reader can use
            if isinstance(value, str) and _INSTANT.match(value):
                text = _local_time(value)  # a timer moved: from when to when
            elif key in ("to", "claimer", "end", "before", "on_behalf_of"):
                text = marks["list_sep"].join(one(v) for v in value) if isinstance(
                    value, list) else one(value)
            elif key == "resource":
                text = self.place(value)
            elif key == "result":
                text = str(RESERVATION_RESULTS.get(value, value))
            elif key in ("status", "before_status"):
                text = status_label(value)
            elif isinstance(value, bool):
                text = str(_l("是") if value else _l("否"))
            elif key == "pass_rate":
                text = f"{value}%"
            else:
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            parts.append(f"{DETAIL_LABELS.get(key, key)}{marks['colon']}{text or '—'}")
        return marks["clause_sep"].join(parts) or "—"
