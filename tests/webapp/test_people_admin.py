"""Managing people and units: accounts, roles, scope, the audit trail, and imports."""
from __future__ import annotations

import io
import re
import zipfile
from xml.sax.saxutils import escape

import lxml.html
import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models import AuditEntry, OrgUnit, User
from webapp.services import tokens
from webapp.services.org import unit_by_code
from webapp.services.people_import import ImportFileError, import_people
from webapp.services.users import authenticate, find_user


@pytest.fixture
def staff(org, make_user):
    """A city administrator, a 渝中区 district administrator, a street administrator, and
    people to manage: a worker in 渝中区 and one in 江北区."""
    return {
        "platform": make_user("boss", ("platform_admin", org["city"]), unit=org["city"]),
        "city": make_user("city_admin", ("city_admin", org["city"]), unit=org["city"]),
        "yz": make_user("yz_admin", ("district_admin", org["yz"]), unit=org["yz"]),
        "street": make_user("street_admin", ("unit_admin", org["street"]), unit=org["street"]),
        "worker": make_user("worker1", ("worker", org["company"]), unit=org["company"]),
        "jb_worker": make_user("jb_worker", ("worker", org["jb_street"]), unit=org["jb_street"]),
    }


def sign_in(client, username, password=PASSWORD):
    client.post("/auth/logout")
    response = client.post("/auth/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def entries(action):
    db.session.expire_all()
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.id)).all()


def fresh(user_id) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


def page(response) -> str:
    return response.get_data(as_text=True)


# ------------------------------------------------------------------------------ users

def test_create_user_with_generated_password_shown_once(client, staff):
    sign_in(client, "yz_admin")
    r = client.post("/admin/users/new", data={
        "username": "new.rider", "display_name": "新骑手", "unit": "cq-yz-co", "role": "worker",
        "phone": "13800001111", "email": "r@example.cn", "locale": "en", "password": ""})
    assert r.status_code == 200
    password = re.search(r'id="shown-password">([^<]+)<', page(r)).group(1)
    user = find_user("new.rider")
    assert (user.display_name, user.unit.code, user.phone, user.locale) == (
        "新骑手", "cq-yz-co", "13800001111", "en")
    assert user.roles == {"worker"}
    assert authenticate("new.rider", password) is not None
    created = entries("user.create")[-1]
    assert created.actor_id == staff["yz"].id and created.after["unit"] == "cq-yz-co"
    assert password not in str(created.after)
    # The password is nowhere in the user's page afterwards.
    assert password not in page(client.get(f"/admin/users/{user.id}"))


def test_create_user_refuses_bad_input_clearly(client, staff):
    sign_in(client, "yz_admin")
    r = client.post("/admin/users/new", data={
        "username": "worker1", "display_name": "重名", "unit": "cq-yz-co", "role": "worker",
        "locale": "zh_CN"})
    assert r.status_code == 422 and "已存在" in page(r)
    r = client.post("/admin/users/new", data={
        "username": "x1y2z3", "display_name": "外区", "unit": "cq-jb-gyq", "role": "worker",
        "locale": "zh_CN"})
    assert r.status_code == 422 and "不在您的管理范围内" in page(r)
    r = client.post("/admin/users/new", data={
        "username": "a", "display_name": "", "unit": "cq-yz", "role": "worker", "phone": "abc",
        "locale": "zh_CN", "password": "short"})
    assert r.status_code == 422
    assert "请填写姓名" in page(r) and "请填写有效的电话号码" in page(r)
    assert "密码至少 8 个字符" in page(r)
    assert find_user("x1y2z3") is None


def test_edit_user_records_before_and_after(client, staff):
    sign_in(client, "yz_admin")
    worker = staff["worker"]
    r = client.post(f"/admin/users/{worker.id}", data={
        "display_name": "骑手一号", "unit": "cq-yz-jfb", "phone": "13900000000", "email": "",
        "locale": "zh_CN"})
    assert r.status_code == 302
    worker = fresh(worker.id)
    assert (worker.display_name, worker.unit.code, worker.phone) == ("骑手一号", "cq-yz-jfb",
                                                                      "13900000000")
    entry = entries("user.update")[-1]
    assert entry.before == {"display_name": "worker1", "unit": "cq-yz-co", "phone": None}
    assert entry.after == {"display_name": "骑手一号", "unit": "cq-yz-jfb", "phone": "13900000000"}
    assert entry.actor_id == staff["yz"].id
    # Moving someone out of one's scope is refused.
    r = client.post(f"/admin/users/{worker.id}", data={
        "display_name": "骑手一号", "unit": "cq-jb-gyq", "locale": "zh_CN"})
    assert r.status_code == 422 and fresh(worker.id).unit.code == "cq-yz-jfb"


