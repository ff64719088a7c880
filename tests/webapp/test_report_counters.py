"""What is open now, listed and counted without reading all of it (issue #9, pages).

* A person's open tasks come from ``task_assignees.open_since`` (the task's opening time
  while it is open), kept by database triggers whatever statement writes the task or
  its assignees: checked against the tasks themselves after every kind of step.
* The inbox and the wish wall count at most ``COUNT_LIMIT`` rows and say "N+" beyond.
* The open-demands report sums ``open_demand_days`` (kept by triggers on ``instances``):
  it equals a count of the demands one by one after opens, dispatches, answers,
  withdrawals and at later dates; the table equals a recount after each step.
* The migration fills the column and the table for the rows there are.
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, text

from tests.webapp.test_instance_columns import counted
from tests.webapp.test_pages import login, submit_wish, task_id_of  # noqa: F401
from tests.webapp.test_reports import T0, act_as, demand, jiangbei_street
from tests.webapp.test_workflow_service import act, demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance, OpenDemandDay, Station, Task, TaskAssignee
from webapp.services import demand_report
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from webapp.services.users import find_user
from workflows.runtime import Action

BEFORE = "d91f3b7c2a4e"  # the revision before the column and the table


# ---------------------------------------------------------------- a person's open tasks

def open_since_oracle():
    """Every assignment's ``open_since`` as it should be: from its task."""
    db.session.expire_all()
    rows = db.session.execute(select(TaskAssignee.task_id, TaskAssignee.user_id,
                                     TaskAssignee.open_since, Task.status, Task.opened_at)
                              .join(Task, Task.id == TaskAssignee.task_id)).all()
    assert rows
    return ([(t, u, since) for t, u, since, _, _ in rows],
            [(t, u, opened if status == "open" else None) for t, u, _, status, opened in rows])


def inbox_oracle(user):
    """``user``'s open tasks as the inbox listed them before (from the tasks)."""
    return list(db.session.scalars(
        select(Task.id).join(TaskAssignee, TaskAssignee.task_id == Task.id)
        .where(Task.status == "open", TaskAssignee.user_id == user.id)
        .order_by(Task.opened_at, Task.id)))


def test_open_since_follows_the_task_through_every_kind_of_step(demo):
    head, vol1 = demo["station_head"], demo["volunteer1"]
    wishes = [wf.start_instance("micro_wish", find_user(u), wish_data(), now=T0 + timedelta(minutes=i))
              for i, u in enumerate(("rider1", "courier1", "driver1"))]
    db.session.commit()
    stamps, expected = open_since_oracle()
    assert stamps == expected and all(s for _, _, s in stamps)  # opened: set
    assert [t.id for t in db.session.scalars(wf.assigned_tasks_query(head))] \
        == inbox_oracle(head) != []
    act(wishes[0], "approve", head)  # closed for the head, pooled on the wall (nobody holds it)
    act(wishes[1], "approve", head)
    act(wishes[1], "claim", vol1)  # an assignee added to an open task
    wf.perform(wishes[2].id, Action("withdraw"), find_user("driver1"))  # closed by withdrawal
    db.session.commit()
    stamps, expected = open_since_oracle()
    assert stamps == expected
    assert [s for t, u, s in stamps if u == head.id] == [None, None, None]
    for user in (head, vol1):
        listed = [t.id for t in db.session.scalars(wf.assigned_tasks_query(user))]
        assert listed == inbox_oracle(user)
    assert len(inbox_oracle(vol1)) == 1
    # Any writer of the tasks keeps it, a plain UPDATE as much as the engine.
    db.session.execute(text("UPDATE tasks SET status = 'closed' WHERE id IN "
                            "(SELECT task_id FROM task_assignees WHERE user_id = :u)"),
                       {"u": vol1.id})
    db.session.commit()
    assert db.session.scalars(wf.assigned_tasks_query(vol1)).all() == []


