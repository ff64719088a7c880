"""结对: a branch secretary pairs the branch with a station, one station at a time."""
from __future__ import annotations

import re
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.webapp.test_pages import alerts, login  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.database import write_lock
from webapp.models import AuditEntry, OrgUnit, Pairing
from webapp.services import five_ones, pairings, people
from webapp.services.activities import CHINA
from webapp.services.directory import DbDirectory
from webapp.services.org import unit_by_code
from webapp.services.users import find_user
from workflows.errors import Conflict


def paired_on(page: str) -> list[str]:
    return re.findall(r'class="fw-semibold pairing-branch">([^<]*)<', page)


def test_secretary_moves_the_branch_to_another_station(login, demo):
    branch, jfb, gyq = (unit_by_code(c) for c in ("cq-yz-jfb-branch1", "st-jfb", "st-gyq"))
    client = login("branch_secretary")
    page = client.get(f"/stations/{gyq.id}").get_data(as_text=True)
    assert "与本驿站结对" in page
    assert "与本驿站结对" not in client.get(f"/stations/{jfb.id}").get_data(as_text=True)
    # The branch is paired with 解放碑 now: moving asks first, naming what ends.
    asked = client.post(f"/stations/{gyq.id}/pairings", data={"branch": branch.id})
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and 'id="pairing-confirm"' in text
    assert "解放碑户外劳动者驿站的结对（自 2026-03-05 起）将同时解除" in text
    db.session.expire_all()
    assert DbDirectory().paired_unit(branch.id) == jfb.id  # nothing changed yet
    done = client.post(f"/stations/{gyq.id}/pairings",
                       data={"branch": branch.id, "confirmed": "1"}, follow_redirects=True)
    assert "解放碑街道机关第一党支部 已与本驿站结对。" in alerts(done)
    assert "解放碑街道机关第一党支部" in paired_on(done.get_data(as_text=True))
    assert "解放碑街道机关第一党支部" not in paired_on(
        client.get(f"/stations/{jfb.id}").get_data(as_text=True))
    db.session.expire_all()
    assert DbDirectory().paired_unit(branch.id) == gyq.id
    again = client.post(f"/stations/{gyq.id}/pairings", data={"branch": branch.id},
                        follow_redirects=True)
    assert "本支部已与该驿站结对" in " ".join(alerts(again))
    assert db.session.scalar(select(Pairing).where(Pairing.branch_id == branch.id,
                                                   Pairing.ended_on.is_(None))).station_id == gyq.id


def test_only_the_secretary_or_an_admin_above_may_pair_or_end(login, demo):
    branch, jfb = unit_by_code("cq-yz-jfb-branch1"), unit_by_code("st-jfb")
    pairing = db.session.scalar(select(Pairing).where(Pairing.branch_id == branch.id))
    for who in ("volunteer1", "jiangbei_admin", "station_head"):
        client = login(who)
        assert client.post(f"/stations/{jfb.id}/pairings/{pairing.id}/end").status_code == 403
        assert client.post(f"/stations/{unit_by_code('st-gyq').id}/pairings",
                           data={"branch": branch.id}).status_code == 403
    admin = login("unit_admin")  # 解放碑街道工会, above the branch
    assert "解除结对" in admin.get(f"/stations/{jfb.id}").get_data(as_text=True)
    asked = admin.post(f"/stations/{jfb.id}/pairings/{pairing.id}/end")
    assert asked.status_code == 200 and "将解除解放碑街道机关第一党支部与解放碑户外劳动者驿站的结对" \
        in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Pairing, pairing.id).active is True  # asked, not done
    ended = admin.post(f"/stations/{jfb.id}/pairings/{pairing.id}/end",
                       data={"confirmed": "1"}, follow_redirects=True)
    assert "已解除" in " ".join(alerts(ended))
    db.session.expire_all()
    assert db.session.get(Pairing, pairing.id).ended_on == datetime.now(CHINA).date()
    assert DbDirectory().paired_unit(branch.id) is None
    assert admin.post(f"/stations/{jfb.id}/pairings/999999/end").status_code == 404


