"""PostgreSQL writes a step's rows with one statement (``workflow._Batch``): the same
rows, to the last column, as the statement-per-write path SQLite uses.

Each flow runs twice on the same database — once gathered into one statement, once with
the gathering switched off — and everything the steps wrote is compared: the instance's
columns and state, its tasks (with their pools, due dates and assignees, and the
``open_since`` the database's trigger sets), its history lines and its timers."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text

from tests.webapp.test_pages import login  # noqa: F401
from tests.webapp.test_workflow_service import NOW, demo, open_task, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import (Delivery, DutySlot, HistoryEntry, Instance, Notification, Task,
                           Timer)
from webapp.services import workflow as wf
from workflows.runtime import Action

INSTANCE_COLUMNS = ("status", "steps", "title", "unique_key", "active_key", "station_id",
                    "category", "lock_version", "updated_at", "closed_at", "unit_path",
                    "state")


@pytest.fixture
def postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes each row with its own statement: nothing to compare")


def _keyed(value, instance_id: int):
    """Timer keys name their instance ("12:t1:remind"), and the state its id: the same
    for both runs."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace(f'"instance_id": {instance_id},', '"instance_id": "#",')
    return json.loads(text.replace(f'"{instance_id}:', '"#:'))  # only at a string's start


def written(instance_id: int):
    db.session.expire_all()
    instance = db.session.get(Instance, instance_id)
    tasks = db.session.scalars(select(Task).where(Task.instance_id == instance_id)
                               .order_by(Task.id)).all()
    return {
        "instance": _keyed({name: getattr(instance, name) for name in INSTANCE_COLUMNS},
                           instance_id),
        "tasks": [(t.key, t.step, t.kind, t.status, t.outcome, t.pool_role, t.pool_unit_id,
                   t.pool_unit_path, t.pool_within, t.pool_anyone, t.unheld, t.due_at,
                   t.opened_at, t.closed_at,
                   sorted((a.user_id, a.open_since) for a in t.assignees)) for t in tasks],
        "history": [(h.seq, h.at, h.actor_id, h.action, h.step, h.task_key, h.comment, h.data)
                    for h in db.session.scalars(select(HistoryEntry).where(
                        HistoryEntry.instance_id == instance_id).order_by(HistoryEntry.seq))],
        "timers": sorted((_keyed(t.key, instance_id), t.purpose, t.task_key, t.fire_at,
                          t.status, t.fired_at)
                         for t in db.session.scalars(select(Timer).where(
                             Timer.instance_id == instance_id))),
        "notifications": sorted((n.user_id, n.kind, n.title_key, n.task_key, n.priority,
                                 json.dumps(n.params, sort_keys=True, ensure_ascii=False),
                                 n.created_at, n.read_at)
                                for n in db.session.scalars(select(Notification).where(
                                    Notification.instance_id == instance_id))),
        # The outbox rows planned from them: to whom, what, when, each with its own
        # notification (its person and kind).
        "deliveries": sorted((n.user_id, n.kind, d.user_id, d.channel, d.target,
                              d.subject, d.body.replace(f"/{instance_id}\n", "/#\n")
                              .replace(f" #{instance_id}\n", " ##\n"),
                              d.digest, d.status, d.attempts, d.due_at, d.created_at)
                             for d, n in db.session.execute(
                                 select(Delivery, Notification)
                                 .join(Notification, Notification.id == Delivery.notification_id)
                                 .where(Notification.instance_id == instance_id))),
    }


def act(instance_id, kind, user, now=NOW, **kwargs):
    task = open_task(db.session.get(Instance, instance_id))
    wf.perform(instance_id, Action(kind, task=task.key, **kwargs), user, now=now)
    db.session.commit()


def run_twice(monkeypatch, flow):
    """``flow()`` → instance id, gathered into one statement and then not."""
    with_batch = flow()
    with monkeypatch.context() as patched:
        patched.setattr(wf, "_Batch", lambda: None)  # ``_save`` then writes row by row
        without = flow()
    return written(with_batch), written(without)


