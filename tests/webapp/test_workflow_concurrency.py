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


# ------------------------------------------------- the API's locked read of a task

def _hold_then_commit(app, user_id, instance_id, action):
    """In another connection: do ``action`` and keep the instance's row locked until a
    second backend is seen waiting for a lock (the API request under test), then commit.
    Returns (thread, holding event, results)."""
    holding, results = threading.Event(), {}

    def run():
        with app.app_context():
            try:
                user = db.session.get(type_of_user(), user_id)
                wf.perform(instance_id, action, user)
                holding.set()
                results["waiter_seen"] = _someone_waits_for_a_lock()
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported to the test
                db.session.rollback()
                results["error"] = exc
            finally:
                holding.set()
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, holding, results


def type_of_user():
    from webapp.models import User

    return User


def _someone_waits_for_a_lock(timeout: float = 10.0) -> bool:
    import time

    from sqlalchemy import create_engine, text

    probe = create_engine(db.engine.url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with probe.connect() as conn:
                if conn.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                    "WHERE wait_event_type = 'Lock' "
                                    "AND datname = current_database()")):
                    return True
            time.sleep(0.05)
        return False
    finally:
        probe.dispose()


def _bearer(user) -> dict:
    from webapp.services import tokens

    raw, _row = tokens.issue(user)
    db.session.commit()
    return {"Authorization": "Bearer " + raw}


@pytest.fixture
def pg_only():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("one writer at a time on SQLite: nobody waits for a row lock")


def test_an_api_decision_that_waited_for_a_rival_is_told_it_was_decided(app, client, demo,
                                                                        make_user, pg_only):
    """The API reads the task with its request's row locked; a request that waited there
    for another approver's commit sees the request and the task as that commit left them:
    409 "already decided", not 403 from a task row read before the wait."""
    station = unit_by_code("st-jfb")
    second = make_user("station_head2", ("station_head", station), unit=station)
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data())
    db.session.commit()
    task = open_task(instance)
    task_id, task_key, instance_id = task.id, task.key, instance.id
    headers = _bearer(second)
    thread, holding, held = _hold_then_commit(app, demo["station_head"].id, instance_id,
                                              Action("approve", task=task_key))
    assert holding.wait(30)
    r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"action": "approve"},
                    headers=headers)
    thread.join(60)
    assert "error" not in held and held["waiter_seen"], held
    assert r.status_code == 409, r.get_json()
    assert r.get_json()["error"]["code"] == "already_decided"
    db.session.expire_all()
    approvals = db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.instance_id == instance_id, HistoryEntry.action == "approve"))
    assert approvals == 1


def test_an_api_claim_that_waited_for_a_rival_is_told_it_was_claimed(app, client, demo,
                                                                     pg_only):
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data())
    db.session.commit()
    wf.perform(instance.id, Action("approve", task=open_task(instance).key),
               demo["station_head"])
    db.session.commit()
    grant_role(demo["volunteer2"], "volunteer", unit_by_code("cq-yz-jfb-branch1"))
    db.session.commit()
    task = open_task(instance)
    task_id, task_key, instance_id = task.id, task.key, instance.id
    headers = _bearer(demo["volunteer2"])
    thread, holding, held = _hold_then_commit(app, demo["volunteer1"].id, instance_id,
                                              Action("claim", task=task_key))
    assert holding.wait(30)
    r = client.post(f"/api/v1/tasks/{task_id}/claim", headers=headers)
    thread.join(60)
    assert "error" not in held and held["waiter_seen"], held
    assert r.status_code == 409, r.get_json()
    assert r.get_json()["error"]["code"] == "claimed"
    db.session.expire_all()
    assert len(db.session.get(Instance, instance_id).state["claim"]["claimers"]) == 1


def test_a_page_decision_that_waited_for_a_rival_says_who_decided(app, client, demo,
                                                                  make_user, pg_only):
    from tests.webapp.test_pages import PASSWORD

    station = unit_by_code("st-jfb")
    make_user("station_head2", ("station_head", station), unit=station, password=PASSWORD)
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data())
    db.session.commit()
    task = open_task(instance)
    task_id, task_key, instance_id = task.id, task.key, instance.id
    assert client.post("/auth/login", data={"username": "station_head2",
                                            "password": PASSWORD}).status_code == 302
    assert client.get(f"/tasks/{task_id}").status_code == 200
    thread, holding, held = _hold_then_commit(app, demo["station_head"].id, instance_id,
                                              Action("approve", task=task_key))
    assert holding.wait(30)
    r = client.post(f"/tasks/{task_id}", data={"action": "approve"})
    thread.join(60)
    assert "error" not in held and held["waiter_seen"], held
    assert r.status_code == 409
    # Who decided it, from the task as the rival's commit left it.
    assert "这项任务已由" in r.get_data(as_text=True), r.get_data(as_text=True)[-2000:]


def test_a_sweep_passes_over_a_request_someone_holds_and_fires_the_rest(app, demo,
                                                                        pg_only):
    """Workers sweep at the same moment: a request whose row another holds (a worker
    firing it, a person deciding) is left to the next sweep instead of waited for."""
    from datetime import timedelta

    from sqlalchemy import create_engine, text

    from webapp.models import Timer

    held = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    free = wf.start_instance("micro_wish", demo["courier1"], wish_data(), now=NOW)
    db.session.commit()
    held_id, free_id = held.id, free.id
    second = create_engine(db.engine.url)
    other = second.connect()
    try:
        lock = other.begin()
        other.execute(text("SELECT id FROM instances WHERE id = :id FOR UPDATE"),
                      {"id": held_id})
        db.session.commit()
        result: dict = {}

        def sweep():
            with app.app_context():
                try:
                    result["fired"] = wf.fire_due_timers(NOW + timedelta(days=400))
                finally:
                    db.session.remove()

        sweeper = threading.Thread(target=sweep)
        sweeper.start()
        sweeper.join(15)
        waited = sweeper.is_alive()  # stuck behind the held row
        if waited:
            lock.rollback()
            sweeper.join(60)
        assert not waited, "the sweep waited for a row another transaction holds"
        assert result["fired"] >= 1
        pending = lambda instance_id: db.session.scalar(  # noqa: E731
            select(func.count()).select_from(Timer).where(
                Timer.instance_id == instance_id, Timer.status == "pending",
                Timer.fire_at <= NOW + timedelta(days=400)))
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Timer).where(
            Timer.instance_id == free_id, Timer.status == "fired")) >= 1
        assert db.session.scalar(select(func.count()).select_from(Timer).where(
            Timer.instance_id == held_id, Timer.status == "fired")) == 0
        assert pending(held_id) >= 1
        lock.rollback()
        db.session.commit()
        assert wf.fire_due_timers(NOW + timedelta(days=400)) >= 1  # the next sweep
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Timer).where(
            Timer.instance_id == held_id, Timer.status == "fired")) >= 1
    finally:
        other.close()
        second.dispose()