# ---------------------------------------------------------------- periods (history)

def periods(branch) -> list[tuple[str, date, date | None]]:
    db.session.expire_all()
    return [(p.station.code, p.since, p.ended_on) for p in db.session.scalars(
        select(Pairing).where(Pairing.branch_id == branch.id).order_by(Pairing.id))]


def test_pairing_again_adds_a_period_and_keeps_the_earlier_one(demo):
    branch, jfb, gyq = (unit_by_code(c) for c in ("cq-yz-jfb-branch1", "st-jfb", "st-gyq"))
    secretary = find_user("branch_secretary")
    first = db.session.scalar(select(Pairing).where(Pairing.branch_id == branch.id))
    with write_lock():
        pairings.end(first, secretary, date(2026, 6, 30))
        with pytest.raises(Conflict) as ended:
            pairings.end(first, secretary, date(2026, 7, 1))
        assert ended.value.code == "already_ended"
        again = pairings.pair(branch, jfb, secretary, date(2026, 9, 1))
    db.session.commit()
    assert again.id != first.id
    assert periods(branch) == [("st-jfb", date(2026, 3, 5), date(2026, 6, 30)),
                               ("st-jfb", date(2026, 9, 1), None)]
    # Moving to another station ends the current period the day the new one begins, and
    # coming back is a third period: every earlier one keeps its dates.
    with write_lock():
        pairings.pair(branch, gyq, secretary, date(2026, 10, 8))
        pairings.pair(branch, jfb, secretary, date(2026, 11, 20))
    db.session.commit()
    assert periods(branch) == [("st-jfb", date(2026, 3, 5), date(2026, 6, 30)),
                               ("st-jfb", date(2026, 9, 1), date(2026, 10, 8)),
                               ("st-gyq", date(2026, 10, 8), date(2026, 11, 20)),
                               ("st-jfb", date(2026, 11, 20), None)]
    assert [p.station.code for p in pairings.branch_pairings(branch)] == ["st-jfb"]
    assert [p.branch_id for p in pairings.active_pairings(jfb)] == [branch.id]
    assert branch.id not in {p.branch_id for p in pairings.active_pairings(gyq)}
    assert DbDirectory().paired_unit(branch.id) == jfb.id
    # The periods that overlap a stretch of days (10-09 to 10-31: only the third).
    october = pairings.branch_history(branch, date(2026, 10, 9), date(2026, 10, 31))
    assert [(p.station.code, p.since) for p in october] == [("st-gyq", date(2026, 10, 8))]
    assert len(pairings.branch_history(branch, date(2026, 1, 1), date(2026, 12, 31))) == 4
    assert pairings.branch_history(branch, date(2025, 1, 1), date(2025, 12, 31)) == []


