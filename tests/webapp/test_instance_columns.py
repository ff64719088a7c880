"""Station and category kept in the instances' columns, so reports need no JSON state.

The open-demands report grouped by ``state->data->category`` and ``->station``: a parse
of every open demand's state, so its cost grew with the history.  These tests pin the
columns (written by every save, filled by the migration for rows there were); that the
reports and the wall read them, the report giving the numbers the JSON gave; and that
the station list costs the same queries whatever the page holds.
"""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import event, func, select, text

from tests.webapp.test_pages import login, submit_wish, task_id_of  # noqa: F401
from tests.webapp.test_reports import T0, act_as, demand, jiangbei_street
from tests.webapp.test_workflow_service import demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance, Station
from webapp.services import demand_report, instance_columns, reports
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from webapp.services.users import find_user

BEFORE = "2664858edfe3"  # the revision before the columns


class Statements:
    """Every SQL statement run while the block is open."""

    def __enter__(self):
        self.seen: list[str] = []
        event.listen(db.engine, "before_cursor_execute", self._hook)
        return self

    def _hook(self, conn, cursor, statement, *args):
        self.seen.append(statement)

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._hook)


def some_demands():
    out = [demand("rider1", "st-jfb", "parking", T0),
           demand("courier1", "st-dp", "toilet", T0 + timedelta(days=6)),
           demand("driver1", "st-gyq", "charging", T0),
           demand("rider1", "st-jfb", "rights", T0 - timedelta(days=20)),
           demand("driver1", "st-gyq", "parking", T0 - timedelta(days=5))]
    act_as(out[2], "jiangbei_admin", "approve", T0 + timedelta(hours=2),
           responsible_unit=jiangbei_street())
    return out


def json_report(now):
    """The report's counts as the JSON state gives them (the query as it was)."""
    bucket = demand_report.age_bucket(now)  # the same classes; category read from the JSON
    demands = (
        select(Station.district_id.label("district"),
               Instance.state["data"]["category"].as_string().label("category"),
               bucket.label("bucket"))
        .join(Station, Station.unit_id == Instance.state["data"]["station"].as_integer())
        .where(Instance.process_key == "worker_demand", Instance.status == "running",
               Instance.steps.in_(demand_report.WAITING_STEPS), Instance.created_at <= now)
        .subquery())
    rows = db.session.execute(
        select(demands.c.district, demands.c.category, demands.c.bucket, func.count())
        .group_by(demands.c.district, demands.c.category, demands.c.bucket))
    districts, categories = Counter(), Counter()
    for district_id, category, name, count in rows:
        districts[(district_id, name)] += count
        categories[(category or "", name)] += count
    return districts, categories


def counted(result):
    districts = Counter({(r.key.id, name): n for r in result.districts
                         for name, n in r.counts.items() if n})
    categories = Counter({(r.key, name): n for r in result.categories
                          for name, n in r.counts.items() if n})
    return districts, categories


def test_every_save_copies_station_and_category_into_the_columns(demo):
    parking = demand("rider1", "st-jfb", "parking", T0)
    assert (parking.station_id, parking.category) == (unit_by_code("st-jfb").id, "parking")
    wish = wf.start_instance("micro_wish", find_user("courier1"), wish_data(category="study"))
    db.session.commit()
    assert (wish.station_id, wish.category) == (unit_by_code("st-jfb").id, "study")
    # A later step saves them again from the state (here unchanged).
    act_as(parking, "yuzhong_admin", "approve", T0 + timedelta(hours=1),
           responsible_unit=unit_by_code("cq-yz-jfb").id)
    db.session.refresh(parking)
    assert (parking.station_id, parking.category) == (unit_by_code("st-jfb").id, "parking")


def test_only_ids_and_strings_are_copied():
    assert instance_columns.station_of({"station": 12}) == 12
    assert [instance_columns.station_of({"station": v}) for v in
            (True, "12", 1.5, 0, -3, 2**31, None)] == [None] * 7
    assert instance_columns.station_of({}) is None
    assert instance_columns.category_of({"category": "parking"}) == "parking"
    assert [instance_columns.category_of({"category": v}) for v in
            (3, ["a"], "x" * 201, None)] == [None] * 4


def test_the_demands_report_reads_no_json_state_and_counts_as_the_json_did(demo):
    some_demands()
    for days in (1, 7, 30):
        now = T0 + timedelta(days=days)
        with Statements() as sql:
            result = demand_report.report(find_user("city_admin"), now=now)
        assert result.total and counted(result) == json_report(now)
        # Neither the grouping nor the join parses a state: their cost does not grow
        # with the size of every open demand's JSON.
        assert not [s for s in sql.seen if "state" in s.lower()], sql.seen


def test_the_wishes_report_joins_stations_by_the_column(demo):
    for user in ("rider1", "courier1"):
        wf.start_instance("micro_wish", find_user(user), wish_data())
    db.session.commit()
    stmt = reports.wishes_query(find_user("city_admin"), reports.Filters())
    assert "state" not in str(stmt.compile(db.engine)).lower()
    rows = reports.wish_rows(stmt)
    assert [(r.unit_id, r.submitted) for r in rows] == [(unit_by_code("cq-yz").id, 2)]


