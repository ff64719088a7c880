"""Skills training: eligibility at registration, the attendance register (trainees ×
sessions), completion decided from it, and the certificate PDF."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.webapp.test_pages import alerts, errors, login  # noqa: F401
from tests.webapp.test_union_processes import id_card, start
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Attendance, Course, CourseSession, Instance, Task
from webapp.services.activities import CHINA
from webapp.services import workflow as wf
from webapp.services.users import find_user
from workflows.errors import InvalidInput

TRAINEES = {"rider1": ("delivery", "13800138000", "50010319900307123"),
            "courier1": ("courier", "13900139000", "50010319920611456"),
            "driver1": ("ride_hailing", "13700137000", "50010319880102789")}
# The legal names they register with (their accounts carry a job title: 外卖骑手 马超).
REAL_NAMES = {"rider1": "马超", "courier1": "杨洋", "driver1": "何军"}


def course_named(title: str) -> Course:
    return db.session.scalar(select(Course).where(Course.title == title))


def register(login, username: str, course: Course, **changes) -> int:
    occupation, phone, first17 = TRAINEES[username]
    return start(login(username), "training_registration", {
        "course": str(course.id), "real_name": REAL_NAMES[username], "occupation": occupation,
        "occupation_confirmed": "y", "phone": phone, "id_card": id_card(first17), **changes})


def move_into_the_past(course: Course, days: int = 60) -> None:
    """The course took place: every session is over (registration came before)."""
    shift = timedelta(days=days)
    for session in course.schedule:
        session.starts_at -= shift
        session.ends_at -= shift
    course.starts_on -= shift
    course.ends_on -= shift
    db.session.commit()


def end_the_course() -> None:
    wf.fire_due_timers(datetime.now(timezone.utc) + timedelta(days=70))
    db.session.commit()


def decide(organiser, course: Course, attended: dict[int, int]):
    """Save the register and decide, as an organiser does: 保存并判定结业 shows who
    would pass and who not, then 确认判定 decides."""
    page = organiser.post(f"/courses/{course.id}/attendance",
                          data={"present": marks(course, attended), "action": "decide"})
    assert page.status_code == 200 and "确认判定" in page.get_data(as_text=True)
    return organiser.post(f"/courses/{course.id}/attendance",
                          data={"action": "decide_confirmed"})


def marks(course: Course, attended: dict[int, int]) -> list[str]:
    """Checkbox values for the first n sessions of each registration."""
    sessions = [s.id for s in course.schedule]
    return [f"{sid}-{iid}" for iid, n in attended.items() for sid in sessions[:n]]


# ---------------------------------------------------------------- attendance → completion

def test_attendance_register_decides_completion_at_80_percent(login, demo):
    course = course_named("电工技能提升班")
    assert len(course.schedule) == 10 and course.sessions == 10
    ids = {name: register(login, name, course) for name in TRAINEES}
    move_into_the_past(course)
    organiser = login("unit_admin")
    assert "电工技能提升班" in organiser.get("/courses").get_data(as_text=True)
    page = organiser.get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert "马超" in page and "杨洋" in page and "何军" in page
    assert 'value="decide"' not in page  # the course runs: nothing to decide yet
    # 10/10, 8/10 (exactly 80 %), 7/10
    attended = {ids["rider1"]: 10, ids["courier1"]: 8, ids["driver1"]: 7}
    response = organiser.post(f"/courses/{course.id}/attendance",
                              data={"present": marks(course, attended), "action": "save"})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Attendance).where(
        Attendance.present.is_(True))) == 25
    end_the_course()
    page = organiser.get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert 'value="decide"' in page and "8/10" in page and "7/10" in page
    decide(organiser, course, attended)
    db.session.expire_all()
    ends = {name: db.session.get(Instance, i).state["end"] for name, i in ids.items()}
    assert ends == {"rider1": "completed", "courier1": "completed", "driver1": "not_completed"}
    result = db.session.get(Instance, ids["courier1"]).state["data"]["attendance"]
    assert result == {"attended": 8, "total": 10, "rate": 80}


def test_the_register_downloads_as_csv_and_xlsx_as_the_page_shows_it(login, demo):
    import csv
    import io
    import zipfile

    course = course_named("电工技能提升班")
    ids = {name: register(login, name, course) for name in ("rider1", "courier1")}
    first, second, *rest = course.schedule
    for session, hours_ago in ((first, 50), (second, 26)):  # two held, eight to come
        session.starts_at = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
        session.ends_at = session.starts_at + timedelta(hours=2)
    db.session.commit()
    organiser = login("unit_admin")
    organiser.post(f"/courses/{course.id}/attendance",
                   data={"present": [f"{first.id}-{ids['rider1']}",
                                     f"{second.id}-{ids['rider1']}",
                                     f"{second.id}-{ids['courier1']}"], "action": "save"})
    page = organiser.get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert f"/courses/{course.id}/attendance?format=csv" in page
    answer = organiser.get(f"/courses/{course.id}/attendance?format=csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    # Each session's full date: a course may run across the new year.
    assert rows[0][0] == "学员" and len(rows[0]) == 15
    assert rows[0][1] == "第1次 " + first.starts_at.astimezone(CHINA).strftime("%Y-%m-%d")
    assert rows[0][-4:] == ["出勤次数", "总课次", "达标", "结果"]
    by_name = {row[0].split()[-1]: row for row in rows[1:]}
    assert by_name["马超"][1:4] == ["到", "到", ""] and by_name["马超"][-4:-1] == ["2", "10", ""]
    assert by_name["杨洋"][1:4] == ["缺", "到", ""] and by_name["杨洋"][-4:-2] == ["1", "10"]
    workbook = organiser.get(f"/courses/{course.id}/attendance?format=xlsx")
    assert workbook.status_code == 200
    sheet = zipfile.ZipFile(io.BytesIO(workbook.get_data())).read(
        "xl/worksheets/sheet1.xml").decode()
    assert "马超" in sheet and "缺" in sheet
    # Only for those who keep the register.
    assert login("rider1").get(f"/courses/{course.id}/attendance?format=csv").status_code == 404


def test_the_count_is_computed_from_the_register_not_typed_in(login, demo):
    course = course_named("电工技能提升班")
    instance_id = register(login, "rider1", course)
    move_into_the_past(course)
    end_the_course()
    task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                Task.status == "open"))
    client = login("unit_admin")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "已到课 0 次 / 共 10 次课" in page and f"/courses/{course.id}/attendance" in page
    # A number slipped into the form changes nothing: nobody was marked present.
    client.post(f"/tasks/{task.id}", data={"action": "complete", "sessions_attended": "10"})
    db.session.expire_all()
    assert db.session.get(Instance, instance_id).state["end"] == "not_completed"


def test_sessions_still_to_come_cannot_be_marked(login, demo):
    course = course_named("电工技能提升班")
    instance_id = register(login, "rider1", course)
    first, *rest = course.schedule
    first.starts_at = datetime.now(timezone.utc) - timedelta(hours=3)
    first.ends_at = first.starts_at + timedelta(hours=2)
    db.session.commit()
    client = login("unit_admin")
    page = client.get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert page.count(" disabled>") == 9
    client.post(f"/courses/{course.id}/attendance", data={
        "present": [f"{s.id}-{instance_id}" for s in course.schedule], "action": "save"})
    present = db.session.scalars(select(Attendance.session_id).where(
        Attendance.present.is_(True))).all()
    assert present == [first.id]
    # Unticking a mark keeps the row, with who changed it.
    client.post(f"/courses/{course.id}/attendance", data={"action": "save"})
    row = db.session.scalar(select(Attendance))
    db.session.refresh(row)
    assert row.present is False and row.recorded_by_id == find_user("unit_admin").id


def test_only_the_course_organisers_keep_the_register(login, demo):
    course = course_named("电工技能提升班")
    for username in ("rider1", "volunteer1", "station_head", "jiangbei_admin"):
        client = login(username)
        assert client.get(f"/courses/{course.id}/attendance").status_code == 404
        assert client.post(f"/courses/{course.id}/attendance",
                           data={"action": "save"}).status_code == 404
        assert "电工技能提升班" not in client.get("/courses").get_data(as_text=True)
    assert login("yuzhong_admin").get(f"/courses/{course.id}/attendance").status_code == 200


# ---------------------------------------------------------------- certificate

def test_certificate_for_the_trainee_who_completed_only(login, demo):
    course = course_named("电工技能提升班")
    passed, failed = register(login, "rider1", course), register(login, "courier1", course)
    move_into_the_past(course)
    end_the_course()
    organiser = login("unit_admin")
    assert organiser.get(f"/instances/{passed}/certificate.pdf").status_code == 404
    decide(organiser, course, {passed: 9, failed: 2})

    client = login("rider1")
    page = client.get(f"/instances/{passed}").get_data(as_text=True)
    assert f"/instances/{passed}/certificate.pdf" in page and "已到课 9 次" in page
    response = client.get(f"/instances/{passed}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.get_data()
    assert pdf.startswith(b"%PDF") and b"/FontFile3" in pdf  # the Chinese font is embedded
    number = f"PX{course.starts_on:%Y}{course.id:04d}{passed:06d}"
    assert number in response.headers["Content-Disposition"]
    assert b"UnionFlowCertSans" in pdf

    from webapp.services.training import certificate_facts

    facts = certificate_facts(db.session.get(Instance, passed), find_user("rider1"))
    assert (facts.name, facts.attended, facts.total, facts.hours) == ("马超", 9, 10, 20)
    assert facts.unit_name == "解放碑街道工会" and facts.id_card.startswith("500103********")

    courier = login("courier1")
    assert "certificate.pdf" not in courier.get(f"/instances/{failed}").get_data(as_text=True)
    assert courier.get(f"/instances/{failed}/certificate.pdf").status_code == 404
    assert courier.get(f"/instances/{passed}/certificate.pdf").status_code == 404
    # The course's administrator may read it now it is issued (test_training_certificates).
    assert login("unit_admin").get(f"/instances/{passed}/certificate.pdf").status_code == 200
    assert login("rider1").get("/instances/999999/certificate.pdf").status_code == 404


def test_certificate_text_uses_the_committed_font_glyphs(demo):
    """Everything a certificate prints in Chinese is in the committed font."""
    from webapp.training.certificate import FONT, _characters

    assert FONT.stat().st_size < 2_000_000  # parsed for every certificate
    cmap = _characters(str(FONT))
    text = ("结业证书同志身份证号于年月日至参加举办的培训共次课学时出勤率达到要求准予特发此证"
            "编号地点") + "".join(c.title + c.venue + c.unit.name for c in
                            db.session.scalars(select(Course)))
    assert [ch for ch in set(text) if ord(ch) not in cmap] == []


def test_the_committed_font_has_every_hanzi_a_name_may_use():
    """Names use characters well beyond the 3,755 everyday ones (梓, 萱, 睿, 玥, 堃…):
    the committed fonts hold the whole CJK Unified Ideographs block and Extension A (as
    far as Unicode 11: Noto Sans CJK has it all), what Noto Sans CJK SC has of
    Extension B (𠮷), the full-width forms and Latin-1.  The extra files stay small: a
    certificate parses the one it needs."""
    from webapp.training.certificate import EXTRA_FONTS, FONT, _characters

    assert len(EXTRA_FONTS) >= 7 and all(f.stat().st_size < 1_000_000 for f in EXTRA_FONTS)
    cmap = _characters(str(FONT)).union(*(_characters(str(f)) for f in EXTRA_FONTS))
    wanted = [*range(0x4E00, 0x9FEF + 1), *range(0x3400, 0x4DB5 + 1),
              *range(0xFF01, 0xFF5E + 1), *range(0x20, 0x7E + 1), *range(0xC0, 0xFF + 1),
              0x20BB7, 0x2460]
    missing = [chr(c) for c in wanted if c not in cmap]
    assert missing == []


def _facts(name: str, *, title: str = "电工技能提升班", venue: str = "解放碑街道职工之家"):
    from webapp.services.training import CertificateFacts

    course = Course(title=title, venue=venue, starts_on=datetime(2026, 3, 2).date(),
                    ends_on=datetime(2026, 3, 20).date())
    return CertificateFacts(number="PX202600070000042", name=name, id_card="",
                            course=course, unit_name="解放碑街道工会", hours=20, attended=9,
                            total=10, issued_on=datetime(2026, 3, 21, tzinfo=timezone.utc))


def _font_warnings(caplog) -> list[str]:
    """What fpdf2 logs about glyphs (it leaves out, unseen, a character its fonts lack)
    and what the certificate logs about characters no font has."""
    return [r.getMessage() for r in caplog.records
            if r.levelname == "WARNING" and r.name.startswith(("fpdf", "webapp.training"))]


GB2312_NAMES = ["王梓萱", "李睿琦", "阿卜杜拉·买买提", "Lǚ Xiǎo", "José Ng"]  # its second level
RARE_NAMES = ["张玥", "刘䶮", "陈堃喆", "𠮷田", "王𫖯", "⑪号 杨", "Nguyễn Văn", "金민준"]


@pytest.mark.parametrize("name", GB2312_NAMES + RARE_NAMES)
def test_a_certificate_prints_every_character_of_the_name(caplog, name):
    """fpdf2 drops (with a warning) any character its fonts lack: 王梓萱 printed as 王
    with the old font of GB 2312's first level.  The committed fonts (no system font
    needed, as on a fresh machine) print them all: Extension B's 𠮷 and 𫖯, pinyin,
    other Latin letters, Hangul."""
    with caplog.at_level("WARNING"):
        pdf = certificate_render(_facts(name, title=f"{name[-1]}式面点培训"))
    assert pdf.startswith(b"%PDF")
    assert _font_warnings(caplog) == []
    # Beyond GB 2312, an extra font is embedded beside the main one.
    assert (b"UnionFlowCertSansExt" in pdf) == (name in RARE_NAMES)


def test_text_is_printed_composed_and_without_invisible_characters(caplog):
    """"José" typed as e + a combining accent prints as é (one glyph); a variation
    selector after a hanzi, a zero-width space and a byte order mark are left out (no
    font draws them); a line break in a venue is a space."""
    from fpdf import FPDF

    from webapp.training.certificate import _printable

    with caplog.at_level("WARNING"):
        texts = _printable(FPDF(), ["Jose\u0301", "葛\U000E0100明\u200b", "\ufeff地点\r\n二楼"],
                           "PX1")
    assert texts == ["José", "葛明", "地点  二楼"]
    assert _font_warnings(caplog) == []


def test_a_certificate_loads_only_the_fonts_its_text_needs(monkeypatch):
    """Each parsed font costs the worker memory by its glyphs: an everyday name loads the
    main font alone, a rarer one the single extra file that holds its character."""
    from fpdf import FPDF

    from webapp.training import certificate

    loaded = []
    add_font = FPDF.add_font

    def recording(self, family=None, style="", fname=None, **kwargs):
        loaded.append(Path(str(fname)).name)
        return add_font(self, family, style, fname, **kwargs)

    monkeypatch.setattr(FPDF, "add_font", recording)
    certificate.render(_facts("外卖骑手 马超"))
    assert loaded == ["CertSans-SC.otf"]
    loaded.clear()
    certificate._characters.cache_clear()
    certificate.render(_facts("张玥", title="面点培训"))  # 玥: beyond GB 2312
    assert loaded[0] == "CertSans-SC.otf" and len(loaded) == 2
    assert loaded[1].startswith("CertSans-SC-ext-")
    # The file is found by the range its name gives: no other font's map is read.
    assert certificate._characters.cache_info().currsize == 2


def test_a_character_no_font_has_prints_as_a_box_and_is_logged(caplog):
    """A character of another script (Tibetan ཀ) is in none of the committed fonts:
    fpdf2 would leave it out unseen; it prints as □, and the log names the character and
    the certificate."""
    from fpdf import FPDF

    from webapp.training.certificate import _printable

    with caplog.at_level("WARNING"):
        assert _printable(FPDF(), ["扎西ཀ", "解放碑街道工会"], "PX202600070000042") == [
            "扎西□", "解放碑街道工会"]
        pdf = certificate_render(_facts("扎西ཀ"))
    assert pdf.startswith(b"%PDF")
    warnings = _font_warnings(caplog)
    assert warnings and all("PX202600070000042" in m and "U+0F40" in m for m in warnings)


def certificate_render(facts):
    from webapp.training.certificate import render

    return render(facts)


# ---------------------------------------------------------------- eligibility

def test_occupation_outside_the_course_is_refused_beside_the_field(login, demo, client):
    course = course_named("骑手交通安全与应急救护")  # for riders and couriers only
    occupation, phone, first17 = TRAINEES["driver1"]
    data = {"course": str(course.id), "real_name": "何军", "occupation": occupation,
            "occupation_confirmed": "y", "phone": phone, "id_card": id_card(first17)}
    response = login("driver1").post("/processes/training_registration/start", data=data)
    assert response.status_code == 422
    assert "本课程只面向外卖配送员、快递员报名" in errors(response)
    client.post("/auth/locale", data={"locale": "en"})
    response = client.post("/processes/training_registration/start", data=data)
    assert "This course is only open to: food delivery riders, couriers" in errors(response)
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Instance)) == 0
    assert register(login, "rider1", course)  # a rider may


def test_age_outside_the_course_range_is_refused(login, demo):
    course = course_named("电工技能提升班")  # 18 to 60
    young = datetime.now().year - 16
    response = login("rider1").post("/processes/training_registration/start", data={
        "course": str(course.id), "real_name": "马超", "occupation": "delivery",
        "occupation_confirmed": "y", "phone": "13800138000",
        "id_card": id_card(f"500103{young}0307123")})
    assert response.status_code == 422
    assert "本课程只招收18–60 周岁的学员" in errors(response)
    old = datetime.now().year - 61
    with pytest.raises(InvalidInput) as refused:
        wf.start_instance("training_registration", find_user("rider1"), {
            "course": course.id, "real_name": "马超", "occupation": "delivery",
            "occupation_confirmed": True, "phone": "13800138000",
            "id_card": id_card(f"500103{old}0101123")})
    assert refused.value.code == "not_eligible"
    assert refused.value.field_messages("en") == {
        "id_card": ["This course is only open to trainees aged 18 to 60"]}


def test_registration_outside_the_window_is_refused(demo):
    course = course_named("电工技能提升班")
    course.closes_on = datetime.now().date() - timedelta(days=1)
    db.session.commit()
    with pytest.raises(InvalidInput) as refused:
        wf.start_instance("training_registration", find_user("rider1"), {
            "course": course.id, "real_name": "马超", "occupation": "delivery",
            "occupation_confirmed": True, "phone": "13800138000", "id_card": id_card()})
    assert "现在不能报名" in refused.value.field_messages("zh")["course"][0]
    db.session.rollback()


# ---------------------------------------------------------------- demo data

def test_demo_has_a_running_course_with_attendance(app, login):
    from webapp.demo import RUNNING_COURSE, seed, seed_activities

    seed("demo-pass-2026")
    for path in wf.shipped_definitions():
        wf.publish_file(path)
    seed_activities()
    db.session.commit()
    assert seed_activities() == 0  # running it again changes nothing
    course = course_named(RUNNING_COURSE)
    assert db.session.scalar(select(func.count()).select_from(CourseSession).where(
        CourseSession.course_id == course.id)) == 6
    assert db.session.scalar(select(func.count()).select_from(Attendance)) >= 3
    page = login("unit_admin").get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert "马超" in page and "杨洋" in page and " checked" in page


# ---------------------------------------------------------------- after the decision

def test_deciding_asks_first_and_names_who_would_not_complete(login, demo):
    course = course_named("电工技能提升班")
    ids = {name: register(login, name, course) for name in ("rider1", "courier1")}
    move_into_the_past(course)
    end_the_course()
    organiser = login("unit_admin")
    attended = {ids["rider1"]: 10, ids["courier1"]: 3}
    page = organiser.post(f"/courses/{course.id}/attendance",
                          data={"present": marks(course, attended), "action": "decide"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    passing, failing = text.split('id="passing"')[1].split('id="failing"')
    assert "马超" in passing and "杨洋" not in passing and "杨洋" in failing
    # Asked, not done: the marks are saved, nobody is decided yet.
    db.session.expire_all()
    assert {db.session.get(Instance, i).status for i in ids.values()} == {"running"}
    assert db.session.scalar(select(func.count()).select_from(Attendance).where(
        Attendance.present.is_(True))) == 13
    # Confirming decides on the register as saved (it sends no marks: none are lost).
    organiser.post(f"/courses/{course.id}/attendance", data={"action": "decide_confirmed"})
    db.session.expire_all()
    assert db.session.get(Instance, ids["courier1"]).state["end"] == "not_completed"
    assert db.session.scalar(select(func.count()).select_from(Attendance).where(
        Attendance.present.is_(True))) == 13


def test_a_trainee_who_did_not_complete_stays_on_the_register_with_the_result(login, demo):
    import csv
    import io

    from webapp.models import Reservation

    course = course_named("电工技能提升班")
    ids = {name: register(login, name, course) for name in ("rider1", "courier1")}
    move_into_the_past(course)
    end_the_course()
    organiser = login("unit_admin")
    decide(organiser, course, {ids["rider1"]: 10, ids["courier1"]: 3})
    page = organiser.get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert "马超" in page and "杨洋" in page and "已结业" in page and "未结业" in page
    # The register they were judged on is kept: their marks cannot be changed any more.
    assert page.count(" disabled>") == 20
    organiser.post(f"/courses/{course.id}/attendance", data={"action": "save"})
    assert db.session.scalar(select(func.count()).select_from(Attendance).where(
        Attendance.present.is_(True))) == 13
    rows = list(csv.reader(io.StringIO(organiser.get(
        f"/courses/{course.id}/attendance?format=csv").get_data().decode("utf-8-sig"))))
    assert rows[0][-1] == "结果"
    assert {row[0].split()[-1]: row[-1] for row in rows[1:]} == {"马超": "已结业",
                                                                 "杨洋": "未结业"}
    # The place was used to the end: it is not handed to someone on the waiting list
    # of a course that is over.
    held = db.session.scalar(select(Reservation.status).where(
        Reservation.instance_id == ids["courier1"]))
    assert held == "granted"
    # Their request's badge says how it ended, not only the status it is filed under.
    page = login("courier1").get(f"/instances/{ids['courier1']}").get_data(as_text=True)
    badge = page.split('id="status"')[1].split("</div>")[0]
    assert "出勤不足未结业" in badge and "已过期" not in badge
    # A registration of an earlier definition gave its place back at the end: still
    # listed, with its result.
    db.session.execute(Reservation.__table__.update().where(
        Reservation.instance_id == ids["courier1"]).values(status="released"))
    db.session.commit()
    page = login("unit_admin").get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert "杨洋" in page and "未结业" in page


# ---------------------------------------------------------------- correcting a result

def correction_url(course: Course, instance_id: int) -> str:
    return f"/courses/{course.id}/attendance/{instance_id}/correct"


def correct(client, course: Course, instance_id: int, sessions: int, outcome: str,
            reason: str = "第3次课签到表漏录，经授课老师核实到课"):
    """更正 as an organiser does: the trainee's marks, the result and why; asked, then
    confirmed."""
    data = {"present": [str(s.id) for s in course.schedule[:sessions]], "outcome": outcome,
            "reason": reason, "action": "review"}
    asked = client.post(correction_url(course, instance_id), data=data)
    if asked.status_code != 200 or "确认更正" not in asked.get_data(as_text=True):
        return asked
    return client.post(correction_url(course, instance_id), data={**data, "action": "confirm"})


def decided_course(login, attended: dict[str, int], days: int = 60):
    """The course over and decided: ``attended`` sessions per trainee's username."""
    course = course_named("电工技能提升班")
    ids = {name: register(login, name, course) for name in attended}
    move_into_the_past(course, days)
    end_the_course()
    decide(login("unit_admin"), course, {ids[name]: n for name, n in attended.items()})
    return course, ids