def test_the_database_holds_a_branch_to_one_current_pairing(demo):
    branch, jfb = unit_by_code("cq-yz-jfb-branch1"), unit_by_code("st-jfb")
    db.session.add(Pairing(branch=branch, station=jfb, since=date(2026, 4, 1)))
    with pytest.raises(IntegrityError):
        db.session.flush()  # the demo's pairing of the two is current already
    db.session.rollback()
    # Ended periods of the same two, as many as there were, sit beside the current one.
    db.session.add_all([
        Pairing(branch=branch, station=jfb, since=date(2025, 1, 1), ended_on=date(2025, 2, 1)),
        Pairing(branch=branch, station=jfb, since=date(2025, 5, 1), ended_on=date(2025, 6, 1))])
    db.session.commit()
    assert len(periods(branch)) == 3
    # Nor a second current pairing of the branch with another station: one at a time.
    db.session.add(Pairing(branch=branch, station=unit_by_code("st-gyq"),
                           since=date(2026, 4, 1)))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    # A period cannot end before it began.
    db.session.add(Pairing(branch=branch, station=jfb, since=date(2025, 8, 1),
                           ended_on=date(2025, 7, 1)))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_pairing_one_branch_with_several_stations_at_once_leaves_one_current(app, demo):
    """Secretaries (or a secretary's double click) pairing one branch at the same moment:
    each waits for the other, and the branch ends with one current pairing."""
    from tests.webapp.test_training_concurrency import burst

    branch_id = unit_by_code("cq-yz-jfb-branch1").id
    codes = ["st-gyq", "st-jck", "st-dp", "st-gyq", "st-xlk", "st-jck"]
    today = datetime.now(CHINA).date()

    def pair(code):
        with write_lock():
            return pairings.pair(db.session.get(OrgUnit, branch_id), unit_by_code(code),
                                 find_user("branch_secretary"), today).station_id

    results = burst(app, codes, len(codes), pair)
    outcomes = [r["outcome"] for r in results]
    assert all(isinstance(o, int) or isinstance(o, Conflict) for o in outcomes), outcomes
    db.session.expire_all()
    current = db.session.scalars(select(Pairing).where(
        Pairing.branch_id == branch_id, Pairing.ended_on.is_(None))).all()
    assert len(current) == 1
    rows = db.session.scalars(select(Pairing).where(Pairing.branch_id == branch_id)).all()
    assert len(rows) == 1 + sum(isinstance(o, int) for o in outcomes)


def test_the_station_page_lists_its_earlier_pairings(login, demo):
    branch, jfb, gyq = (unit_by_code(c) for c in ("cq-yz-jfb-branch1", "st-jfb", "st-gyq"))
    client = login("branch_secretary")
    assert 'id="past-pairings"' not in client.get(f"/stations/{jfb.id}").get_data(as_text=True)
    client.post(f"/stations/{gyq.id}/pairings", data={"branch": branch.id, "confirmed": "1"})
    today = datetime.now(CHINA).date()
    page = client.get(f"/stations/{jfb.id}").get_data(as_text=True)
    assert "解放碑街道机关第一党支部" not in paired_on(page)  # no longer current
    past = page.split('id="past-pairings"', 1)[1].split("</ul>", 1)[0]
    assert "解放碑街道机关第一党支部" in past and f"2026-03-05 ~ {today}" in past
    # Paired again: current once more, the earlier period still listed.
    again = client.post(f"/stations/{jfb.id}/pairings",
                        data={"branch": branch.id, "confirmed": "1"}, follow_redirects=True)
    page = again.get_data(as_text=True)
    assert "解放碑街道机关第一党支部" in paired_on(page)
    assert f"2026-03-05 ~ {today}" in page.split('id="past-pairings"', 1)[1]
    # Ending it from the page: the end form names the current period.
    current = pairings.branch_pairings(branch)[0]
    asked = client.post(f"/stations/{jfb.id}/pairings/{current.id}/end")
    assert f"（自 {today} 起）" in asked.get_data(as_text=True)
    client.post(f"/stations/{jfb.id}/pairings/{current.id}/end", data={"confirmed": "1"})
    assert periods(branch) == [("st-jfb", date(2026, 3, 5), today), ("st-gyq", today, today),
                               ("st-jfb", today, today)]


def test_a_station_paired_before_but_not_now_says_none_currently_not_yet(login, demo):
    """After its pairing ended, "no branch is paired yet" above the list of earlier
    pairings was untrue: the page says none is paired at present."""
    branch, jfb, gyq = (unit_by_code(c) for c in ("cq-yz-jfb-branch1", "st-jfb", "st-gyq"))
    client = login("branch_secretary")
    from webapp.models import Station

    never = db.session.scalar(select(Station.unit_id).join(
        OrgUnit, OrgUnit.id == Station.unit_id).where(
        OrgUnit.active, ~Station.unit_id.in_(select(Pairing.station_id)))
        .order_by(Station.unit_id).limit(1))
    assert never is not None
    page = client.get(f"/stations/{never}").get_data(as_text=True)
    assert "还没有党支部与本驿站结对。" in page  # never paired: "yet" is true
    client.post(f"/stations/{gyq.id}/pairings", data={"branch": branch.id, "confirmed": "1"})
    page = client.get(f"/stations/{jfb.id}").get_data(as_text=True)
    assert 'id="past-pairings"' in page
    assert "目前没有党支部与本驿站结对。" in page and "还没有党支部与本驿站结对" not in page
    client.post("/auth/locale", data={"locale": "en"})
    page = client.get(f"/stations/{jfb.id}").get_data(as_text=True)
    assert "No party branch is paired with this station at present." in page
    assert "paired with this station yet" not in page


