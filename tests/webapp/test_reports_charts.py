"""The report pages: numbers from known data, the viewer's scope, filters, bad filters,
and each chart drawn as SVG with its numbers in a table beside it."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from webapp.extensions import db
from webapp.services import reports
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from workflows.runtime import Action
from tests.webapp.test_export import csv_rows
from tests.webapp.test_pages import PASSWORD, login  # noqa: F401
from tests.webapp.test_reports import city  # noqa: F401
from tests.webapp.test_workflow_service import demo, open_task, wish_data  # noqa: F401

NOW = datetime(2025, 6, 2, 2, 0, tzinfo=timezone.utc)  # a Monday, 10:00 in China
JUNE = {"since": "2025-06-01", "until": "2025-06-30"}


def demand() -> dict:
    return {"category": "parking", "station": unit_by_code("st-jfb").id,
            "location": "解放碑步行街东口", "phone": "13800138000",
            "description": "送餐高峰期电动车没有地方停，经常被贴条，希望增加临时停车位。"}


def act(instance, kind, user, at, **kwargs):
    task = open_task(instance)
    wf.perform(instance.id, Action(kind, task=task.key, **kwargs), user, now=at)
    db.session.commit()


@pytest.fixture
def wishes(demo):
    """Three wishes in June 2025 at 解放碑 (渝中区): A verified after 2 h and claimed,
    B verified after 4 h, C never verified (its 5-day escalation passes)."""
    head, vol = demo["station_head"], demo["volunteer1"]
    made = {}
    for name, who in (("A", "rider1"), ("B", "courier1"), ("C", "driver1")):
        made[name] = wf.start_instance("micro_wish", demo[who], wish_data(), now=NOW)
        db.session.commit()
    act(made["A"], "approve", head, NOW + timedelta(hours=2))
    act(made["B"], "approve", head, NOW + timedelta(hours=4))
    act(made["A"], "claim", vol, NOW + timedelta(hours=5))
    return made


def tables(page: str) -> dict[str, list[list[str]]]:
    """Each chart's data table: id → rows of cell texts."""
    out = {}
    for tid, body in re.findall(r'<table class="table table-sm align-middle uf-chart-data" '
                                r'id="([^"]+)-data">(.*?)</table>', page, re.S):
        out[tid] = [[re.sub(r"<[^>]+>", "", c).strip() for c in
                     re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
                    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    return out


def page_of(client, url, status=200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def q(url: str, **args) -> str:
    from urllib.parse import urlencode

    return f"{url}?{urlencode(args)}"


def assert_chart(page: str, chart_id: str) -> None:
    """An accessible SVG chart: role=img, labelled by its <title> and <desc>."""
    svg = re.search(rf'<svg [^>]*id="{chart_id}"[^>]*>(.*?)</svg>', page, re.S)
    assert svg is not None, chart_id
    assert f'aria-labelledby="{chart_id}-title {chart_id}-desc"' in svg.group(0)
    assert 'role="img"' in svg.group(0) and "<title id=" in svg.group(1)
    assert "style=" not in svg.group(0)


def chart_ids(page: str) -> list[str]:
    return re.findall(r'<svg [^>]*id="(chart-\d+)"', page)


# ------------------------------------------------------------------------------ index

def test_index_lists_the_reports_each_role_may_open(login, demo):
    page = page_of(login("city_admin"), "/reports")
    for path in ("/reports/processes", "/reports/steps", "/reports/wishes", "/reports/courses",
                 "/reports/quotas", "/reports/five-ones", "/reports/demands"):
        assert f'href="{path}"' in page
    secretary = page_of(login("branch_secretary"), "/reports")
    assert 'href="/reports/five-ones"' in secretary and "/reports/steps" not in secretary
    assert login("rider1").get("/reports").status_code == 403
    assert login("rider1").get("/reports/steps").status_code == 403


# ------------------------------------------------------------------------------ processes

def test_processes_by_state_and_month(login, wishes):
    client = login("city_admin")
    page = page_of(client, q("/reports/processes", **JUNE))
    data = tables(page)
    by_state, by_month = chart_ids(page)
    assert data[by_state] == [["流程", "办理中"], ["微心愿", "3"]]
    assert data[by_month] == [["月份", "微心愿"], ["2025-06", "3"]]
    for chart_id in (by_state, by_month):
        assert_chart(page, chart_id)
    # Another month: nothing.
    assert "所选范围内没有数据" in page_of(client, q("/reports/processes", since="2025-07-01"))


def test_processes_month_is_china_time(login, wishes, demo):
    # 23:30 UTC on 30 June is 07:30 on 1 July in Beijing.
    late = datetime(2025, 6, 30, 23, 30, tzinfo=timezone.utc)
    wf.start_instance("worker_demand", demo["rider1"], demand(), now=late)
    db.session.commit()
    data = tables(page_of(login("city_admin"), q("/reports/processes", since="2025-06-01",
                                                  until="2025-07-31", process="worker_demand")))
    # June is asked for and quiet: it shows, as 0.
    assert list(data.values())[1][1:] == [["2025-06", "0"], ["2025-07", "1"]]


def test_a_year_s_report_has_every_month_and_every_status_column(login, wishes, demo):
    """A year asked for shows its twelve months, quiet ones as 0; the download has a
    column for every status whatever the filter finds, so two districts' files line up."""
    client = login("city_admin")
    year = tables(page_of(client, q("/reports/processes", since="2025-01-01",
                                     until="2025-12-31")))
    months = [row[0] for row in list(year.values())[1][1:]]
    assert months == [f"2025-{m:02d}" for m in range(1, 13)]
    headers = []
    for unit in ("cq-yz", "cq-jb"):
        rows = csv_rows(client.get(q("/reports/processes", since="2025-06-01",
                                     until="2025-06-30", unit=unit_by_code(unit).id,
                                     format="csv")))
        headers.append(rows[0])
    assert headers[0] == headers[1] and "已撤回" in headers[0] and "已过期" in headers[0]


def test_processes_download_has_the_months_too(login, wishes, demo):
    late = datetime(2025, 7, 3, 2, 0, tzinfo=timezone.utc)
    wf.start_instance("worker_demand", demo["rider1"], demand(), now=late)
    db.session.commit()
    response = login("city_admin").get(q("/reports/processes", since="2025-06-01",
                                         until="2025-07-31", format="csv"))
    rows = csv_rows(response)
    header = rows[0]
    assert header[-3:] == ["合计", "2025-06 发起", "2025-07 发起"], header
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["微心愿"][-2:] == ["3", "0"] and by_name["职工诉求"][-2:] == ["0", "1"]


def test_retired_processes_are_marked_in_the_filters(login, wishes, demo):
    wf.set_retired("micro_wish", True, demo["city_admin"])
    db.session.commit()
    client = login("city_admin")
    for url in ("/reports/processes", "/reports/steps", "/admin/instances"):
        page = page_of(client, url)
        select = re.search(r'<select[^>]*id="process".*?</select>', page, re.S).group(0)
        options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
        assert ("micro_wish", "微心愿（已停用）") in options, (url, options)
        assert options[-1][0] == "micro_wish", (url, options)  # after the ones in use
        assert ("worker_demand", "职工诉求") in options
    # Its requests still count, and the filter still takes it.
    data = tables(page_of(client, q("/reports/processes", process="micro_wish", **JUNE)))
    assert list(data.values())[0] == [["流程", "办理中"], ["微心愿", "3"]]
    demo["city_admin"].locale = "en"
    db.session.commit()
    assert "(retired)" in page_of(login("city_admin"), "/reports/processes")


# ------------------------------------------------------------------------------ steps

def test_steps_median_and_sla_breaches(login, wishes):
    page = page_of(login("city_admin"), q("/reports/steps", process="micro_wish", **JUNE))
    rows = re.search(r'id="steps-table">(.*?)</table>', page, re.S).group(1)
    cells = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)]
             for r in re.findall(r"<tr>(.*?)</tr>", rows, re.S)][1:]
    # verify: A closed after 2 h, B after 4 h (median 3), C still open past its 5-day
    # escalation; wall: A claimed after 3 h, B still there past 14 days; fulfil: A's
    # open past its 10-day reminder (its only SLA).
    assert cells == [["微心愿", "驿站核实", "3", "2", "3.0", "3", "1"],
                     ["微心愿", "心愿墙待认领", "2", "1", "3.0", "2", "1"],
                     ["微心愿", "实现心愿", "1", "0", "—", "1", "1"]]
    for chart_id in chart_ids(page):
        assert_chart(page, chart_id)