def test_the_migration_fills_the_columns_of_the_rows_there_are(app, demo):
    from flask_migrate import downgrade, upgrade

    made = some_demands()
    wish = wf.start_instance("micro_wish", find_user("driver1"), wish_data(category="study"))
    db.session.commit()
    expected = {i.id: (i.station_id, i.category) for i in made + [wish]}
    toilet, odd = made[1].id, made[0].id  # odd: a state naming its station as text: no station is copied
    db.session.execute(text("UPDATE instances SET state = :s WHERE id = :i"), {
        "s": '{"data": {"station": "12", "category": 7}}', "i": odd})
    expected[odd] = (None, None)
    db.session.commit()
    db.session.close()
    try:
        downgrade(revision=BEFORE)
    finally:
        upgrade()
    db.session.close()
    found = {i: (s, c) for i, s, c in db.session.execute(
        select(Instance.id, Instance.station_id, Instance.category)
        .where(Instance.id.in_(list(expected))))}
    assert found == expected
    assert expected[toilet] == (unit_by_code("st-dp").id, "toilet")


def test_the_wall_lists_the_newest_wish_first_and_filters_by_the_column(login, demo):
    first = submit_wish(login("rider1"), title="第一个心愿", category="goods")
    second = submit_wish(login("courier1"), title="第二个心愿", category="study")
    for instance_id in (first, second):
        login("station_head").post(f"/tasks/{task_id_of(instance_id)}",
                                   data={"action": "approve"})
    volunteer = login("volunteer1")
    wall = volunteer.get("/wishes").get_data(as_text=True)
    assert 0 < wall.index("第二个心愿") < wall.index("第一个心愿")
    study = volunteer.get("/wishes?category=study").get_data(as_text=True)
    assert "第二个心愿" in study and "第一个心愿" not in study
    # The filter compares the column (what every save copies), not the JSON state.
    db.session.execute(text("UPDATE instances SET category = 'study' WHERE id = :i"),
                       {"i": first})
    db.session.commit()
    study = volunteer.get("/wishes?category=study").get_data(as_text=True)
    assert "第二个心愿" in study and "第一个心愿" in study


def test_postgresql_sessions_run_without_jit(app):
    """JIT compiling took half of the open-demands report's query on every request."""
    import pytest

    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    assert db.session.scalar(text("SHOW jit")) == "off"
    db.session.rollback()
    db.session.close()
    assert db.session.scalar(text("SHOW jit")) == "off"  # on every pooled connection


def test_the_station_list_costs_the_same_queries_for_one_row_or_six(login, demo):
    client = login("rider1")
    client.get("/stations")  # warm: what a first request loads once
    with Statements() as one:
        page = client.get("/stations?q=解放碑").get_data(as_text=True)
    assert page.count('class="fw-semibold"') >= 1
    with Statements() as six:
        page = client.get("/stations").get_data(as_text=True)
    assert "观音桥商圈工会驿站" in page and "解放碑户外劳动者驿站" in page
    assert len(six.seen) == len(one.seen), six.seen


def test_a_request_at_a_station_is_overseen_from_the_station_s_side_too(login, demo):
    """A 江北 driver's demand at a 渝中 station: 渝中 dispatches it and its report counts
    it — and 渝中's 事项查询 finds it (it did not: staff were scoped by the applicant's
    unit only); 江北 still finds its worker's request; a third district does not."""
    made = demand("driver1", "st-jfb", "charging", T0)
    assert made.station_path == unit_by_code("st-jfb").path
    for who, finds in (("yuzhong_admin", True), ("unit_admin", True),
                       ("jiangbei_admin", True), ("shapingba_admin", False)):
        page = login(who).get(f"/admin/instances?q=%23{made.id}").get_data(as_text=True)
        assert (f"/instances/{made.id}" in page) is finds, who
    assert login("yuzhong_admin").get(f"/instances/{made.id}").status_code == 200
    assert login("shapingba_admin").get(f"/instances/{made.id}").status_code == 404


def test_the_station_path_follows_a_changed_station_and_the_migration_fills_it(app, demo):
    from flask_migrate import downgrade, upgrade

    made = demand("driver1", "st-jfb", "charging", T0)
    from webapp.models import Task
    from workflows.runtime import Action

    task = db.session.scalar(select(Task).where(Task.instance_id == made.id,
                                                Task.status == "open"))
    wf.perform(made.id, Action("return", task=task.key, comment="驿站选错了，请重新选择"),
               find_user("yuzhong_admin"), now=T0 + timedelta(hours=1))
    wf.perform(made.id, Action("resubmit", data={"station": unit_by_code("st-gyq").id}),
               find_user("driver1"), now=T0 + timedelta(hours=2))
    db.session.commit()
    assert db.session.get(Instance, made.id).station_path == unit_by_code("st-gyq").path
    wish = wf.start_instance("micro_wish", find_user("rider1"), wish_data())
    db.session.commit()
    expected = {made.id: unit_by_code("st-gyq").path, wish.id: unit_by_code("st-jfb").path}
    db.session.close()
    try:
        downgrade(revision="a7d3e9f1b2c4")  # the revision before the column
    finally:
        upgrade()
    db.session.close()
    assert {i: path for i, path in db.session.execute(select(
        Instance.id, Instance.station_path).where(Instance.id.in_(list(expected))))} == expected
