"""Who may download a trainee's certificate besides the trainee: the union
administrators over the request (its applicant's unit in their scope; the supervisor,
read-only, over the whole city) or over the course (its unit's administrators, at it or
above) — to read it, never to issue or change it.  A withdrawn certificate stays
withdrawn (410, with why) for them; to everyone else it is the 404 of nothing."""
from __future__ import annotations

import logging
import re

from sqlalchemy import func, select

from tests.webapp.test_api import Api, api, error_of  # noqa: F401
from tests.webapp.test_pages import login  # noqa: F401
from tests.webapp.test_training import (correct, correction_url, course_named, decide,
                                        decided_course)
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import AuditEntry, Instance

# 电工技能提升班 is run by 解放碑街道工会 (渝中区); rider1 and courier1 work in 渝中区,
# driver1 in 江北区.
RIDER_READERS = ("rider1", "unit_admin", "yuzhong_admin", "city_admin", "supervisor", "admin")
RIDER_STRANGERS = ("courier1", "driver1", "jiangbei_admin", "shapingba_admin", "station_head",
                   "branch_secretary", "volunteer1")


def test_administrators_in_scope_read_a_certificate_and_others_do_not(login, api, demo, caplog):
    course, ids = decided_course(login, {"rider1": 9, "driver1": 10, "courier1": 2})
    rider, driver, courier = ids["rider1"], ids["driver1"], ids["courier1"]
    number = f"PX{course.starts_on:%Y}{course.id:04d}{rider:06d}"
    audited = db.session.scalar(select(func.count(AuditEntry.id)))
    caplog.set_level(logging.INFO, logger="webapp")
    for who in RIDER_READERS:
        answer = login(who).get(f"/instances/{rider}/certificate.pdf")
        assert answer.status_code == 200 and answer.mimetype == "application/pdf", who
        assert answer.get_data().startswith(b"%PDF") and number in \
            answer.headers["Content-Disposition"], who
    for who in RIDER_STRANGERS:
        assert login(who).get(f"/instances/{rider}/certificate.pdf").status_code == 404, who
    # driver1 (江北区) on a 渝中区 course: the course's administrators and the trainee's
    # district both read it; a third district does not.
    for who in ("driver1", "unit_admin", "yuzhong_admin", "jiangbei_admin", "supervisor"):
        assert login(who).get(f"/instances/{driver}/certificate.pdf").status_code == 200, who
    for who in ("shapingba_admin", "rider1", "station_head"):
        assert login(who).get(f"/instances/{driver}/certificate.pdf").status_code == 404, who
    # Not completed: no certificate for anyone.
    for who in ("courier1", "unit_admin", "yuzhong_admin", "supervisor"):
        assert login(who).get(f"/instances/{courier}/certificate.pdf").status_code == 404, who

    # Each read by someone else is in the application log (who, whose, which); the
    # trainee's own are not, and no read adds to the audit log (it records changes).
    lines = [r.getMessage() for r in caplog.records if "certificate PX" in r.getMessage()]
    readers = [w for w in RIDER_READERS if w != "rider1"]
    rider_lines = [line for line in lines if f"request {rider}," in line]
    assert len(rider_lines) == len(readers)
    assert all(f"downloaded by {w} " in line for w, line in zip(readers, rider_lines))
    assert not [line for line in lines if "downloaded by rider1 " in line
                or "downloaded by driver1 " in line]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(AuditEntry.id))) == audited

    # The API answers as the pages do.
    with api("GET", f"/instances/{rider}/certificate.pdf", "yuzhong_admin") as answer:
        assert answer.status_code == 200 and answer.data.startswith(b"%PDF")
    with api("GET", f"/instances/{driver}/certificate.pdf", "jiangbei_admin") as answer:
        assert answer.status_code == 200
    refused = api("GET", f"/instances/{rider}/certificate.pdf", "jiangbei_admin")
    assert refused.status_code == 404 and error_of(refused)["code"] == "not_found"


def test_the_request_page_and_the_register_offer_the_certificate_to_administrators(
        login, demo):
    course, ids = decided_course(login, {"rider1": 9, "driver1": 10, "courier1": 2})
    rider, driver, courier = ids["rider1"], ids["driver1"], ids["courier1"]
    link = 'id="certificate-link" href="/instances/{}/certificate.pdf"'
    for who in ("yuzhong_admin", "supervisor", "city_admin"):
        page = login(who).get(f"/instances/{rider}").get_data(as_text=True)
        assert link.format(rider) in page, who
        page = login(who).get(f"/instances/{courier}").get_data(as_text=True)
        assert "certificate-link" not in page, who
    page = login("jiangbei_admin").get(f"/instances/{driver}").get_data(as_text=True)
    assert link.format(driver) in page
    assert login("jiangbei_admin").get(f"/instances/{rider}").status_code == 404
    # The register: a download beside each trainee who completed, none beside the other.
    page = login("unit_admin").get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    for instance_id in (rider, driver):
        assert f'uf-certificate" href="/instances/{instance_id}/certificate.pdf"' in page
    assert f'href="/instances/{courier}/certificate.pdf"' not in page
    assert page.count('uf-certificate"') == 2
    # Read-only: the supervisor reads the certificate but keeps no register and corrects
    # nothing; another district's administrator neither.
    for who in ("supervisor", "jiangbei_admin"):
        client = login(who)
        assert client.get(f"/courses/{course.id}/attendance").status_code == 404, who
        assert client.get(correction_url(course, rider)).status_code == 404, who
        assert correct(client, course, rider, 6, "failed").status_code == 404, who
    db.session.expire_all()
    assert db.session.get(Instance, rider).status == "completed"


