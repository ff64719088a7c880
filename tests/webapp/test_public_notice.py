"""公示: a nomination in its publicity period is on the notice board for everyone signed
in, who may read it (personal data masked) and object with their real name and a reason."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from tests.webapp.test_pages import alerts, errors, login  # noqa: F401
from tests.webapp.test_union_processes import id_card, start
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance, RetreatBatch, Task, TaskAssignee, User
from webapp.services import workflow as wf
from workflows.runtime import Action


def nomination_on_notice(login) -> int:
    batch = db.session.scalar(select(RetreatBatch))
    instance_id = start(login("rider1"), "retreat_nomination", {
        "batch": str(batch.id), "honour": "frontline", "frontline": "y", "new_employment": "y",
        "id_card": id_card(), "phone": "13800138000", "health_ok": "y",
        "deeds": "从事外卖配送五年，累计安全配送三万余单，多次见义勇为，获评区级优秀骑手。"})
    for _step in ("unit_review", "district_review", "city_review"):
        db.session.expire_all()
        task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                    Task.status == "open"))
        approver = db.session.scalar(select(User).join(
            TaskAssignee, TaskAssignee.user_id == User.id).where(TaskAssignee.task_id == task.id))
        wf.perform(instance_id, Action("approve", task=task.key), approver)
        db.session.commit()
    db.session.expire_all()
    assert db.session.get(Instance, instance_id).steps == "publicity"
    return instance_id


def test_everyone_signed_in_sees_the_notice_and_may_object_once(login, demo):
    instance_id = nomination_on_notice(login)
    client = login("driver1")  # another district, no part in the case
    board = client.get("/notices").get_data(as_text=True)
    assert "外卖骑手 马超" in board and f"/instances/{instance_id}" in board
    page = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert id_card() not in page and "13800138000" not in page
    # Named as on the board (the notice is public), not masked on one and not the other.
    assert "外卖骑手 马超" in page and "外**" not in page
    task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                Task.kind == "publicity"))
    assert f"/tasks/{task.id}" in page
    no_reason = client.post(f"/tasks/{task.id}", data={"action": "object"})
    assert no_reason.status_code == 422
    objected = client.post(f"/tasks/{task.id}", data={
        "action": "object", "comment": "据我所知该同志去年已参加过疗休养。"})
    assert objected.status_code == 302
    again = client.post(f"/tasks/{task.id}", data={"action": "object", "comment": "再说一次"})
    assert again.status_code == 409
    wf.fire_due_timers(datetime.now(timezone.utc) + timedelta(days=10))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Instance, instance_id).steps == "objection_review"
    # Off the board once the period is over, and out of sight again for strangers.
    assert f"/instances/{instance_id}" not in client.get("/notices").get_data(as_text=True)
    # The objector (following their notification) is sent to the notice board, told the
    # notice is over; the request itself stays out of sight, and others get "not found".
    gone = client.get(f"/instances/{instance_id}", follow_redirects=True)
    text = gone.get_data(as_text=True)
    assert gone.request.path == "/notices" and "该公示已结束" in text
    assert "外卖骑手 马超" not in text and "据我所知" not in text
    assert login("volunteer2").get(f"/instances/{instance_id}").status_code == 404


def test_the_public_is_offered_an_objection_not_told_it_has_a_task(login, demo):
    """A stranger reading the notice: no 需要您处理 (nothing is theirs to do), an offer to
    object instead; the reviewers' remarks stay with the reviewers."""
    instance_id = nomination_on_notice(login)
    reviewer = db.session.scalar(select(User).where(User.username == "city_admin"))
    wf.perform(instance_id, Action("comment", comment="市总内部：名额已核对"), reviewer)
    db.session.commit()
    client = login("driver1")
    page = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert 'id="public-notice"' in page and "提出异议" in page
    assert "需要您处理" not in page
    assert "市总内部：名额已核对" not in page
    task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                Task.kind == "publicity"))
    form = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "实名提出，须说明理由" in form and "驳回、退回须填写理由" not in form
    # The nominee and the reviewers read it as before.
    assert "市总内部：名额已核对" in login("city_admin").get(f"/instances/{instance_id}") \
        .get_data(as_text=True)


