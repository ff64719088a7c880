"""The organisation kept per process (``webapp.services.org_cache``): used while it is
current, and never once the organisation has changed — whoever changed it, however."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select, text, update

from tests.webapp.test_workflow_service import NOW, demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance, Membership, OrgGeneration, OrgUnit, User
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from webapp.services.users import find_user
from workflows.runtime import Action


@contextmanager
def statements():
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def org_reads(seen) -> list[str]:
    return [s for s in seen if "FROM org_units" in s or "FROM memberships" in s]


def submit(applicant: str, data=None):
    instance = wf.start_instance("micro_wish", find_user(applicant), data or wish_data(),
                                 now=NOW)
    db.session.commit()
    return instance.id


def approvers(instance_id) -> set[int]:
    """Who the wish's open approval is for."""
    db.session.expire_all()
    instance = db.session.get(Instance, instance_id)
    task = next(t for t in instance.state["tasks"] if t.get("closed_at") is None)
    return set(task["assignees"])


def approve(instance_id, user: str):
    instance = db.session.get(Instance, instance_id)
    task = next(t for t in instance.state["tasks"] if t.get("closed_at") is None)
    wf.perform(instance_id, Action("approve", task=task["id"]), find_user(user), now=NOW)
    db.session.commit()


def add_person_by_sql(user_id: int, username: str, unit_id: int | None) -> None:
    """A person added as an import or a database console would: SQL, committed."""
    db.session.execute(text(
        "INSERT INTO users (id, username, display_name, password_hash, locale, active, "
        "unit_id, session_token, created_at) VALUES (:i, :name, '新人', 'x', 'zh', :t, :u, "
        ":session, CURRENT_TIMESTAMP)"),
        {"i": user_id, "name": username, "t": True, "u": unit_id,
         "session": f"{username}-session"})
    db.session.commit()


def generation() -> int | None:
    return db.session.scalar(select(OrgGeneration.n).where(OrgGeneration.id == 1))


def test_a_step_uses_the_copy_and_reads_the_generation_with_its_lock(demo):
    first, second = submit("rider1"), submit("courier1")
    approve(first, "station_head")  # reads the organisation: who may claim next
    db.session.remove()
    instance = db.session.get(Instance, second)
    task = next(t for t in instance.state["tasks"] if t.get("closed_at") is None)
    head = find_user("station_head")
    db.session.commit()
    with statements() as seen:
        wf.perform(second, Action("approve", task=task["id"]), head, now=NOW)
        db.session.commit()
    assert org_reads(seen) == [], org_reads(seen)
    # No statement of its own for the generation: it came with the instance's lock.
    assert not [s for s in seen if "org_generation" in s and "FROM instances" not in s]
    db.session.expire_all()
    assert db.session.get(Instance, second).state["data"]["title"]


def test_without_a_change_the_organisation_is_not_read_again(demo):
    submit("rider1")
    db.session.remove()
    data = wish_data()
    with statements() as seen:
        submit("courier1", data)
    # Only this applicant's own roles, asked for the first time in this process; the
    # station, its district and who heads it come from the copy.
    assert [s for s in seen if "FROM org_units" in s] == [], seen
    assert len([s for s in seen if "FROM memberships" in s]) == 1


def grant_head_to_volunteer1(how: str) -> int:
    station = unit_by_code("st-jfb")
    volunteer = find_user("volunteer1")
    if how == "session":
        db.session.add(Membership(user_id=volunteer.id, unit_id=station.id,
                                  role="station_head"))
    else:  # SQL by hand, as an import or a database console would — "or ignore" too
        # (on SQLite its conflict clause would override one inside the trigger)
        sqlite = db.engine.dialect.name == "sqlite"
        db.session.execute(text(
            f"INSERT {'OR IGNORE ' if sqlite else ''}INTO memberships "
            "(user_id, unit_id, role, created_at) "
            "VALUES (:u, :s, 'station_head', CURRENT_TIMESTAMP)"
            + ("" if sqlite else " ON CONFLICT DO NOTHING")),
            {"u": volunteer.id, "s": station.id})
    db.session.commit()
    return volunteer.id


@pytest.mark.parametrize("how", ["session", "sql"])
def test_a_new_role_holder_gets_the_next_step(demo, how):
    head = find_user("station_head").id
    assert approvers(submit("rider1")) == {head}  # the copy now holds "who is head"
    before = generation()
    volunteer = grant_head_to_volunteer1(how)
    assert generation() != before
    assert approvers(submit("courier1")) == {head, volunteer}


def test_a_role_taken_away_and_a_person_deactivated_are_seen(demo):
    head = find_user("station_head")
    volunteer = grant_head_to_volunteer1("session")
    assert approvers(submit("rider1")) == {head.id, volunteer}
    db.session.execute(text("DELETE FROM memberships WHERE user_id = :u AND role = "
                            "'station_head'"), {"u": volunteer})
    db.session.commit()
    assert approvers(submit("courier1")) == {head.id}
    db.session.execute(update(User).where(User.id == head.id).values(active=False))
    db.session.commit()
    assert head.id not in approvers(submit("driver1"))


def test_a_unit_change_is_read_again(demo):
    submit("rider1")
    station = unit_by_code("st-jfb")
    db.session.execute(text("UPDATE org_units SET name = name || ' ' WHERE id = :i"),
                       {"i": station.id})
    db.session.commit()
    db.session.remove()
    data = wish_data()
    with statements() as seen:
        submit("courier1", data)
    assert [s for s in seen if "FROM org_units" in s]


