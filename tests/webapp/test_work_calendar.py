"""The working-day calendar: a city administrator enters holidays and make-up working days
(one, or pasted lines), bad input is refused beside its field with nothing saved, every
change is audited, and working-day deadlines count with it at once."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select

from tests.webapp.test_pages import errors, login  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import AuditEntry, CalendarDay
from webapp.services.directory import DbDirectory
from workflows.durations import add_duration, parse_duration


def days() -> dict[date, tuple[bool, str]]:
    db.session.expire_all()
    return {d.day: (d.working, d.name) for d in db.session.scalars(select(CalendarDay))}


def test_a_city_administrator_enters_and_removes_a_holiday(login, demo):
    client = login("city_admin")
    page = client.post("/admin/calendar", data={"action": "set", "day": "2027-02-08",
                                                "kind": "休", "name": "春节"})
    assert page.status_code == 302
    assert days() == {date(2027, 2, 8): (False, "春节")}
    listed = client.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert "2027-02-08 周一" in listed and "春节" in listed and "放假" in listed
    # Entered again as a make-up working day: the same row changes.
    client.post("/admin/calendar", data={"action": "set", "day": "2027-02-08", "kind": "班"})
    assert days() == {date(2027, 2, 8): (True, "")}
    client.post("/admin/calendar", data={"action": "remove", "day": "2027-02-08"})
    assert days() == {}
    actions = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "calendar_day").order_by(AuditEntry.seq)).all()
    assert actions == ["calendar.set", "calendar.set", "calendar.remove"]
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "登记节假日或调休" in audit and "删除节假日或调休" in audit


def test_bad_input_is_refused_beside_its_field_and_nothing_is_saved(login, demo):
    client = login("city_admin")
    client.post("/admin/calendar", data={"action": "set", "day": "2027-10-01", "kind": "休",
                                         "name": "国庆节"})
    for form, field, words in (
            ({"day": "2027-02-30", "kind": "休"}, "day", "无法识别"),
            ({"day": "", "kind": "休"}, "day", "无法识别"),
            ({"day": "2027-10-01", "kind": "周末"}, "kind", "不是日子的类型"),
            ({"day": "2027-10-01", "kind": "班", "name": "节" * 51}, "name", "最多 50 个字")):
        page = client.post("/admin/calendar", data={"action": "set", **form})
        assert page.status_code == 422, form
        html = page.get_data(as_text=True)
        assert f'id="{field}-error"' in html and words in html, (form, errors(page))
    assert days() == {date(2027, 10, 1): (False, "国庆节")}  # what was saved stays
    page = client.post("/admin/calendar", data={"action": "drop-everything"})
    assert page.status_code == 422 and "不认识的操作" in page.get_data(as_text=True)


def test_pasted_lines_are_entered_all_or_none(login, demo):
    client = login("city_admin")
    page = client.post("/admin/calendar", data={"action": "import", "lines": (
        "日期,类型,名称\n2027-02-06\t休\t春节\n2027-02-14，班，春节调休\n\n2027-02-30,休,春节\n"
        "2027-02-07\n")})
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "第 5 行" in html and "第 6 行" in html and "没有登记任何一天" in html
    assert days() == {}
    page = client.post("/admin/calendar", data={"action": "import", "lines": (
        "2027-02-06\t休\t春节\n2027-02-14，班，春节调休\n")})
    assert page.status_code == 302
    assert days() == {date(2027, 2, 6): (False, "春节"), date(2027, 2, 14): (True, "春节调休")}
    page = client.post("/admin/calendar", data={"action": "import", "lines": "\n\n"})
    assert page.status_code == 422 and "没有读到任何日期" in page.get_data(as_text=True)
    page = client.post("/admin/calendar", data={"action": "import", "lines": "x" * 140_000})
    assert page.status_code == 422 and "一次最多登记 20000 个字符" in page.get_data(as_text=True)
    assert len(days()) == 2


def test_only_city_and_platform_administrators_keep_the_calendar(login, demo):
    for who in ("unit_admin", "yuzhong_admin", "rider1", "supervisor"):
        client = login(who)
        assert client.get("/admin/calendar").status_code == 403, who
        assert client.post("/admin/calendar", data={
            "action": "set", "day": "2027-02-08", "kind": "休"}).status_code == 403, who
    assert days() == {}
    home = login("city_admin").get("/").get_data(as_text=True)
    assert "/admin/calendar" in home and "工作日历" in home


def test_working_day_deadlines_count_with_the_calendar_at_once(login, demo, app):
    """Entered on the page, a holiday is skipped by the next working-day deadline (this
    process reads the calendar again at once, not after its five-minute copy)."""
    three = parse_duration("3wd")
    today = date.today()
    friday = today + timedelta(days=(4 - today.weekday()) % 7 + 14)  # a Friday ahead
    start = datetime.combine(friday, datetime.min.time(), tzinfo=timezone.utc) \
        + timedelta(hours=1)  # 09:00 China time
    monday = friday + timedelta(days=3)
    before = add_duration(start, three, DbDirectory().calendar())
    assert before.date() == monday + timedelta(days=2)  # Mon, Tue, Wed
    client = login("city_admin")
    client.post("/admin/calendar", data={"action": "import", "lines": (
        f"{monday},休,劳动节\n{monday + timedelta(days=1)},休,劳动节\n"
        f"{monday + timedelta(days=6)},班,劳动节调休\n")})
    after = add_duration(start, three, DbDirectory().calendar())
    assert after.date() == monday + timedelta(days=4)  # Wed, Thu, Fri


def test_the_command_line_imports_a_file(runner, demo, tmp_path):
    good = tmp_path / "2027.csv"
    good.write_text("\ufeff2027-10-01,休,国庆节\n2027-10-09,班,国庆调休\n", encoding="utf-8")
    result = runner.invoke(args=["calendar", "import", str(good)])
    assert result.exit_code == 0 and "2 days set" in result.output
    listed = runner.invoke(args=["calendar", "list", "--year", "2027"])
    assert listed.output.splitlines() == ["2027-10-01,休,国庆节", "2027-10-09,班,国庆调休"]
    bad = tmp_path / "bad.csv"
    bad.write_text("2027-10-02,休\n2027-13-01,休\n", encoding="utf-8")
    result = runner.invoke(args=["calendar", "import", str(bad), "--lang", "zh"])
    assert result.exit_code == 1 and "bad.csv:2:" in result.output and "无法识别" in result.output
    assert db.session.scalar(select(func.count()).select_from(CalendarDay)) == 2


def test_the_command_line_refuses_too_much_text(runner, demo, tmp_path):
    huge = tmp_path / "huge.csv"
    huge.write_text("x" * 140_000, encoding="utf-8")
    result = runner.invoke(args=["calendar", "import", str(huge)])
    assert result.exit_code == 1 and "20000" in result.output
    assert "Traceback" not in result.output