def test_the_board_is_empty_without_a_notice(login, demo):
    assert "目前没有正在公示的事项" in login("courier1").get("/notices").get_data(as_text=True)


def test_objection_through_the_api(login, client, demo):
    from tests.webapp.test_api import Api, error_of

    instance_id = nomination_on_notice(login)
    api = Api(client)
    # An app finds the notice as the board lists it (neither assigned nor to claim).
    listed = api("GET", "/tasks?scope=notices", "volunteer2").get_json()["items"]
    assert [(t["instance_id"], t["actions"]) for t in listed] == [(instance_id, ["object"])]
    assert listed[0]["due_at"] is not None
    own = api("GET", "/tasks?scope=notices", "rider1").get_json()["items"]
    assert [t["actions"] for t in own] == [[]]  # the nominee reads it, objects not
    assert api("GET", "/tasks?scope=mine", "volunteer2").get_json()["items"] == []
    seen = api("GET", f"/instances/{instance_id}", "volunteer2").get_json()
    notice = next(t for t in seen["tasks"] if t["kind"] == "publicity")
    assert notice["actions"] == ["object"] and seen["data"]["id_card"] != id_card()
    bare = api("POST", f"/tasks/{notice['id']}/complete", "volunteer2", json={"action": "object"})
    assert bare.status_code == 422 and "comment" in error_of(bare)["fields"]
    done = api("POST", f"/tasks/{notice['id']}/complete", "volunteer2",
               json={"action": "object", "comment": "推荐材料与事实不符"})
    assert done.status_code == 200
    assert done.get_json()["history"][-1]["comment"] == "推荐材料与事实不符"
    # Objecting again is a conflict the app can name, not "you may not".
    again = api("POST", f"/tasks/{notice['id']}/complete", "volunteer2",
                json={"action": "object", "comment": "再说一次"})
    assert again.status_code == 409 and error_of(again)["code"] == "already_objected"
    assert error_of(again)["message"] == "您已提出过异议"


def test_the_notice_says_until_when_and_the_applicant_is_told(login, demo):
    """The period's end — when the notice closes by itself — is the task's due time: on
    the board, on the request's page (China time) and in the API; and the nominee hears
    that their nomination is on notice."""
    from zoneinfo import ZoneInfo

    from webapp.models import Notification, Timer

    instance_id = nomination_on_notice(login)
    task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                Task.kind == "publicity"))
    ends = db.session.scalar(select(Timer.fire_at).where(Timer.instance_id == instance_id,
                                                         Timer.status == "pending",
                                                         Timer.purpose == "wait"))
    assert task.due_at is not None and task.due_at == ends
    local = task.due_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    client = login("driver1")
    assert f"公示至 {local}" in client.get("/notices").get_data(as_text=True)
    page = login("rider1").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert f"公示（至 {local}）" in page
    rider = db.session.scalar(select(User).where(User.username == "rider1"))
    kinds = db.session.scalars(select(Notification.kind).where(
        Notification.instance_id == instance_id, Notification.user_id == rider.id)).all()
    assert "publicity_started" in kinds


def test_who_objected_and_why_is_for_the_reviewers_only(login, client, demo):
    """A real-name objection is for those who review it: the public and the nominee see
    that one was made, not by whom or why; the objector sees their own."""
    from tests.webapp.test_api import Api

    instance_id = nomination_on_notice(login)
    reason, objector = "推荐材料与事实不符，去年已去过", "网约车司机 何军"
    api = Api(client)
    notice = next(t for t in api("GET", f"/instances/{instance_id}", "driver1").get_json()
                  ["tasks"] if t["kind"] == "publicity")
    assert api("POST", f"/tasks/{notice['id']}/complete", "driver1",
               json={"action": "object", "comment": reason}).status_code == 200

    def objection(username):
        lines = api("GET", f"/instances/{instance_id}", username).get_json()["history"]
        return next((line["actor"], line["comment"]) for line in lines
                    if line["action"] == "object")

    withheld = ("异议人（姓名仅核查人员可见）", "异议内容仅核查人员可见。")
    for stranger in ("volunteer2", "rider1"):  # the public, and the nominee
        assert objection(stranger) == withheld, stranger
        page = login(stranger).get(f"/instances/{instance_id}").get_data(as_text=True)
        assert reason not in page and objector not in page and withheld[0] in page
    assert objection("driver1") == (objector, reason)  # their own
    for reviewer in ("city_admin", "supervisor"):
        assert objection(reviewer) == (objector, reason), reviewer
        page = login(reviewer).get(f"/instances/{instance_id}").get_data(as_text=True)
        assert reason in page and objector in page


