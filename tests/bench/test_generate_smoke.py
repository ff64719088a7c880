"""The benchmark data generator at a tiny size: what it makes is data the app really uses.

No timings here: the figures are bench/'s to print.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp import create_app
from webapp.extensions import db
from webapp.models import HistoryEntry, Instance, Membership, OrgUnit, Task, TaskAssignee, User

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench/generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def generated(database_url, tmp_path):
    gen = _generator()
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(tmp_path),
                      "WTF_CSRF_ENABLED": False})
    rows = gen.generate(app, gen.SCALES["tiny"], fresh=False)
    with app.app_context():
        yield app, gen, rows
        db.session.remove()
        db.engine.dispose()


def test_generated_city_is_data_the_app_uses(generated):
    # One generation (the demo is seeded through the services: slow) checked four ways.
    app, gen, rows = generated
    made_at_the_asked_size(gen, rows)
    clones_are_consistent_with_their_state(rows)
    the_pages_show_generated_work(app, gen)
    a_cloned_wish_goes_on_through_the_engine()


def made_at_the_asked_size(gen, rows):
    tiny = gen.SCALES["tiny"]
    workers = db.session.scalar(select(func.count()).select_from(User).where(
        User.username.like("bench_w%")))
    assert workers == tiny.workers
    assert rows["stations"] == tiny.stations
    assert db.session.scalar(select(func.count()).select_from(OrgUnit).where(
        OrgUnit.code.like("bench-st-%"))) == tiny.stations
    # Every station has a head who holds the role there.
    heads = db.session.scalar(select(func.count()).select_from(Membership).join(
        OrgUnit, OrgUnit.id == Membership.unit_id).where(
        Membership.role == "station_head", OrgUnit.code.like("bench-st-%")))
    assert heads == tiny.stations
    kinds = set(db.session.scalars(select(Instance.process_key).distinct()))
    assert {"micro_wish", "worker_demand", "retreat_nomination", "station_master"} <= kinds
    # The demands fill the history up to about the asked number of rows.
    assert rows["history"] >= tiny.history * 0.9


def clones_are_consistent_with_their_state(rows):
    clones = db.session.scalars(select(Instance).join(User, User.id == Instance.applicant_id)
                                .where(User.username.like("bench_%"))).all()
    assert len(clones) == rows["instances"]
    for instance in clones:
        assert instance.state["instance_id"] == instance.id
        assert instance.state["applicant"] == instance.applicant_id
        seqs = list(db.session.scalars(select(HistoryEntry.seq).where(
            HistoryEntry.instance_id == instance.id).order_by(HistoryEntry.seq)))
        assert seqs == list(range(1, len(seqs) + 1)) and seqs
        assert instance.unit_path.startswith(
            db.session.get(OrgUnit, instance.unit_id).path)


def a_cloned_wish_goes_on_through_the_engine():
    from webapp.services import workflow as wf
    from workflows.runtime import Action

    wish = db.session.scalar(select(Instance).join(User, User.id == Instance.applicant_id).where(
        Instance.process_key == "micro_wish", Instance.steps == "verify",
        User.username.like("bench_w%")))
    task = db.session.scalar(select(Task).where(Task.instance_id == wish.id,
                                                Task.status == "open"))
    head_id = db.session.scalar(select(TaskAssignee.user_id).where(TaskAssignee.task_id == task.id))
    # The task waits for the head of the station the wish names.
    assert db.session.scalar(select(Membership).where(
        Membership.user_id == head_id, Membership.role == "station_head",
        Membership.unit_id == wish.state["data"]["station"])) is not None
    wf.perform(wish.id, Action("approve", task=task.key), db.session.get(User, head_id))
    db.session.commit()
    assert wish.steps == "wall"
    pool = db.session.scalar(select(Task).where(Task.instance_id == wish.id,
                                                Task.status == "open"))
    district = db.session.get(OrgUnit, pool.pool_unit_id)
    assert district.kind == "district" and wish.unit_path.startswith(district.path)


def the_pages_show_generated_work(app, gen):
    task = db.session.scalar(select(Task).join(Instance).join(
        User, User.id == Instance.applicant_id).where(
        Task.status == "open", Task.step == "verify", User.username.like("bench_w%")))
    head = db.session.get(User, db.session.scalar(select(TaskAssignee.user_id).where(
        TaskAssignee.task_id == task.id)))
    client = app.test_client()
    assert client.post("/auth/login", data={"username": head.username,
                                            "password": gen.PASSWORD}).status_code == 302
    inbox = client.get("/inbox")
    assert inbox.status_code == 200
    assert f"/tasks/{task.id}" in inbox.get_data(as_text=True)
    assert client.get(f"/tasks/{task.id}").status_code == 200
    assert client.get("/stations?q=工会驿站").status_code == 200