def test_deactivated_user_cannot_sign_in_and_is_logged_out_everywhere(app, client, staff):
    worker = staff["worker"]
    raw, _ = tokens.issue(worker)
    db.session.commit()
    other = app.test_client()
    sign_in(other, "worker1")
    assert other.get("/").status_code == 200
    sign_in(client, "yz_admin")
    # The button asks first (forms.js shows data-confirm before sending).
    button = client.get(f"/admin/users/{worker.id}").get_data(as_text=True).split(
        'id="deactivate"')[1].split(">")[0]
    assert "data-confirm=" in button and "确定停用" in button
    assert client.post(f"/admin/users/{worker.id}/deactivate").status_code == 302
    assert not fresh(worker.id).active
    # The open session ends, the password no longer opens one, the API token is dead.
    assert other.get("/").status_code == 302
    r = other.post("/auth/login", data={"username": "worker1", "password": PASSWORD})
    assert r.status_code == 401
    assert tokens.resolve(raw) is None
    assert other.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    entry = entries("user.deactivate")[-1]
    assert (entry.before, entry.after, entry.actor_id) == ({"active": True}, {"active": False},
                                                           staff["yz"].id)
    assert entries("token.revoke")[-1].actor_id == staff["yz"].id
    # Reactivated: the old password works again.
    assert client.post(f"/admin/users/{worker.id}/reactivate").status_code == 302
    assert entries("user.reactivate")[-1].after == {"active": True}
    sign_in(other, "worker1")


def test_nobody_deactivates_themselves(client, staff):
    sign_in(client, "yz_admin")
    r = client.post(f"/admin/users/{staff['yz'].id}/deactivate", follow_redirects=True)
    assert "不能停用自己的账号" in page(r)
    assert fresh(staff["yz"].id).active


def test_password_reset_ends_sessions_and_tokens_and_never_logs_the_password(app, client,
                                                                              staff):
    worker = staff["worker"]
    raw, _ = tokens.issue(worker)
    db.session.commit()
    other = app.test_client()
    sign_in(other, "worker1")
    sign_in(client, "street_admin")
    r = client.post(f"/admin/users/{worker.id}/password", data={"password": ""})
    assert r.status_code == 200
    password = re.search(r'id="shown-password">([^<]+)<', page(r)).group(1)
    assert other.get("/").status_code == 302  # signed out
    assert tokens.resolve(raw) is None
    assert authenticate("worker1", PASSWORD) is None
    assert authenticate("worker1", password) is not None
    entry = entries("user.password_reset")[-1]
    assert entry.actor_id == staff["street"].id and entry.after["tokens_revoked"] == 1
    assert password not in str(entry.before) + str(entry.after)
    # A chosen temporary password.
    r = client.post(f"/admin/users/{worker.id}/password", data={"password": "temp-pass-123"})
    assert r.status_code == 302 and authenticate("worker1", "temp-pass-123") is not None
    r = client.post(f"/admin/users/{worker.id}/password", data={"password": "short"})
    assert r.status_code == 422 and "密码至少 8 个字符" in page(r)


# ------------------------------------------------------------------------------ scope

def test_out_of_scope_users_and_units_are_not_found(client, staff, org, make_user):
    mixed = make_user("mixed", ("worker", org["street"]), ("district_admin", org["yz"]),
                      unit=org["street"])
    make_user("watcher", ("supervisor", org["city"]), unit=org["city"])
    sign_in(client, "yz_admin")
    jb = staff["jb_worker"]
    assert client.get(f"/admin/users/{jb.id}").status_code == 404
    assert client.post(f"/admin/users/{jb.id}/deactivate").status_code == 404
    assert client.post(f"/admin/users/{jb.id}/password", data={}).status_code == 404
    assert client.get(f"/admin/units/{org['jb_street'].id}").status_code == 404
    assert client.post(f"/admin/units/{org['jb'].id}/deactivate").status_code == 404
    # Someone with a role above the district (the city administrator) is out of reach too.
    assert client.get(f"/admin/users/{staff['city'].id}").status_code == 404
    assert fresh(jb.id).active
    # A street administrator cannot manage the district administrator of their district.
    sign_in(client, "street_admin")
    assert client.get(f"/admin/users/{staff['yz'].id}").status_code == 404
    assert client.get(f"/admin/users/{staff['worker'].id}").status_code == 200
    # Listed (a role in reach) is not manageable (another role out of reach): no link, 404.
    listing = page(client.get("/admin/users"))
    assert f'href="/admin/users/{staff["worker"].id}"' in listing
    assert "mixed" in listing and f'href="/admin/users/{mixed.id}"' not in listing
    assert client.get(f"/admin/users/{mixed.id}").status_code == 404
    # Supervisors read the lists but manage nothing; workers not even that.
    sign_in(client, "watcher")
    listing = page(client.get("/admin/users"))
    assert "worker1" in listing and "/admin/users/new" not in listing
    assert client.get(f"/admin/users/{staff['worker'].id}").status_code == 403
    sign_in(client, "worker1")
    assert client.get("/admin/users/new").status_code == 403


def test_role_escalation_and_out_of_scope_grants_are_refused(client, staff):
    sign_in(client, "yz_admin")
    worker = staff["worker"]
    for role, unit, message in (("city_admin", "cq-yz", "高于自己"),
                                ("platform_admin", "cq-yz", "高于自己"),
                                ("worker", "cq-jb-gyq", "不在您的管理范围内"),
                                ("station_head", "cq-yz-co", "不能设在")):
        r = client.post(f"/admin/users/{worker.id}/roles", data={"role": role, "unit": unit})
        assert r.status_code == 422 and message in page(r), role
    assert fresh(worker.id).roles == {"worker"}
    sign_in(client, "street_admin")
    r = client.post(f"/admin/users/{worker.id}/roles", data={"role": "district_admin",
                                                             "unit": "cq-yz-jfb"})
    assert r.status_code == 422 and fresh(worker.id).roles == {"worker"}