def test_five_ones_counts_the_duties_served_at_a_former_station(login, demo):
    """五个一 counts the branch's members' duties of the year wherever they served
    (docs/reports.md): moving the pairing to another station takes nothing away, and the
    branch's page names every station it was paired with in the year, with the dates."""
    from webapp import demo as demo_data

    demo_data.seed_city_stations()
    demo_data.seed_city_life("demo-pass-2026")
    db.session.commit()
    branch = unit_by_code("cq-jlp-branch1")  # two confirmed duties at cq-st-jlp-01
    year = five_ones.current_year()
    before = five_ones.progress([branch], year)[0]
    assert (before.done, before.counts["duty"], before.hours) == (5, 2, 15.5)
    today = datetime.now(CHINA).date()
    with write_lock():
        pairings.pair(branch, unit_by_code("st-jfb"), find_user("city_admin"), today)
    db.session.commit()
    after = five_ones.progress([branch], year)[0]
    assert (after.done, after.counts, after.hours, len(after.duties)) == (
        before.done, before.counts, before.hours, len(before.duties))
    page = login("city_admin").get(f"/reports/five-ones/{branch.id}").get_data(as_text=True)
    listed = page.split('id="pairing-periods"', 1)[1].split("</p>", 1)[0]
    assert re.findall(r'class="pairing-period"><a [^>]*>([^<]+)</a>（([^）]+)）', listed) == [
        (unit_by_code("cq-st-jlp-01").name, f"2026-03-05 ~ {today}"),
        ("解放碑户外劳动者驿站", f"{today} ~ 至今")]
    # Another year's page names only the periods that reach into it.
    last = login("city_admin").get(f"/reports/five-ones/{branch.id}?year={year - 1}")
    assert 'id="pairing-periods"' not in last.get_data(as_text=True)


# ---------------------------------------------------------------- the audit log

def logged(action: str) -> list[tuple[str, dict, dict, str]]:
    """The sealed entries of ``action``: (object id, before, after, unit path)."""
    db.session.expire_all()
    return [(e.object_id, e.before, e.after, e.unit_path) for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action, AuditEntry.object_type == "pairing")
        .order_by(AuditEntry.seq))]