def test_steps_service_counts_only_what_was_late_then(demo, wishes):
    f = reports.parse_filters(JUNE, demo["city_admin"])
    early = {r.step: r.breaches for r in reports.steps_report(
        demo["city_admin"], f, "micro_wish", now=NOW + timedelta(days=1))}
    assert early == {"verify": 0, "wall": 0, "fulfil": 0}
    rows = reports.steps_report(demo["city_admin"], f, "micro_wish", now=NOW + timedelta(days=6))
    assert {r.step: r.breaches for r in rows} == {"verify": 1, "wall": 0, "fulfil": 0}


def test_median_of_an_odd_count(demo, wishes, make_user):
    worker = make_user("rider9", ("worker", unit_by_code("cq-yz-logistics")),
                       unit=unit_by_code("cq-yz-logistics"))
    db.session.commit()
    third = wf.start_instance("micro_wish", worker, wish_data(), now=NOW)
    db.session.commit()
    act(third, "approve", demo["station_head"], NOW + timedelta(hours=10))
    f = reports.parse_filters(JUNE, demo["city_admin"])
    verify = next(r for r in reports.steps_report(demo["city_admin"], f, "micro_wish")
                  if r.step == "verify")
    assert (verify.closed, round(verify.median_hours, 2)) == (3, 4.0)