def test_the_inbox_counts_up_to_the_limit_and_says_so_beyond_it(app, login, demo, monkeypatch):
    import webapp.tasks.views as views

    for i, user in enumerate(("rider1", "courier1", "driver1")):
        wf.start_instance("micro_wish", find_user(user), wish_data(title=f"心愿{i}"),
                          now=T0 + timedelta(minutes=i))
    db.session.commit()
    monkeypatch.setattr(views, "PER_PAGE", 1)
    head = login("station_head")
    app.config["COUNT_LIMIT"] = 3  # not beyond: the exact count
    page = head.get("/inbox").get_data(as_text=True)
    assert re.search(r'text-bg-primary">3</span>', page) and "1 / 3</span>" in page
    assert "+</span>" not in page
    app.config["COUNT_LIMIT"] = 2  # beyond: "2+", and the pages are found one by one
    page = head.get("/inbox").get_data(as_text=True)
    assert re.search(r'text-bg-primary"><span title="[^"]*2[^"]*">2\+</span>', page), page
    assert "1 / 2+</span>" in page and "心愿0" in page
    assert re.search(r'page-item"><a class="page-link" href="/inbox\?[^"]*\bpage=2', page)
    last = head.get("/inbox?page=3").get_data(as_text=True)
    assert "3 / 2+</span>" in last and "心愿2" in last
    assert re.search(r'page-item disabled"><a class="page-link" href="[^"]*page=4', last)
    middle = head.get("/inbox?page=2").get_data(as_text=True)
    assert "心愿1" in middle and not re.search(
        r'page-item disabled"><a class="page-link" href="[^"]*page=3', middle)
    find_user("station_head").locale = "en"
    db.session.commit()
    english = head.get("/inbox").get_data(as_text=True)
    assert 'title="more than 2">2+</span>' in english and "超过" not in english


def test_the_wall_counts_up_to_the_limit(app, login, demo):
    for i, user in enumerate(("rider1", "courier1", "driver1")):
        instance = wf.start_instance("micro_wish", find_user(user), wish_data(title=f"心愿{i}"))
        act(instance, "approve", demo["station_head"])
    db.session.commit()
    app.config["COUNT_LIMIT"] = 2
    wall = login("volunteer1").get("/wishes").get_data(as_text=True)
    assert wall.count("认领这个心愿") == 3
    assert "+</span>" not in wall  # one page holds them all: no pager
    app.config["COUNT_LIMIT"] = 1
    import webapp.stations.views as views

    old, views.PER_PAGE = views.PER_PAGE, 2
    try:
        wall = login("volunteer1").get("/wishes").get_data(as_text=True)
        assert "1 / 1+</span>" in wall and wall.count("认领这个心愿") == 2
        rest = login("volunteer1").get("/wishes?page=2").get_data(as_text=True)
        assert "2 / 1+</span>" in rest and rest.count("认领这个心愿") == 1
    finally:
        views.PER_PAGE = old


# ---------------------------------------------------------------- the open-demands report

def one_by_one(user, now):
    """The report's counts from each open demand (not from the counters): the classes of
    ``demand_report.age_bucket``, computed per demand."""
    scope = [d.id for d in demand_report.districts_in_scope(user)]
    rows = db.session.execute(
        select(Station.district_id, Instance.category, demand_report.age_bucket(now))
        .join(Station, Station.unit_id == Instance.station_id)
        .where(Instance.process_key == "worker_demand", Instance.status == "running",
               Instance.steps.in_(demand_report.WAITING_STEPS),
               Station.district_id.in_(scope), Instance.created_at < midnight_after(now)))
    districts, categories = Counter(), Counter()
    for district_id, category, name in rows:
        districts[(district_id, name)] += 1
        categories[(category or "", name)] += 1
    return districts, categories


def midnight_after(now):
    from datetime import datetime, time

    from webapp.services.activities import CHINA

    return datetime.combine(demand_report.local_day(now) + timedelta(days=1), time.min, CHINA)


def recount():
    """``open_demand_days`` as it should be: the open demands grouped again."""
    from webapp.services.activities import CHINA

    found = Counter()
    for district_id, category, created_at in db.session.execute(
            select(Station.district_id, Instance.category, Instance.created_at)
            .join(Station, Station.unit_id == Instance.station_id)
            .where(Instance.process_key == "worker_demand", Instance.status == "running",
                   Instance.steps.in_(demand_report.WAITING_STEPS))):
        found[(district_id, category or "", created_at.astimezone(CHINA).date())] += 1
    return found


def table():
    db.session.expire_all()
    return Counter({(r.district_id, r.category, r.opened_on): r.demands
                    for r in db.session.scalars(select(OpenDemandDay))})


def check(moments=(0, 1, 2, 3, 4, 7, 15, 16, 17, 30, 40)):
    assert table() == recount()
    for user in ("city_admin", "jiangbei_admin", "yuzhong_admin"):
        for days in moments:
            now = T0 + timedelta(days=days, hours=13)  # 23:00 in Chongqing: a day's end
            result = demand_report.report(find_user(user), now=now)
            assert counted(result) == one_by_one(find_user(user), now), (user, days)