def test_pairing_moving_and_ending_are_in_the_audit_log(login, demo):
    """Each pairing and each end is an entry about the pairing, in the branch's part of
    the tree, with branch, station and dates; an end that a new pairing caused says so."""
    branch, jfb, gyq = (unit_by_code(c) for c in ("cq-yz-jfb-branch1", "st-jfb", "st-gyq"))
    secretary = find_user("branch_secretary")
    first = pairings.branch_pairings(branch)[0]
    with write_lock():
        moved = pairings.pair(branch, gyq, secretary, date(2026, 10, 8))
    db.session.commit()
    with write_lock():
        pairings.end(moved, find_user("unit_admin"), date(2026, 11, 20))
    db.session.commit()
    assert logged("pairing.create") == [(str(moved.id), {}, {
        "branch": "cq-yz-jfb-branch1", "station": "st-gyq", "since": "2026-10-08"}, branch.path)]
    period = {"branch": "cq-yz-jfb-branch1", "since": "2026-03-05", "station": "st-jfb"}
    assert logged("pairing.end") == [
        (str(first.id), period, {"ended_on": "2026-10-08", "cause": "moved"}, branch.path),
        (str(moved.id), {**period, "station": "st-gyq", "since": "2026-10-08"},
         {"ended_on": "2026-11-20"}, branch.path)]
    entries = db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "pairing").order_by(AuditEntry.seq)).all()
    assert [(e.action, e.actor_id) for e in entries] == [
        ("pairing.end", secretary.id), ("pairing.create", secretary.id),
        ("pairing.end", find_user("unit_admin").id)]
    # The log page reads them in words, the units by name, the page of the station linked.
    client = login("admin")
    page = client.get("/admin/audit?object_type=pairing").get_data(as_text=True)
    assert page.count("解除结对") >= 2 and "支部与驿站结对" in page
    for words in ("结对 · 解放碑街道机关第一党支部 · 观音桥", "结对日期", "解除日期", "解除原因",
                  "支部另与其他驿站结对", "解放碑户外劳动者驿站 (st-jfb)",
                  f'href="/stations/{gyq.id}#pairings"'):
        assert words in page, words
    # A refused pairing (already paired) writes nothing.
    with write_lock():
        pairings.pair(branch, jfb, secretary, date(2026, 11, 21))
    db.session.commit()
    count = db.session.scalar(select(sa.func.count(AuditEntry.id)))
    with write_lock():
        with pytest.raises(Conflict):
            pairings.pair(branch, jfb, secretary, date(2026, 11, 22))
    db.session.rollback()
    db.session.commit()
    assert db.session.scalar(select(sa.func.count(AuditEntry.id))) == count


# ---------------------------------------------------------------- inactive units

def test_deactivating_a_station_ends_its_pairings_that_day(demo):
    """Every branch paired with the station: its pairing ends on the day, in the log with
    the cause and the administrator who deactivated the station."""
    b1, b2 = unit_by_code("cq-yz-jfb-branch1"), unit_by_code("cq-jb-gyq-branch1")
    gyq = unit_by_code("st-gyq")
    admin = find_user("admin")
    with write_lock():
        pairings.pair(b1, gyq, find_user("branch_secretary"), date(2026, 10, 8))
    db.session.commit()
    assert {p.branch_id for p in pairings.active_pairings(gyq)} == {b1.id, b2.id}
    with write_lock():
        assert people.set_unit_active(admin, gyq, False, today=date(2026, 11, 3))
    db.session.commit()
    assert pairings.active_pairings(gyq) == []
    assert periods(b1)[-1] == ("st-gyq", date(2026, 10, 8), date(2026, 11, 3))
    assert periods(b2) == [("st-gyq", date(2026, 3, 5), date(2026, 11, 3))]
    ends = [e for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "pairing.end").order_by(AuditEntry.seq)) if
        e.after.get("cause") == "station_deactivated"]
    assert sorted((e.before["branch"], e.after["ended_on"], e.actor_id) for e in ends) == [
        ("cq-jb-gyq-branch1", "2026-11-03", admin.id),
        ("cq-yz-jfb-branch1", "2026-11-03", admin.id)]
    # Reactivated, it is paired with nobody again until a branch pairs.
    with write_lock():
        people.set_unit_active(admin, gyq, True)
    db.session.commit()
    assert pairings.active_pairings(gyq) == []


def test_deactivating_a_branch_from_the_admin_page_ends_its_pairing(login, demo):
    branch, jfb = unit_by_code("cq-yz-jfb-branch1"), unit_by_code("st-jfb")
    client = login("unit_admin")  # 解放碑街道工会, above the branch
    r = client.post(f"/admin/units/{branch.id}/deactivate", data={"confirmed": "1"},
                    follow_redirects=True)
    assert r.status_code == 200
    today = datetime.now(CHINA).date()
    db.session.expire_all()
    assert db.session.get(OrgUnit, branch.id).active is False
    assert periods(branch) == [("st-jfb", date(2026, 3, 5), today)]
    assert DbDirectory().paired_unit(branch.id) is None
    assert [(e.before, e.after) for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "pairing.end"))] == [
        ({"branch": "cq-yz-jfb-branch1", "station": "st-jfb", "since": "2026-03-05"},
         {"ended_on": today.isoformat(), "cause": "branch_deactivated"})]


