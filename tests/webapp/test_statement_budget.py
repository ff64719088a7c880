"""How many SQL statements a step costs — counted, never timed.

Each statement is a round trip and ~0.1–1 ms of SQLAlchemy CPU, so the count is what
decides how many approvals a web worker serves (bench/README.md, issue #9).  These
budgets are today's counts: a change that reads the same rows again, or goes back to
writing an audit entry and then updating it, shows up here before it shows up in a
benchmark."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from tests.webapp.test_api import Api, api, wish  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db


@contextmanager
def counting():
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    def commit(conn):
        seen.append("-- commit")

    event.listen(db.engine, "before_cursor_execute", count)
    event.listen(db.engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
        event.remove(db.engine, "commit", commit)


def _submitted(api, applicant: str) -> str:
    r = api("POST", "/processes/micro_wish/instances", applicant, json={"data": wish()})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["tasks"][0]["id"]


def test_an_approval_through_the_api_reads_nothing_twice(api, demo):
    first, task = _submitted(api, "courier1"), _submitted(api, "rider1")
    api.token("station_head")  # signing in is not part of the approval
    # An earlier approval in this process read the organisation (who claims next, the
    # head's roles): this one uses that copy.
    assert api("POST", f"/tasks/{first}/complete", "station_head",
               json={"action": "approve"}).status_code == 200
    db.session.remove()
    with counting() as seen:
        r = api("POST", f"/tasks/{task}/complete", "station_head",
                json={"action": "approve"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "wall"
    audit_writes = [s for s in seen if "audit_entries" in s]
    # Audit entries are written once, already sealed: no INSERT-then-UPDATE (PostgreSQL:
    # nor a read of the chain's head of its own).
    assert len(audit_writes) == (1 if db.engine.dialect.name == "postgresql" else 2)
    assert "INSERT INTO audit_entries" in audit_writes[-1] and "UPDATE" not in audit_writes[-1]
    # The answer is built before the commit: nothing is read back after it.
    assert seen[-1] == "-- commit" and seen.count("-- commit") == 1, seen[-3:]
    # One read of the token with its owner, one of the task with its instance — and
    # that one locks the instance's row: the step does not read it again.
    assert sum("FROM api_tokens" in s for s in seen) == 1
    instance_reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")
                      and "FROM instances" in s.replace("\n", " ")
                      or "JOIN instances" in s.replace("\n", " ")]
    assert len(instance_reads) == 1, instance_reads
    assert sum(s.lstrip().upper().startswith("SELECT USERS.") for s in seen) <= 2
    # The organisation comes from this process's copy; its generation with the token
    # and with the instance's lock, not on its own.
    assert not [s for s in seen if "FROM org_units" in s or "FROM memberships" in s
                or "FROM org_generation" in s and "api_tokens" not in s
                and "instances" not in s]
    # The answer's history comes from the instance's state, not the history table.
    assert not [s for s in seen if s.lstrip().upper().startswith("SELECT")
                and "FROM history" in s]
    if db.engine.dialect.name == "postgresql":
        # The instance, its history, its tasks and its timers: one statement.
        step = [s for s in seen if s.lstrip().upper().startswith(("INSERT", "UPDATE", "WITH"))
                and ("UPDATE instances" in s or "INTO history" in s or "INTO tasks" in s
                     or "UPDATE tasks" in s or "timers" in s)]
        assert len(step) == 1, step
        # The notification of the wish's new step too (and its person read back for
        # the outbox): no statement of its own.
        assert [s for s in seen if "INTO notifications" in s] == step
        # The head's message about the task they decided is marked read in it too.
        assert [s for s in seen if "UPDATE notifications" in s] == step
    # The answer's open tasks: the one the step opened, its id from its INSERT.
    assert not [s for s in seen if s.lstrip().startswith("SELECT tasks.")]
    statements = [s for s in seen if s != "-- commit"]
    assert len(statements) <= BUDGET_APPROVE[db.engine.dialect.name], "\n".join(statements)


# Today's counts (SQLite has BEGIN IMMEDIATE; PostgreSQL takes the audit chain's lock).
# 44 and 41 at 9edc473, 27 and 26 at 075f85f, 23 and 22 at 712c20f, 19 and 17 at a305c13,
# 18 and 16 at 824ecfd, 17 and 15 at 558c0a2, 14 and 11 before the step's rows were
# written by one statement on PostgreSQL, 14 and 7 before the audit chain was sealed by
# one statement there, 14 and 6 before the notifications went in the step's statement.
# SQLite 15 since a step marks read the messages about the tasks it closed (one UPDATE;
# PostgreSQL does it in the step's statement).
BUDGET_APPROVE = {"sqlite": 15, "postgresql": 5}


def test_a_start_through_the_api_reads_its_process_once_and_nothing_after(api, demo):
    _submitted(api, "courier1")  # this process has read the organisation and the definition
    api.token("rider1")  # signing in is not part of the start
    data = wish()
    db.session.remove()
    with counting() as seen:
        r = api("POST", "/processes/micro_wish/instances", "rider1", json={"data": data})
    assert r.status_code == 201, r.get_json()
    assert r.headers["Location"].endswith(f"/instances/{r.get_json()['id']}")
    # The process's newest version is read once (the view checks the data against it and
    # the step starts on it), without its text: this process has parsed that content.
    versions = [s for s in seen if "FROM definition_versions" in s]
    assert len(versions) == 1, versions
    assert "definition_versions.source" not in versions[0]
    # The answer and its Location are made before the commit: nothing read back after.
    assert seen[-1] == "-- commit" and seen.count("-- commit") == 1, seen[-3:]
    statements = [s for s in seen if s != "-- commit"]
    assert len(statements) <= BUDGET_START[db.engine.dialect.name], "\n".join(statements)


# Today's counts; one more each before the version was passed on to the step, and one
# more after the commit (the Location read the request back) before that.
BUDGET_START = {"sqlite": 18, "postgresql": 10}


def _approve(api, task_id):
    r = api("POST", f"/tasks/{task_id}/complete", "station_head", json={"action": "approve"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _roles_read_alone(seen):
    """Statements reading someone's roles by themselves (not joined to their token)."""
    return [s for s in seen if s.lstrip().startswith(("SELECT memberships.id",
                                                      "SELECT memberships.role"))]


