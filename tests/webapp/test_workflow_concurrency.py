"""Simultaneous decisions on real, separate database connections: one wins, one is told."""
from __future__ import annotations

import threading

import pytest

from sqlalchemy import func, select

from tests.webapp.test_workflow_service import NOW, demo, open_task, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import HistoryEntry, Instance
from webapp.services import workflow as wf
from webapp.services.users import grant_role
from webapp.services.org import unit_by_code
from workflows.errors import Conflict, WorkflowError
from workflows.runtime import Action


def race(app, *calls):
    """Run each call in its own thread, app context and connection, released together."""
    db.session.commit()  # the test's own transaction must not hold SQLite's write lock
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        with app.app_context():
            barrier.wait()
            try:
                results[i] = call()
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported to the test as the result
                db.session.rollback()
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_approvers_at_once_give_one_success_and_one_conflict(app, demo, make_user):
    station = unit_by_code("st-jfb")
    second = make_user("station_head2", ("station_head", station), unit=station)
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    task_key, instance_id = open_task(instance).key, instance.id
    heads = [demo["station_head"].id, second.id]

    def approve(user_id):
        def call():
            user = db.session.get(type(demo["rider1"]), user_id)
            return wf.perform(instance_id, Action("approve", task=task_key), user, now=NOW).id
        return call

    results = race(app, approve(heads[0]), approve(heads[1]))
    wins = [r for r in results if r == instance_id]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(wins) == 1 and len(conflicts) == 1, results
    assert conflicts[0].http_status == 409
    db.session.expire_all()
    approvals = db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.instance_id == instance_id, HistoryEntry.action == "approve"))
    assert approvals == 1
    assert db.session.get(Instance, instance_id).steps == "wall"


def test_two_volunteers_claim_one_wish_at_once(app, demo):
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    wf.perform(instance.id, Action("approve", task=open_task(instance).key),
               demo["station_head"], now=NOW)
    db.session.commit()
    grant_role(demo["volunteer2"], "volunteer", unit_by_code("cq-yz-jfb-branch1"))
    db.session.commit()
    task_key, instance_id = open_task(instance).key, instance.id
    volunteers = [demo["volunteer1"].id, demo["volunteer2"].id]

    def claim(user_id):
        def call():
            user = db.session.get(type(demo["rider1"]), user_id)
            return wf.perform(instance_id, Action("claim", task=task_key), user, now=NOW).id
        return call

    results = race(app, claim(volunteers[0]), claim(volunteers[1]))
    assert sum(r == instance_id for r in results) == 1, results
    loser = next(r for r in results if r != instance_id)
    assert isinstance(loser, WorkflowError) and loser.http_status == 409
    db.session.expire_all()
    state = db.session.get(Instance, instance_id).state
    assert len(state["claim"]["claimers"]) == 1


def test_the_same_worker_submitting_twice_at_once_gets_one_wish(app, demo):
    rider_id = demo["rider1"].id

    def submit():
        user = db.session.get(type(demo["rider1"]), rider_id)
        return wf.start_instance("micro_wish", user, wish_data(), now=NOW).id

    results = race(app, submit, submit)
    assert sum(isinstance(r, int) for r in results) == 1, results
    refused = next(r for r in results if not isinstance(r, int))
    assert isinstance(refused, Conflict) and refused.code == "already_active"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Instance)) == 1


def test_simultaneous_reservations_never_exceed_capacity_and_release_promotes(app, demo):
    from webapp.database import write_lock
    from webapp.services.directory import DbDirectory

    ids = [wf.start_instance("micro_wish", demo[name], wish_data(), now=NOW).id
           for name in ("rider1", "courier1", "driver1")]
    db.session.commit()

    def reserve(instance_id):
        def call():
            with write_lock():  # as the engine's callers always are
                return DbDirectory().reserve("demo:seats", instance_id, 2, waitlist=True)
        return call

    results = race(app, *[reserve(i) for i in ids])
    assert sorted(results) == ["granted", "granted", "waitlisted"], results
    waiting = ids[results.index("waitlisted")]
    holder = ids[results.index("granted")]
    assert DbDirectory().release("demo:seats", holder) == waiting  # first in line moves up
    assert DbDirectory().reserve("demo:seats", waiting, 2, waitlist=True) == "granted"


def test_a_decision_on_a_request_read_before_another_committed_sees_that_commit(app, demo,
                                                                                 make_user):
    """A request reads the instance (a page, the API's access check), another approves
    and commits, then the first approves too: locking the row must read it again, not
    act on the copy read before — else both approvals go through (a lost update)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite ends the read transaction before taking its write lock")
    station = unit_by_code("st-jfb")
    second = make_user("station_head2", ("station_head", station), unit=station)
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    task_key, instance_id = open_task(instance).key, instance.id
    first_id, second_id = demo["station_head"].id, second.id
    loaded, decided = threading.Event(), threading.Event()
    results: dict = {}

    def early_reader():
        with app.app_context():
            try:
                user = db.session.get(type(demo["rider1"]), first_id)
                seen = db.session.get(Instance, instance_id)  # held, as a view holds it
                assert seen.steps == "verify"  # read without a lock
                loaded.set()
                decided.wait(30)
                results["late"] = wf.perform(instance_id, Action("approve", task=task_key),
                                             user, now=NOW).id
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - the result the test looks at
                db.session.rollback()
                results["late"] = exc
            finally:
                loaded.set()
                db.session.remove()

    def other_approver():
        with app.app_context():
            loaded.wait(30)
            user = db.session.get(type(demo["rider1"]), second_id)
            results["first"] = wf.perform(instance_id, Action("approve", task=task_key),
                                          user, now=NOW).id
            db.session.commit()
            db.session.remove()
            decided.set()

    db.session.commit()
    threads = [threading.Thread(target=early_reader), threading.Thread(target=other_approver)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results["first"] == instance_id
    assert isinstance(results["late"], WorkflowError) and results["late"].http_status == 409, \
        results
    db.session.expire_all()
    approvals = db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.instance_id == instance_id, HistoryEntry.action == "approve"))
    assert approvals == 1