def test_a_trainee_wrongly_failed_is_corrected_to_completed(login, demo):
    from webapp.models import AuditEntry, Delivery, HistoryEntry, Notification
    from webapp.services import audit

    course, ids = decided_course(login, {"rider1": 7, "courier1": 9})
    rider = ids["rider1"]
    assert db.session.get(Instance, rider).state["end"] == "not_completed"
    organiser = login("unit_admin")
    page = organiser.get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert page.count('class="btn btn-sm btn-outline-secondary ms-1 uf-correct"') == 2
    assert correction_url(course, rider) in page and 'id="correct-hint"' in page
    form = organiser.get(correction_url(course, rider))
    text = form.get_data(as_text=True)
    assert form.status_code == 200 and "更正结业结果" in text and "7/10" in text
    assert 'checked id="outcome-0" name="outcome" type="radio" value="passed"' in text \
        or re.search(r'<input[^>]*checked[^>]*value="passed"', text)
    # Asked first: nothing changes until it is confirmed.
    data = {"present": [str(s.id) for s in course.schedule[:8]], "outcome": "passed",
            "reason": "第3次课签到表漏录", "action": "review"}
    asked = organiser.post(correction_url(course, rider), data=data)
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and 'id="correct-confirm"' in text
    assert "7/10 次 → 8/10 次" in text and "第3次课签到表漏录" in text
    db.session.expire_all()
    assert db.session.get(Instance, rider).status == "expired"
    done = organiser.post(correction_url(course, rider), data={**data, "action": "confirm"})
    assert done.status_code == 302
    db.session.expire_all()
    instance = db.session.get(Instance, rider)
    assert (instance.status, instance.state["end"]) == ("completed", "completed")
    assert instance.state["data"]["attendance"] == {"attended": 8, "total": 10, "rate": 80}
    assert instance.closed_at is not None
    # The history says it was corrected, by whom, when and why; the audit chain has it.
    line = db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.instance_id == rider).order_by(HistoryEntry.seq.desc())).first()
    assert (line.action, line.actor_id) == ("correct", find_user("unit_admin").id)
    assert line.comment == "第3次课签到表漏录" and line.at is not None
    assert line.data["details"]["before"] == "not_completed"
    assert line.data["details"]["end"] == "completed"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "instance.correct"))
    assert entry.actor_id == find_user("unit_admin").id and entry.object_id == str(rider)
    assert entry.before["status"] == "expired" and entry.after["status"] == "completed"
    assert audit.verify().ok
    # The trainee is told, with the reason, in the app and by e-mail.
    note = db.session.scalar(select(Notification).where(
        Notification.user_id == find_user("rider1").id, Notification.kind == "corrected"))
    assert note is not None and note.instance_id == rider
    mail = db.session.scalar(select(Delivery).where(Delivery.notification_id == note.id,
                                                    Delivery.channel == "email"))
    assert mail is not None and "第3次课签到表漏录" in mail.subject and "结业" in mail.subject
    # The certificate is theirs now; their page says why the result changed.
    trainee = login("rider1")
    response = trainee.get(f"/instances/{rider}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    page = trainee.get(f"/instances/{rider}").get_data(as_text=True)
    assert "更正原因：" in page and "第3次课签到表漏录" in page and "更正结果" in page
    # The register shows the new result and the corrected marks.
    page = login("unit_admin").get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert "8/10" in page and "7/10" not in page


def test_a_trainee_wrongly_passed_loses_the_certificate_which_says_it_was_withdrawn(
        login, demo, client, runner):
    from webapp.services import audit

    course, ids = decided_course(login, {"rider1": 9})
    rider = ids["rider1"]
    trainee = login("rider1")
    assert trainee.get(f"/instances/{rider}/certificate.pdf").status_code == 200
    organiser = login("unit_admin")
    assert correct(organiser, course, rider, 6, "failed", "重复签到，实际到课 6 次").status_code == 302
    db.session.expire_all()
    instance = db.session.get(Instance, rider)
    assert (instance.status, instance.state["end"]) == ("expired", "not_completed")
    number = f"PX{course.starts_on:%Y}{course.id:04d}{rider:06d}"
    trainee = login("rider1")
    response = trainee.get(f"/instances/{rider}/certificate.pdf")
    text = response.get_data(as_text=True)
    assert response.status_code == 410 and "已作废" in text and number in text
    assert "重复签到，实际到课 6 次" in text
    page = trainee.get(f"/instances/{rider}").get_data(as_text=True)
    assert "certificate-link" not in page and 'id="certificate-withdrawn"' in page
    # The API answers the same, in its error shape.
    token = trainee.post("/api/v1/tokens", json={"username": "rider1",
                                                 "password": "demo-pass-2026"}).get_json()
    answer = client.get(f"/api/v1/instances/{rider}/certificate.pdf",
                        headers={"Authorization": f"Bearer {token['token']}"})
    assert answer.status_code == 410
    assert answer.get_json()["error"]["code"] == "certificate_withdrawn"
    assert number in answer.get_json()["error"]["message"]
    # Nobody else learns of it: still the 404 of a certificate that is not theirs.
    assert login("courier1").get(f"/instances/{rider}/certificate.pdf").status_code == 404
    # Corrected back, it is theirs again.
    assert correct(login("unit_admin"), course, rider, 9, "passed", "核实后恢复").status_code == 302
    assert login("rider1").get(f"/instances/{rider}/certificate.pdf").status_code == 200
    assert audit.verify().ok
    result = runner.invoke(args=["audit", "verify"])  # as an operator checks the chain
    assert result.exit_code == 0 and result.output.startswith("OK")


def test_a_correction_needs_a_reason_and_a_register_that_supports_it(login, demo):
    from webapp.models import HistoryEntry

    course, ids = decided_course(login, {"rider1": 7})
    rider = ids["rider1"]
    organiser = login("unit_admin")
    refused = correct(organiser, course, rider, 8, "passed", reason="   ")
    assert refused.status_code == 422 and "请填写更正原因" in " ".join(errors(refused))
    # A pass the register does not support is refused beside the result.
    refused = correct(organiser, course, rider, 7, "passed")
    assert refused.status_code == 422 and "7/10" in " ".join(errors(refused))
    db.session.expire_all()
    assert db.session.get(Instance, rider).status == "expired"
    assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.action == "correct")) == 0
    assert db.session.scalar(select(func.count()).select_from(Attendance).where(
        Attendance.instance_id == rider, Attendance.present.is_(True))) == 7
    # The service refuses it too, whatever a page would have checked.
    from webapp.services import training

    with pytest.raises(InvalidInput) as why:
        training.correct_completion(course, find_user("unit_admin"), rider,
                                    {s.id for s in course.schedule[:8]}, "passed", "")
    assert why.value.code == "comment_required"
    db.session.rollback()