def test_a_fresh_process_reads_the_organisations_units_once_whole(app, api, demo):
    from webapp.services import org_cache
    from webapp.services.directory import ALL_UNITS

    first, second = _submitted(api, "courier1"), _submitted(api, "rider1")
    api.token("station_head")
    db.session.remove()
    app.extensions.pop(org_cache._KEY, None)  # a worker that has read nothing yet
    with counting() as seen:
        _approve(api, first)
    units = [s for s in seen if "FROM org_units" in s]
    assert len(units) == 1 and "WHERE" not in units[0], units  # every unit, one query
    assert app.extensions[org_cache._KEY][1][ALL_UNITS] is True
    # The approver's roles came with their token.
    assert not _roles_read_alone(seen), _roles_read_alone(seen)
    db.session.remove()
    with counting() as seen:
        _approve(api, second)
    assert not [s for s in seen if "FROM org_units" in s]


def test_a_larger_organisation_is_read_unit_by_unit(app, api, demo, monkeypatch):
    from webapp.services import directory, org_cache

    monkeypatch.setattr(directory, "PRELOAD_UNITS", 3)  # the demo has more than three
    # What this process learns ("too many to read whole") goes with the test.
    monkeypatch.setitem(app.extensions, directory._TOO_MANY_UNITS, False)
    app.extensions.pop(org_cache._KEY, None)
    with counting() as seen:
        first, second = _submitted(api, "courier1"), _submitted(api, "rider1")
        api.token("station_head")
        db.session.remove()
        body = _approve(api, first)
        assert body["state"] == "wall"  # the next step still found who claims it
        assert app.extensions[org_cache._KEY][1][directory.ALL_UNITS] is False
        db.session.remove()
        assert _approve(api, second)["state"] == "wall"
        # The organisation changes (a new copy): this process knows it is too large.
        app.extensions.pop(org_cache._KEY, None)
        third = _submitted(api, "driver1")
        db.session.remove()
        assert _approve(api, third)["state"] == "wall"
    whole = [s for s in seen if "FROM org_units" in s and "LIMIT" in s]
    assert len(whole) == 1  # tried once in this process …
    assert any("FROM org_units" in s and "WHERE" in s for s in seen)  # … then by id


def test_a_step_leaves_exactly_the_states_timers_pending(api, demo):
    from sqlalchemy import select

    from webapp.models import Instance, Timer
    from workflows.state import InstanceState

    def timers(instance_id):
        db.session.expire_all()
        return {t.key: (t.status, t.fire_at, t.fired_at) for t in db.session.scalars(
            select(Timer).where(Timer.instance_id == instance_id))}

    def state_timers(instance_id):
        state = InstanceState.from_dict(db.session.get(Instance, instance_id).state)
        return {t.key: ("pending", t.at, None) for t in state.timers}

    r = api("POST", "/processes/micro_wish/instances", "courier1", json={"data": wish()})
    instance_id, task = r.get_json()["id"], r.get_json()["tasks"][0]["id"]
    before = timers(instance_id)
    assert before and before == state_timers(instance_id)
    with counting() as seen:
        _approve(api, task)
    after = timers(instance_id)
    pending = {k: v for k, v in after.items() if v[0] == "pending"}
    assert pending and pending == state_timers(instance_id)
    dropped = set(before) - set(pending)
    assert dropped and all(after[k][0] == "cancelled" for k in dropped)
    # PostgreSQL: cancelling the old and arming the new is one statement.
    writes = [s for s in seen if "timers" in s and s.lstrip().upper().startswith(
        ("INSERT", "UPDATE", "WITH"))]
    assert len(writes) == (1 if db.engine.dialect.name == "postgresql" else 2), writes