def test_a_wish_from_start_to_thanks_writes_the_same_rows(demo, postgresql, monkeypatch):
    rider, head, volunteer = demo["rider1"], demo["station_head"], demo["volunteer1"]
    proof = {"proof": [{"key": "abc", "name": "helmet.jpg", "mime": "image/jpeg",
                        "size": 20000, "sha256": "0" * 64}]}

    def flow():
        instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
        db.session.commit()
        act(instance.id, "return", head, comment="请补充心愿故事", to="applicant")
        act(instance.id, "resubmit", rider,
            data=wish_data(story="电动车头盔摔坏了，每天送餐需要戴头盔"))
        act(instance.id, "approve", head, comment="情况属实")
        act(instance.id, "claim", volunteer)
        act(instance.id, "complete", volunteer, data=proof)
        act(instance.id, "complete", rider, data={"satisfied": "yes", "rating": 5})
        return instance.id

    batched, row_by_row = run_twice(monkeypatch, flow)
    assert batched["instance"]["status"] == "completed"
    assert len(batched["tasks"]) >= 5 and len(batched["history"]) >= 7
    assert batched == row_by_row


@pytest.mark.parametrize("days", [(3,), (3, 6)], ids=["reminded", "escalated"])
def test_reminders_escalation_and_a_rejection_write_the_same_rows(demo, postgresql,
                                                                 monkeypatch, days):
    rider, head = demo["rider1"], demo["station_head"]

    def flow():
        instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
        db.session.commit()
        for day in days:  # the station head is reminded, then the district told
            wf.fire_due_timers(NOW + timedelta(days=day))
            db.session.commit()
        act(instance.id, "reject", head, now=NOW + timedelta(days=7), comment="不符合条件")
        return instance.id

    batched, row_by_row = run_twice(monkeypatch, flow)
    assert batched["instance"]["status"] == "rejected"
    statuses = {t[4] for t in batched["timers"]}
    if days == (3,):  # the escalation still pending was cancelled by the rejection
        assert statuses == {"fired", "cancelled"}
    else:
        assert any(n[1] == "escalated" for n in batched["notifications"])
    # The rejection closed the task: its messages are read (the step's statement marks
    # them, as the UPDATE of its own does without it); the applicant's news is not.
    read = {n[1]: n[-1] for n in batched["notifications"]}
    assert read.pop("ended") is None
    assert read and all(at == NOW + timedelta(days=7) for at in read.values()), read
    assert batched == row_by_row


def test_named_approvers_get_their_tasks_with_open_since(demo, postgresql, monkeypatch):
    """A step that opens a task for named people inserts its assignees in the same
    statement; the database's trigger still gives each the task's opening time."""
    rider, head = demo["rider1"], demo["station_head"]

    def flow():
        instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
        db.session.commit()
        act(instance.id, "return", head, comment="请补充", to="applicant")
        returned.append(written(instance.id))
        # Withdrawn, so the second run may start another.
        wf.perform(instance.id, Action("withdraw", comment="不需要了"), rider, now=NOW)
        db.session.commit()
        return instance.id

    returned = []
    batched, row_by_row = run_twice(monkeypatch, flow)
    revise = [t for t in returned[0]["tasks"] if t[3] == "open"]
    assert revise and revise[0][-1] == [(rider.id, revise[0][12])]  # open_since = opened_at
    assert returned[0] == returned[1]
    assert batched["instance"]["status"] == "withdrawn"
    assert all(not a[1] for t in batched["tasks"] for a in t[-1])  # none open any more
    assert batched == row_by_row