def test_only_who_may_decide_the_course_may_correct(login, demo):
    course, ids = decided_course(login, {"rider1": 7})
    rider = ids["rider1"]
    url = correction_url(course, rider)
    # Those who do not keep the register do not see it at all.
    for username in ("rider1", "volunteer1", "jiangbei_admin"):
        client = login(username)
        assert client.get(url).status_code == 404
        assert correct(client, course, rider, 8, "passed").status_code == 404
    # The city's administrator sees the register but does not decide this course.
    client = login("city_admin")
    page = client.get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert "uf-correct" not in page
    refused = client.get(url)
    assert refused.status_code == 403 and "只有可以判定此环节的人员才能更正结果" in refused.get_data(as_text=True)
    assert correct(client, course, rider, 8, "passed").status_code == 403
    db.session.expire_all()
    assert db.session.get(Instance, rider).status == "expired"
    # The district's administrator (the step's escalation) may.
    assert correct(login("yuzhong_admin"), course, rider, 8, "passed").status_code == 302


def test_a_correction_is_refused_after_the_limit(login, demo):
    from webapp.services import training

    course, ids = decided_course(login, {"rider1": 7}, days=40 + training.CORRECTION_DAYS + 2)
    rider = ids["rider1"]
    organiser = login("unit_admin")
    page = organiser.get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert "uf-correct" not in page
    refused = correct(organiser, course, rider, 8, "passed")
    assert refused.status_code == 409
    assert f"课程结束已超过 {training.CORRECTION_DAYS} 天" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Instance, rider).status == "expired"
    # The last day still may, the day after may not.
    last = training.correction_deadline(course)
    instance = db.session.get(Instance, rider)
    assert training.correction_refusal(course, find_user("unit_admin"), instance,
                                       last - timedelta(seconds=1)) is None
    assert training.correction_refusal(course, find_user("unit_admin"), instance,
                                       last).code == "too_late"