def test_a_withdrawn_certificate_stays_withdrawn_for_administrators(login, api, demo):
    course, ids = decided_course(login, {"rider1": 9})
    rider = ids["rider1"]
    number = f"PX{course.starts_on:%Y}{course.id:04d}{rider:06d}"
    assert correct(login("unit_admin"), course, rider, 6, "failed",
                   "重复签到，实际到课 6 次").status_code == 302
    for who in ("unit_admin", "yuzhong_admin", "supervisor"):
        answer = login(who).get(f"/instances/{rider}/certificate.pdf")
        text = answer.get_data(as_text=True)
        assert answer.status_code == 410, who
        assert number in text and "该学员的结业结果经主办单位更正为未结业" in text, who
        assert "重复签到，实际到课 6 次" in text and "查看我的报名" not in text, who
    refused = api("GET", f"/instances/{rider}/certificate.pdf", "yuzhong_admin")
    assert refused.status_code == 410
    assert error_of(refused)["code"] == "certificate_withdrawn"
    assert number in error_of(refused)["message"]
    # The trainee is still told in their own words; nobody else learns of it.
    assert "您的结业结果" in login("rider1").get(
        f"/instances/{rider}/certificate.pdf").get_data(as_text=True)
    for who in ("jiangbei_admin", "courier1", "station_head"):
        assert login(who).get(f"/instances/{rider}/certificate.pdf").status_code == 404, who
    assert api("GET", f"/instances/{rider}/certificate.pdf",
               "jiangbei_admin").status_code == 404
    # The request page and the register say so, without a download.
    page = login("yuzhong_admin").get(f"/instances/{rider}").get_data(as_text=True)
    assert "certificate-link" not in page and 'id="certificate-withdrawn"' in page
    page = login("unit_admin").get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert 'uf-certificate"' not in page and "uf-certificate-withdrawn" in page
    assert number in page


def name_cells(page: str) -> dict[str, str]:
    """The register's name column: each trainee's link text → the whole cell."""
    return {re.search(r"<a [^>]*>([^<]+)</a>", cell).group(1): cell
            for cell in re.findall(r'<th scope="row"[^>]*>(.*?)</th>', page, re.S)}


def test_the_register_once_decided_offers_nothing_it_cannot_do(login, demo):
    from tests.webapp.test_training import end_the_course, move_into_the_past, register

    course = course_named("电工技能提升班")
    ids = {who: register(login, who, course) for who in ("rider1", "driver1")}
    move_into_the_past(course)
    end_the_course()
    # Before the decision: marks to save, a decision to ask for, and the help says how.
    page = login("unit_admin").get(f"/courses/{course.id}/attendance").get_data(as_text=True)
    assert 'value="save"' in page and 'value="decide"' in page and "保存并判定结业" in page
    assert 'value="save"' in login("city_admin").get(
        f"/courses/{course.id}/attendance").get_data(as_text=True)
    decide(login("unit_admin"), course, {ids["rider1"]: 9, ids["driver1"]: 10})
    assert correct(login("unit_admin"), course, ids["driver1"], 6, "failed",
                   "重复签到").status_code == 302
    for who in ("unit_admin", "city_admin"):
        page = login(who).get(f"/courses/{course.id}/attendance").get_data(as_text=True)
        # Saving would change nothing (decided rows are kept as judged): not offered,
        # nor is the decision that was made; the help says it is decided.
        assert 'value="save"' not in page and 'value="decide"' not in page, who
        assert "保存并判定结业" not in page and "出勤登记不能再修改" in page, who
        # A decided trainee's row says completed / not completed, not "on track".
        assert "达标" not in page, who
        # The result, the certificate and its withdrawal beside the name (the column that
        # stays on a phone's screen), no column after the attendance count.
        cells = name_cells(page)
        rider, driver = cells["外卖骑手 马超"], next(c for n, c in cells.items() if n != "外卖骑手 马超")
        assert "已结业" in rider and 'uf-certificate"' in rider, who
        assert "未结业" in driver and "uf-certificate-withdrawn" in driver, who
        assert ">结果<" not in page, who
    # The register's download keeps its 达标 and 结果 columns.
    rows = login("unit_admin").get(f"/courses/{course.id}/attendance?format=csv")
    assert "达标" in rows.get_data(as_text=True)


def test_a_withdrawn_certificate_s_page_says_whose_and_leads_back(login, demo):
    course, ids = decided_course(login, {"rider1": 9})
    rider = ids["rider1"]
    assert correct(login("unit_admin"), course, rider, 6, "failed", "重复签到").status_code == 302
    request_link = f'href="/instances/{rider}"'
    register_link = f'href="/courses/{course.id}/attendance"'
    for who in ("unit_admin", "yuzhong_admin", "city_admin"):
        answer = login(who).get(f"/instances/{rider}/certificate.pdf")
        text = answer.get_data(as_text=True)
        assert answer.status_code == 410, who
        whose = text.split('id="certificate-of"')[1].split("</dl>")[0]
        assert "外卖骑手 马超" in whose and course.title in whose, who
        assert request_link in text and register_link in text, who
        assert "查看该学员的报名" in text and "查看我的报名" not in text, who
    # The supervisor reads it but keeps no register: the request, not the register.
    text = login("supervisor").get(f"/instances/{rider}/certificate.pdf").get_data(as_text=True)
    assert "外卖骑手 马超" in text and request_link in text and register_link not in text
    # The trainee: their own request, no register.
    text = login("rider1").get(f"/instances/{rider}/certificate.pdf").get_data(as_text=True)
    assert "查看我的报名" in text and course.title in text and register_link not in text