def test_memberships_are_granted_and_revoked_with_audit(client, staff):
    entries_before = len(entries("membership.grant"))
    sign_in(client, "yz_admin")
    worker = staff["worker"]
    r = client.post(f"/admin/users/{worker.id}/roles", data={"role": "volunteer",
                                                             "unit": "cq-yz-br"})
    assert r.status_code == 302
    assert fresh(worker.id).roles == {"worker", "volunteer"}
    grant = entries("membership.grant")[-1]
    assert grant.actor_id == staff["yz"].id
    assert grant.after == {"user": "worker1", "role": "volunteer", "unit": "cq-yz-br"}
    # The same role again changes nothing, and says so (not "已授予角色").
    client.get(f"/admin/users/{worker.id}")  # the first grant's message, shown
    r = client.post(f"/admin/users/{worker.id}/roles", data={"role": "volunteer",
                                                             "unit": "cq-yz-br"},
                    follow_redirects=True)
    text = page(r)
    assert "已有这个角色，没有改动" in text and "已授予角色" not in text
    assert len(entries("membership.grant")) == 1 + entries_before
    membership = next(m for m in fresh(worker.id).memberships if m.role == "volunteer")
    r = client.post(f"/admin/users/{worker.id}/roles/{membership.id}/revoke")
    assert r.status_code == 302 and fresh(worker.id).roles == {"worker"}
    revoke = entries("membership.revoke")[-1]
    assert revoke.before == {"user": "worker1", "role": "volunteer", "unit": "cq-yz-br"}
    assert revoke.after == {} and revoke.actor_id == staff["yz"].id
    # The audit viewer shows both, by their names.
    sign_in(client, "city_admin")
    viewer = page(client.get("/admin/audit"))
    assert "取消角色" in viewer and "授予角色" in viewer


def test_an_admin_keeps_their_last_admin_role(client, staff):
    sign_in(client, "yz_admin")
    yz = staff["yz"]
    membership = yz.memberships[0]
    r = client.post(f"/admin/users/{yz.id}/roles/{membership.id}/revoke", follow_redirects=True)
    assert "不能取消自己最后一个管理员角色" in page(r)
    assert fresh(yz.id).roles == {"district_admin"}


def test_making_someone_supervisor_and_administrator_at_once_is_confirmed_first(client, staff,
                                                                              org):
    """The supervisor audits administrators: granting either role so that one person
    holds both is explained and needs a second, confirming click; then their page says
    so for as long as they hold both."""
    street = staff["street"]  # a unit administrator of 解放碑街道
    sign_in(client, "yz_admin")
    before = len(entries("membership.grant"))
    r = client.post(f"/admin/users/{street.id}/roles", data={"role": "supervisor",
                                                             "unit": "cq-yz"})
    assert r.status_code == 200 and fresh(street.id).roles == {"unit_admin"}
    assert len(entries("membership.grant")) == before  # nothing granted yet
    html = page(r)
    doc = lxml.html.fromstring(html)
    [ask] = doc.xpath('//*[@id="duties-confirm"]')
    text = " ".join(ask.text_content().split())
    assert "同时担任监督和管理员角色" in text and "自己审查自己" in text and "监督（只读）" in text
    sent = {i.get("name"): i.get("value") for i in ask.xpath(".//input")}
    assert sent["role"] == "supervisor" and sent["unit"] == "cq-yz" and sent["confirm_duties"] == "1"
    assert 'id="duties-notice"' not in html  # they do not hold both yet
    # Not confirmed: the person's page without the grant.
    assert "supervisor" not in fresh(street.id).roles
    # Confirmed: granted, recorded, and their page now says they hold both.
    r = client.post(f"/admin/users/{street.id}/roles", data=sent)
    assert r.status_code == 302 and fresh(street.id).roles == {"unit_admin", "supervisor"}
    assert entries("membership.grant")[-1].after == {"user": "street_admin", "role": "supervisor",
                                                     "unit": "cq-yz"}
    notice = page(client.get(f"/admin/users/{street.id}"))
    assert 'id="duties-notice"' in notice and "基层工会管理员、监督（只读）" in notice
    # Another administrator role for someone who holds both already is asked about too.
    r = client.post(f"/admin/users/{street.id}/roles", data={"role": "unit_admin",
                                                             "unit": "cq-yz-co"})
    assert r.status_code == 200 and 'id="duties-confirm"' in page(r)
    # The same role at the same unit again changes nothing and asks nothing.
    r = client.post(f"/admin/users/{street.id}/roles", data={"role": "supervisor",
                                                             "unit": "cq-yz"})
    assert r.status_code == 302
    # Once one side is revoked, the notice goes.
    membership = next(m for m in fresh(street.id).memberships if m.role == "supervisor")
    client.post(f"/admin/users/{street.id}/roles/{membership.id}/revoke")
    assert 'id="duties-notice"' not in page(client.get(f"/admin/users/{street.id}"))