def test_the_objection_review_task_shows_the_objections(login, demo):
    """Those who review the objections see them on the task they decide: who, when, why."""
    instance_id = nomination_on_notice(login)
    task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                Task.kind == "publicity"))
    reason = "该同志今年已参加过区里组织的疗休养，不符合条件。"
    assert login("courier1").post(f"/tasks/{task.id}", data={
        "action": "object", "comment": reason}).status_code == 302
    wf.fire_due_timers(datetime.now(timezone.utc) + timedelta(days=10))
    db.session.commit()
    db.session.expire_all()
    review = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                  Task.status == "open"))
    assert review.step == "objection_review"
    page = login("city_admin").get(f"/tasks/{review.id}").get_data(as_text=True)
    assert 'id="objections"' in page and reason in page and "快递员 杨洋" in page
    assert "公示期间收到的异议（1 条）" in page


def objection_review_task(login) -> tuple[int, Task]:
    instance_id = nomination_on_notice(login)
    notice = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                  Task.kind == "publicity"))
    assert login("courier1").post(f"/tasks/{notice.id}", data={
        "action": "object", "comment": "该同志今年已参加过区里组织的疗休养。"}).status_code == 302
    wf.fire_due_timers(datetime.now(timezone.utc) + timedelta(days=10))
    db.session.commit()
    db.session.expire_all()
    review = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                  Task.status == "open"))
    assert review.step == "objection_review"
    return instance_id, review


def test_upholding_an_objection_on_the_page_records_the_finding(login, demo):
    """The reviewer who upholds an objection writes the finding with the rejection: the
    field is required for both decisions, and kept and shown with the rejection."""
    instance_id, review = objection_review_task(login)
    client = login("city_admin")
    page = client.get(f"/tasks/{review.id}").get_data(as_text=True)
    assert 'name="objection_finding"' in page and 'value="reject"' in page
    no_finding = client.post(f"/tasks/{review.id}", data={
        "action": "reject", "comment": "异议成立"})
    assert no_finding.status_code == 422 and errors(no_finding) == ["此项为必填项。"]
    finding = "经向区总工会核实，该同志今年五月已参加疗休养，异议成立。"
    upheld = client.post(f"/tasks/{review.id}", data={
        "action": "reject", "comment": "异议成立，取消本次提名", "objection_finding": finding})
    assert upheld.status_code == 302
    db.session.expire_all()
    instance = db.session.get(Instance, instance_id)
    assert instance.status == "rejected"
    assert instance.state["data"]["objection_finding"] == finding
    shown = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "核查结论" in shown and finding in shown


def test_upholding_an_objection_through_the_api_records_the_finding(client, login, demo):
    from tests.webapp.test_api import Api, error_of

    instance_id, review = objection_review_task(login)
    api = Api(client)
    task = next(t for t in api("GET", "/tasks?scope=mine", "city_admin").get_json()["items"]
                if t["id"] == review.id)
    assert task["form"]["form_on"] == ["approve", "reject"]
    assert [(f["name"], f["required"], f["required_on"]) for f in task["form"]["fields"]] == [
        ("objection_finding", True, ["approve", "reject"])]
    path = f"/tasks/{review.id}/complete"
    missing = api("POST", path, "city_admin", json={"action": "reject", "comment": "异议成立"})
    assert missing.status_code == 422 and set(error_of(missing)["fields"]) == {"objection_finding"}
    done = api("POST", path, "city_admin", json={
        "action": "reject", "comment": "异议成立",
        "data": {"objection_finding": "经核实异议成立。"}})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "rejected"
    assert done.get_json()["data"]["objection_finding"] == "经核实异议成立。"


