"""On the database and the pages: an applicant who holds the approver role steps aside,
an escalated approver decides for the step, and administrators reassign tasks nobody
holds from the 待指派任务 page."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from webapp.extensions import db
from webapp.models import HistoryEntry, Membership, Task, User
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from webapp.services.users import find_user, grant_role
from tests.webapp.test_pages import alerts, errors, login, submit_wish, task_id_of  # noqa: F401
from tests.webapp.test_workflow_service import NOW, demo, wish_data  # noqa: F401

PASSWORD = "demo-pass-2026"


def page(response) -> str:
    return response.get_data(as_text=True)


def test_a_station_head_wishing_at_their_own_station_is_not_their_own_approver(login, demo):
    head = find_user("station_head")
    grant_role(head, "worker", unit_by_code("st-jfb"))
    db.session.commit()
    client = login("station_head")
    instance_id = submit_wish(client, contact_name="孙伟")
    task_id = task_id_of(instance_id)
    assert f"/tasks/{task_id}" not in page(client.get("/inbox"))
    assert client.post(f"/tasks/{task_id}", data={"action": "approve"}).status_code == 409
    timeline = page(client.get(f"/instances/{instance_id}"))
    assert "回避：申请人本人，转由上级处理" in timeline
    district = login("yuzhong_admin")  # the SLA's escalation target for the station
    assert f"/tasks/{task_id}" in page(district.get("/inbox"))
    done = district.post(f"/tasks/{task_id}", data={"action": "approve"})
    assert done.status_code == 302


def test_the_escalated_approver_is_told_they_decide_and_the_record_says_so(login, demo):
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    wf.fire_due_timers(NOW + timedelta(days=6))  # reminder, then escalation
    db.session.commit()
    task_id = task_id_of(instance.id)
    client = login("yuzhong_admin")
    assert "督办升级给您" in page(client.get(f"/tasks/{task_id}"))
    assert "督办升级给您" not in page(login("station_head").get(f"/tasks/{task_id}"))
    client = login("yuzhong_admin")
    assert client.post(f"/tasks/{task_id}", data={"action": "approve"}).status_code == 302
    entry = db.session.scalar(select(HistoryEntry).where(
        HistoryEntry.instance_id == instance.id, HistoryEntry.action == "approve"))
    assert entry.data["details"]["escalated"] is True
    assert "督办决定" in page(client.get(f"/instances/{instance.id}"))


@pytest.fixture
def stuck(login, demo):
    """A wish at a station that has lost its head: its verify task has nobody."""
    db.session.execute(delete(Membership).where(Membership.role == "station_head",
                                                Membership.unit_id == unit_by_code("st-jfb").id))
    db.session.commit()
    instance_id = submit_wish(login("rider1"))
    task_id = task_id_of(instance_id)
    assert db.session.get(Task, task_id).assignees == []
    return task_id


def test_administrators_in_scope_see_tasks_nobody_holds(login, stuck):
    listed = login("yuzhong_admin").get("/admin/unassigned")
    assert listed.status_code == 200
    text = page(listed)
    assert "一个新头盔" in text and f"/admin/unassigned/{stuck}/reassign" in text
    assert "<code>yuzhong_admin</code>" in text  # a suggestion: the escalation target
    assert "1 项任务无人可办理" in page(login("yuzhong_admin").get("/inbox"))
    assert "/admin/unassigned" in page(login("unit_admin").get("/"))
    assert f"/admin/unassigned/{stuck}/" in page(login("admin").get("/admin/unassigned"))
    other = page(login("jiangbei_admin").get("/admin/unassigned"))
    assert "一个新头盔" not in other and "没有待指派的任务" in other
    assert "/admin/unassigned" not in page(login("jiangbei_admin").get("/inbox"))
    for outsider in ("supervisor", "station_head", "rider1"):
        assert login(outsider).get("/admin/unassigned").status_code == 403


@pytest.mark.parametrize("username, status, message", [
    ("ghost", 422, "找不到该用户"),
    ("volunteer1", 403, "该人员不符合办理条件"),
    ("rider1", 403, "申请人本人不能办理自己的申请"),
    ("", 422, "请填写要指派的用户名"),
])
def test_a_wrong_person_is_refused_with_a_reason(login, stuck, username, status, message):
    response = login("yuzhong_admin").post(f"/admin/unassigned/{stuck}/reassign",
                                           data={"username": username})
    assert response.status_code == status
    assert any(message in e for e in errors(response)), errors(response)
    assert f'value="{username}"' in page(response)
    db.session.expire_all()
    assert db.session.get(Task, stuck).assignees == []


def test_reassigning_gives_the_task_to_an_eligible_person(login, make_user, stuck):
    station = unit_by_code("st-jfb")
    make_user("new_head", ("station_head", station), unit=station, password=PASSWORD,
              name="新站长 钱芳")
    assert login("jiangbei_admin").post(f"/admin/unassigned/{stuck}/reassign",
                                        data={"username": "new_head"}).status_code == 404
    done = login("yuzhong_admin").post(f"/admin/unassigned/{stuck}/reassign",
                                       data={"username": "new_head", "comment": "新任站长"},
                                       follow_redirects=True)
    assert "已指派给 新站长 钱芳" in page(done), alerts(done)
    assert "没有待指派的任务" in page(done)
    assert f"/tasks/{stuck}" in page(login("new_head").get("/inbox"))
    # The note reaches the new holder with the task, not only the request's history.
    assert "（附言：新任站长）" in page(login("new_head").get("/notifications"))
    entry = db.session.scalar(select(HistoryEntry).where(HistoryEntry.action == "reassign"))
    assert entry.comment == "新任站长" and entry.actor_id == find_user("yuzhong_admin").id


def test_a_held_task_is_not_taken_away_by_an_administrator_in_scope(login, make_user, stuck):
    station = unit_by_code("st-jfb")
    for name in ("head_a", "head_b"):
        make_user(name, ("station_head", station), unit=station, password=PASSWORD)
    client = login("yuzhong_admin")
    client.post(f"/admin/unassigned/{stuck}/reassign", data={"username": "head_a"})
    again = client.post(f"/admin/unassigned/{stuck}/reassign", data={"username": "head_b"})
    assert again.status_code == 403
    assert any("此任务已有人办理" in a for a in alerts(again)), alerts(again)
    db.session.expire_all()
    assert [a.user_id for a in db.session.get(Task, stuck).assignees] == \
        [find_user("head_a").id]


def test_nobody_sees_their_own_request_to_reassign(login, demo):
    admin = find_user("unit_admin")
    street = unit_by_code("cq-yz-jfb")
    grant_role(admin, "worker", street)
    db.session.execute(delete(Membership).where(Membership.role == "station_head",
                                                Membership.unit_id == unit_by_code("st-jfb").id))
    db.session.commit()
    submit_wish(login("unit_admin"), contact_name="赵丽")
    assert "一个新头盔" not in page(login("unit_admin").get("/admin/unassigned"))
    assert "一个新头盔" in page(login("yuzhong_admin").get("/admin/unassigned"))


def test_every_save_keeps_the_task_s_unheld_flag(login, make_user, stuck):
    """``tasks.unheld`` is what the list reads first (a small partial index): set when a
    task opens with nobody, cleared when someone is given it and when it closes."""
    assert db.session.get(Task, stuck).unheld is True
    station = unit_by_code("st-jfb")
    make_user("new_head", ("station_head", station), unit=station, password=PASSWORD)
    login("yuzhong_admin").post(f"/admin/unassigned/{stuck}/reassign",
                                data={"username": "new_head"})
    db.session.expire_all()
    assert db.session.get(Task, stuck).unheld is False
    assert login("new_head").post(f"/tasks/{stuck}", data={"action": "approve"}).status_code \
        == 302
    db.session.expire_all()
    held = db.session.scalars(select(Task).where(Task.status == "open")).all()
    assert held and not any(t.unheld for t in held)  # the wall's pooled task is not "unheld"


def test_the_list_reads_the_flag(login, stuck):
    db.session.execute(update(Task).where(Task.id == stuck).values(unheld=False))
    db.session.commit()
    assert "没有待指派的任务" in page(login("yuzhong_admin").get("/admin/unassigned"))


def test_the_migration_flags_the_tasks_nobody_holds(app, stuck):
    from flask_migrate import downgrade, upgrade

    db.session.close()
    try:
        downgrade(revision="b7c3e91d5a20")
    finally:
        upgrade()
    db.session.close()
    flagged = db.session.scalars(select(Task.id).where(Task.unheld)).all()
    assert flagged == [stuck]


def test_an_overdue_task_whose_escalation_finds_nobody_goes_to_the_administrators(
        login, make_user, demo):
    """The district's post is vacant: the station head's overdue check cannot be escalated.
    The street's administrator (nearest above the station) is told at once and may give
    the task to someone else although its holder still has it; given, it is off the list
    and the new holder has it."""
    from webapp.models import Notification

    db.session.execute(delete(Membership).where(Membership.role == "district_admin",
                                                Membership.unit_id == unit_by_code("cq-yz").id))
    db.session.commit()
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    task_id = task_id_of(instance.id)
    street = login("unit_admin")
    refused = street.post(f"/admin/unassigned/{task_id}/reassign", data={"username": "admin"})
    assert refused.status_code == 403  # not overdue yet: its holder has it
    wf.fire_due_timers(NOW + timedelta(days=6))  # reminder, then the escalation to nobody
    db.session.commit()
    [note] = db.session.scalars(select(Notification).where(Notification.kind == "stalled")).all()
    assert db.session.get(User, note.user_id).username == "unit_admin"
    assert note.priority == "high"
    assert db.session.get(Task, task_id).unheld is True
    listed = page(street.get("/admin/unassigned"))
    assert "督办升级未送达：上级无人可接收。现办理人：" in listed and "孙伟" in listed
    assert "1 项任务无人可办理" in page(street.get("/inbox"))
    opened = street.post(f"/notifications/{note.id}/read")
    assert opened.headers["Location"].endswith("/admin/unassigned")
    english = page(street.post("/auth/locale", data={"locale": "en", "next": "/admin/unassigned"},
                               follow_redirects=True))
    street.post("/auth/locale", data={"locale": "zh_CN", "next": "/"})
    assert "Escalation not delivered: nobody above can take it. Now with:" in english
    station = unit_by_code("st-jfb")
    make_user("new_head", ("station_head", station), unit=station, password=PASSWORD)
    done = street.post(f"/admin/unassigned/{task_id}/reassign",
                     data={"username": "new_head", "comment": "原站长休假"}, follow_redirects=True)
    assert "没有待指派的任务" in page(done), alerts(done)
    db.session.expire_all()
    task = db.session.get(Task, task_id)
    assert [a.user_id for a in task.assignees] == [find_user("new_head").id]
    assert task.unheld is False
    assert f"/tasks/{task_id}" not in page(login("station_head").get("/inbox"))
    assert login("new_head").post(f"/tasks/{task_id}", data={"action": "approve"}).status_code \
        == 302


def test_the_district_escalated_to_presses_the_station_head(login, demo):
    """督办: the district, brought in by the escalation, presses the station head rather
    than only deciding itself — on the page and through the API, once in a while."""
    from webapp.models import Notification

    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    task_id = task_id_of(instance.id)
    # The holder does not press themselves.
    assert f"/tasks/{task_id}/urge" not in page(login("station_head").get(f"/tasks/{task_id}"))
    wf.fire_due_timers(NOW + timedelta(days=6))
    db.session.commit()
    client = login("yuzhong_admin")
    assert f"/tasks/{task_id}/urge" in page(client.get(f"/instances/{instance.id}"))
    assert "需要您处理" in page(client.get(f"/instances/{instance.id}"))  # it may decide too
    done = client.post(f"/tasks/{task_id}/urge", data={"comment": "请今天核实"},
                       follow_redirects=True)
    assert "已催办" in page(done), alerts(done)
    note = db.session.scalars(select(Notification).where(Notification.kind == "urged")).one()
    assert note.user_id == find_user("station_head").id and note.params["comment"] == "请今天核实"
    again = client.post(f"/tasks/{task_id}/urge", follow_redirects=True)
    assert "已催办过，请 4 小时后再催" in page(again)
    assert "催办" in page(login("rider1").get(f"/instances/{instance.id}"))  # the record says so
    refused = login("rider1").post(f"/tasks/{task_id}/urge", follow_redirects=True)
    assert "只有督办人或负责该范围的管理员可以催办" in page(refused)
    assert login("jiangbei_admin").post(f"/tasks/{task_id}/urge").status_code == 404


def test_the_list_reads_its_rows_holders_and_candidates_at_once(login, stuck):
    """Three tasks nobody holds: the page asks for the tasks' holders and the people
    they could go to in one query each, whatever the number of rows."""
    from sqlalchemy import event

    more = [task_id_of(submit_wish(login(name))) for name in ("courier1", "driver1")]
    client = login("yuzhong_admin")
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        text = page(client.get("/admin/unassigned"))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    for task_id in (stuck, *more):
        assert f"/admin/unassigned/{task_id}/reassign" in text
    assert text.count("<code>yuzhong_admin</code>") == 3
    assignees = [s for s in seen if "FROM task_assignees" in s and "SELECT task_assignees.task_id" in s]
    assert len(assignees) == 1, seen
    people = [s for s in seen if s.startswith("SELECT users.id") and "users.id IN" in s]
    assert len(people) == 1, people
    instances = [s for s in seen if s.startswith("SELECT instances.") and "FROM instances" in s
                 and "WHERE instances.id =" in s]
    assert instances == [], instances