def test_a_change_rolled_back_leaves_the_copy_in_use(demo):
    head = find_user("station_head").id
    submit("rider1")
    before = generation()
    grant = Membership(user_id=find_user("volunteer1").id,
                       unit_id=unit_by_code("st-jfb").id, role="station_head")
    db.session.add(grant)
    db.session.flush()
    db.session.rollback()
    assert generation() == before
    db.session.remove()
    data = wish_data()
    with statements() as seen:
        instance_id = submit("courier1", data)
    assert [s for s in seen if "FROM org_units" in s] == []  # the copy, still good
    assert approvers(instance_id) == {head}


def test_a_transaction_sees_its_own_changes_not_the_copy(demo):
    from webapp.services.directory import DbDirectory

    head = find_user("station_head").id
    volunteer = find_user("volunteer1").id
    submit("rider1")  # the copy now knows the station, its head and its district
    station_id = unit_by_code("st-jfb").id
    db.session.commit()  # nothing loaded any more: what follows comes from the copy
    assert DbDirectory().users_with_role("station_head", station_id) == [head]
    assert DbDirectory().unit(station_id).name == "解放碑户外劳动者驿站"
    # Not committed: the same transaction must see its new head and the unit's new name,
    # flushed or not.
    db.session.add(Membership(user_id=volunteer, unit_id=station_id, role="station_head"))
    assert set(DbDirectory().users_with_role("station_head", station_id)) == {head, volunteer}
    db.session.get(OrgUnit, station_id).name = "解放碑驿站（新址）"
    assert DbDirectory().unit(station_id).name == "解放碑驿站（新址）"
    db.session.flush()
    assert DbDirectory().unit(station_id).name == "解放碑驿站（新址）"
    db.session.rollback()


def test_a_new_person_is_seen_with_their_unit(demo):
    from webapp.services.directory import DbDirectory

    submit("rider1")
    db.session.commit()
    station = unit_by_code("st-jfb")
    next_id = db.session.scalar(select(func.max(User.id))) + 1
    assert DbDirectory().unit_of(next_id) is None  # asked before they exist
    db.session.commit()
    add_person_by_sql(next_id, "newcomer", station.id)
    assert DbDirectory().unit_of(next_id) == station.id


def test_a_new_person_leaves_the_copy_in_use(demo):
    """Sign-ups and imports add people all day: a person added keeps the generation (no
    worker reads the organisation again for it); their unit is read when asked for."""
    from webapp.services.directory import DbDirectory

    head = find_user("station_head").id
    submit("rider1")  # the copy now holds the station, its head and its district
    before = generation()
    station_id = unit_by_code("st-jfb").id
    next_id = db.session.scalar(select(func.max(User.id))) + 1
    db.session.commit()
    add_person_by_sql(next_id, "newcomer", station_id)
    assert generation() == before
    db.session.remove()
    data = wish_data()
    with statements() as seen:
        instance_id = submit("courier1", data)
    assert [s for s in seen if "FROM org_units" in s] == []
    assert approvers(instance_id) == {head}
    assert DbDirectory().unit_of(next_id) == station_id
    # Moving them, or switching them off, still changes it.
    db.session.execute(update(User).where(User.id == next_id).values(active=False))
    db.session.commit()
    assert generation() != before


def test_without_the_generation_row_everything_is_read(demo):
    submit("rider1")
    db.session.execute(text("DELETE FROM org_generation"))
    db.session.commit()
    db.session.remove()
    data = wish_data()
    with statements() as seen:
        instance_id = submit("courier1", data)
    assert [s for s in seen if "FROM org_units" in s]
    assert approvers(instance_id) == {find_user("station_head").id}
    # The next change to the organisation makes the row again.
    grant_head_to_volunteer1("sql")
    assert generation() is not None


def test_a_person_replaced_by_hand_sql_changes_the_generation(demo):
    """An upsert over an existing person is a change to them, not a new person: on
    SQLite ``INSERT OR REPLACE`` (a delete that fires no trigger, then an insert), on
    PostgreSQL ``INSERT … ON CONFLICT DO UPDATE``."""
    head = find_user("station_head").id
    assert approvers(submit("rider1")) == {head}  # the copy now holds who is head
    before = generation()
    db.session.commit()
    columns = [c.name for c in User.__table__.columns]
    listed = ", ".join(columns)
    values = ", ".join("false" if c == "active" else c for c in columns)
    if db.engine.dialect.name == "sqlite":
        sql = f"INSERT OR REPLACE INTO users ({listed}) SELECT {values} FROM users WHERE id = :i"
    else:
        sql = (f"INSERT INTO users ({listed}) SELECT {values} FROM users WHERE id = :i "
               "ON CONFLICT (id) DO UPDATE SET active = EXCLUDED.active")
    db.session.execute(text(sql), {"i": head})
    db.session.commit()
    assert db.session.scalar(select(User.active).where(User.id == head)) is False
    assert generation() != before
    db.session.remove()
    assert head not in approvers(submit("courier1"))


def test_someone_without_a_unit_is_kept_as_such(demo):
    from webapp.services.directory import DbDirectory

    submit("rider1")
    next_id = db.session.scalar(select(func.max(User.id))) + 1
    add_person_by_sql(next_id, "unitless", None)
    assert DbDirectory().unit_of(next_id) is None
    db.session.commit()
    with statements() as seen:
        assert DbDirectory().unit_of(next_id) is None
    assert not [s for s in seen if "FROM users" in s], seen