def test_a_returned_request_s_fixing_and_a_withdrawal_are_not_the_reviewers_work(
        login, demo, make_user):
    """The applicant's time fixing a returned request is a row of its own, not the
    reviewing step's; a task closed by a withdrawal is no completed task."""
    head = demo["station_head"]
    returned = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    gone = wf.start_instance("micro_wish", demo["courier1"], wish_data(), now=NOW)
    db.session.commit()
    act(returned, "return", head, NOW + timedelta(hours=1), comment="请补充照片")
    wf.perform(returned.id, Action("resubmit", data=wish_data()), demo["rider1"],
               now=NOW + timedelta(hours=49))
    db.session.commit()
    wf.perform(gone.id, Action("withdraw", comment="不需要了"), demo["courier1"],
               now=NOW + timedelta(hours=30))
    db.session.commit()
    f = reports.parse_filters(JUNE, demo["city_admin"])
    rows = [(r.step, r.revise, r.tasks, r.closed, round(r.median_hours, 2))
            for r in reports.steps_report(demo["city_admin"], f, "micro_wish",
                                          now=NOW + timedelta(hours=50))]
    # verify: the first look (returned after 1 h), the withdrawn one, the second look.
    assert rows == [("verify", False, 3, 1, 1.0), ("verify", True, 1, 1, 48.0)]
    page = page_of(login("city_admin"), q("/reports/steps", process="micro_wish", **JUNE))
    assert "驿站核实（退回申请人修改）" in page


# ------------------------------------------------------------------------------ wishes

def test_wishes_per_district_and_station(login, wishes):
    page = page_of(login("city_admin"), q("/reports/wishes", **JUNE))
    by_district, by_station = chart_ids(page)
    data = tables(page)
    assert data[by_district] == [["区县", "已提交", "已认领", "已实现"], ["渝中区总工会", "3", "1", "0"]]
    assert data[by_station] == [["驿站", "已提交", "已认领", "已实现"],
                                ["解放碑户外劳动者驿站", "3", "1", "0"]]
    assert_chart(page, by_district)


def test_wishes_stay_in_the_viewers_scope(login, wishes):
    # 解放碑 is in 渝中区: 江北区's administrator sees none of its wishes.
    page = page_of(login("jiangbei_admin"), q("/reports/wishes", **JUNE))
    assert "解放碑" not in page and "所选范围内没有数据" in page
    page = page_of(login("yuzhong_admin"), q("/reports/wishes", **JUNE))
    assert "解放碑户外劳动者驿站" in page


def test_unit_filter_narrows_the_report(login, wishes):
    client = login("city_admin")
    jiangbei = unit_by_code("cq-jb").id
    page = page_of(client, q("/reports/wishes", unit=jiangbei, **JUNE))
    assert "解放碑" not in page and "所选范围内没有数据" in page
    page = page_of(client, q("/reports/wishes", unit=unit_by_code("cq-yz").id, **JUNE))
    assert "解放碑户外劳动者驿站" in page


# ------------------------------------------------------------------------------ bad filters

@pytest.mark.parametrize("args, message", [
    ({"since": "2025-13-01"}, "请按 年-月-日 填写日期"),
    ({"until": "yesterday"}, "请按 年-月-日 填写日期"),
    ({"since": "2025-06-30", "until": "2025-06-01"}, "截止日期不能早于起始日期"),
    ({"since": "2020-01-01", "until": "2025-06-01"}, "时间范围最长三年"),
    ({"unit": "99999999999999999999"}, "没有这个单位，或不在您负责的范围内"),
    ({"unit": "abc"}, "没有这个单位，或不在您负责的范围内"),
])
def test_bad_filters_get_a_message_not_an_error(login, wishes, args, message):
    client = login("city_admin")
    for url in ("/reports/processes", "/reports/steps", "/reports/wishes", "/reports/courses",
                "/reports/quotas"):
        page = page_of(client, q(url, **args), 422)
        assert message in page and "解放碑户外劳动者驿站" not in page
        # A download with the same filters answers with the page and its message.
        response = client.get(q(url, format="csv", **args))
        assert response.status_code == 422 and "text/html" in response.content_type


