"""The administration lists as downloads (``?format=csv|xlsx``): each takes the very
statement its page pages through — same filters, same scope — and streams every row."""
from __future__ import annotations

from typing import Iterator

from flask_babel import gettext as _
from sqlalchemy.orm import aliased, joinedload, selectinload

from webapp.extensions import db
from webapp.i18n import punctuation
from webapp.labels import status_label
from webapp.models import Instance, Membership, OrgUnit, Station, User
from webapp.services import export
from webapp.services.export import Column
from workflows.org import ROLES, UNIT_KINDS, term

BATCH = export.BATCH


def units(fmt: str, stmt, locale: str):
    stmt = stmt.options(joinedload(OrgUnit.parent))
    columns = [Column(_("名称"), lambda r: r[0].label(locale)),
               Column(_("类型"), lambda r: term(UNIT_KINDS, r[0].kind, locale)),
               Column(_("编码"), lambda r: r[0].code),
               Column(_("上级单位"), lambda r: r[0].parent.label(locale) if r[0].parent else ""),
               Column(_("启用"), lambda r: r[0].active)]
    return export.response(fmt, _("组织架构"), columns, export.batched(db.session, stmt))


def users(fmt: str, stmt, viewer: User, locale: str):
    """The list of people with their unit, roles, phone and e-mail.  Phone and e-mail
    as the person's own page shows them: in full to an administrator who may open that
    page (``people.may_manage_user``), masked like any personal field to anyone else —
    a supervisor, or an administrator the person also holds a role above."""
    from forms.privacy import mask_value
    from webapp.services.audit_view import ACCOUNT_FIELDS
    from webapp.services.people import may_manage_user

    stmt = stmt.options(selectinload(User.unit),
                        selectinload(User.memberships).joinedload(Membership.unit))
    phone_field, email_field = ACCOUNT_FIELDS.fields
    viewer_id = viewer.id

    def rows() -> Iterator:
        # Read in the response's own context (see ``audit``): the viewer again, here.
        viewer = db.session.get(User, viewer_id)
        for row in export.batched(db.session, stmt):
            user = row[0]
            if may_manage_user(viewer, user):
                yield user, user.phone, user.email
            else:
                yield user, mask_value(phone_field, user.phone), mask_value(email_field,
                                                                             user.email)

    def roles(row) -> str:
        return punctuation(locale)["clause_sep"].join(
            f"{term(ROLES, m.role, locale)} · {m.unit.label(locale)}" for m in row[0].memberships)
    columns = [Column(_("用户名"), lambda r: r[0].username),
               Column(_("姓名"), lambda r: r[0].display_name),
               Column(_("单位"), lambda r: r[0].unit.label(locale) if r[0].unit else ""),
               Column(_("单位编码"), lambda r: r[0].unit.code if r[0].unit else ""),
               Column(_("角色"), roles),
               Column(_("电话"), lambda r: r[1]),
               Column(_("邮箱"), lambda r: r[2]),
               Column(_("启用"), lambda r: r[0].active)]
    return export.response(fmt, _("人员与角色"), columns, rows())


def instances(fmt: str, stmt, locale: str):
    from webapp.services.reports import process_names, step_labels

    names = process_names(locale)
    steps = step_labels(set(names), locale)
    statuses: dict[str, str] = {}  # looked up once each, not once a row
    rows = stmt.with_only_columns(Instance.id, Instance.process_key,
                                  Instance.title_column(locale),
                                  User.display_name, Instance.status, Instance.steps,
                                  Instance.created_at, Instance.closed_at)

    list_sep = punctuation(locale)["list_sep"]

    def current(r) -> str:
        return list_sep.join(steps.get((r[1], s), s) for s in (r[5] or "").split(",") if s)
    columns = [Column("#", lambda r: r[0]),
               Column(_("流程"), lambda r: names.get(r[1], r[1])),
               Column(_("标题"), lambda r: r[2]),
               Column(_("申请人"), lambda r: r[3]),
               Column(_("状态"), lambda r: statuses.get(r[4]) or statuses.setdefault(
                   r[4], status_label(r[4]))),
               Column(_("当前环节"), current),
               Column(_("提交时间"), lambda r: r[6]),
               Column(_("办结时间"), lambda r: r[7])]
    return export.response(fmt, _("事项查询"), columns, export.batched(db.session, rows))