def test_a_trainee_not_yet_decided_cannot_be_corrected(login, demo):
    course = course_named("电工技能提升班")
    rider = register(login, "rider1", course)
    move_into_the_past(course)
    end_the_course()
    organiser = login("unit_admin")
    page = organiser.get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert "uf-correct" not in page
    refused = organiser.get(correction_url(course, rider))
    assert refused.status_code == 409 and "尚未判定" in refused.get_data(as_text=True)
    organiser.post("/auth/locale", data={"locale": "en"})
    refused = organiser.get(correction_url(course, rider))
    assert "This trainee has not been decided yet" in refused.get_data(as_text=True)
    assert correct(organiser, course, rider, 8, "passed").status_code == 409
    from webapp.services import training
    from workflows.errors import Conflict

    with pytest.raises(Conflict) as why:
        training.correct_completion(course, find_user("unit_admin"), rider,
                                    {s.id for s in course.schedule[:8]}, "passed", "漏记")
    assert why.value.code == "not_decided"
    db.session.rollback()
    assert organiser.get(correction_url(course, 999999)).status_code == 404


# ---------------------------------------------------------------- the name on the certificate

def pdf_text(pdf: bytes) -> str:
    """The text a reader of the PDF sees (poppler's pdftotext)."""
    import subprocess

    return subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf,
                          capture_output=True, check=True).stdout.decode("utf-8")


