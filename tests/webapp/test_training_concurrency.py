"""Capacity and claims under real concurrency: threads, each with its own app context,
session and database connection, released together by a barrier.

On PostgreSQL (``TEST_DATABASE_URL``) this is the city-scale burst of the design: 200
people registering for a 30-seat course at once.  PostgreSQL allows 100 connections by
default and other clients share them, so the burst is carried by a bounded pool of
``WORKERS`` threads (one connection each, pool sized to match), each registering
``PER_WORKER`` people one after another: 40 registrations are in flight at any moment,
all queueing on the course's capacity row.  On SQLite (one writer at a time) the same
test runs smaller.
"""
from __future__ import annotations

import itertools
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.webapp.test_union_processes import id_card
from tests.webapp.test_workflow_service import NOW, demo, open_task, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import CapacityResource, Instance, Membership, Reservation, User
from webapp.services import workflow as wf
from webapp.services.activities import CHINA, create_course
from webapp.services.org import unit_by_code
from workflows.errors import CapacityExhausted
from workflows.runtime import Action

pytestmark = pytest.mark.postgres

POSTGRES = {"workers": 40, "per_worker": 5, "seats": 30, "claimers": 12}
SQLITE = {"workers": 6, "per_worker": 4, "seats": 6, "claimers": 5}


@pytest.fixture
def app_config(app_config):
    # One connection per worker thread, and no more: the pool is the bound.
    return {**app_config, "SQLALCHEMY_ENGINE_OPTIONS": {
        "pool_size": POSTGRES["workers"], "max_overflow": 0, "pool_timeout": 120}}


def sizes() -> dict:
    return POSTGRES if db.engine.dialect.name == "postgresql" else SQLITE


def add_workers(count: int, unit_code: str, role: str = "worker") -> list[int]:
    """Many plain accounts at once (no password hashing: nobody signs in)."""
    unit = unit_by_code(unit_code)
    users = [User(username=f"{role}{n:03d}", display_name=f"{role} {n}", password_hash="!",
                  unit_id=unit.id) for n in range(count)]
    db.session.add_all(users)
    db.session.flush()
    db.session.add_all(Membership(user_id=u.id, unit_id=unit.id, role=role) for u in users)
    db.session.commit()
    return [u.id for u in users]


def open_course(seats: int):
    today = datetime.now(CHINA).date()
    first = datetime.combine(today + timedelta(days=10), datetime.min.time(), tzinfo=CHINA)
    course = create_course(
        title="叉车操作实训（抢报）", kind="叉车", unit=unit_by_code("cq-yz-jfb"), venue="",
        capacity=seats, requires_approval=False, opens_on=today - timedelta(days=1),
        closes_on=today + timedelta(days=5), starts_on=today + timedelta(days=10),
        ends_on=today + timedelta(days=11),
        schedule=[(first + timedelta(hours=9), first + timedelta(hours=12), "理论"),
                  (first + timedelta(days=1, hours=9), first + timedelta(days=1, hours=12),
                   "实操")])
    db.session.commit()
    return course


def burst(app, jobs: list, workers: int, run_one) -> list[dict]:
    """Run ``run_one(job)`` for every job on ``workers`` threads started together; each
    result says when the call began and when its commit was done."""
    db.session.commit()  # the test's own transaction must not hold SQLite's write lock
    queue = iter(jobs)
    lock = threading.Lock()
    barrier = threading.Barrier(workers)
    results: list[dict] = []

    def worker():
        with app.app_context():
            barrier.wait()
            while True:
                with lock:
                    job = next(queue, None)
                if job is None:
                    break
                began = time.monotonic()
                try:
                    outcome = run_one(job)
                    db.session.commit()
                except Exception as exc:  # noqa: BLE001 - the test inspects it
                    db.session.rollback()
                    outcome = exc
                done = time.monotonic()
                with lock:
                    results.append({"job": job, "outcome": outcome, "began": began,
                                    "done": done})
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return results


