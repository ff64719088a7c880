"""A station's duty slots as its head runs them: the roster of each slot (who holds a
place, who waits in which order), a slot called off with its sign-ups, its places
changed; a volunteer's own slots marked; a second sign-up for a slot pointing at the
first; the slot choices leading with the time."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.webapp.test_pages import alerts, errors, login  # noqa: F401
from tests.webapp.test_union_processes import start
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import DutySlot, Instance, Notification, Reservation, User
from workflows.errors import Conflict
from webapp.services.activities import CHINA, create_slot
from webapp.services.org import unit_by_code


@pytest.fixture
def slot(demo):
    """A slot of one place at 解放碑 20 days ahead: volunteer1 holds it, branch_secretary
    then volunteer2 wait (in that order)."""
    station = unit_by_code("st-jfb")
    day = datetime.now(CHINA).replace(hour=9, minute=0, second=0, microsecond=0) \
        + timedelta(days=20)
    made = create_slot(station, day, day + timedelta(hours=8), 1)
    db.session.commit()
    return made


def sign_up(login, who: str, slot: DutySlot, phone: str) -> int:
    return start(login(who), "station_master", {
        "station": str(slot.station_id), "slot": str(slot.id), "phone": phone})


@pytest.fixture
def signed(login, slot):
    return {"holder": sign_up(login, "volunteer1", slot, "13700137000"),
            "first": sign_up(login, "branch_secretary", slot, "13600136000"),
            "second": sign_up(login, "volunteer2", slot, "13500135000")}


def name(username: str) -> str:
    return db.session.scalar(select(User.display_name).where(User.username == username))


def slot_item(page: str, slot_id: int) -> str:
    found = re.search(rf'<li class="list-group-item slot" id="slot-{slot_id}">(.*?)</li>\s*'
                      rf'(?=<li class="list-group-item slot"|</ul>\s*(?:<a|</div>))', page, re.S)
    assert found, page
    return found.group(1)


def slot_select(page: str) -> str:
    found = re.search(r'<select[^>]*name="slot"[^>]*>(.*?)</select>', page, re.S)
    assert found, page
    return found.group(1)


def test_the_head_sees_who_holds_each_slot_and_who_waits_in_order(login, slot, signed):
    page = login("station_head").get(f"/stations/{slot.station_id}/slots").get_data(
        as_text=True)
    item = slot_item(page, slot.id)
    held = item.split('class="list-unstyled mb-1 ps-2 held"')[1].split("</ul>")[0]
    waiting = item.split('class="mb-1 ps-4 waiting"')[1].split("</ol>")[0]
    assert name("volunteer1") in held and name("branch_secretary") not in held
    assert waiting.index(name("branch_secretary")) < waiting.index(name("volunteer2"))
    assert "候补（2 人，按顺序转正）" in item
    # A station head is no overseer of the requests (access.can_see_private): the
    # phones are masked as on the request page, never shown whole.
    assert "13700137000" not in item and "137****7000" in item
    # A district administrator over the station sees them whole and opens each request.
    page = login("yuzhong_admin").get(f"/stations/{slot.station_id}/slots").get_data(
        as_text=True)
    item = slot_item(page, slot.id)
    assert "13700137000" in item and "13500135000" in item
    for instance_id in signed.values():
        assert f'href="/instances/{instance_id}"' in item


def test_without_a_phone_field_to_mask_by_the_roster_hides_phones(login, slot, signed,
                                                                   monkeypatch):
    """The sign-up form's phone field is how phones are masked; with none to go by (the
    process unpublished, the field renamed) a head sees no phone rather than all of it."""
    from webapp.stations import views

    monkeypatch.setattr(views, "_phone_field", lambda: None)
    item = slot_item(login("station_head").get(f"/stations/{slot.station_id}/slots")
                     .get_data(as_text=True), slot.id)
    assert "13700137000" not in item and "137****7000" not in item and "***" in item


def test_a_volunteer_sees_no_roster_but_their_own_place(login, slot, signed):
    page = login("volunteer1").get(f"/stations/{slot.station_id}/slots").get_data(as_text=True)
    item = slot_item(page, slot.id)
    assert "已报名" in item and f'href="/instances/{signed["holder"]}"' in item
    assert name("branch_secretary") not in page and "取消此时段" not in page
    item = slot_item(login("volunteer2").get(f"/stations/{slot.station_id}/slots")
                     .get_data(as_text=True), slot.id)
    assert "候补第 2 位" in item and f'href="/instances/{signed["second"]}"' in item
    other = db.session.scalar(select(DutySlot).where(DutySlot.station_id == slot.station_id,
                                                     DutySlot.id != slot.id))
    page = login("volunteer2").get(f"/stations/{slot.station_id}/slots").get_data(as_text=True)
    assert "候补第" not in slot_item(page, other.id)


def test_calling_a_slot_off_ends_every_sign_up_with_the_reason(login, slot, signed):
    client = login("station_head")
    url = f"/stations/{slot.station_id}/slots/{slot.id}/cancel"
    station = unit_by_code("st-jfb")
    station.name_en = "JFB Station"  # short: the whole title fits
    db.session.commit()
    when = (f"{slot.starts_at.astimezone(CHINA):%Y-%m-%d %H:%M}–"
            f"{slot.ends_at.astimezone(CHINA):%H:%M}")
    confirm = client.get(url)
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "确认取消此时段" in page and name("volunteer2") in page
    assert "已报名的 1 人和候补的 2 人" in page
    refused = client.post(url, data={"reason": "  "})
    assert refused.status_code == 422 and "请填写取消理由" in errors(refused)
    db.session.expire_all()
    assert db.session.get(DutySlot, slot.id).cancelled_at is None
    done = client.post(url, data={"reason": "暴雨预警，驿站当天闭站"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(DutySlot, slot.id).cancel_reason == "暴雨预警，驿站当天闭站"
    for instance_id in signed.values():
        instance = db.session.get(Instance, instance_id)
        assert instance.status == "cancelled", instance_id
        line = next(h for h in instance.state["history"] if h["action"] == "call_off")
        assert line["comment"] == "暴雨预警，驿站当天闭站"
        told = db.session.scalar(select(Notification).where(
            Notification.instance_id == instance_id, Notification.kind == "ended"))
        assert told is not None and told.params["comment"] == "暴雨预警，驿站当天闭站"
        assert told.params["slot_when"] == when and told.params["station_name"] == station.name
        # Nobody waiting was handed the place being called off on the way.
        assert db.session.scalar(select(Notification).where(
            Notification.instance_id == instance_id, Notification.kind == "promoted")) is None
    holder = login("volunteer1").get(f"/instances/{signed['holder']}").get_data(as_text=True)
    assert "驿站取消" in holder and "暴雨预警，驿站当天闭站" in holder
    # Each is told the station called off their duty, which one and where, and why.
    from webapp.notifications import short_title
    told = db.session.scalar(select(Notification).where(
        Notification.instance_id == signed["holder"], Notification.kind == "ended"))
    assert short_title(told.kind, told.params, "zh") == (
        f"驿站已取消您 {when} 在 {station.name} 的值守（原因：暴雨预警，驿站当天闭站）")
    assert short_title(told.kind, told.params, "en") == (
        f"The station called off your duty on {when} at {station.name_en} "
        f"(reason: 暴雨预警，驿站当天闭站)")
    page = login("volunteer2").get("/notifications").get_data(as_text=True)
    assert f"驿站已取消您 {when} 在 {station.name} 的值守" in page
    # No longer offered, and the slots page says so with the reason.
    form = login("volunteer2").get(f"/processes/station_master/start?station={slot.station_id}")
    assert f'value="{slot.id}"' not in slot_select(form.get_data(as_text=True))
    sent = login("volunteer2").post("/processes/station_master/start", data={
        "station": str(slot.station_id), "slot": str(slot.id), "phone": "13500135000"})
    assert sent.status_code == 422
    client = login("station_head")
    page = client.get(f"/stations/{slot.station_id}/slots").get_data(as_text=True)
    item = slot_item(page, slot.id)
    assert "已取消" in item and "暴雨预警" in item and "取消此时段" not in item
    assert client.post(url, data={"reason": "again"}).status_code == 409


def test_the_cancel_page_of_a_slot_already_called_off_says_so_with_no_form(login, slot,
                                                                           signed):
    """Reopened (or opened by a second head) after the slot was called off: the page says
    at once when, by whom and why, and links back to the slots; no call-off form, whose
    submission could only be refused."""
    client = login("station_head")
    url = f"/stations/{slot.station_id}/slots/{slot.id}/cancel"
    assert client.post(url, data={"reason": "暴雨预警，驿站当天闭站"}).status_code == 302
    shown = client.get(url)
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert "这个时段已经取消了" in page and "取消理由：暴雨预警，驿站当天闭站" in page
    assert f"取消人：{name('station_head')}" in page and "取消时间：" in page
    assert f'href="/stations/{slot.station_id}/slots#slot-{slot.id}"' in page
    assert "<form" not in page.split("<main")[-1].split("</main>")[0] \
        and "确认取消此时段" not in page and "的报名都将结束" not in page
    again = client.post(url, data={"reason": "again"})
    assert again.status_code == 409 and "这个时段已经取消了" in again.get_data(as_text=True)
    client.post("/auth/locale", data={"locale": "en"})
    page = client.get(url).get_data(as_text=True)
    assert "This slot has already been called off" in page and "Back to the duty slots" in page
    assert "Reason: 暴雨预警，驿站当天闭站" in page and "Cancel this slot" not in page
    db.session.expire_all()
    assert db.session.get(DutySlot, slot.id).cancel_reason == "暴雨预警，驿站当天闭站"


def test_a_sign_up_that_waited_on_a_slot_being_called_off_gets_no_waiting_place(
        login, slot, signed):
    """A sign-up whose choice was checked before the cancel committed, and which then
    waited for the slot's places: refused, not put on the waiting list of a slot that
    will not happen (and that nobody can call it off from any more)."""
    from webapp.services.directory import GRANTED, REFUSED, WAITLISTED, DbDirectory
    from webapp.services.duty_roster import cancel_slot, slot_key

    key = slot_key(slot.id)
    late = signed["second"]  # a request of the process, to reserve for
    assert DbDirectory().reserve(key, late, None, waitlist=True) in (GRANTED, WAITLISTED)
    cancel_slot(db.session.get(DutySlot, slot.id), db.session.scalar(
        select(User).where(User.username == "station_head")), "暴雨闭站")
    db.session.commit()
    other = signed["first"]
    db.session.execute(Reservation.__table__.delete().where(  # as if it never had one
        Reservation.instance_id == other, Reservation.resource_key == key))
    assert DbDirectory().reserve(key, other, None, waitlist=True) == REFUSED
    # A second cancel (two heads confirming at once) is told, and keeps the first's reason.
    with pytest.raises(Conflict):
        cancel_slot(db.session.get(DutySlot, slot.id), db.session.scalar(
            select(User).where(User.username == "station_head")), "另一个理由")
    db.session.rollback()
    assert db.session.get(DutySlot, slot.id).cancel_reason == "暴雨闭站"


def test_only_those_who_run_the_station_call_a_slot_off(login, slot, signed):
    url = f"/stations/{slot.station_id}/slots/{slot.id}/cancel"
    client = login("volunteer1")
    assert client.get(url).status_code == 403
    assert client.post(url, data={"reason": "x"}).status_code == 403
    other_head = login("head_gyq") if db.session.scalar(
        select(User.id).where(User.username == "head_gyq")) else None
    if other_head is not None:
        assert other_head.post(url, data={"reason": "x"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Instance, signed["holder"]).status == "running"


def test_more_places_move_those_waiting_up_in_order_fewer_take_none_back(login, slot,
                                                                         signed):
    client = login("station_head")
    url = f"/stations/{slot.station_id}/slots/{slot.id}/places"
    done = client.post(url, data={"capacity": "2"}, follow_redirects=True)
    assert "候补中的 1 人已按顺序转为报名成功" in " ".join(alerts(done))
    db.session.expire_all()
    assert db.session.get(Instance, signed["first"]).steps == "wait_duty"
    assert db.session.get(Instance, signed["second"]).status == "waitlisted"
    assert db.session.get(DutySlot, slot.id).capacity == 2
    lower = client.post(url, data={"capacity": "1"}, follow_redirects=True)
    assert "不会取消任何人的报名" in " ".join(alerts(lower))
    db.session.expire_all()
    assert db.session.get(Instance, signed["first"]).steps == "wait_duty"
    assert db.session.get(Instance, signed["holder"]).steps == "wait_duty"
    bad = client.post(url, data={"capacity": "0"}, follow_redirects=True)
    assert "名额应在 1 到 20 之间" in " ".join(alerts(bad))
    assert login("volunteer1").post(url, data={"capacity": "5"}).status_code == 403


def test_the_head_finds_their_station_on_the_home_page(login, demo):
    page = login("station_head").get("/").get_data(as_text=True)
    station = unit_by_code("st-jfb")
    assert "我的驿站" in page and f'href="/stations/{station.id}/slots"' in page
    assert f'href="/stations/{station.id}"' in page
    assert "我的驿站" not in login("volunteer1").get("/").get_data(as_text=True)
    client = login("station_head")
    client.post("/auth/locale", data={"locale": "en", "next": "/"})
    english = client.get("/").get_data(as_text=True)
    assert "My stations" in english and "Jiefangbei Outdoor Workers" in english


def test_signing_up_twice_for_a_slot_links_the_first_sign_up(login, slot):
    first = sign_up(login, "volunteer1", slot, "13700137000")
    again = login("volunteer1").post("/processes/station_master/start", data={
        "station": str(slot.station_id), "slot": str(slot.id), "phone": "13700137000"})
    assert again.status_code == 409
    page = again.get_data(as_text=True)
    assert "您已提交过相同的申请" in page
    assert f'href="/instances/{first}"' in page and "查看这份申请" in page


def test_slot_choices_lead_with_the_time_and_name_the_station_only_when_needed(app, slot):
    from webapp.services.activities import slot_choices

    class Field:
        name = "slot"

    start = slot.starts_at.astimezone(CHINA)
    with app.test_request_context():
        chosen = dict(slot_choices(Field, "zh", {"station": [slot.station_id]}))
        anywhere = dict(slot_choices(Field, "en", {}))
    assert chosen[str(slot.id)] == f"{start:%m-%d %H:%M}-17:00 · 余 1 位"
    assert anywhere[str(slot.id)] == (f"{start:%m-%d %H:%M}-17:00 · 1 place left · "
                                      "Jiefangbei Outdoor Workers' Rest Station")


def head() -> User:
    return db.session.scalar(select(User).where(User.username == "station_head"))


def test_a_called_off_slot_closes_its_places_for_good(login, slot, signed):
    """Calling off closes the slot's capacity resource: places it is given afterwards
    (a definition's capacity, an administrator) still take nobody."""
    from webapp.models import CapacityResource
    from webapp.services.directory import REFUSED, DbDirectory, set_places
    from webapp.services.duty_roster import cancel_slot, slot_key

    key = slot_key(slot.id)
    assert not db.session.get(CapacityResource, key).closed
    cancel_slot(db.session.get(DutySlot, slot.id), head(), "暴雨闭站")
    db.session.commit()
    assert db.session.get(CapacityResource, key).closed
    assert set_places(key, 3) == []
    late = signed["first"]
    db.session.execute(Reservation.__table__.delete().where(  # as if it never had one
        Reservation.instance_id == late, Reservation.resource_key == key))
    assert DbDirectory().reserve(key, late, None, waitlist=True) == REFUSED
    assert DbDirectory().reserve(key, late, 3, waitlist=False) == REFUSED
    assert db.session.get(CapacityResource, key).granted == 0


def _when_blocked(seconds: float = 10) -> None:
    """Until another connection waits for a lock this one holds (PostgreSQL), or a
    moment (SQLite: the other waits for the write lock in BEGIN IMMEDIATE)."""
    import time

    if db.engine.dialect.name != "postgresql":
        time.sleep(0.5)
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # The activity is read once per transaction unless its snapshot is let go.
        db.session.execute(db.text("SELECT pg_stat_clear_snapshot()"))
        if db.session.scalar(db.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")):
            return
        time.sleep(0.05)
    raise AssertionError("the other transaction never waited for the lock")


def _in_thread(app, call):
    """Run ``call`` then commit in a thread with its own app context and connection."""
    import threading

    out = {}

    def run():
        with app.app_context():
            try:
                out["result"] = call()
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported to the test
                db.session.rollback()
                out["result"] = exc
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_a_sign_up_racing_a_call_off_that_locked_first_is_refused(app, slot, signed):
    """The call-off holds the slot's places (uncommitted) when a sign-up that passed its
    checks reaches ``reserve``: it waits, then is refused — no place, no waiting place."""
    from webapp.database import write_lock
    from webapp.services.directory import REFUSED, DbDirectory
    from webapp.services.duty_roster import cancel_slot, slot_key

    key = slot_key(slot.id)
    late = signed["second"]
    db.session.execute(Reservation.__table__.delete().where(  # its checks passed, no place yet
        Reservation.instance_id == late, Reservation.resource_key == key))
    db.session.commit()

    def sign_up_reserves():
        with write_lock():  # as the engine's callers always are
            return DbDirectory().reserve(key, late, None, waitlist=True)

    with write_lock():
        cancel_slot(db.session.get(DutySlot, slot.id), head(), "暴雨闭站")
        thread, out = _in_thread(app, sign_up_reserves)
        try:
            _when_blocked()
        finally:  # let the other go on either way, not leave it waiting
            db.session.commit()
            thread.join(timeout=60)
    assert out["result"] == REFUSED
    db.session.expire_all()
    assert db.session.scalar(select(Reservation.id).where(
        Reservation.instance_id == late, Reservation.resource_key == key)) is None


def test_a_sign_up_racing_a_call_off_that_reserved_first_is_called_off(app, slot, signed):
    """The sign-up holds its waiting place (uncommitted) when the call-off comes: the
    call-off waits for it, sees it and ends it with the others."""
    from webapp.database import write_lock
    from webapp.services.directory import WAITLISTED, DbDirectory
    from webapp.services.duty_roster import cancel_slot, slot_key

    key = slot_key(slot.id)
    late = signed["second"]
    db.session.execute(Reservation.__table__.delete().where(
        Reservation.instance_id == late, Reservation.resource_key == key))
    db.session.commit()
    slot_id, head_id = slot.id, head().id

    def call_off():
        return cancel_slot(db.session.get(DutySlot, slot_id), db.session.get(User, head_id),
                           "暴雨闭站")

    with write_lock():
        assert DbDirectory().reserve(key, late, None, waitlist=True) == WAITLISTED
        if db.engine.dialect.name == "postgresql":
            thread, out = _in_thread(app, call_off)
            try:
                _when_blocked()
            finally:
                db.session.commit()
                thread.join(timeout=60)
        else:  # one writer: the call-off begins once the sign-up has committed
            db.session.commit()
            thread, out = _in_thread(app, call_off)
            thread.join(timeout=60)
    assert out["result"] == 3, out
    db.session.expire_all()
    assert db.session.get(Instance, late).status == "cancelled"
    assert db.session.scalar(select(Reservation.status).where(
        Reservation.instance_id == late, Reservation.resource_key == key)) == "released"


def test_the_migration_closes_the_places_of_slots_already_called_off(app, slot, signed):
    from flask_migrate import downgrade, upgrade

    from webapp.models import CapacityResource
    from webapp.services.duty_roster import cancel_slot, slot_key

    cancel_slot(db.session.get(DutySlot, slot.id), head(), "暴雨闭站")
    db.session.commit()
    key = slot_key(slot.id)
    other = db.session.scalar(select(DutySlot.id).where(DutySlot.id != slot.id))
    db.session.close()
    try:
        downgrade(revision="f3a7c1d9e5b2")  # the one before it
        # The older code's "called off": no places.
        assert db.session.execute(db.text(
            "SELECT capacity FROM capacity_resources WHERE key = :key"),
            {"key": key}).scalar() == 0
        db.session.close()
    finally:
        upgrade()
    db.session.close()
    assert db.session.get(CapacityResource, key).closed
    assert not db.session.get(CapacityResource, slot_key(other)).closed


def test_a_duty_called_off_keeps_its_reason_in_a_title_of_at_most_100_characters():
    """In English a station's name and the sentence are long: the title stays within the
    message system's 100 characters by shortening the station's name (the request's own
    title, under it, names it whole), then the reason, never dropping the reason."""
    from webapp.notifications import TITLE_MAX, short_title

    params = {"process_name": "一日站长", "process_name_en": "Station master for a day",
              "status": "cancelled", "comment": "暴雨预警，驿站当天闭站",
              "slot_when": "2026-12-05 09:00–17:00", "station_name": "观音桥商圈工会驿站",
              "station_name_en": "Guanyinqiao Shopping District Union Rest Station"}
    en = short_title("ended", params, "en")
    assert len(en) <= TITLE_MAX and en.startswith(
        "The station called off your duty on 2026-12-05 09:00–17:00 at Guanyinqiao")
    assert en.endswith("(reason: 暴雨预警，驿站当天闭站)"), en
    zh = short_title("ended", params, "zh")
    assert zh == "驿站已取消您 2026-12-05 09:00–17:00 在 观音桥商圈工会驿站 的值守（原因：暴雨预警，驿站当天闭站）"
    params["comment"] = "因为特大暴雨预警，全市户外作业暂停，驿站当天闭站，请各位志愿者注意安全，改日再约，谢谢大家的理解和支持"
    for locale in ("zh", "en"):
        title = short_title("ended", params, locale)
        assert len(title) <= TITLE_MAX and "因为特大暴雨" in title, title
    # Other cancellations keep their wording.
    del params["slot_when"], params["station_name"], params["station_name_en"]
    params["comment"] = "暴雨"
    assert short_title("ended", params, "en") == \
        "Your Station master for a day is cancelled (reason: 暴雨)"
    assert short_title("ended", params, "zh") == "您的一日站长已取消（原因：暴雨）"