def test_unit_outside_the_viewers_scope_is_refused(login, wishes):
    page = page_of(login("yuzhong_admin"), q("/reports/wishes", unit=unit_by_code("cq-jb").id),
                   422)
    assert "不在您负责的范围内" in page


def test_unknown_process_is_refused(login, wishes):
    assert "没有这个流程" in page_of(login("city_admin"), q("/reports/steps", process="nope"), 422)


# ------------------------------------------------------------------------------ courses

def test_course_fill_rate_and_waitlist(login, demo, wishes):
    from webapp.models import CapacityResource, Course, Reservation
    from sqlalchemy import select

    course = db.session.scalars(select(Course).order_by(Course.id)).first()
    key = f"course:{course.id}"
    if db.session.get(CapacityResource, key) is None:
        db.session.add(CapacityResource(key=key, capacity=course.capacity))
    for seq, (instance, status) in enumerate(((wishes["A"], "granted"), (wishes["B"], "granted"),
                                              (wishes["C"], "waitlisted")), start=1):
        db.session.add(Reservation(resource_key=key, instance_id=instance.id, status=status,
                                   seq=seq))
    db.session.commit()
    page = page_of(login("city_admin"), "/reports/courses")
    fill, waiting = chart_ids(page)
    data = tables(page)
    expected = f"{round(200 / course.capacity)}%"
    assert [course.title, expected] in data[fill]
    assert [course.title, "1"] in data[waiting]
    assert_chart(page, fill)
    # The course starts after the chosen range: left out.
    assert course.title not in page_of(login("city_admin"), q("/reports/courses", **JUNE))


def test_course_charts_draw_a_percentage_on_a_0_to_100_axis_and_say_nobody_waits(
        login, demo, wishes):
    """One course a tenth full is a tenth of the bar's length, not all of it; when no
    course has a waiting list the chart says so (the table lists each course with 0),
    not that the range holds no data."""
    from webapp.charts import WIDTH
    from webapp.models import CapacityResource, Course, Reservation
    from sqlalchemy import select

    course = db.session.scalars(select(Course).order_by(Course.id)).first()
    key = f"course:{course.id}"
    if db.session.get(CapacityResource, key) is None:
        db.session.add(CapacityResource(key=key, capacity=course.capacity))
    db.session.add(Reservation(resource_key=key, instance_id=wishes["A"].id, status="granted",
                               seq=1))
    db.session.commit()
    fill_pct = 100 / course.capacity
    assert fill_pct <= 50
    page = page_of(login("city_admin"), "/reports/courses")
    (fill,) = chart_ids(page)   # the waiting list has nothing to draw
    svg = re.search(rf'<svg [^>]*id="{fill}"[^>]*>(.*?)</svg>', page, re.S).group(1)
    widths = [float(w) for w in re.findall(r'<rect x="0" y="[\d.]+" width="([\d.]+)"', svg)]
    assert max(widths) < WIDTH * (fill_pct + 1) / 100
    figures = re.findall(r'<figure class="uf-figure".*?</figure>', page, re.S)
    waiting = next(f for f in figures if "课程候补人数" in f)
    assert "没有课程有人候补。" in waiting and "所选范围内没有数据" not in waiting
    assert [course.title, "0"] in tables(page)[waiting.split('id="')[2].split("-data")[0]]
    from tests.webapp.test_english_titles import english
    english = english(login("city_admin"), "/reports/courses")
    assert "No course has anyone on its waiting list." in english
    # Outside the range no course at all: then it is "no data".
    empty = page_of(login("city_admin"), q("/reports/courses", **JUNE))
    assert "没有课程有人候补。" not in empty and "所选范围内没有数据" in empty


# ------------------------------------------------------------------------------ quotas

def test_quota_use_per_unit_in_scope(login, demo):
    page = page_of(login("city_admin"), "/reports/quotas")
    (chart_id,) = chart_ids(page)
    rows = tables(page)[chart_id]
    assert rows[0] == ["单位", "已使用", "剩余", "已下拨"]
    names = [r[0] for r in rows[1:]]
    assert "重庆市总工会" in names and "江北区总工会" in names
    assert_chart(page, chart_id)
    yuzhong = tables(page_of(login("yuzhong_admin"), "/reports/quotas"))
    names = [r[0] for r in list(yuzhong.values())[0][1:]]
    assert "渝中区总工会" in names and "江北区总工会" not in names and "重庆市总工会" not in names
    page = page_of(login("city_admin"), q("/reports/quotas", batch="999999"), 422)
    assert "没有这个批次" in page