def test_an_inactive_branch_or_station_cannot_pair(login, demo):
    branch, gyq, jck = (unit_by_code(c) for c in ("cq-yz-jfb-branch1", "st-gyq", "st-jck"))
    secretary, admin = find_user("branch_secretary"), find_user("admin")
    with write_lock():
        people.set_unit_active(admin, jck, False)
    db.session.commit()
    with write_lock():
        with pytest.raises(Conflict) as refused:
            pairings.pair(branch, jck, secretary, date(2026, 11, 3))
    db.session.rollback()
    assert refused.value.code == "unit_inactive"
    assert refused.value.message("zh") == "该驿站已停用，不能结对"
    with write_lock():
        people.set_unit_active(admin, branch, False)
    db.session.commit()
    assert pairings.branches_for(secretary) == []  # not offered on a station's page
    client = login("branch_secretary")
    assert "与本驿站结对" not in client.get(f"/stations/{gyq.id}").get_data(as_text=True)
    r = client.post(f"/stations/{gyq.id}/pairings", data={"branch": branch.id, "confirmed": "1"},
                    follow_redirects=True)
    assert "该党支部已停用，不能结对" in " ".join(alerts(r))
    db.session.expire_all()
    assert pairings.branch_pairings(branch) == []
    assert not [p for p in pairings.active_pairings(gyq) if p.branch_id == branch.id]


# ---------------------------------------------------------------- the migration

OLD = sa.table("pairings", sa.column("id", sa.Integer), sa.column("branch_id", sa.Integer),
               sa.column("station_id", sa.Integer), sa.column("since", sa.Date),
               sa.column("active", sa.Boolean))


def test_the_migration_dates_ended_pairings_and_keeps_one_row_per_pair_going_down(
        app, demo, make_unit):
    from flask_migrate import downgrade, upgrade

    b1, b2 = unit_by_code("cq-yz-jfb-branch1"), unit_by_code("cq-jb-gyq-branch1")
    b3 = make_unit("cq-yz-branch9", "branch", "cq-yz-jfb")
    jfb, gyq, jck = (unit_by_code(c).id for c in ("st-jfb", "st-gyq", "st-jck"))
    secretary = find_user("branch_secretary")
    with write_lock():  # b1: 解放碑 (03-05 ~ 06-01), 观音桥 (06-01 ~ 09-01), 解放碑 again
        pairings.pair(b1, unit_by_code("st-gyq"), secretary, date(2026, 6, 1))
        pairings.pair(b1, unit_by_code("st-jfb"), secretary, date(2026, 9, 1))
    db.session.commit()
    ids = {p.since: p.id for p in db.session.scalars(select(Pairing).where(
        Pairing.branch_id == b1.id))}
    b1, b2, b3 = b1.id, b2.id, b3.id
    db.session.close()
    try:
        downgrade(revision="e8c2a4f6b1d3")  # the one before it
        with db.engine.begin() as conn:
            rows = set(conn.execute(sa.select(OLD.c.id, OLD.c.branch_id, OLD.c.station_id,
                                              OLD.c.since, OLD.c.active)))
            # One row per branch and station: 解放碑's current one kept, its first period
            # gone (the old unique constraint allows no more).
            assert {r for r in rows if r.branch_id == b1} == {
                (ids[date(2026, 9, 1)], b1, jfb, date(2026, 9, 1), True),
                (ids[date(2026, 6, 1)], b1, gyq, date(2026, 6, 1), False)}
            assert {(r.branch_id, r.station_id, r.since, r.active) for r in rows
                    if r.branch_id == b2} == {(b2, gyq, date(2026, 3, 5), True)}
            # Rows as the old code left them: ended ones with no date.
            conn.execute(sa.insert(OLD), [
                # b2 left 解放碑 for 观音桥 (paired 03-05)
                {"branch_id": b2, "station_id": jfb, "since": date(2026, 1, 10),
                 "active": False},
                # b3's pairing ended by hand, nothing since
                {"branch_id": b3, "station_id": jck, "since": date(2026, 2, 1),
                 "active": False}])
    finally:
        upgrade()
    today = datetime.now(CHINA).date()
    b1, b2, b3 = (db.session.get(OrgUnit, i) for i in (b1, b2, b3))
    assert periods(b1) == [("st-gyq", date(2026, 6, 1), date(2026, 9, 1)),
                           ("st-jfb", date(2026, 9, 1), None)]
    assert sorted(periods(b2), key=lambda p: p[1]) == [
        ("st-jfb", date(2026, 1, 10), date(2026, 3, 5)),  # the next pairing's first day
        ("st-gyq", date(2026, 3, 5), None)]
    assert periods(b3) == [("st-jck", date(2026, 2, 1), today)]  # no later date: the upgrade's
    # The upgraded table takes a new period of a pair that has ended ones.
    with write_lock():
        pairings.pair(b3, unit_by_code("st-jck"), find_user("city_admin"), today)
    db.session.commit()
    assert periods(b3) == [("st-jck", date(2026, 2, 1), today), ("st-jck", today, None)]