def deliveries(fmt: str, stmt):
    columns = [Column("#", lambda r: r[0].id), Column(_("渠道"), lambda r: r[0].channel),
               Column(_("接收方"), lambda r: r[0].target), Column(_("标题"), lambda r: r[0].subject),
               Column(_("状态"), lambda r: r[0].status),
               Column(_("尝试次数"), lambda r: r[0].attempts),
               Column(_("原因"), lambda r: r[0].last_error),
               Column(_("创建时间"), lambda r: r[0].created_at)]
    return export.response(fmt, _("消息投递"), columns, export.batched(db.session, stmt))


def audit(fmt: str, stmt, viewer: User, locale: str):
    from webapp.services import audit_view

    viewer_id = viewer.id

    def lines() -> Iterator:
        # Written after the view returned, in the session of the response's own context:
        # the viewer is read again there — their roles and units, which decide what is
        # masked, would otherwise be loaded through the request's closed session.
        viewer = db.session.get(User, viewer_id)
        batch = []
        for row in export.batched(db.session, stmt, 500):
            batch.append(row[0])
            if len(batch) == 500:
                yield from audit_view.present(batch, viewer, locale)
                batch = []
        yield from audit_view.present(batch, viewer, locale)
    import json
    from zoneinfo import ZoneInfo

    from flask import current_app

    from webapp.services.audit import exact_instant

    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    system = _("系统")

    def canonical(value) -> str:  # as the hash has it: keys sorted, no spaces (docs/audit.md)
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    # What is read, then everything an entry's hash covers, so the file can be checked
    # without the server (docs/audit.md, "Checking an export"): the time to the
    # microsecond with its offset, the ids and keys as stored, before/after as canonical
    # JSON — masked where this viewer may not see personal data (``masked`` says so).
    columns = [Column(_("编号"), lambda li: li.entry.seq),
               Column(_("时间"), lambda li: exact_instant(li.entry.at).astimezone(tz).isoformat(
                   timespec="microseconds")),
               Column(_("操作人"), lambda li: li.actor or system),
               Column(_("操作"), lambda li: li.action),
               Column(_("对象"), lambda li: li.object_label),
               Column(_("改动"), lambda li: punctuation(locale)["clause_sep"].join(
                   f"{c.label}: {c.before} → {c.after}" for c in li.changes)),
               Column("actor_id", lambda li: li.entry.actor_id),
               Column("action", lambda li: li.entry.action),
               Column("object_type", lambda li: li.entry.object_type),
               Column("object_id", lambda li: li.entry.object_id),
               Column("unit_path", lambda li: li.entry.unit_path),
               Column("before", lambda li: canonical(li.before)),
               Column("after", lambda li: canonical(li.after)),
               Column("masked", lambda li: "1" if li.masked else "0"),
               Column("prev_hash", lambda li: li.entry.prev_hash),
               Column("hash", lambda li: li.entry.hash)]
    return export.response(fmt, _("审计日志"), columns, lines())


def unassigned(fmt: str, stmt, locale: str):
    from webapp.models import Task
    from webapp.services.reports import process_names, step_labels

    names = process_names(locale)
    steps = step_labels(set(names), locale)
    rows = stmt.with_only_columns(Task.opened_at, Instance.id, Instance.process_key, Task.step,
                                  Instance.title_column(locale))
    columns = [Column(_("开始时间"), lambda r: r[0]), Column(_("事项编号"), lambda r: r[1]),
               Column(_("流程"), lambda r: names.get(r[2], r[2])),
               Column(_("环节"), lambda r: steps.get((r[2], r[3]), r[3])),
               Column(_("标题"), lambda r: r[4])]
    return export.response(fmt, _("待指派任务"), columns, export.batched(db.session, rows))