def completed_certificate(login, username: str) -> tuple[int, bytes]:
    course = course_named("电工技能提升班")
    passed = register(login, username, course)
    move_into_the_past(course)
    end_the_course()
    decide(login("unit_admin"), course, {passed: 10})
    response = login(username).get(f"/instances/{passed}/certificate.pdf")
    assert response.status_code == 200
    return passed, response.get_data()


def test_the_certificate_names_the_trainee_by_the_legal_name_given(login, demo):
    """The account's display name may carry a job title (外卖骑手 马超): the certificate
    prints the legal name the registration asked for, in the embedded Chinese font."""
    _passed, pdf = completed_certificate(login, "rider1")
    assert b"/FontFile3" in pdf
    text = pdf_text(pdf)
    assert "马超 同志（身份证号 500103********1239）" in text
    assert "外卖骑手" not in text
    assert "This certifies that 马超 attended" in text.replace("\n", " ")


def test_a_registration_of_the_earlier_form_keeps_the_display_name(login, demo):
    """A request started on the version without 真实姓名 has none: its certificate still
    names the account, and publishing the new version does not change that."""
    import yaml

    path = next(p for p in wf.shipped_definitions() if p.stem == "training_registration")
    earlier = yaml.safe_load(path.read_text(encoding="utf-8"))
    earlier["start"]["form"] = [f for f in earlier["start"]["form"]
                                if f["name"] not in ("real_name", "occupation_confirmed")]
    old = wf.publish_text(yaml.safe_dump(earlier, allow_unicode=True, sort_keys=False),
                          "training_registration.yaml")
    db.session.commit()
    assert old.created
    course = course_named("电工技能提升班")
    occupation, phone, first17 = TRAINEES["rider1"]
    passed = start(login("rider1"), "training_registration", {
        "course": str(course.id), "occupation": occupation, "phone": phone,
        "id_card": id_card(first17)})
    new = wf.publish_file(path)  # the current definition again: a newer version
    db.session.commit()
    assert new.created and new.version.version > old.version.version
    assert db.session.get(Instance, passed).version_id == old.version.id
    move_into_the_past(course)
    end_the_course()
    decide(login("unit_admin"), course, {passed: 10})
    text = pdf_text(login("rider1").get(f"/instances/{passed}/certificate.pdf").get_data())
    assert "外卖骑手 马超 同志" in text
    # Read by the course's administrator, it names the trainee still, not the reader.
    text = pdf_text(login("unit_admin").get(f"/instances/{passed}/certificate.pdf").get_data())
    assert "外卖骑手 马超 同志" in text and "赵丽" not in text


