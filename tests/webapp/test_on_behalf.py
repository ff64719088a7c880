"""A unit union nominates one of its workers for a retreat (代为推荐, the definition's
``start.on_behalf``): on the database, on the start page and through the API."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.webapp.test_api import Api
from tests.webapp.test_pages import alerts, errors, login  # noqa: F401
from tests.webapp.test_union_processes import id_card
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import AuditEntry, Instance, Notification, RetreatBatch, TaskAssignee, Task
from webapp.services import workflow as wf
from webapp.services.users import find_user
from workflows.errors import Conflict, NotAllowed

DEEDS = "从事外卖配送五年，累计安全配送三万余单，多次见义勇为，获评区级优秀骑手。"


def nomination(**changes) -> dict:
    batch = db.session.scalar(select(RetreatBatch))
    return {"batch": batch.id, "honour": "frontline", "frontline": True,
            "id_card": id_card(), "phone": "13800138000", "health_ok": True, "deeds": DEEDS,
            **changes}


def form(**changes) -> dict:
    data = {**nomination(), "frontline": "y", "health_ok": "y", **changes}
    return {k: str(v) for k, v in data.items()}


def nominate(nominee: str, by: str) -> Instance:
    instance = wf.start_instance("retreat_nomination", find_user(nominee), nomination(),
                                 by=find_user(by))
    db.session.commit()
    return instance


# ------------------------------------------------------------------------------ service
def test_the_nomination_is_the_nominees_and_says_who_made_it(demo):
    instance = nominate("rider1", "unit_admin")
    rider, admin = find_user("rider1"), find_user("unit_admin")
    assert instance.applicant_id == rider.id and instance.unit_id == rider.unit_id
    first = wf.state_of(instance).history[0]
    assert (first.actor, first.action) == (admin.id, "submit")
    assert first.details["on_behalf_of"] == rider.id
    # The audit trail: the administrator did it, for the worker.
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "instance.submit", AuditEntry.object_id == str(instance.id)))
    assert entry.actor_id == admin.id and entry.after["details"]["on_behalf_of"] == rider.id
    from flask import current_app

    from webapp.services.audit_view import _Names
    with current_app.test_request_context():
        assert _Names("zh").details(entry.after["details"], None) == \
            f"代为申请的申请人：{rider.display_name} (rider1)"
    # The worker is told; the administrator is not told of their own act.
    kinds = {(n.user_id, n.kind) for n in db.session.scalars(
        select(Notification).where(Notification.instance_id == instance.id))}
    assert (rider.id, "started_for_you") in kinds
    assert not any(user == admin.id and kind == "started_for_you" for user, kind in kinds)
    # The unit's review: the administrator who nominated steps aside (their nomination
    # is theirs to stand by, not to approve); with no other administrator of the unit it
    # goes to the step's escalation, the district's administrator.
    waiting = db.session.scalars(select(TaskAssignee.user_id).join(Task).where(
        Task.instance_id == instance.id, Task.status == "open")).all()
    assert admin.id not in waiting and find_user("yuzhong_admin").id in waiting
    assert "recuse_starter_escalate" in [h.action for h in wf.state_of(instance).history]


def test_refusals_on_the_database(demo):
    with pytest.raises(NotAllowed) as other_unit:
        nominate("driver1", "unit_admin")  # 江北's worker, not 解放碑's
    assert other_unit.value.code == "not_on_behalf"
    db.session.rollback()
    with pytest.raises(NotAllowed) as not_a_worker:
        nominate("station_head", "unit_admin")
    assert not_a_worker.value.code == "applicant_not_eligible"
    db.session.rollback()
    nominate("rider1", "unit_admin")
    with pytest.raises(Conflict) as twice:
        nominate("rider1", "unit_admin")
    assert twice.value.code == "duplicate"
    db.session.rollback()
    assert db.session.scalar(select(Instance.id).where(
        Instance.applicant_id == find_user("driver1").id)) is None


def test_whom_an_administrator_may_nominate(demo):
    spec = wf.spec_of(wf.current_version("retreat_nomination"))
    names = {p.username for p in wf.applicants_for(spec, find_user("unit_admin"))}
    assert {"rider1", "courier1"} <= names
    assert not names & {"driver1", "station_head", "volunteer1", "unit_admin"}
    assert wf.applicants_for(spec, find_user("rider1")) == []


# ------------------------------------------------------------------------------ page
def test_the_start_page_nominates_a_worker(login, demo):
    client = login("unit_admin")
    assert "/processes/retreat_nomination/start" in client.get("/processes").get_data(
        as_text=True)
    page = client.get("/processes/retreat_nomination/start").get_data(as_text=True)
    assert 'name="on_behalf_of"' in page and '<option value="rider1">' in page
    assert '<option value="driver1">' not in page
    # Whom is asked: an administrator who is no worker cannot nominate themselves.
    missing = client.post("/processes/retreat_nomination/start", data=form())
    assert missing.status_code == 422
    assert errors(missing) == ["请填写被代办人的用户名，或从列表中选择。"]
    other = client.post("/processes/retreat_nomination/start",
                        data=form(on_behalf_of="driver1"))
    assert other.status_code == 422
    assert errors(other) == ["您不能为此人发起“劳模职工疗休养推荐”：只有申请人单位的基层工会管理员可以代为发起"]
    nobody = client.post("/processes/retreat_nomination/start",
                         data=form(on_behalf_of="volunteer1"))
    assert errors(nobody) == ["被代办人不符合条件：只有职工可以作为“劳模职工疗休养推荐”的申请人"]
    unknown = client.post("/processes/retreat_nomination/start",
                          data=form(on_behalf_of="no-such-person"))
    assert errors(unknown) == ["找不到该用户，请核对用户名"]
    # The administrator declares the nominee's own health declaration was obtained.
    assert "代为推荐的，须已取得被推荐人本人签署的健康承诺" in page
    unfit = client.post("/processes/retreat_nomination/start",
                        data=form(on_behalf_of="rider1", health_ok=""))
    assert unfit.status_code == 422
    assert errors(unfit) == ["请勾选此项。"]  # required: the declaration cannot be left out
    assert db.session.scalar(select(Instance.id)) is None
    done = client.post("/processes/retreat_nomination/start", data=form(on_behalf_of="rider1"))
    assert done.status_code == 302, errors(done) + alerts(done)
    instance_id = int(done.headers["Location"].rsplit("/", 1)[1])
    instance = db.session.get(Instance, instance_id)
    assert instance.applicant_id == find_user("rider1").id
    history = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "代申请人提交" in history
    again = client.post("/processes/retreat_nomination/start", data=form(on_behalf_of="rider1"))
    assert again.status_code == 409
    assert "此人已有相同的申请（如同一年度已被推荐过），不能重复提交" in alerts(again)
    # The nominee sees their nomination and was told.
    mine = login("rider1").get(f"/instances/{instance_id}")
    assert mine.status_code == 200


def test_a_worker_sees_no_field_for_someone_else(login, demo):
    client = login("rider1")
    page = client.get("/processes/retreat_nomination/start").get_data(as_text=True)
    assert 'name="on_behalf_of"' not in page
    # Sent anyway, it is ignored: the worker nominates themselves.
    done = client.post("/processes/retreat_nomination/start", data=form(on_behalf_of="courier1"))
    assert done.status_code == 302
    instance = db.session.get(Instance, int(done.headers["Location"].rsplit("/", 1)[1]))
    assert instance.applicant_id == find_user("rider1").id


# ------------------------------------------------------------------------------ API
def test_the_api_nominates_a_worker(client, demo):
    api = Api(client)
    about = api("GET", "/processes/retreat_nomination", "unit_admin").get_json()
    assert about["can_start_for_others"] is True and about["can_start"] is False
    people = api("GET", "/processes/retreat_nomination/applicants", "unit_admin").get_json()
    assert "rider1" in {p["username"] for p in people["items"]}
    assert api("GET", "/processes/retreat_nomination/applicants", "rider1").status_code == 403
    body = {"data": nomination()}
    missing = api("POST", "/processes/retreat_nomination/instances", "unit_admin", json=body)
    assert missing.status_code == 422
    assert missing.get_json()["error"]["fields"] == {"on_behalf_of": ["请填写被代办人的用户名。"]}
    unknown = api("POST", "/processes/retreat_nomination/instances", "unit_admin",
                  json={**body, "on_behalf_of": "no-such-person"})
    assert unknown.status_code == 422 and "on_behalf_of" in unknown.get_json()["error"]["fields"]
    other = api("POST", "/processes/retreat_nomination/instances", "unit_admin",
                json={**body, "on_behalf_of": "driver1"})
    assert other.status_code == 403
    assert other.get_json()["error"]["code"] == "not_on_behalf"
    not_worker = api("POST", "/processes/retreat_nomination/instances", "unit_admin",
                     json={**body, "on_behalf_of": "volunteer1"})
    assert (not_worker.status_code, not_worker.get_json()["error"]["code"]) == (
        403, "applicant_not_eligible")
    done = api("POST", "/processes/retreat_nomination/instances", "unit_admin",
               json={**body, "on_behalf_of": "rider1"})
    assert done.status_code == 201, done.get_json()
    answer = done.get_json()
    assert answer["applicant"]["username"] == "rider1"
    again = api("POST", "/processes/retreat_nomination/instances", "unit_admin",
                json={**body, "on_behalf_of": "rider1"})
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "duplicate")
    assert again.get_json()["error"]["message"] == "此人已有相同的申请（如同一年度已被推荐过），不能重复提交"
    # A worker may not start it for a colleague.
    colleague = api("POST", "/processes/retreat_nomination/instances", "courier1",
                    json={**body, "on_behalf_of": "rider1"})
    assert (colleague.status_code, colleague.get_json()["error"]["code"]) == (403, "no_on_behalf")


def test_a_nomination_of_the_version_before_keeps_its_version(demo):
    """Adding on_behalf publishes a new version (``flask workflows publish`` after the
    release): nominations made before run on to the end on theirs."""
    shipped = (wf.DEFINITIONS_DIR / "retreat_nomination.yaml").read_text(encoding="utf-8")
    before = "\n".join(line for line in shipped.splitlines()
                       if not line.strip().startswith("on_behalf:")) + "\n"
    assert wf.publish_text(before, "retreat_nomination.yaml").created
    db.session.commit()
    old = wf.start_instance("retreat_nomination", find_user("rider1"), nomination())
    db.session.commit()
    with pytest.raises(NotAllowed) as refused:  # that version knows no on_behalf
        nominate("courier1", "unit_admin")
    assert refused.value.code == "no_on_behalf"
    db.session.rollback()
    assert wf.publish_text(shipped, "retreat_nomination.yaml").created  # the release
    db.session.commit()
    newer = nominate("courier1", "unit_admin")
    assert newer.version_id != old.version_id
    from workflows.runtime import Action
    task = db.session.scalar(select(Task).where(Task.instance_id == old.id,
                                                Task.status == "open"))
    wf.perform(old.id, Action("approve", task=task.key), find_user("unit_admin"))
    db.session.commit()
    db.session.refresh(old)
    assert old.steps == "district_review"
    assert wf.spec_of_instance(old).start.on_behalf == ()