def open_task(instance_id: int) -> Task:
    db.session.expire_all()
    return db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                Task.status == "open"))


def holder_of(task: Task) -> User:
    return db.session.scalar(select(User).join(TaskAssignee, TaskAssignee.user_id == User.id)
                             .where(TaskAssignee.task_id == task.id))


def test_each_reviewer_sees_who_is_nominated_and_what_the_levels_below_said(login, client,
                                                                              demo):
    """The district and city reviewers see the nominee (name, unit) and the unit's
    opinion on the task they decide, as the request's page shows them; the API's task
    gives the same."""
    from tests.webapp.test_api import Api

    batch = db.session.scalar(select(RetreatBatch))
    instance_id = start(login("rider1"), "retreat_nomination", {
        "batch": str(batch.id), "honour": "frontline", "frontline": "y", "new_employment": "y",
        "id_card": id_card(), "phone": "13800138000", "health_ok": "y",
        "deeds": "从事外卖配送五年，累计安全配送三万余单，多次见义勇为，获评区级优秀骑手。"})
    unit = db.session.get(Instance, instance_id).unit.name
    task = open_task(instance_id)
    wf.perform(instance_id, Action("approve", task=task.key, comment="事迹属实，同意推荐。"),
               holder_of(task))
    db.session.commit()
    task = open_task(instance_id)
    reviewer = holder_of(task).username
    page = login(reviewer).get(f"/tasks/{task.id}").get_data(as_text=True)
    header = page[page.index('id="applicant"'):][:300]
    assert "外卖骑手 马超" in header and unit in header
    history = page[page.index('id="task-history"'):]
    assert "事迹属实，同意推荐。" in history and "基层工会审核" in history
    api = Api(client)
    item = next(t for t in api("GET", "/tasks?scope=mine", reviewer).get_json()["items"]
                if t["id"] == task.id)
    assert item["applicant"] == {"name": "外卖骑手 马超", "unit": unit}
    assert [(h["action"], h["step"], h["comment"]) for h in item["history"]
            if h["action"] == "approve"] == [("approve", "unit_review", "事迹属实，同意推荐。")]
    assert item["action_labels"]["approve"] == "通过" and item["reason_field"] is None


def test_the_public_reading_a_notice_task_sees_objections_withheld(login, demo):
    """On a notice's page the history is the request page's: another's objection shows
    that it was made, not who made it or why; a stranger is not given the unit's remark."""
    instance_id = nomination_on_notice(login)
    notice = open_task(instance_id)
    reason = "该同志今年已参加过区里组织的疗休养。"
    assert login("courier1").post(f"/tasks/{notice.id}", data={
        "action": "object", "comment": reason}).status_code == 302
    page = login("driver1").get(f"/tasks/{notice.id}").get_data(as_text=True)
    assert "外卖骑手 马超" in page  # named, as on the board
    history = page[page.index('id="task-history"'):]
    assert "异议内容仅核查人员可见。" in history and reason not in history
    assert "快递员 杨洋" not in page


def test_the_objection_review_says_what_each_decision_does(login, demo):
    """The buttons say 异议不成立，继续推荐 / 异议成立，取消推荐 rather than 通过 / 驳回 (and ask
    before ending the nomination); the finding is the reason, not asked twice; the
    history and the flash say it the same way."""
    instance_id, review = objection_review_task(login)
    client = login("city_admin")
    page = client.get(f"/tasks/{review.id}").get_data(as_text=True)
    assert ">异议不成立，继续推荐</button>" in page
    assert 'data-confirm="确定“异议成立，取消推荐”吗？提交后不能撤销。">异议成立，取消推荐</button>' in page
    assert ">通过</button>" not in page and ">驳回</button>" not in page
    assert "不填则以“核查结论”作为理由" in page and "驳回、退回须填写理由" not in page
    finding = "经向区总工会核实，该同志今年五月已参加疗休养，异议成立。"
    upheld = client.post(f"/tasks/{review.id}", data={
        "action": "reject", "objection_finding": finding}, follow_redirects=True)
    assert "已办理：异议成立，取消推荐。" in upheld.get_data(as_text=True)
    db.session.expire_all()
    instance = db.session.get(Instance, instance_id)
    assert instance.status == "rejected"
    shown = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    timeline = shown[shown.index('id="timeline-h"'):]
    assert "异议成立，取消推荐 · 异议核查" in timeline and finding in timeline
    # The nominee is told why, in the notification (and so the e-mail).
    from webapp.models import Notification
    ended = db.session.scalar(select(Notification).where(
        Notification.instance_id == instance_id, Notification.kind == "ended"))
    assert ended.params["comment"] == finding