def test_the_legal_name_is_required_and_short(login, demo):
    course = course_named("电工技能提升班")
    client = login("rider1")
    for name, message in (("", "此项为必填项。"), ("马" * 21, "最多填写 20 个字。")):
        response = client.post("/processes/training_registration/start", data={
            "course": str(course.id), "real_name": name, "occupation": "delivery",
            "occupation_confirmed": "y", "phone": "13800138000", "id_card": id_card()})
        assert response.status_code == 422
        assert message in errors(response), errors(response)
    page = client.get("/processes/training_registration/start").get_data(as_text=True)
    assert "真实姓名" in page and "印在结业证书上" in page
    # No account field holds a legal name (the display name may carry a job title):
    # nothing is filled in for the worker.
    assert re.search(r'<input[^>]*name="real_name"[^>]*>', page)
    assert 'value="外卖骑手 马超"' not in page and 'value="马超"' not in page


# ---------------------------------------------------------------- courses as workers see them

def test_a_worker_at_courses_is_shown_the_open_courses_not_the_organisers_page(login, demo):
    client = login("rider1")
    response = client.get("/courses")
    assert response.status_code == 302 and response.headers["Location"].endswith("/courses/open")
    page = client.get("/courses/open").get_data(as_text=True)
    assert "没有需要您登记出勤的课程" not in page
    safety = course_named("骑手交通安全与应急救护")
    assert "骑手交通安全与应急救护" in page and "解放碑户外劳动者驿站" in page  # the venue
    assert f"{safety.starts_on} ~ {safety.ends_on}" in page
    assert "仅限外卖配送员、快递员" in page and "18–60 周岁" in page  # 电工: any trade, 18-60
    assert "需所在单位审核" in page and "无需审核，先到先得" in page
    assert f"/processes/training_registration/start?course={safety.id}" in page
    assert "外卖快递骑手职业技能提升班" not in page  # registration closed: under way
    # The process list points to the courses too.
    assert 'href="/courses/open"' in client.get("/processes").get_data(as_text=True)
    # The organisers keep their page, with a way to the workers' list.
    organiser = login("unit_admin").get("/courses").get_data(as_text=True)
    assert "您负责登记出勤的课程" in organiser and 'href="/courses/open"' in organiser