def test_a_burst_of_registrations_fills_the_seats_and_queues_the_rest_in_order(app, demo):
    size = sizes()
    people = size["workers"] * size["per_worker"]
    seats = size["seats"]
    course = open_course(seats)
    course_id = course.id
    applicants = add_workers(people, "cq-yz-logistics")
    if db.engine.dialect.name == "postgresql":
        # The bound holds: our pool plus everyone else's connections fit the server.
        limit = int(db.session.execute(db.text("SHOW max_connections")).scalar())
        assert size["workers"] < limit // 2

    def register(user_id):
        user = db.session.get(User, user_id)
        return wf.start_instance("training_registration", user, {
            "course": course_id, "real_name": "杨洋", "occupation": "courier",
            "occupation_confirmed": True, "phone": "13900139000",
            "id_card": id_card("50010319920611456")}).id

    results = burst(app, applicants, size["workers"], register)
    failures = [r["outcome"] for r in results if not isinstance(r["outcome"], int)]
    assert failures == [] and len(results) == people

    db.session.expire_all()
    rows = db.session.execute(select(Reservation.instance_id, Reservation.status,
                                     Reservation.seq).where(
        Reservation.resource_key == f"course:{course_id}")).all()
    status = {i: s for i, s, _ in rows}
    seq = {i: n for i, _, n in rows}
    assert sum(s == "granted" for s in status.values()) == seats
    assert sum(s == "waitlisted" for s in status.values()) == people - seats
    assert db.session.get(CapacityResource, f"course:{course_id}").granted == seats
    by_status = dict(db.session.execute(
        select(Instance.status, func.count()).where(Instance.process_key ==
                                                    "training_registration")
        .group_by(Instance.status)).all())
    assert by_status == {"running": seats, "waitlisted": people - seats}
    # Arrival order: places are numbered 1…N in the order the registrations got to the
    # seats, the first N got them, and whoever finished before another began is ahead.
    assert sorted(seq.values()) == list(range(1, people + 1))
    assert {seq[i] for i, s in status.items() if s == "granted"} == set(range(1, seats + 1))
    timed = [(r["began"], r["done"], seq[r["outcome"]]) for r in results]
    for (_, done, first), (began, _, second) in itertools.permutations(timed, 2):
        if done < began:
            assert first < second

    # A place given back goes to the first one waiting, and only to them.
    leaver = min((i for i, s in status.items() if s == "granted"), key=seq.get)
    first_waiting = min((i for i, s in status.items() if s == "waitlisted"), key=seq.get)
    applicant = db.session.get(User, db.session.get(Instance, leaver).applicant_id)
    wf.perform(leaver, Action("withdraw"), applicant)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Instance, first_waiting).steps == "course_runs"
    assert db.session.scalar(select(func.count()).select_from(Instance).where(
        Instance.status == "waitlisted")) == people - seats - 1


def test_many_volunteers_claiming_one_wish_at_once_give_one_winner(app, demo):
    size = sizes()
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    wf.perform(instance.id, Action("approve", task=open_task(instance).key),
               demo["station_head"], now=NOW)
    db.session.commit()
    task_key, instance_id = open_task(instance).key, instance.id
    volunteers = add_workers(size["claimers"], "cq-yz-jfb-branch1", role="volunteer")

    def claim(user_id):
        user = db.session.get(User, user_id)
        return wf.perform(instance_id, Action("claim", task=task_key), user, now=NOW).id

    results = burst(app, volunteers, size["claimers"], claim)
    outcomes = [r["outcome"] for r in results]
    assert outcomes.count(instance_id) == 1, outcomes
    losers = [o for o in outcomes if o != instance_id]
    assert len(losers) == size["claimers"] - 1
    assert all(isinstance(o, CapacityExhausted) and o.http_status == 409 for o in losers)
    assert {o.message("zh") for o in losers} == {"已被他人认领"}
    assert {o.message("en") for o in losers} == {"Someone else has already claimed this"}
    db.session.expire_all()
    claimers = db.session.get(Instance, instance_id).state["claim"]["claimers"]
    assert len(claimers) == 1 and claimers[0] in volunteers
