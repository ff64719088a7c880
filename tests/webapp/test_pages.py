"""The process pages as people use them: start, follow, inbox, decide, withdraw, files."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Instance, Task
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from tests.webapp.test_workflow_service import demo  # noqa: F401

PASSWORD = "demo-pass-2026"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
       b"\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def login(client):
    def sign_in(username):
        client.post("/auth/logout")
        response = client.post("/auth/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302
        return client
    return sign_in


def wish_form(**changes):
    form = {"title": "一个新头盔", "category": "goods", "story": "电动车头盔摔坏了，想要一个新的",
            "budget": "80", "station": str(unit_by_code("st-jfb").id), "contact_name": "马超",
            "phone": "138 0013 8000"}
    form.update(changes)
    return form


def submit_wish(client, **changes):
    response = client.post("/processes/micro_wish/start", data=wish_form(**changes))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def errors(response) -> list[str]:
    return re.findall(r'invalid-feedback[^>]*>([^<]*)<', response.get_data(as_text=True))


def alerts(response) -> list[str]:
    return re.findall(r'class="alert [^"]*"[^>]*>([^<]*)<', response.get_data(as_text=True))


def task_id_of(instance_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(Task.id).where(Task.instance_id == instance_id,
                                                   Task.status == "open"))


def test_worker_sees_the_processes_they_may_start(login, demo):
    page = login("rider1").get("/processes").get_data(as_text=True)
    assert "微心愿" in page and "/processes/micro_wish/start" in page
    volunteer = login("volunteer1").get("/processes").get_data(as_text=True)
    assert "/processes/micro_wish/start" not in volunteer  # only workers post wishes


def test_start_form_keeps_what_was_typed_and_shows_errors_beside_fields(login, demo):
    client = login("rider1")
    response = client.post("/processes/micro_wish/start",
                           data=wish_form(title="", phone="12345", story="太短"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "此项为必填项" in page and "11 位手机号码" in page
    assert 'value="12345"' in page and "太短</textarea>" in page  # kept for correction
    assert 'value="马超"' in page
    assert db.session.scalar(select(Instance.id)) is None


def test_form_help_is_in_the_readers_language(login, demo):
    client = login("rider1")
    chinese = client.get("/processes/micro_wish/start").get_data(as_text=True)
    assert "选填：一张物品或场景的照片" in chinese
    client.post("/auth/locale", data={"locale": "en"})
    english = client.get("/processes/micro_wish/start").get_data(as_text=True)
    assert "Optional: a photo of the thing or place, shown on the wish wall" in english
    assert "选填" not in english
    help_id = re.search(r'id="(photo-help)"', english).group(1)
    assert f'aria-describedby="{help_id}"' in english  # still tied to its input


def test_submit_confirms_and_says_what_comes_next(login, demo):
    client = login("rider1")
    instance_id = submit_wish(client)
    page = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "已提交“微心愿”" in page and "下一步：驿站核实" in page and "孙伟" in page
    mine = client.get("/requests").get_data(as_text=True)
    assert "一个新头盔" in mine and "办理中" in mine


def test_second_wish_while_one_is_open_is_explained(login, demo):
    client = login("rider1")
    submit_wish(client)
    response = client.post("/processes/micro_wish/start", data=wish_form())
    assert response.status_code == 409
    assert "您已有一个进行中的“微心愿”" in response.get_data(as_text=True)


def test_station_head_decides_in_the_inbox_and_a_second_decision_is_explained(login, demo):
    instance_id = submit_wish(login("rider1"))
    client = login("station_head")
    inbox = client.get("/inbox").get_data(as_text=True)
    task_id = task_id_of(instance_id)
    assert f"/tasks/{task_id}" in inbox and "一个新头盔" in inbox
    task_page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "13800138000" in task_page  # the verifier may see the phone number
    no_reason = client.post(f"/tasks/{task_id}", data={"action": "reject", "comment": " "})
    # Beside the comment it needs, tied to it and with the focus there (a screen reader
    # reads it with the field; on a phone the field is a screen below the top).
    assert no_reason.status_code == 422 and any("请填写理由" in e for e in errors(no_reason))
    html = no_reason.get_data(as_text=True)
    assert re.search(r'<textarea class="form-control is-invalid" id="comment"[^>]*'
                     r'aria-invalid="true" aria-describedby="comment-error" autofocus', html)
    assert 'id="comment-error">请填写理由' in html
    done = client.post(f"/tasks/{task_id}", data={"action": "approve", "comment": "属实"},
                       follow_redirects=True)
    assert "已通过" in done.get_data(as_text=True) and "心愿墙待认领" in done.get_data(as_text=True)
    again = client.post(f"/tasks/{task_id}", data={"action": "approve"})
    assert again.status_code == 409
    assert any("已由 解放碑驿站站长 孙伟" in a and "通过" in a for a in alerts(again))


def test_stale_page_is_a_conflict_not_a_second_step(login, demo):
    instance_id = submit_wish(login("rider1"))
    client = login("station_head")
    task_id = task_id_of(instance_id)
    client.post(f"/instances/{instance_id}/comments", data={"text": "我先看看"})
    stale = client.post(f"/tasks/{task_id}", data={"action": "approve", "version": "1"})
    assert stale.status_code == 409
    db.session.expire_all()
    assert db.session.get(Instance, instance_id).steps == "verify"


def test_volunteer_claims_from_the_wall_sees_personal_data_only_after(login, demo):
    instance_id = submit_wish(login("rider1"))
    client = login("station_head")
    client.post(f"/tasks/{task_id_of(instance_id)}", data={"action": "approve"})
    client = login("volunteer1")
    inbox = client.get("/inbox").get_data(as_text=True)
    task_id = task_id_of(instance_id)
    assert f"/tasks/{task_id}/claim" in inbox
    before = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "13800138000" not in before
    assert "138****8000" in before
    assert "马超" not in before  # neither the contact name nor the applicant's name
    claimed = client.post(f"/tasks/{task_id}/claim", follow_redirects=True)
    assert "认领成功" in claimed.get_data(as_text=True)
    assert "13800138000" in claimed.get_data(as_text=True)
    # Another district's volunteer neither sees it on the wall nor can open it.
    other = login("volunteer2")
    assert "一个新头盔" not in other.get("/inbox").get_data(as_text=True)
    assert other.get(f"/instances/{instance_id}").status_code == 404
    assert other.post(f"/tasks/{task_id}/claim").status_code == 404  # never on their wall
    # Who had it on their wall, a page loaded before the claim, is told it is taken.
    late = login("branch_secretary").post(f"/tasks/{task_id}/claim", follow_redirects=True)
    assert late.status_code == 200 and "已被他人认领" in "".join(alerts(late)), alerts(late)


def test_fulfil_with_a_photo_then_the_photo_is_only_for_those_involved(login, demo, tmp_path):
    import io

    instance_id = submit_wish(login("rider1"))
    login("station_head").post(f"/tasks/{task_id_of(instance_id)}", data={"action": "approve"})
    client = login("volunteer1")
    client.post(f"/tasks/{task_id_of(instance_id)}/claim")
    fulfil = task_id_of(instance_id)
    wrong = client.post(f"/tasks/{fulfil}", data={"action": "complete", "proof": (
        io.BytesIO(b"%PDF-1.4 not a photo"), "proof.png")}, content_type="multipart/form-data")
    assert wrong.status_code == 422 and errors(wrong)
    ok = client.post(f"/tasks/{fulfil}", data={"action": "complete", "fulfil_note": "已送达",
                                               "proof": (io.BytesIO(PNG), "头盔.png")},
                     content_type="multipart/form-data")
    assert ok.status_code == 302, errors(ok)
    page = login("rider1").get(f"/instances/{instance_id}").get_data(as_text=True)
    key = re.search(r'href="/files/([0-9a-f]+)"', page).group(1)
    with login("rider1").get(f"/files/{key}") as photo:
        assert photo.status_code == 200 and photo.data == PNG
        assert photo.headers["Cache-Control"] == "private, no-store"
    assert login("driver1").get(f"/files/{key}").status_code == 404
    assert login("rider1").get("/files/../../etc/passwd").status_code == 404


def test_withdraw_and_comment_from_the_request_page(login, demo):
    client = login("rider1")
    instance_id = submit_wish(client)
    task_id = task_id_of(instance_id)
    client.post(f"/instances/{instance_id}/comments", data={"text": "请尽快处理，谢谢"})
    page = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "请尽快处理，谢谢" in page
    done = client.post(f"/instances/{instance_id}/withdraw", follow_redirects=True)
    assert "已撤回" in done.get_data(as_text=True) and "流程已结束" in done.get_data(as_text=True)
    again = client.post(f"/instances/{instance_id}/withdraw", follow_redirects=True)
    assert "已结束" in again.get_data(as_text=True)
    # The station head's decision, sent from a page opened before, is refused saying why.
    late = login("station_head").post(f"/tasks/{task_id}", data={"action": "approve"})
    assert late.status_code == 409
    assert any(a.startswith("该申请已结束（已撤回，") for a in alerts(late)), alerts(late)


def test_return_for_revision_then_resubmit(login, demo):
    instance_id = submit_wish(login("rider1"))
    head = login("station_head")
    head.post(f"/tasks/{task_id_of(instance_id)}", data={"action": "return",
                                                         "comment": "请写清楚头盔尺码"})
    client = login("rider1")
    revise = task_id_of(instance_id)
    page = client.get(f"/tasks/{revise}").get_data(as_text=True)
    assert "一个新头盔" in page  # the form comes back filled in
    response = client.post(f"/tasks/{revise}", data={
        **wish_form(story="电动车头盔摔坏了，尺码是 L 号，想要一个新的"), "action": "resubmit"})
    assert response.status_code == 302, alerts(response) + errors(response)
    db.session.expire_all()
    assert db.session.get(Instance, instance_id).steps == "verify"


def test_a_returned_request_leads_its_applicant_to_the_fix_and_says_why(login, demo):
    instance_id = submit_wish(login("rider1"))
    login("station_head").post(f"/tasks/{task_id_of(instance_id)}", data={
        "action": "return", "comment": "请写清楚头盔尺码"})
    client = login("rider1")
    revise = task_id_of(instance_id)
    page = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "需要您处理" in page and f'href="/tasks/{revise}"' in page
    assert "去处理：修改后重新提交" in page and "请写清楚头盔尺码" in page
    # What comes next is the applicant's correction, not the reviewer's step again.
    assert "下一步：修改后重新提交（等待" in page and "下一步：驿站核实" not in page
    assert "下一步：修改后重新提交" in client.get("/requests").get_data(as_text=True)
    task_page = client.get(f"/tasks/{revise}").get_data(as_text=True)
    title = re.search(r"<h1[^>]*>([^<]*)</h1>", task_page).group(1)
    assert title == "修改后重新提交"  # not the reviewer's step, 驿站核实
    reason = task_page.index("请写清楚头盔尺码")
    assert 'id="return-reason"' in task_page and reason < task_page.index('value="resubmit"')
    client.post("/auth/locale", data={"locale": "en"})
    assert "Correct and resubmit" in client.get(f"/tasks/{revise}").get_data(as_text=True)
    # Someone else who may see the request is not asked to fix it.
    other = login("station_head").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert f'href="/tasks/{revise}"' not in other and "请写清楚头盔尺码" in other  # history
    # An administrator who may hand the task on sees why it came back, not an
    # instruction to correct it.
    admin = login("admin")
    page = admin.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "请按退回理由修改" not in page
    task_page = admin.get(f"/tasks/{revise}").get_data(as_text=True)
    assert "申请已退回申请人修改" in task_page and "请写清楚头盔尺码" in task_page
    assert "请按退回理由修改" not in task_page


def test_bulk_approve_many_similar_tasks(login, demo):
    ids = [submit_wish(login(name)) for name in ("rider1", "courier1", "driver1")]
    client = login("station_head")
    tasks = [task_id_of(i) for i in ids]
    response = client.post("/tasks/bulk", data={"task_ids": [str(t) for t in tasks] + ["x"]},
                           follow_redirects=True)
    assert "已批量通过 3 项" in response.get_data(as_text=True)
    db.session.expire_all()
    assert all(db.session.get(Instance, i).steps == "wall" for i in ids)
    again = client.post("/tasks/bulk", data={"task_ids": [str(tasks[0])]}, follow_redirects=True)
    assert "未能处理" in again.get_data(as_text=True)


def test_bulk_approve_leaves_out_a_step_that_asks_for_details(login, demo):
    """A demand's dispatch needs its responsible unit: no tick box, and if sent anyway
    the answer says to open it — not "填写内容有误"."""
    from tests.webapp.test_reports_charts import demand

    instance = wf.start_instance("worker_demand", demo["rider1"], demand())
    wish = submit_wish(login("rider1"))
    db.session.commit()
    dispatch, verify = task_id_of(instance.id), task_id_of(wish)
    client = login("yuzhong_admin")
    inbox = client.get("/inbox").get_data(as_text=True)
    assert f'/tasks/{dispatch}"' in inbox and f'id="bulk-{dispatch}"' not in inbox
    sent = client.post("/tasks/bulk", data={"task_ids": [str(dispatch)]}, follow_redirects=True)
    assert "此环节需要填写内容，请打开任务逐项办理" in sent.get_data(as_text=True)
    assert db.session.get(Task, dispatch).status == "open"
    assert f'id="bulk-{verify}"' in login("station_head").get("/inbox").get_data(as_text=True)


def test_staff_search_filters_and_scope(login, demo):
    submit_wish(login("rider1"))
    submit_wish(login("driver1"), title="停车位", station=str(unit_by_code("st-gyq").id))
    yz = login("yuzhong_admin")
    page = yz.get("/admin/instances").get_data(as_text=True)
    assert "一个新头盔" in page and "停车位" not in page  # driver1, at a station, in 江北区
    assert "停车位" in login("jiangbei_admin").get("/admin/instances").get_data(as_text=True)
    city = login("city_admin")
    assert "停车位" in city.get("/admin/instances?q=停车").get_data(as_text=True)
    assert "一个新头盔" not in city.get("/admin/instances?q=停车").get_data(as_text=True)
    assert "停车位" not in city.get("/admin/instances?status=withdrawn").get_data(as_text=True)
    bad_date = city.get("/admin/instances?since=not-a-date&page=-3")
    assert bad_date.status_code == 422 and "请按 年-月-日 填写日期" in bad_date.get_data(as_text=True)
    assert login("rider1").get("/admin/instances").status_code == 403


def test_diagrams_are_svg_with_the_current_step_marked(login, demo):
    client = login("rider1")
    instance_id = submit_wish(client)
    svg = client.get(f"/instances/{instance_id}/diagram.svg")
    assert svg.mimetype == "image/svg+xml" and "驿站核实" in svg.get_data(as_text=True)
    assert client.get("/processes/micro_wish/diagram.svg").status_code == 200
    assert client.get("/processes/no_such/diagram.svg").status_code == 404
    assert login("driver1").get(f"/instances/{instance_id}/diagram.svg").status_code == 404


def test_nobody_sees_other_peoples_requests_or_tasks(login, demo):
    instance_id = submit_wish(login("rider1"))
    task_id = task_id_of(instance_id)
    other = login("courier1")
    assert other.get(f"/instances/{instance_id}").status_code == 404
    assert other.get(f"/tasks/{task_id}").status_code == 404
    assert other.post(f"/tasks/{task_id}", data={"action": "approve"}).status_code == 404
    assert other.post(f"/instances/{instance_id}/withdraw").status_code == 404
    assert other.get("/instances/999999").status_code == 404


def test_worker_demand_end_to_end_through_the_pages(login, demo):
    """停车难: rider → 渝中区 dispatches → street union acknowledges and answers → rider rates."""
    client = login("rider1")
    response = client.post("/processes/worker_demand/start", data={
        "category": "parking", "station": str(unit_by_code("st-jfb").id),
        "location": "解放碑步行街东口", "phone": "13800138000",
        "description": "送餐高峰期电动车没有地方停，经常被贴条，希望增加临时停车位。"})
    assert response.status_code == 302, errors(response) + alerts(response)
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])

    district = login("yuzhong_admin")
    dispatch = task_id_of(instance_id)
    page = district.get(f"/tasks/{dispatch}").get_data(as_text=True)
    assert "责任单位" in page and "解放碑街道工会" in page
    missing = district.post(f"/tasks/{dispatch}", data={"action": "approve"})
    assert missing.status_code == 422 and errors(missing)  # the responsible unit is required
    done = district.post(f"/tasks/{dispatch}", data={
        "action": "approve", "responsible_unit": str(unit_by_code("cq-yz-jfb").id),
        "dispatch_note": "请三个工作日内签收"}, follow_redirects=True)
    assert "责任单位签收" in done.get_data(as_text=True)

    unit = login("unit_admin")
    unit.post(f"/tasks/{task_id_of(instance_id)}", data={"action": "complete",
                                                        "handler_name": "赵丽"})
    answered = unit.post(f"/tasks/{task_id_of(instance_id)}", data={
        "action": "complete", "answer": "已协调城管在东口划设 20 个临时停车位。"},
        follow_redirects=True)
    assert "职工评价" in answered.get_data(as_text=True)

    client = login("rider1")
    rate = task_id_of(instance_id)
    closed = client.post(f"/tasks/{rate}", data={"action": "complete", "result": "satisfied",
                                                 "rating": "5"}, follow_redirects=True)
    assert "流程已结束" in closed.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Instance, instance_id).status == "completed"


def test_delegate_to_an_eligible_colleague_only(login, demo, make_user):
    instance_id = submit_wish(login("rider1"))
    station = unit_by_code("st-jfb")  # a deputy appointed after the wish came in
    make_user("station_head2", ("station_head", station), unit=station, password=PASSWORD,
              name="驿站副站长 钱芳")
    client = login("station_head")
    task_id = task_id_of(instance_id)
    assert "转办给（用户名）" in client.get(f"/tasks/{task_id}").get_data(as_text=True)
    wrong = client.post(f"/tasks/{task_id}/delegate", data={"username": "volunteer1"},
                        follow_redirects=True)
    assert "该人员不符合办理条件" in wrong.get_data(as_text=True)
    unknown = client.post(f"/tasks/{task_id}/delegate", data={"username": "nobody"},
                          follow_redirects=True)
    assert "找不到该用户" in unknown.get_data(as_text=True)
    done = client.post(f"/tasks/{task_id}/delegate", data={"username": "station_head2"},
                       follow_redirects=True)
    assert "已转办给 驿站副站长 钱芳" in done.get_data(as_text=True), alerts(done)
    assert f"/tasks/{task_id}" not in login("station_head").get("/inbox").get_data(as_text=True)
    assert f"/tasks/{task_id}" in login("station_head2").get("/inbox").get_data(as_text=True)


def test_notification_centre_counts_unread_and_links_to_the_request(login, demo):
    instance_id = submit_wish(login("rider1"))
    head = login("station_head")
    home = head.get("/").get_data(as_text=True)
    assert re.search(r'id="unread-count">1<', home)  # "您有一项待办：微心愿·驿站核实"
    page = head.get("/notifications").get_data(as_text=True)
    assert "您有一项待办：微心愿·驿站核实" in page
    # ...and which request it is: its title and number.
    assert "一个新头盔" in page and f"#{instance_id}" in page
    head.post(f"/tasks/{task_id_of(instance_id)}", data={"action": "reject",
                                                         "comment": "不属于微心愿范围"})
    rider = login("rider1")
    assert "您的微心愿已结束：未通过核实" in rider.get("/notifications?unread=1").get_data(
        as_text=True)
    note_id = re.search(r'/notifications/(\d+)/read', rider.get("/notifications")
                        .get_data(as_text=True)).group(1)
    opened = rider.post(f"/notifications/{note_id}/read")
    assert opened.headers["Location"].endswith(f"/instances/{instance_id}")
    assert 'id="unread-count"' not in rider.get("/").get_data(as_text=True)
    rider.post("/auth/locale", data={"locale": "en"})
    assert "Your Micro-wish has ended: Not verified" in rider.get("/notifications").get_data(as_text=True)
    # Nobody reads or marks another person's notifications.
    assert login("courier1").post(f"/notifications/{note_id}/read").status_code == 404


def test_the_applicant_hears_at_once_when_the_request_moves_on(login, demo):
    instance_id = submit_wish(login("rider1"))
    assert 'id="unread-count"' not in login("rider1").get("/").get_data(as_text=True)
    login("station_head").post(f"/tasks/{task_id_of(instance_id)}", data={"action": "approve"})
    home = login("rider1").get("/").get_data(as_text=True)
    assert re.search(r'id="unread-count">1<', home)
    assert "微心愿 已进入：心愿墙待认领" in login("rider1").get("/notifications").get_data(
        as_text=True)


def test_the_engine_s_own_lines_are_the_system_s_not_the_applicant_s(login, demo):
    from webapp.processes.helpers import history_rows

    instance_id = submit_wish(login("rider1"))
    db.session.expire_all()
    rows = [(entry.action, name) for entry, name in
            history_rows(db.session.get(Instance, instance_id), True)]
    assert rows[0] == ("submit", "外卖骑手 马超")
    assert ("enter", None) in rows and not [a for a, name in rows[1:] if name]
    page = login("rider1").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "· 系统</div>" in page


def test_the_home_page_says_what_waits_for_the_person(login, demo):
    """A rider whose wish came back sees it at the top of the home page, with a way to it;
    the station head sees how many tasks wait; nothing waiting says so."""
    instance_id = submit_wish(login("rider1"))
    home = login("rider1").get("/").get_data(as_text=True)
    assert 'id="waiting-running"' in home and "办理中的申请 1 项" in home
    assert 'id="waiting-returned"' not in home
    head = login("station_head")
    assert "待办 1 项" in head.get("/").get_data(as_text=True)
    head.post(f"/tasks/{task_id_of(instance_id)}", data={"action": "return",
                                                         "comment": "请写清楚头盔尺码"})
    home = login("rider1").get("/").get_data(as_text=True)
    assert "您有 1 项申请被退回" in home and "/requests?status=returned" in home
    assert "目前没有需要您处理的事项" in login("volunteer2").get("/").get_data(as_text=True)


def test_an_empty_filter_says_nothing_matches_not_that_nothing_was_submitted(login, demo):
    client = login("rider1")
    submit_wish(client)
    page = client.get("/requests?status=expired").get_data(as_text=True)
    assert "没有符合筛选条件的申请。" in page and "您还没有提交过申请" not in page
    assert 'href="/requests">清除筛选</a>' in page
    client.post("/auth/locale", data={"locale": "en"})
    english = client.get("/requests?status=expired").get_data(as_text=True)
    assert "No request matches this filter." in english and "Clear filters" in english
    # Someone with no request at all is still told so, filter or not.
    for url in ("/requests", "/requests?status=expired"):
        assert "您还没有提交过申请。" in login("courier1").get(url).get_data(as_text=True)


def test_the_status_filter_offers_every_status_a_request_can_have(login, demo):
    from workflows.spec import END_STATUSES, RUNNING_STATUSES

    page = login("rider1").get("/requests").get_data(as_text=True)
    select_box = page.split('id="status"')[1].split("</select>")[0]
    offered = re.findall(r'<option value="([a-z]+)"', select_box)
    assert set(offered) == set(RUNNING_STATUSES + END_STATUSES) and "cancelled" in offered
    assert '<option value="cancelled">已取消</option>' in page


def test_a_rejected_applicant_is_told_why_where_they_look_first(login, demo):
    """The reason a request was turned down reaches its applicant in the notification's
    title (and so the e-mail's subject) and at the top of the request's page — not
    only far down its history."""
    from webapp.models import Delivery

    instance_id = submit_wish(login("rider1"))
    login("station_head").post(f"/tasks/{task_id_of(instance_id)}",
                               data={"action": "reject", "comment": "不属于微心愿范围"})
    rider = login("rider1")
    assert "您的微心愿已结束：未通过核实（原因：不属于微心愿范围）" in rider.get(
        "/notifications").get_data(as_text=True)
    page = rider.get(f"/instances/{instance_id}").get_data(as_text=True)
    top = page[page.index('id="next-line"'):page.index("</div>", page.index('id="end-reason"'))]
    assert "流程已结束" in top and "原因：" in top and "不属于微心愿范围" in top and "孙伟" in top
    subjects = db.session.scalars(select(Delivery.subject).where(Delivery.channel == "email"))
    assert any("原因：不属于微心愿范围" in s for s in subjects)
    english = rider.post("/auth/locale", data={"locale": "en",
                                               "next": f"/instances/{instance_id}"},
                         follow_redirects=True).get_data(as_text=True)
    rider.post("/auth/locale", data={"locale": "zh_CN", "next": "/"})
    assert "Reason: " in english and "不属于微心愿范围" in english


def test_an_approved_request_carries_no_reason_line(login, demo):
    instance_id = submit_wish(login("rider1"))
    login("station_head").post(f"/tasks/{task_id_of(instance_id)}", data={"action": "approve"})
    page = login("rider1").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert 'id="end-reason"' not in page


def test_a_second_wish_is_refused_before_the_form_not_after(login, demo):
    """One open micro-wish per person: the start page says there is one, and links to
    it, instead of a form that would be refused once filled in."""
    rider = login("rider1")
    assert 'id="open-request"' not in rider.get("/processes/micro_wish/start").get_data(
        as_text=True)
    instance_id = submit_wish(rider)
    page = rider.get("/processes/micro_wish/start").get_data(as_text=True)
    assert 'id="open-request"' in page and f"/instances/{instance_id}" in page
    assert "它结束后才能再提交新的" in page and 'name="_submission"' not in page
    assert 'name="_submission"' in login("courier1").get("/processes/micro_wish/start") \
        .get_data(as_text=True)


def test_the_home_page_names_the_processes_one_may_start(login, demo):
    """The 办事 card lists what this installation offers the person, not a fixed list."""
    import re as _re
    home = login("rider1").get("/").get_data(as_text=True)
    card = _re.search(r'id="startable">([^<]*)<', home).group(1)
    assert card.startswith("可以办理：") and "微心愿" in card
    from webapp.services import workflow as wf
    names = [spec.name for _d, spec in wf.startable_processes(demo["rider1"])]
    assert all(name in card for name in names[:6])