def test_a_course_page_says_what_the_course_is_and_leads_to_its_form(login, demo):
    course = course_named("网约车驾驶员安全行车培训")
    client = login("driver1")
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    first = course.schedule[0].starts_at.astimezone(CHINA)
    assert "渝中区职工服务中心二楼" in page and "驾驶安全方向免费技能培训" in page
    assert f"{first:%Y-%m-%d}" in page and "19:00–21:00 · 驾驶安全 第1讲" in page
    assert "仅限网约车司机；21–60 周岁" in page and "共 30 位，余 30 位" in page
    link = f"/processes/training_registration/start?course={course.id}"
    assert link in page
    form = client.get(link).get_data(as_text=True)
    assert f'<option selected value="{course.id}">' in form
    # The chosen course's facts are shown (the others' hidden until chosen), before the
    # worker fills in the form.
    shown = re.search(rf'data-course="{course.id}">(.*?)</div>\s*</div>', form, re.S)
    assert shown and "仅限网约车司机" in shown.group(1)
    assert re.search(r'data-course="\d+" hidden', form)
    assert form.index('id="course-facts"') < form.index('name="real_name"')

    instance = start(client, "training_registration", {
        "course": str(course.id), "real_name": "何军", "occupation": "ride_hailing",
        "occupation_confirmed": "y", "phone": "13700137000",
        "id_card": id_card(TRAINEES["driver1"][2])})
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "您已报名这门课程" in page and f"/instances/{instance}" in page
    assert "共 30 位，余 29 位" in page
    # Not a worker: the facts, no 报名.
    other = login("unit_admin").get(f"/courses/{course.id}").get_data(as_text=True)
    assert link not in other and "编辑课程" in other
    assert login("rider1").get("/courses/999999").status_code == 404