def test_the_one_current_pairing_migration_ends_older_duplicates_and_goes_down(app, demo):
    """Going up: a branch with several current pairings keeps its latest (by ``since``,
    then id) and each other ends on the next one's ``since``; the index then holds the
    branch to one.  Going down: the index per branch and station is back."""
    from flask_migrate import downgrade, upgrade

    b1, b2 = unit_by_code("cq-yz-jfb-branch1"), unit_by_code("cq-jb-gyq-branch1")
    jfb, gyq, jck, dp = (unit_by_code(c).id for c in ("st-jfb", "st-gyq", "st-jck", "st-dp"))
    b1, b2 = b1.id, b2.id
    table = Pairing.__table__
    db.session.close()
    try:
        downgrade(revision="f5c8e0a2b4d6")  # the one before it
        with db.engine.begin() as conn:
            # Written around the service: b1 (解放碑 since 03-05) at three more stations,
            # two of them the same day; b2's one pairing untouched.
            conn.execute(sa.insert(table), [
                {"branch_id": b1, "station_id": gyq, "since": date(2026, 6, 1)},
                {"branch_id": b1, "station_id": jck, "since": date(2026, 9, 1)},
                {"branch_id": b1, "station_id": dp, "since": date(2026, 9, 1)}])
        with db.engine.begin() as conn:  # the old index: once per branch and station
            with pytest.raises(IntegrityError):
                conn.execute(sa.insert(table), {"branch_id": b1, "station_id": gyq,
                                                "since": date(2026, 10, 1)})
    finally:
        upgrade()
    branch1, branch2 = db.session.get(OrgUnit, b1), db.session.get(OrgUnit, b2)
    assert periods(branch1) == [("st-jfb", date(2026, 3, 5), date(2026, 6, 1)),
                                ("st-gyq", date(2026, 6, 1), date(2026, 9, 1)),
                                ("st-jck", date(2026, 9, 1), date(2026, 9, 1)),
                                ("st-dp", date(2026, 9, 1), None)]
    assert periods(branch2) == [("st-gyq", date(2026, 3, 5), None)]
    db.session.add(Pairing(branch_id=b2, station_id=jfb, since=date(2026, 10, 1)))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    # Down and up again, with nothing to end: both ways work on what the other left.
    db.session.close()
    try:
        downgrade(revision="f5c8e0a2b4d6")
        with db.engine.begin() as conn:
            names = {ix["name"] for ix in sa.inspect(conn).get_indexes("pairings")}
            assert "uq_pairings_current" in names and "uq_pairings_branch_current" not in names
    finally:
        upgrade()
    with db.engine.connect() as conn:
        names = {ix["name"] for ix in sa.inspect(conn).get_indexes("pairings")}
    assert "uq_pairings_branch_current" in names and "uq_pairings_current" not in names
    assert len(periods(db.session.get(OrgUnit, b1))) == 4