def stations(fmt: str, stmt, locale: str):
    """The station directory as the importer's own file (docs/stations-csv.md): its
    columns, headers and yes/no words, so a download edited in a spreadsheet can be
    uploaded again and changes only what was edited."""
    from webapp.services.station_import import ATTRS, COLUMNS

    district, parent = aliased(OrgUnit), aliased(OrgUnit)
    rows = (stmt.outerjoin(district, district.id == Station.district_id)
            .outerjoin(parent, parent.id == OrgUnit.parent_id)
            .with_only_columns(OrgUnit.code.label("code"), OrgUnit.name.label("name"),
                               OrgUnit.name_en.label("name_en"),
                               district.name.label("district_zh"),
                               district.name_en.label("district_en"),
                               parent.code.label("parent_code"), parent.id.label("parent_id"),
                               Station.district_id,
                               *[getattr(Station, attr).label(key) for key, attr in ATTRS.items()]))
    en = locale == "en"
    words = {True: _("是"), False: _("否")}

    def parent_code(r) -> str:
        # The importer reads an empty parent as "directly under the district".
        return "" if r.parent_id == r.district_id else r.parent_code

    special = {"district": lambda r: (r.district_en if en and r.district_en else r.district_zh),
               "parent": parent_code, "name_en": lambda r: r.name_en or ""}

    def getter(column):
        if column.key in special:
            return special[column.key]
        if column.kind == "bool":
            return lambda r: words[bool(getattr(r, column.key))]
        return lambda r: getattr(r, column.key)
    # English headers are the importer's English column names (code, car_parking, …).
    columns = [Column(c.key if en else c.zh, getter(c)) for c in COLUMNS]
    return export.response(fmt, _("工会驿站"), columns, export.batched(db.session, rows))


# ------------------------------------------------------------------------------ people import

def import_downloads(report, locale: str) -> dict[str, dict | None]:
    """The import's result as links that carry their files (``data:`` addresses): the
    new accounts' one-time passwords and the rejected rows.  Built for the response that
    shows them and kept nowhere else; a file too long for a link is None."""
    out: dict[str, dict | None] = {}
    if report.rejected:
        out["rejected"] = _link(_("导入退回的行"), *_rejected(report, locale))
    if report.passwords:
        out["passwords"] = _link(_("导入的临时密码"), *_passwords(report, locale))
    return out


def _link(name: str, columns, rows) -> dict | None:
    href = export.csv_data_uri(columns, rows)
    return {"href": href, "name": export.dated(name, "csv")} if href else None


def _rejected(report, locale: str):
    """Each rejected row: its number in the file, its cells under the file's own
    header (fix them and upload the rows again), and why it was rejected."""
    width = max([len(report.header), *(len(p.cells) for p in report.rejected)])
    header = report.header + [""] * (width - len(report.header))
    columns = [Column(_("行号"), lambda p: p.line),
               *[Column(title, lambda p, i=i: p.cells[i] if i < len(p.cells) else "")
                 for i, title in enumerate(header)],
               Column(_("原因"), lambda p: p.text(locale))]
    return columns, report.rejected


def _passwords(report, locale: str):
    """Who got which one-time password: username, name, unit (name and code)."""
    from sqlalchemy import select

    rows = {a.key: a.values for a in report.accepted}
    codes = {v["unit"] for v in rows.values()}
    units = {u.code: u.label(locale) for u in db.session.scalars(
        select(OrgUnit).where(OrgUnit.code.in_(codes)))} if codes else {}
    columns = [Column(_("用户名"), lambda r: r[0]),
               Column(_("姓名"), lambda r: rows.get(r[0], {}).get("display_name", "")),
               Column(_("单位"), lambda r: units.get(rows.get(r[0], {}).get("unit"), "")),
               Column(_("单位编码"), lambda r: rows.get(r[0], {}).get("unit", "")),
               Column(_("临时密码"), lambda r: r[1])]
    return columns, report.passwords