def test_the_objection_review_words_its_decisions_in_english_and_in_the_api(login, client,
                                                                            demo):
    from tests.webapp.test_api import Api

    instance_id, review = objection_review_task(login)
    api = Api(client)
    item = next(t for t in api("GET", "/tasks?scope=mine", "city_admin",
                               headers={"Accept-Language": "en"}).get_json()["items"]
                if t["id"] == review.id)
    labels = item["action_labels"]
    assert (labels["approve"], labels["reject"]) == (
        "Objection not upheld — continue", "Objection upheld — withdraw the nomination")
    assert item["reason_field"] == "objection_finding"
    done = api("POST", f"/tasks/{review.id}/complete", "city_admin", json={
        "action": "reject", "data": {"objection_finding": "经核实异议成立。"}})
    assert done.status_code == 200, done.get_json()
    line = next(h for h in done.get_json()["history"] if h["action"] == "reject")
    assert (line["label"], line["comment"]) == ("异议成立，取消推荐", "经核实异议成立。")


def test_the_objector_is_told_how_the_review_went_without_a_link_to_the_request(login,
                                                                                client, demo):
    from tests.webapp.test_api import Api
    from webapp.models import Delivery, Notification

    instance_id, review = objection_review_task(login)
    admin = login("city_admin")
    assert admin.post(f"/tasks/{review.id}", data={
        "action": "approve", "objection_finding": "经核查，今年未参加，异议不成立。"}
    ).status_code == 302
    courier = db.session.scalar(select(User).where(User.username == "courier1"))
    told = db.session.scalars(select(Notification).where(
        Notification.user_id == courier.id, Notification.kind == "objection_reviewed")).all()
    assert len(told) == 1
    assert told[0].params["result"] == "not_upheld" and "comment" not in told[0].params
    objector = login("courier1")
    listing = objector.get("/notifications").get_data(as_text=True)
    assert "您对劳模职工疗休养推荐公示提出的异议已核查：异议不成立，该事项继续办理" in listing
    assert "经核查" not in listing
    # Following it leads to the notice board, never to a "not found".
    followed = objector.post(f"/notifications/{told[0].id}/read", follow_redirects=True)
    assert followed.status_code == 200 and followed.request.path == "/notices"
    mail = db.session.scalars(select(Delivery).where(
        Delivery.notification_id == told[0].id, Delivery.channel == "email")).all()
    if courier.email:
        assert mail and "异议不成立" in mail[0].subject and "经核查" not in mail[0].body
    api = Api(client)
    item = next(n for n in api("GET", "/notifications", "courier1").get_json()["items"]
                if n["kind"] == "objection_reviewed")
    assert item["instance_id"] is None and "异议不成立" in item["title"]


def test_the_briefing_shows_the_rules_to_acknowledge(login, demo):
    instance_id = nomination_on_notice(login)
    wf.fire_due_timers(datetime.now(timezone.utc) + timedelta(days=10))
    db.session.commit()
    briefing = open_task(instance_id)
    assert briefing.step == "briefing"
    client = login("rider1")
    page = client.get(f"/tasks/{briefing.id}").get_data(as_text=True)
    rules = page[page.index('id="step-description"'):]
    assert "疗休养纪律要求" in rules and "八项规定" in rules
    assert rules.index("八项规定") < rules.index("本人已阅读并遵守疗休养纪律要求")
    db.session.scalar(select(User).where(User.username == "rider1")).locale = "en"
    db.session.commit()
    english = login("rider1").get(f"/tasks/{briefing.id}").get_data(as_text=True)
    assert "Keep to the Eight-point Rules" in english and "八项规定" not in english