def test_timers_rearmed_and_cancelled_together(api, demo):
    """A key that fired or was cancelled before is armed again (with its new time, no
    fired time), and a dropped key still pending is cancelled — in one statement on
    PostgreSQL, two on SQLite, with the same rows."""
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import select

    from webapp.models import Instance, Timer
    from webapp.services import workflow as wf
    from workflows.state import InstanceState, TimerRef

    _submitted(api, "courier1")
    instance = db.session.scalars(select(Instance).order_by(Instance.id)).first()
    at = datetime(2027, 1, 1, 8, tzinfo=timezone.utc)
    db.session.execute(Timer.__table__.delete().where(Timer.instance_id == instance.id))
    db.session.add_all([
        Timer(instance_id=instance.id, key="again", purpose="remind", fire_at=at,
              status="fired", fired_at=at),
        Timer(instance_id=instance.id, key="gone", purpose="timeout", fire_at=at),
        Timer(instance_id=instance.id, key="done", purpose="timeout", fire_at=at,
              status="fired", fired_at=at)])
    db.session.flush()
    state = InstanceState.from_dict(instance.state)
    old = replace(state, timers=(TimerRef("gone", at, "timeout", None),
                                 TimerRef("done", at, "timeout", None)))
    later = at + timedelta(days=2)
    new = replace(state, timers=(TimerRef("again", later, "remind", "t9"),
                                 TimerRef("fresh", later, "escalate", None)))
    postgresql = db.engine.dialect.name == "postgresql"
    with counting() as seen:
        batch = wf._Batch() if postgresql else None  # as ``_save`` gathers a step's writes
        wf._sync_timers(instance, new, old, batch)
        if batch is not None:
            batch.send(instance)
    db.session.expire_all()
    rows = {t.key: (t.status, t.fire_at, t.fired_at, t.purpose, t.task_key)
            for t in db.session.scalars(select(Timer).where(Timer.instance_id == instance.id))}
    assert rows == {"again": ("pending", later, None, "remind", "t9"),
                    "fresh": ("pending", later, None, "escalate", None),
                    "gone": ("cancelled", at, None, "timeout", None),
                    "done": ("fired", at, at, "timeout", None)}  # fired stays fired
    assert len(seen) == (1 if postgresql else 2), seen
    db.session.rollback()


def test_an_approval_parses_the_stored_state_once(api, demo, monkeypatch):
    """Who may act, the step, the tasks and history the answer shows all read the same
    state: it is parsed from its JSON once (the step's new state is known, not parsed)."""
    from workflows.state import InstanceState

    first, task = _submitted(api, "courier1"), _submitted(api, "rider1")
    api.token("station_head")
    _approve(api, first)
    db.session.remove()
    parsed = []
    real = InstanceState.from_dict.__func__

    def counted(cls, raw):
        parsed.append(raw.get("instance_id"))
        return real(cls, raw)

    monkeypatch.setattr(InstanceState, "from_dict", classmethod(counted))
    answer = _approve(api, task)
    assert answer["state"] == "wall"
    assert len(parsed) == 1, parsed


def test_a_state_changed_elsewhere_is_parsed_again(api, demo):
    """The kept parse belongs to one stored value: a reload (another session's step, a
    refresh) is parsed afresh, never answered from the old one."""
    from sqlalchemy import select

    from webapp.models import Instance
    from webapp.services import workflow as wf

    task = _submitted(api, "rider1")
    instance_id = db.session.scalar(select(Instance.id).order_by(Instance.id.desc()))
    instance = db.session.get(Instance, instance_id)
    before = wf.state_of(instance)
    assert wf.state_of(instance) is before  # kept while the stored value is the same
    # Another request approves it (its own session, its own commit)…
    _approve(api, task)
    db.session.refresh(instance)  # …this session reads the row again
    after = wf.state_of(instance)
    assert after.version == before.version + 1
    assert after.current != before.current
    db.session.expire(instance)
    assert wf.state_of(instance) == after and wf.state_of(instance) is not after


def test_a_page_of_tasks_costs_the_same_statements_for_three_or_twelve(api, demo, make_user):
    """Each task of GET /tasks carries its applicant and what was said before it: read
    for the whole page at once (requests, people, units, which were given to the caller),
    not once per task."""
    from webapp.services import workflow as wf
    from webapp.services.org import unit_by_code
    from tests.webapp.test_workflow_service import wish_data

    logistics = unit_by_code("cq-yz-logistics")
    for i in range(12):
        worker = make_user(f"budget{i}", ("worker", logistics), unit=logistics)
        db.session.commit()
        instance = wf.start_instance("micro_wish", worker, wish_data())
        db.session.commit()
        if i == 0:  # one with a history line by someone else: a return and resubmit
            task = next(t for t in wf.state_of(instance).tasks if t.closed_at is None)
            wf.perform(instance.id, wf.Action("return", task=task.id, comment="请补充"),
                       demo["station_head"])
            db.session.commit()
            wf.perform(instance.id, wf.Action("resubmit", data=wish_data()), worker)
            db.session.commit()
    api.token("station_head")

    def statements(per_page: int) -> int:
        db.session.expunge_all()
        with counting() as seen:
            r = api("GET", f"/tasks?per_page={per_page}", "station_head")
        assert r.status_code == 200 and len(r.get_json()["items"]) == per_page
        return len([s for s in seen if s != "-- commit"])

    assert statements(3) == statements(12)