def test_an_administrator_role_for_a_supervisor_is_asked_about_in_english_too(
        client, staff, org, make_user):
    watcher = make_user("yz_watcher", ("supervisor", org["yz"]), unit=org["yz"])
    sign_in(client, "yz_admin")
    client.post("/auth/locale", data={"locale": "en"})
    r = client.post(f"/admin/users/{watcher.id}/roles", data={"role": "unit_admin",
                                                              "unit": "cq-yz-jfb"})
    assert r.status_code == 200 and fresh(watcher.id).roles == {"supervisor"}
    text = " ".join(lxml.html.fromstring(page(r)).get_element_by_id(
        "duties-confirm").text_content().split())
    assert "will be supervisor and administrator at once" in text
    assert '"Unit administrator" (cq-yz-jfb)' in text and "Grant all the same" in text
    # Roles that are neither side ask nothing.
    r = client.post(f"/admin/users/{watcher.id}/roles", data={"role": "worker",
                                                              "unit": "cq-yz-jfb"})
    assert r.status_code == 302 and fresh(watcher.id).roles == {"supervisor", "worker"}


def test_the_service_refuses_combined_duties_unless_confirmed(staff, org):
    from webapp.services import people

    yz, street = fresh(staff["yz"].id), fresh(staff["street"].id)
    with pytest.raises(people.DutiesConflict):
        people.grant(yz, street, "supervisor", org["yz"])
    db.session.rollback()
    people.grant(yz, fresh(street.id), "supervisor", org["yz"], duties_confirmed=True)
    db.session.commit()
    assert people.holds_conflicting_duties(fresh(street.id).roles)
    assert not people.holds_conflicting_duties({"supervisor", "worker"})
    assert not people.holds_conflicting_duties({"district_admin", "unit_admin"})


# ------------------------------------------------------------------------------ units

def test_units_are_created_edited_and_deactivated_in_scope(client, staff, org):
    sign_in(client, "yz_admin")
    r = client.post("/admin/units/new", data={"parent": "cq-yz-jfb", "kind": "station",
                                              "code": "cq-yz-new", "name": "新驿站"})
    assert r.status_code == 302
    unit = unit_by_code("cq-yz-new")
    assert unit.parent_id == org["street"].id and unit.depth == org["street"].depth + 1
    assert unit.path == f"{org['street'].path}{unit.id}/"
    assert entries("unit.create")[-1].after == {"code": "cq-yz-new", "name": "新驿站",
                                                "kind": "station", "parent": "cq-yz-jfb"}
    for data, message in (
            ({"parent": "cq-jb", "kind": "street", "code": "x-1", "name": "外区"}, "不在您的管理范围内"),
            ({"parent": "cq-yz-br", "kind": "station", "code": "x-2", "name": "支部下"}, "不能设在"),
            ({"parent": "cq-yz", "kind": "street", "code": "cq-yz-new", "name": "重码"}, "已被使用"),
            ({"parent": "cq-yz", "kind": "street", "code": "坏 码", "name": "坏码"}, "编码为")):
        r = client.post("/admin/units/new", data=data)
        assert r.status_code == 422 and message in page(r), data
    r = client.post(f"/admin/units/{unit.id}", data={"name": "新驿站二号", "name_en": "Station 2"})
    assert r.status_code == 302
    assert entries("unit.update")[-1].before == {"name": "新驿站", "name_en": None}
    # A unit with active units below cannot be deactivated; a leaf can.
    r = client.post(f"/admin/units/{org['street'].id}/deactivate", follow_redirects=True)
    assert "请先停用它们" in page(r)
    assert client.post(f"/admin/units/{unit.id}/deactivate").status_code == 302
    db.session.expire_all()
    assert not db.session.get(OrgUnit, unit.id).active
    assert entries("unit.deactivate")[-1].after == {"active": False}
    # Nobody switches off the unit they administer itself.
    r = client.post(f"/admin/units/{org['yz'].id}/deactivate", follow_redirects=True)
    assert "不能停用" in page(r)


# ------------------------------------------------------------------------------ import