def test_after_a_step_the_session_has_nothing_left_to_write(demo, postgresql):
    """The step's statement wrote the instance's columns: the session holds no change
    for it, so no flush walks its unit of work (one used to, to find no UPDATE to make:
    ~8 % of an API approval's function calls)."""
    rider, head = demo["rider1"], demo["station_head"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    task = open_task(db.session.get(Instance, instance.id))
    flushed = []
    listener = lambda session, context, objects: flushed.extend(session.dirty)  # noqa: E731
    event.listen(db.session(), "before_flush", listener)
    try:
        wf.perform(instance.id, Action("approve", task=task.key, comment="情况属实"), head,
                   now=NOW)
        assert instance not in db.session.dirty
        db.session.commit()
    finally:
        event.remove(db.session(), "before_flush", listener)
    assert instance not in flushed
    db.session.expire_all()
    saved = db.session.get(Instance, instance.id)  # and what it wrote is there
    assert saved.lock_version == wf.state_of(saved).version >= 2
    assert saved.steps == ",".join(wf.state_of(saved).current) and saved.steps


def test_a_step_undone_by_its_savepoint_leaves_no_trace_on_the_instance(demo, postgresql):
    """A step in a savepoint (bulk decisions, a course's completion) that is then rolled
    back: the row goes back, and so does what the session holds of it."""
    rider, head = demo["rider1"], demo["station_head"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    before = (instance.lock_version, instance.steps, instance.state["version"])
    task = open_task(instance)
    savepoint = db.session.begin_nested()
    wf.perform(instance.id, Action("approve", task=task.key, comment="情况属实"), head,
               now=NOW)
    assert instance.lock_version > before[0]
    savepoint.rollback()
    assert (instance.lock_version, instance.steps, instance.state["version"]) == before
    assert wf.state_of(instance).version == before[2]
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Instance, instance.id).lock_version == before[0]


def test_one_steps_notes_reach_each_person_as_their_settings_say(demo, postgresql,
                                                                monkeypatch):
    """The steps' notes reach the station head (their task), the applicant (claimed) and
    the volunteer (the wish withdrawn from under them) through the steps' statements:
    each person's outbox row follows their own settings (quiet hours, no e-mail, no
    digest), as when each note had its own statement."""
    from datetime import time

    from webapp.models import NotificationSettings

    rider, head, volunteer = demo["rider1"], demo["station_head"], demo["volunteer1"]
    db.session.add_all([
        NotificationSettings(user_id=rider.id, email_enabled=True, quiet_start=time(0, 0),
                             quiet_end=time(23, 59), digest_low_priority=False),
        NotificationSettings(user_id=head.id, email_enabled=False)])
    db.session.commit()
    notes = []
    send = wf._Batch.send

    def spy(batch, instance):
        notes.append([fields["kind"] for _, fields in batch.notes])
        return send(batch, instance)

    def flow():
        instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
        db.session.commit()
        act(instance.id, "approve", head, comment="情况属实")
        act(instance.id, "claim", volunteer)
        # Withdrawn, so the second run may start another.
        wf.perform(instance.id, Action("withdraw", comment="不需要了"), rider, now=NOW)
        db.session.commit()
        return instance.id

    monkeypatch.setattr(wf._Batch, "send", spy)
    batched, row_by_row = run_twice(monkeypatch, flow)
    # The claimer is not told of their own claim, nor the applicant of their withdrawal.
    assert ["claimed"] in notes and ["withdrawn"] in notes
    assert batched == row_by_row
    to = {(d[0], d[1]): d for d in batched["deliveries"]}
    assert (head.id, "task_assigned") not in to  # e-mail switched off
    claimed = to[(rider.id, "claimed")]
    assert claimed[-2] > NOW and not claimed[7]  # after the quiet hours, not in the digest
    assert to[(volunteer.id, "withdrawn")][-2] == NOW  # no settings: at once


def _notes_in_order(first: int, second: int) -> list[tuple]:
    return [("first" if n.instance_id == first else "second", n.kind, n.user_id)
            for n in db.session.scalars(select(Notification).where(
                Notification.instance_id.in_([first, second])).order_by(Notification.id))]


def test_a_steps_own_notes_come_before_the_promotion_it_causes(login, demo, postgresql,
                                                               monkeypatch):
    """A cancellation that frees a duty slot: its own notes are written first, then the
    waiting list's next person's promotion (and the notes of that step) — in the same
    order with the notes in the step's statement as without."""
    from tests.webapp.test_union_processes import start
    from webapp.services.users import find_user

    def flow():
        slot = db.session.scalar(select(DutySlot).where(DutySlot.capacity == 1)
                                 .order_by(DutySlot.id))
        data = {"station": str(slot.station_id), "slot": str(slot.id)}
        db.session.commit()
        first = start(login("volunteer1"), "station_master", {**data, "phone": "13700137000"})
        second = start(login("branch_secretary"), "station_master",
                       {**data, "phone": "13600136000"})
        # By an administrator: a withdrawal would tell nobody (not its own applicant).
        wf.perform(first, Action("cancel", comment="重复报名"), find_user("admin"))
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Instance, second).steps == "wait_duty"  # promoted
        notes = _notes_in_order(first, second)
        login("branch_secretary").post(f"/instances/{second}/withdraw")  # for the next run
        return notes

    batched = flow()
    with monkeypatch.context() as patched:
        patched.setattr(wf, "_Batch", lambda: None)
        row_by_row = flow()
    assert batched == row_by_row
    kinds = [(which, kind) for which, kind, _ in batched]
    assert kinds.index(("first", "ended")) < kinds.index(("second", "promoted"))