def test_the_stated_occupation_must_be_confirmed_and_is_put_before_the_reviewer(login, demo):
    """Nothing in the directory says a worker's trade, so the occupation is declared:
    ticked as true, and shown at the top of the unit's review."""
    course = db.session.scalar(select(Course).where(Course.requires_approval.is_(True)))
    data = {"course": str(course.id), "real_name": "马超", "occupation": "delivery",
            "phone": "13800138000", "id_card": id_card()}
    client = login("rider1")
    response = client.post("/processes/training_registration/start", data=data)
    assert response.status_code == 422 and "请勾选此项。" in errors(response)
    assert "本人承诺所选从业类型属实" in response.get_data(as_text=True)
    instance = start(client, "training_registration", {**data, "occupation_confirmed": "y"})
    db.session.expire_all()
    task = db.session.scalar(select(Task).where(Task.instance_id == instance,
                                                Task.status == "open"))
    page = login("unit_admin").get(f"/tasks/{task.id}").get_data(as_text=True)
    box = page[page.index('id="occupation-declaration"'):]
    assert page.index('id="occupation-declaration"') < page.index('id="data-h"')
    assert "自报从业类型：外卖配送员" in box and "申请人已承诺所选从业类型属实" in box
    assert "所属工会：渝中区快递物流行业工会" in box
