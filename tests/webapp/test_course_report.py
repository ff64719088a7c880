"""The course report's completion counts (/reports/courses): per course, registrations,
places, the waiting list, completed, not completed (short of attendance) and
certificates withdrawn by a correction — on the page and in its downloads, scoped like
the rest of the report, from one statement whatever the number of courses."""
from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from tests.webapp.test_export import csv_rows, xlsx_rows
from tests.webapp.test_pages import login  # noqa: F401
from tests.webapp.test_statement_budget import counting
from tests.webapp.test_training import correct, decided_course, register
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Course, Instance
from webapp.services.activities import create_course
from webapp.services.org import unit_by_code

COUNTS = ["报名数", "已录取", "候补", "满员率（百分比）", "已结业", "未结业（出勤不足）",
          "证书已作废（更正）"]


def table_rows(page: str) -> dict[str, list[str]]:
    """The courses table: course title → the cells after it.  A short heading counts by
    the full name in its <abbr title> (满员率 → 满员率（百分比）)."""
    body = page.split('id="courses-table"')[1].split("</table>")[0]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [(abbr.group(1) if (abbr := re.search(r'<abbr title="([^"]+)"', c))
                  else re.sub(r"<[^>]+>", "", c).strip())
                 for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        out[cells[0]] = cells[1:]
    return out


def data_labels(page: str) -> list[list[str]]:
    """Each course row's cells' data-label (the heading a phone's card shows beside it)."""
    body = page.split('id="courses-table"')[1].split("</table>")[0].split("<tbody>")[1]
    return [re.findall(r'<td[^>]*data-label="([^"]+)"', row)
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def small_course(title: str, unit: str, capacity: int = 1) -> Course:
    """A course of ``unit`` open for registration now, starting in a week."""
    today = date.today()
    course = create_course(title=title, kind="测试", unit=unit_by_code(unit), venue="-",
                           capacity=capacity, requires_approval=False, opens_on=today,
                           closes_on=today + timedelta(days=5),
                           starts_on=today + timedelta(days=7),
                           ends_on=today + timedelta(days=8), sessions=1)
    db.session.commit()
    return course


def test_completion_counts_per_course_on_the_page_and_in_the_downloads(login, demo):
    # 电工技能提升班 (渝中区): rider1 completed; courier1 short of attendance; driver1
    # completed and then, corrected, not — the certificate withdrawn.
    course, ids = decided_course(login, {"rider1": 9, "courier1": 2, "driver1": 10})
    assert correct(login("unit_admin"), course, ids["driver1"], 6, "failed",
                   "重复签到").status_code == 302
    # A 江北区 course with one place: rider1 takes it, courier1 waits, driver1 waited and
    # withdrew.
    jb = small_course("江北区叉车短训", "cq-jb-gyq")
    for who in ("rider1", "courier1", "driver1"):
        register(login, who, jb)
    withdrew = db.session.scalar(select(Instance.id).where(
        Instance.unique_key == f"course:{jb.id}",
        Instance.applicant_id == demo["driver1"].id))
    login("driver1").post(f"/instances/{withdrew}/withdraw", data={"comment": "时间冲突"})
    db.session.expire_all()
    assert db.session.get(Instance, withdrew).status == "withdrawn"

    page = login("city_admin").get("/reports/courses").get_data(as_text=True)
    rows = table_rows(page)
    assert rows["课程"][1:] == ["名额", *COUNTS]
    assert rows[course.title][1:] == [str(course.capacity), "3", "3", "0",
                                      f"{round(300 / course.capacity)}%", "1", "2", "1"]
    assert rows[jb.title][1:] == ["1", "3", "1", "1", "100%", "0", "0", "0"]
    # The headings are short, each with its full name as a title; on a phone's card
    # each number is labelled with its short heading.
    assert '<abbr title="未结业（出勤不足）">未结业</abbr>' in page
    assert set(map(tuple, data_labels(page))) == {
        ("开课日期", "名额", "报名数", "已录取", "候补", "满员率", "已结业", "未结业", "证书作废")}
    # A course nobody registered for: zeros, not blanks.
    quiet = next(c for c in db.session.scalars(select(Course)) if c.title not in
                 (course.title, jb.title) and c.title in rows)
    assert rows[quiet.title][2:] == ["0", "0", "0", "0%", "0", "0", "0"]

    # Scoped like the rest of the report: the course's unit.
    yz = table_rows(login("yuzhong_admin").get("/reports/courses").get_data(as_text=True))
    assert course.title in yz and jb.title not in yz
    jbr = table_rows(login("jiangbei_admin").get("/reports/courses").get_data(as_text=True))
    assert jb.title in jbr and course.title not in jbr
    assert jbr[jb.title][-3:] == ["0", "0", "0"]

    # The downloads have the same numbers, in columns of their own.
    client = login("city_admin")
    csv = csv_rows(client.get("/reports/courses?format=csv"))
    assert csv[0] == ["课程", "类别", "开课日期", "名额", *COUNTS]
    by_title = {r[0]: r for r in csv[1:]}
    assert by_title[course.title][4:] == ["3", "3", "0", str(round(300 / course.capacity)),
                                          "1", "2", "1"]
    assert by_title[jb.title][4:] == ["3", "1", "1", "100", "0", "0", "0"]
    book, _sheet = xlsx_rows(client.get("/reports/courses?format=xlsx"))
    assert book[0] == ["课程", "类别", "开课日期", "名额", *COUNTS]
    row = next(r for r in book[1:] if r[0] == course.title)
    assert row[4:] == [3, 3, 0, round(300 / course.capacity), 1, 2, 1]
    # In English too, every heading translated.
    client.post("/auth/locale", data={"locale": "en", "next": "/reports/courses"})
    english = csv_rows(client.get("/reports/courses?format=csv"))
    assert english[0][4:] == ["Registrations", "Enrolled", "Waitlisted",
                              "Fill rate (percent)", "Completed",
                              "Not completed (not enough attendance)",
                              "Certificates withdrawn (corrected)"]


def test_the_course_report_is_one_statement_whatever_the_number_of_courses(login, demo):
    course, _ids = decided_course(login, {"rider1": 9, "courier1": 2})
    title = course.title
    client = login("city_admin")
    client.get("/reports/courses")  # what a first page caches (definitions, the viewer)

    def statements() -> list[str]:
        db.session.remove()
        with counting() as seen:
            assert client.get("/reports/courses").status_code == 200
        return [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]

    few = statements()
    for n in range(4):
        more = small_course(f"加开课程{n}", "cq-yz-jfb", capacity=2)
        if n % 2:
            register(login, "driver1", more)
    client = login("city_admin")
    client.get("/reports/courses")
    many = statements()
    assert len(many) == len(few), (few, many)
    # The counts come from one statement that reads the registrations and their history.
    counted = [s for s in many if "FROM instances" in s.replace("\n", " ")
               or "JOIN instances" in s.replace("\n", " ")]
    assert len(counted) == 1, counted
    page = client.get("/reports/courses").get_data(as_text=True)
    assert table_rows(page)[title][-3:] == ["1", "1", "0"]