def _note(kind="comment"):
    return {"kind": kind, "title_key": f"workflows.{kind}",
            "params": {"process_name": "微心愿", "n": 1}, "task_key": None,
            "priority": "normal", "created_at": NOW}


def test_the_steps_statement_takes_notes_of_every_shape(demo, postgresql):
    """Notes alone (no column changed, no task opened), the same person in two notes, a
    note to nobody, an id that is no one's, and no note at all."""
    rider, head = demo["rider1"], demo["station_head"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    instance = db.session.get(Instance, instance.id)
    before = db.session.scalar(select(func.count()).select_from(Notification))
    batch = wf._Batch()
    batch.notes = [([rider.id, head.id], _note()), ([], _note("withdrawn")),
                   ([head.id, 99_999_999], _note("reminder"))]
    batch.send(instance)
    assert [(recipients, sorted(people)) for recipients, _, people in batch.noted] == [
        ([rider.id, head.id], sorted([rider.id, head.id])),
        ([head.id, 99_999_999], [head.id])]
    ids = {person: row.notification_id for person, row in batch.noted[1][2].items()}
    written = {(n.id, n.user_id, n.kind) for n in db.session.scalars(
        select(Notification).where(Notification.instance_id == instance.id,
                                   Notification.kind.in_(["comment", "reminder"])))}
    assert written == {(batch.noted[0][2][rider.id].notification_id, rider.id, "comment"),
                       (batch.noted[0][2][head.id].notification_id, head.id, "comment"),
                       (ids[head.id], head.id, "reminder")}
    assert db.session.scalar(select(func.count()).select_from(Notification)) == before + 3
    instance.title = "换了标题"  # a column and no note: nothing comes back
    batch = wf._Batch()
    batch.send(instance)
    assert batch.noted == []
    batch = wf._Batch()
    batch.notes = [([424_242], _note())]  # to no one who exists
    batch.send(instance)
    assert batch.noted == [([424_242], _note(), {})]
    db.session.rollback()


def test_one_note_to_a_thousand_people_in_the_steps_statement(demo, postgresql):
    """The fan-out's only per-person part is the list of ids: 1,000 notifications from
    one statement, in the order the people were given."""
    rider = demo["rider1"]
    instance = wf.start_instance("micro_wish", rider, wish_data(), now=NOW)
    db.session.commit()
    people = list(db.session.execute(text(
        "INSERT INTO users (username, display_name, password_hash, locale, email, active, "
        "session_token, created_at) SELECT 'fan' || g, '工友' || g, 'x', 'zh_CN', "
        "'fan' || g || '@example.org', true, 'token' || g, now() "
        "FROM generate_series(1, 1000) AS g RETURNING id")).scalars())
    batch = wf._Batch()
    batch.notes = [(people, _note("escalated"))]
    batch.send(instance)
    assert sorted(batch.noted[0][2]) == sorted(people)
    assert list(db.session.scalars(
        select(Notification.user_id).where(Notification.instance_id == instance.id,
                                           Notification.kind == "escalated")
        .order_by(Notification.id))) == people
    db.session.rollback()