def test_the_report_equals_the_demands_counted_one_by_one(demo):
    assert table() == Counter()
    made = [demand("rider1", "st-jfb", "parking", T0),
            demand("courier1", "st-dp", "toilet", T0 + timedelta(days=6)),
            # 17:00 UTC the day before: 01:00 in China, the same day as T0's
            demand("driver1", "st-gyq", "charging", T0 - timedelta(hours=9)),
            demand("rider1", "st-jfb", "rights", T0 - timedelta(days=20)),
            demand("driver1", "st-gyq", "parking", T0 - timedelta(days=5)),
            demand("courier1", "st-jfb", "parking", T0 + timedelta(hours=1))]
    check()
    assert table()[(unit_by_code("cq-yz").id, "parking", T0.date())] == 2  # one row, two
    # Dispatched and acknowledged: still open, still counted once (the row is unchanged).
    act_as(made[2], "jiangbei_admin", "approve", T0 + timedelta(hours=2),
           responsible_unit=jiangbei_street())
    check()
    act_as(made[2], "unit_admin", "complete", T0 + timedelta(days=1), handler_name="周")
    check()
    # Withdrawn by the worker: no longer counted; a day's last one gone: its row too.
    wf.perform(made[3].id, Action("withdraw"), find_user("rider1"), now=T0 + timedelta(days=2))
    db.session.commit()
    check()
    assert not [k for k in table() if k[1] == "rights"]
    # Answered: the rating step is not counted.
    act_as(made[2], "unit_admin", "complete", T0 + timedelta(days=3),
           answer="已在驿站旁划出电动车停放区域。")
    check()
    # Filters by the day of submission: the counters' days.
    city = find_user("city_admin")
    from datetime import datetime, time

    from webapp.services.activities import CHINA

    since = datetime.combine(T0.date(), time.min, CHINA)
    narrowed = demand_report.report(city, now=T0 + timedelta(days=7), since=since,
                                    until=since + timedelta(days=1))
    assert narrowed.total == 2  # the two parking demands of T0's day (the third answered)


def test_the_report_reads_no_open_demand_one_by_one_unless_overdue(demo):
    """The counters carry the ages: the only per-demand read is the overdue ones, found
    from their escalation timers."""
    from tests.webapp.test_instance_columns import Statements

    for i in range(3):
        demand("rider1", "st-jfb", "parking", T0 - timedelta(days=i))
    with Statements() as sql:
        result = demand_report.report(find_user("city_admin"), now=T0 + timedelta(hours=1))
    assert result.total == 3
    assert any("open_demand_days" in s for s in sql.seen)
    per_demand = [s for s in sql.seen if "FROM instances" in s]
    assert len(per_demand) == 1 and "timers" in per_demand[0] and "EXISTS" in per_demand[0]


# ---------------------------------------------------------------- the migration

def test_the_migration_fills_the_column_and_the_table_for_the_rows_there_are(app, demo):
    from flask_migrate import downgrade, upgrade

    head = demo["station_head"]
    wishes = [wf.start_instance("micro_wish", find_user(u), wish_data()) for u in ("rider1", "courier1")]
    act(wishes[0], "approve", head)
    demand("rider1", "st-jfb", "parking", T0)
    demand("courier1", "st-dp", "toilet", T0 - timedelta(days=3))
    closed = demand("driver1", "st-gyq", "rights", T0)
    wf.perform(closed.id, Action("withdraw"), find_user("driver1"), now=T0 + timedelta(hours=1))
    db.session.commit()
    stamps, expected = open_since_oracle()
    assert stamps == expected
    counters = table()
    assert sum(counters.values()) == 2
    db.session.close()
    try:
        downgrade(revision=BEFORE)
    finally:
        upgrade()
    db.session.close()
    stamps, expected = open_since_oracle()
    assert stamps == expected and any(s for _, _, s in stamps)
    assert table() == counters == recount()
    # And the triggers are back: a new demand is counted.
    demand("driver1", "st-gyq", "parking", T0)
    assert sum(table().values()) == 3


def test_demands_opened_and_closed_at_once_are_all_counted(app, demo):
    """Several transactions on one counter row (same district, category and day) at
    once: each waits for the other's row, none is lost — including a row deleted by its
    last demand's withdrawal while another demand opens on it."""
    from tests.webapp.test_workflow_concurrency import race

    first = demand("rider1", "st-jfb", "parking", T0)
    first_id = first.id

    def open_one(username):
        def call():
            return wf.start_instance("worker_demand", find_user(username), {
                "category": "parking", "station": unit_by_code("st-jfb").id,
                "description": "电动车没有地方停，经常被贴条。", "phone": "13700137000"},
                now=T0 + timedelta(hours=1)).id
        return call

    def withdraw():
        return wf.perform(first_id, Action("withdraw"), find_user("rider1"),
                          now=T0 + timedelta(hours=1)).id

    results = race(app, withdraw, open_one("courier1"), open_one("driver1"))
    assert all(isinstance(r, int) for r in results), results
    assert table() == recount()
    assert table()[(unit_by_code("cq-yz").id, "parking", T0.date())] == 2