def xlsx(rows: list[list[str]]) -> bytes:
    """A minimal XLSX workbook (shared strings, as Excel writes them)."""
    strings: list[str] = []
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if value.isdigit() and len(value) > 6:  # a phone number in a number cell
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif value:
                strings.append(value)
                cells.append(f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel_ns = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", f'<workbook {ns} {rel_ns}><sheets>'
                      '<sheet name="人员" sheetId="1" r:id="rId1"/></sheets></workbook>')
        book.writestr("xl/_rels/workbook.xml.rels",
                      '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                      'relationships"><Relationship Id="rId1" Target="worksheets/sheet1.xml" '
                      'Type="worksheet"/></Relationships>')
        book.writestr("xl/sharedStrings.xml", f'<sst {ns}>' + "".join(
            f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>")
        book.writestr("xl/worksheets/sheet1.xml",
                      f'<worksheet {ns}><sheetData>{"".join(sheet_rows)}</sheetData></worksheet>')
    return buffer.getvalue()


UNITS_CSV = "\n".join([
    "code,name,kind,parent",
    "cq-yz-s2,新街道工会,street,cq-yz",
    "cq-yz-s2-st,新街道驿站,工会驿站,cq-yz-s2",
    "cq-yz-bad,坏类型,village,cq-yz",
    "cq-yz-orphan,无上级,station,no-such-unit",
    "cq-yz-jb,外区,street,cq-jb",
    "cq-yz-s2,重复,street,cq-yz",
    "cq-yz,已有,street,cq-yz",
]) + "\n"

USERS_ROWS = [
    ["用户名", "姓名", "单位编码", "角色", "电话", "邮箱"],
    ["imp.one", "导入一", "cq-yz-co", "worker", "13800000001", "one@example.cn"],
    ["imp.two", "导入二", "cq-yz-br", "志愿者（党员）", "", ""],
    ["imp.three", "导入三", "nowhere", "worker", "", ""],
    ["imp.one", "重复", "cq-yz-co", "worker", "", ""],
    ["worker1", "已有", "cq-yz-co", "worker", "", ""],
    ["imp.four", "坏角色", "cq-yz-co", "boss", "", ""],
    ["imp.five", "越权", "cq-yz", "city_admin", "", ""],
    ["imp.six", "外区", "cq-jb-gyq", "worker", "", ""],
]


def test_units_csv_dry_run_reports_rows_then_confirmed_import_creates_them(staff):
    yz = fresh(staff["yz"].id)
    report = import_people(UNITS_CSV.encode(), yz, dry_run=True)
    db.session.commit()
    assert report.kind == "units" and [a.key for a in report.accepted] == ["cq-yz-s2",
                                                                           "cq-yz-s2-st"]
    reasons = {p.line: p.text("zh") for p in report.rejected}
    assert "未知的单位类型“village”" in reasons[4]
    assert "未知的上级单位“no-such-unit”" in reasons[5]
    assert "不在您的管理范围内" in reasons[6]
    assert "与第 2 行重复" in reasons[7]
    assert "已存在" in reasons[8]
    assert "unknown unit kind 'village'" in report.rejected[0].text("en")
    assert unit_by_code("cq-yz-s2") is None  # a dry run saves nothing
    report = import_people(UNITS_CSV.encode(), yz, dry_run=False)
    db.session.commit()
    street, station = unit_by_code("cq-yz-s2"), unit_by_code("cq-yz-s2-st")
    assert station.parent_id == street.id and station.path.startswith(street.path)
    assert station.kind == "station" and len(entries("unit.create")) == 2
    summary = entries("unit.import")[-1]
    assert summary.actor_id == yz.id and summary.after["created_count"] == 2
    assert summary.after["rejected_count"] == 5


def test_users_xlsx_dry_run_and_import_with_reasons(staff):
    yz = fresh(staff["yz"].id)
    data = xlsx(USERS_ROWS)
    report = import_people(data, yz, dry_run=True)
    db.session.rollback()
    assert report.kind == "users" and report.file_format == "XLSX"
    assert [a.key for a in report.accepted] == ["imp.one", "imp.two"]
    reasons = {p.line: p.text("zh") for p in report.rejected}
    assert "未知的单位编码“nowhere”" in reasons[4]
    assert "用户名与第 2 行重复" in reasons[5]
    assert "已存在" in reasons[6]
    assert "未知的角色“boss”" in reasons[7]
    assert "高于自己" in reasons[8]
    assert "不在您的管理范围内" in reasons[9]
    assert find_user("imp.one") is None and report.passwords == []
    report = import_people(data, yz, dry_run=False)
    db.session.commit()
    passwords = dict(report.passwords)
    one, two = find_user("imp.one"), find_user("imp.two")
    assert (one.phone, one.email, one.unit.code, one.roles) == (
        "13800000001", "one@example.cn", "cq-yz-co", {"worker"})
    assert two.roles == {"volunteer"}
    assert authenticate("imp.two", passwords["imp.two"]) is not None
    assert fresh(staff["worker"].id).display_name == "worker1"  # never overwritten
    summary = entries("user.import")[-1]
    assert summary.after["created"] == ["imp.one", "imp.two"]
    assert not any(p in str(summary.after) for p in passwords.values())


def test_a_workbook_written_by_a_spreadsheet_library_is_read(staff, tmp_path):
    """openpyxl writes what Excel writes: styles, a numeric phone, a second sheet."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "单位"
    sheet.append(["编码", "名称", "类型", "上级单位编码", "备注"])
    sheet.append(["cq-yz-x1", "新街道", "街道工会", "cq-yz", "随便写"])
    sheet.append(["cq-yz-x2", "新驿站", "station", "cq-yz-x1", None])
    for column, value in zip("ABCD", ["cq-yz-x3", "编号单位", "branch", 12345]):
        sheet[f"{column}6"] = value  # rows 4 and 5 left empty: row numbers stay Excel's
    book.create_sheet("其他").append(["username"])
    path = tmp_path / "units.xlsx"
    book.save(path)
    report = import_people(path.read_bytes(), fresh(staff["yz"].id), dry_run=True)
    assert report.kind == "units" and report.ignored_columns == ["备注"]
    assert [a.key for a in report.accepted] == ["cq-yz-x1", "cq-yz-x2"]
    assert report.rejected[0].line == 6 and "未知的上级单位“12345”" in report.rejected[0].text("zh")


def test_a_big5_file_is_said_to_be_in_another_encoding(staff):
    data = "用戶名,姓名,單位編碼,角色\nimp.b5,李四,cq-yz-co,職工\n".encode("big5")
    with pytest.raises(ImportFileError) as err:
        import_people(data, fresh(staff["yz"].id), dry_run=True)
    assert "Big5" in err.value.zh and "ノめ" in err.value.zh and "用户名" in err.value.zh
    # A header in the right encoding that names neither kind: no talk of encodings.
    with pytest.raises(ImportFileError) as err:
        import_people("姓名,电话\n李四,138\n".encode(), fresh(staff["yz"].id), dry_run=True)
    assert "Big5" not in err.value.zh


def test_gbk_csv_is_read(staff):
    text = "用户名,姓名,单位编码,角色\nimp.gbk,李四,cq-yz-co,职工\nimp.bad,王五,火星,职工\n"
    report = import_people(text.encode("gbk"), fresh(staff["yz"].id), dry_run=True)
    assert (report.file_format, report.encoding, report.format_text("zh")) == (
        "CSV", "GBK", "CSV，GBK")
    assert [a.key for a in report.accepted] == ["imp.gbk"]
    assert report.accepted[0].values["display_name"] == "李四"
    assert "未知的单位编码“火星”" in report.rejected[0].text("zh")


@pytest.mark.parametrize("data, message", [
    (b"", "空"),
    (b"\x00\x01\x02garbage" * 10, "CSV 或 XLSX"),
    (b"PK\x03\x04not really a zip", "XLSX"),
    (b"a,b,c\n1,2,3\n", "看不出"),
    ("用户名,姓名\nx,y\n".encode(), "缺少必需的列"),
    (b"x" * (5 * 1024 * 1024 + 10), "MB"),
])
def test_garbage_is_refused_cleanly(staff, data, message):
    with pytest.raises(ImportFileError) as caught:
        import_people(data, fresh(staff["yz"].id))
    assert message in caught.value.message("zh")


def test_import_page_checks_then_confirms(client, staff):
    sign_in(client, "yz_admin")
    r = client.post("/admin/people/import", data={"file": (io.BytesIO(xlsx(USERS_ROWS)),
                                                           "people.xlsx")},
                    content_type="multipart/form-data")
    assert r.status_code == 200
    html = page(r)
    assert "可以导入 2 行，退回 6 行" in html and "未知的角色“boss”" in html
    assert find_user("imp.one") is None
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    # Someone else cannot confirm this upload.
    sign_in(client, "city_admin")
    r = client.post("/admin/people/import/confirm", data={"token": token},
                    follow_redirects=True)
    assert "已过期" in page(r) and find_user("imp.one") is None
    sign_in(client, "yz_admin")
    r = client.post("/admin/people/import/confirm", data={"token": token})
    assert r.status_code == 200 and "已导入 2 行" in page(r)
    assert find_user("imp.one") is not None and 'id="passwords"' in page(r)
    # The same confirmation does not import twice.
    r = client.post("/admin/people/import/confirm", data={"token": token},
                    follow_redirects=True)
    assert "已过期" in page(r)
    r = client.post("/admin/people/import", data={"file": (io.BytesIO(b"\x00\xff" * 50),
                                                           "x.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "CSV 或 XLSX" in page(r)


def _carried_file(html: str, link_id: str) -> tuple[str, list[list[str]]]:
    """The file a link carries in its data: address — its download name and its rows."""
    import base64
    import csv

    [link] = lxml.html.fromstring(html).xpath(f'//a[@id="{link_id}"]')
    prefix = "data:text/csv;charset=utf-8;base64,"
    assert link.get("href").startswith(prefix)
    body = base64.b64decode(link.get("href")[len(prefix):])
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return link.get("download"), list(csv.reader(io.StringIO(body.decode("utf-8-sig"),
                                                             newline="")))


def test_the_import_result_offers_the_passwords_and_rejected_rows_as_files(app, client, staff):
    """200 riders need their temporary passwords handed out: the result page carries them
    as a CSV (username, name, unit, password) inside the page, kept nowhere on the
    server, and the rejected rows with the file's row number, cells and reason."""
    from pathlib import Path

    from webapp.services.export import dated

    unit_by_code("cq-yz-co").name = "渝中某公司工会"
    db.session.commit()
    sign_in(client, "yz_admin")
    r = client.post("/admin/people/import", data={"file": (io.BytesIO(xlsx(USERS_ROWS)),
                                                           "people.xlsx")},
                    content_type="multipart/form-data")
    html = page(r)
    # The check already offers the rejected rows, to correct them before confirming.
    name, rows = _carried_file(html, "rejected-download")
    assert name == dated("导入退回的行", "csv")
    assert rows[0] == ["行号", *USERS_ROWS[0], "原因"]
    assert rows[1][:7] == ["4", "imp.three", "导入三", "nowhere", "worker", "", ""]
    assert "未知的单位编码“nowhere”" in rows[1][7]
    assert [row[0] for row in rows[1:]] == ["4", "5", "6", "7", "8", "9"]
    assert 'id="passwords-download"' not in html  # nothing made yet, no password
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    r = client.post("/admin/people/import/confirm", data={"token": token})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    html = page(r)
    name, rows = _carried_file(html, "passwords-download")
    assert name == dated("导入的临时密码", "csv") and name.endswith(".csv")
    assert rows[0] == ["用户名", "姓名", "单位", "单位编码", "临时密码"]
    by_name = {row[0]: row for row in rows[1:]}
    assert sorted(by_name) == ["imp.one", "imp.two"]
    assert by_name["imp.one"][:4] == ["imp.one", "导入一", "渝中某公司工会", "cq-yz-co"]
    for username, row in by_name.items():
        assert authenticate(username, row[4]) is not None  # the very password they got
    assert _carried_file(html, "rejected-download")[1][0][0] == "行号"
    # Nothing of it stays on the server: not the upload, not the log, not a file.
    folder = Path(app.instance_path) / "people-imports"
    kept = b"".join(f.read_bytes() for f in folder.iterdir()) if folder.exists() else b""
    assert not any(row[4].encode() in kept for row in by_name.values())
    logged = str([(e.before, e.after) for e in entries("user.import") + entries("user.create")])
    assert not any(row[4] in logged for row in by_name.values())


def test_a_rejected_cell_a_spreadsheet_would_run_stays_text(client, staff):
    sign_in(client, "yz_admin")
    data = '用户名,姓名,单位编码\nbad.one,"=HYPERLINK(""http://evil.example"")",nowhere\n'.encode()
    html = page(client.post("/admin/people/import", data={"file": (io.BytesIO(data), "p.csv")},
                            content_type="multipart/form-data"))
    rows = _carried_file(html, "rejected-download")[1]
    assert rows[1][:4] == ["2", "bad.one", "'=HYPERLINK(\"http://evil.example\")", "nowhere"]


def test_the_import_files_speak_the_readers_language(client, staff):
    sign_in(client, "yz_admin")
    client.post("/auth/locale", data={"locale": "en"})
    html = page(client.post("/admin/people/import", data={
        "file": (io.BytesIO(xlsx(USERS_ROWS)), "people.xlsx")}, content_type="multipart/form-data"))
    name, rows = _carried_file(html, "rejected-download")
    assert name.startswith("Import rejected rows_") and rows[0][0] == "Line"
    assert rows[0][-1] == "Reason" and "unknown role 'boss'" in rows[4][-1]


def test_the_report_speaks_the_readers_language(client, staff):
    sign_in(client, "yz_admin")
    client.post("/auth/locale", data={"locale": "en"})
    r = client.post("/admin/people/import", data={"file": (io.BytesIO(xlsx(USERS_ROWS)),
                                                           "people.xlsx")},
                    content_type="multipart/form-data")
    assert "unknown role &#39;boss&#39;" in page(r) and "can be imported: 2; rejected: 6" in page(r)


def test_import_cli(runner, staff, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(UNITS_CSV, encoding="utf-8")
    result = runner.invoke(args=["people", "import", str(path), "--dry-run"])
    assert result.exit_code == 1 and "Dry run" in result.output and "row 4" in result.output
    assert unit_by_code("cq-yz-s2") is None
    result = runner.invoke(args=["people", "import", str(path), "--lang", "zh"])
    assert "已导入单位 3 行" in result.output  # the system may also place cq-yz-jb under cq-jb
    assert unit_by_code("cq-yz-s2-st") is not None


class TestCsrf:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    def test_changes_without_a_token_are_refused(self, client, staff):
        login_page = page(client.get("/auth/login"))
        token = re.search(r'type="hidden" name="csrf_token" value="([^"]+)"', login_page).group(1)
        assert client.post("/auth/login", data={"username": "yz_admin", "password": PASSWORD,
                                                "csrf_token": token}).status_code == 302
        worker = staff["worker"]
        assert client.post(f"/admin/users/{worker.id}/deactivate").status_code == 400
        assert client.post(f"/admin/users/{worker.id}/password", data={}).status_code == 400
        assert client.post("/admin/units/new", data={"parent": "cq-yz", "kind": "street",
                                                     "code": "c-1", "name": "n"}).status_code == 400
        assert fresh(worker.id).active and unit_by_code("c-1") is None
        # With the token from the page, it works.
        token = re.search(r'type="hidden" name="csrf_token" value="([^"]+)"',
                          page(client.get(f"/admin/users/{worker.id}"))).group(1)
        r = client.post(f"/admin/users/{worker.id}/deactivate", data={"csrf_token": token})
        assert r.status_code == 302 and not fresh(worker.id).active


@pytest.mark.parametrize("address, accepted", [("骑手@example.cn", False), ("a b@example.cn", False),
                                               ("rider@工会.中国", True), ("x+tag@163.com", True)])
def test_an_e_mail_address_the_mail_sender_cannot_use_is_refused_at_entry(
        client, staff, address, accepted):
    """A mailbox in Chinese needs SMTPUTF8, which the sender does not speak: refused where
    it is typed (a Chinese domain is fine: it is sent punycoded)."""
    from webapp.services.people_import import EMAIL_RE

    assert bool(EMAIL_RE.match(address)) is accepted
    sign_in(client, "yz_admin")
    r = client.post("/admin/users/new", data={
        "username": "mail.rider", "display_name": "新骑手", "unit": "cq-yz-co",
        "role": "worker", "phone": "", "email": address, "locale": "zh_CN", "password": ""})
    assert (find_user("mail.rider") is not None) is accepted
    if not accepted:
        assert r.status_code == 422 and "请填写有效的邮箱地址" in page(r)


def test_a_password_too_long_is_called_too_long_not_too_short(client, staff):
    sign_in(client, "street_admin")
    worker = staff["worker"]
    for url, data in ((f"/admin/users/{worker.id}/password", {"password": "x" * 300}),
                      ("/admin/users/new", {"username": "longpass", "display_name": "长密码",
                                            "unit": "cq-yz-co", "role": "worker",
                                            "locale": "zh_CN", "password": "x" * 300})):
        r = client.post(url, data=data)
        assert r.status_code == 422, url
        assert "密码最多 256 个字符" in page(r) and "至少" not in page(r), url
    assert find_user("longpass") is None


def test_each_label_on_a_persons_page_leads_to_its_own_field(client, staff):
    """The profile form and the grant-a-role form share the page; a screen reader names a
    field by the label pointing at its id, so no two fields may share one."""
    from html.parser import HTMLParser

    class Ids(HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids, self.labels = [], []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if attrs.get("id") and attrs.get("type") != "hidden":
                self.ids.append(attrs["id"])
            if tag == "label" and attrs.get("for"):
                self.labels.append(attrs["for"])

    sign_in(client, "street_admin")
    parser = Ids()
    parser.feed(page(client.get(f"/admin/users/{staff['worker'].id}")))
    assert "grant_unit" in parser.ids and "unit" in parser.ids
    assert len(parser.ids) == len(set(parser.ids)), sorted(parser.ids)
    assert all(parser.ids.count(target) == 1 for target in parser.labels), parser.labels


def test_a_role_is_read_as_people_type_it_and_a_wrong_one_lists_the_right_ones(client, staff):
    """A spreadsheet typed by hand says 志愿者 or Volunteer, not 志愿者（党员）."""
    yz = fresh(staff["yz"].id)
    rows = [["用户名", "姓名", "单位编码", "角色"],
            ["typed.a", "甲", "cq-yz-br", "志愿者"],
            ["typed.b", "乙", "cq-yz-br", "Volunteer"],
            ["typed.c", "丙", "cq-yz-br", "志愿者(党员)"],
            ["typed.d", "丁", "cq-yz-br", " volunteer (party member) "],
            ["typed.e", "戊", "cq-yz-co", "职工 "],
            ["typed.f", "己", "cq-yz-co", "队长"]]
    data = "\n".join(",".join(r) for r in rows).encode("utf-8")
    report = import_people(data, yz, dry_run=True)
    db.session.rollback()
    roles = {a.key: a.values["role"] for a in report.accepted}
    assert roles == {"typed.a": "volunteer", "typed.b": "volunteer", "typed.c": "volunteer",
                     "typed.d": "volunteer", "typed.e": "worker"}
    [refused] = report.rejected
    assert "未知的角色“队长”，可填：职工、志愿者、支部书记、站长" in refused.text("zh")
    assert "use one of: Worker, Volunteer, Branch secretary" in refused.text("en")
    sign_in(client, "yz_admin")
    page_text = page(client.get("/admin/people/import"))
    assert "“角色”可填：职工、志愿者、支部书记" in page_text and "“类型”可填：" in page_text


def _accepted_table(html: str) -> list[list[str]]:
    """The rows (header first) of the "rows that can be imported" table, as text."""
    table = lxml.html.fromstring(html).get_element_by_id("accepted")
    return [[" ".join(cell.text_content().split()) for cell in row.xpath("./th|./td")]
            for row in table.iter("tr")]


def test_the_import_preview_shows_what_will_be_made(client, staff):
    """The rows that can be imported show each person's name, unit and role, and each
    unit's kind and parent, so a dry run can be checked; the file's encoding reads as
    words (L4)."""
    for code, name in (("cq-yz", "渝中区总工会"), ("cq-yz-co", "渝中某公司工会"),
                       ("cq-yz-jfb", "解放碑街道工会")):
        unit_by_code(code).name = name
    db.session.commit()
    sign_in(client, "yz_admin")
    users = ("用户名,姓名,单位编码,角色\nimp.a,张三,cq-yz-co,志愿者\nimp.b,李四,cq-yz-jfb,\n"
             .encode("utf-8-sig"))
    html = page(client.post("/admin/people/import", data={"file": (io.BytesIO(users), "p.csv")},
                            content_type="multipart/form-data"))
    assert "（CSV，UTF-8，带 BOM）" in html and "(BOM)" not in html
    assert _accepted_table(html) == [["行号", "用户名", "姓名", "单位", "角色"],
                                     ["2", "imp.a", "张三", "渝中某公司工会 cq-yz-co", "志愿者（党员）"],
                                     ["3", "imp.b", "李四", "解放碑街道工会 cq-yz-jfb", "职工"]]
    units = ("code,name,kind,parent\ncq-yz-n1,新街道,street,cq-yz\ncq-yz-n2,新驿站,station,cq-yz-n1\n"
             .encode())
    html = page(client.post("/admin/people/import", data={"file": (io.BytesIO(units), "u.csv")},
                            content_type="multipart/form-data"))
    assert _accepted_table(html) == [["行号", "编码", "名称", "类型", "上级单位"],
                                     ["2", "cq-yz-n1", "新街道", "街道工会", "渝中区总工会 cq-yz"],
                                     ["3", "cq-yz-n2", "新驿站", "工会驿站", "新街道 cq-yz-n1"]]
    client.post("/auth/locale", data={"locale": "en"})
    html = page(client.post("/admin/people/import", data={"file": (io.BytesIO(users), "p.csv")},
                            content_type="multipart/form-data"))
    assert "(CSV, UTF-8 with BOM)" in html
    assert _accepted_table(html)[:2] == [["Line", "Username", "Name", "Unit", "Roles"],
                                         ["2", "imp.a", "张三", "渝中某公司工会 cq-yz-co",
                                          "Volunteer (party member)"]]