# ------------------------------------------------------------------------------ 五个一, demands

def test_five_ones_page_has_charts_of_hours_and_items(login, city):
    page = page_of(login("city_admin"), "/reports/five-ones")
    hours, done = chart_ids(page)
    data = tables(page)
    assert data[hours][0] == ["党支部", "确认时长（小时）"]
    assert ["解放碑街道机关第一党支部", "8"] in data[hours]
    assert ["解放碑街道机关第一党支部", "5"] in data[done]
    assert len(data[done]) == 1 + 5  # header and the five branches in scope
    assert_chart(page, hours)
    yuzhong = tables(page_of(login("yuzhong_admin"), "/reports/five-ones"))
    assert [r[0] for r in list(yuzhong.values())[0][1:]] == ["解放碑街道机关第一党支部"]


def test_demands_page_has_charts_and_a_time_filter(login, demo):
    at = datetime.now(timezone.utc) - timedelta(days=1)
    wf.start_instance("worker_demand", demo["rider1"], demand(), now=at)
    db.session.commit()
    client = login("city_admin")
    page = page_of(client, "/reports/demands")
    district_chart, category_chart = chart_ids(page)
    assert ["渝中区总工会", "1", "0", "0", "0"] in tables(page)[district_chart]
    assert tables(page)[category_chart][1][1:] == ["1", "0", "0", "0"]
    assert_chart(page, category_chart)
    old = page_of(client, q("/reports/demands", until="2025-01-01"))
    assert "未办结诉求共 0 件" in old
    assert "请按 年-月-日 填写日期" in page_of(client, q("/reports/demands", since="x"), 422)


# ------------------------------------------------------------------------------ charts

def test_chart_markup_is_accessible_and_escaped():
    from webapp.charts import Series, bar, line

    chart = bar("标题 <b>", "说明", ["<script>甲</script>", "乙"],
                [Series("一", [3, 0]), Series("二", [1.5, 2])], stacked=True)
    svg = str(chart.svg())
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<title id=" in svg and "<desc id=" in svg and 'role="img"' in svg
    assert ">4.5</text>" in svg and ">2</text>" in svg  # totals written on the bars
    assert "<pattern" in svg  # the second series is hatched, not only a colour
    trend = str(line("趋势", "说明", ["2025-01", "2025-02"], [Series("甲", [1, 4])]).svg())
    assert "<polyline" in trend and ">4</text>" in trend


def test_line_chart_numbers_never_overlap():
    """Two processes on the same counts over two years: each number is written where no
    other is, or left to the point's title and the table — never one over another."""
    from webapp.charts import FONT, Series, _text_width, line

    months = [f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)]
    same = [10 + (i % 3) for i in range(len(months))]
    chart = line("趋势", "说明", months, [Series("微心愿", same), Series("职工诉求", same),
                                          Series("技能培训", [1000 * i for i in range(24)])])
    svg = str(chart.svg())
    boxes = []
    for x, y, anchor, size, text in re.findall(
            r'<text x="([\d.]+)" y="([\d.]+)" text-anchor="(\w+)" fill="#212529" '
            r'font-size="(\d+)">([\d.]+)</text>', svg):
        if int(size) != FONT - 2:
            continue
        width = _text_width(text) * int(size) / FONT
        x, y = float(x), float(y)
        left = x - width if anchor == "end" else x if anchor == "start" else x - width / 2
        boxes.append((left, y - int(size), left + width, y))
    assert len(boxes) >= 24  # most numbers are still written
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    # Every value is still in its point's title.
    assert len(re.findall(r"<circle [^>]*><title>", svg)) == 3 * 24
    # The months under the axis: the first and the last, and none touching another.
    axis = []
    for x, anchor, text in re.findall(
            rf'<text x="([\d.]+)" y="[\d.]+" text-anchor="(\w+)" fill="#212529" '
            rf'font-size="{FONT - 1}">([^<]+)</text>', svg):
        width = _text_width(text) * (FONT - 1) / FONT
        x = float(x)
        axis.append((text, x - width if anchor == "end" else x if anchor == "start"
                     else x - width / 2, width))
    assert {"2025-01", "2026-12"} <= {text for text, _, _ in axis} and len(axis) >= 4
    axis.sort(key=lambda a: a[1])
    for (_, left, width), (_, next_left, _) in zip(axis, axis[1:]):
        assert left + width < next_left, axis
