"""A start form's station select at city scale: the person's own district at first, any
district or a name on asking, what was typed kept while looking — and every open
station can still be chosen and submitted (a city has thousands: one list of all of them
made the page half a megabyte)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import DutySlot, Instance, OrgUnit, Station, User
from tests.webapp.test_api import Api, api  # noqa: F401
from tests.webapp.test_pages import login, wish_form  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401


def _options(page: str, name: str) -> list[str]:
    select_html = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', page,
                            re.S).group(1)
    return [v for v in re.findall(r'<option[^>]*value="([^"]*)"', select_html) if v]


def _selected(page: str, name: str) -> str | None:
    select_html = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', page,
                            re.S).group(1)
    for tag in re.findall(r'<option[^>]*>', select_html):
        if re.search(r'\sselected[\s>=]', tag):
            return re.search(r'value="([^"]*)"', tag).group(1)
    return None


def _district_of(username: str) -> int:
    user = db.session.scalar(select(User).where(User.username == username))
    return db.session.scalar(select(OrgUnit.id).where(
        OrgUnit.id.in_(user.unit.ancestor_ids), OrgUnit.kind == "district"))


def _open_stations(district: int | None = None) -> set[str]:
    stmt = select(Station.unit_id).join(OrgUnit, OrgUnit.id == Station.unit_id).where(
        OrgUnit.active.is_(True), Station.is_open.is_(True))
    if district is not None:
        stmt = stmt.where(Station.district_id == district)
    return {str(i) for i in db.session.scalars(stmt)}


def _other_district(home: int) -> int:
    return db.session.scalar(select(Station.district_id).join(
        OrgUnit, OrgUnit.id == Station.unit_id).where(
        Station.district_id != home, Station.is_open.is_(True), OrgUnit.active.is_(True))
        .group_by(Station.district_id).order_by(func.count().desc()).limit(1))


def test_the_form_lists_the_stations_of_the_persons_own_district(login, demo):
    home = _district_of("rider1")
    page = login("rider1").get("/processes/micro_wish/start").get_data(as_text=True)
    listed = set(_options(page, "station"))
    assert listed == _open_stations(home) and listed < _open_stations()
    assert _selected(page, "station-district") == str(home)
    assert "共 %d 个驿站可选" % len(listed) in page


def test_finding_another_district_keeps_what_was_typed_and_saves_nothing(login, demo):
    client = login("rider1")
    other = _other_district(_district_of("rider1"))
    response = client.post("/processes/micro_wish/start", data=wish_form(
        station="", **{"station-district": str(other), "_find_station": "station"}))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert set(_options(page, "station")) == _open_stations(other)
    assert _selected(page, "station-district") == str(other)
    assert 'value="一个新头盔"' in page and "电动车头盔摔坏了，想要一个新的</textarea>" in page
    assert "invalid-feedback" not in page  # not checked yet: nothing was submitted
    assert db.session.scalar(select(func.count()).select_from(Instance)) == 0


def test_a_station_of_another_district_is_chosen_and_submitted(login, demo):
    client = login("rider1")
    other = _other_district(_district_of("rider1"))
    station = sorted(_open_stations(other))[0]
    response = client.post("/processes/micro_wish/start", data=wish_form(
        station=station, **{"station-district": str(other)}))
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    # A form posted without the filter (an old page, a script) is checked the same way:
    # the chosen station is always an option, wherever it is.
    client.post("/auth/logout")
    client = login("courier1")
    response = client.post("/processes/micro_wish/start", data=wish_form(station=station))
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    stations = db.session.scalars(select(Instance.station_id)).all()
    assert stations == [int(station), int(station)]


def test_a_closed_station_is_refused_even_when_sent(login, demo):
    client = login("rider1")
    station = db.session.get(Station, int(sorted(_open_stations())[0]))
    station.is_open = False
    db.session.commit()
    response = client.post("/processes/micro_wish/start", data=wish_form(station=str(station.unit_id)))
    assert response.status_code == 422
    assert str(station.unit_id) not in _options(response.get_data(as_text=True), "station")


def test_searching_by_name_across_districts(login, demo):
    client = login("rider1")
    station = db.session.get(Station, int(sorted(_open_stations())[-1]))
    part = station.unit.name[-4:]
    response = client.post("/processes/micro_wish/start", data=wish_form(
        station="", **{"station-district": "", "station-q": f"  {part} ",
                       "_find_station": "station"}))
    page = response.get_data(as_text=True)
    listed = _options(page, "station")
    assert str(station.unit_id) in listed
    for value in listed:
        found = db.session.get(Station, int(value))
        assert part in f"{found.unit.name}|{found.address}|{found.landmark}", found.unit.name
    assert len(listed) < len(_open_stations())
    assert f'value="{part}"' in page  # the search is shown as typed (trimmed)
    assert _selected(page, "station-district") == ""  # "all districts" chosen


def test_a_long_list_is_cut_and_says_so_but_the_chosen_station_stays(app, login, demo):
    app.config["STATION_CHOICES_LIMIT"] = 2
    home = _district_of("rider1")
    chosen = sorted(_open_stations() - _open_stations(home))[0]
    page = login("rider1").get(f"/processes/micro_wish/start?station={chosen}").get_data(
        as_text=True)
    listed = _options(page, "station")
    assert chosen in listed and _selected(page, "station") == chosen
    assert len(listed) == 3  # the first two of the district, and the chosen one
    assert "只列出了前 2 个驿站" in page


def test_duty_slots_follow_the_district_until_a_station_is_chosen(login, demo):
    home = _district_of("volunteer1")
    now = datetime.now(timezone.utc)
    here = sorted(_open_stations(home))[0]
    there = sorted(_open_stations() - _open_stations(home))[0]
    for station in (here, there):
        db.session.add(DutySlot(station_id=int(station), starts_at=now + timedelta(days=1),
                                ends_at=now + timedelta(days=1, hours=4), capacity=1))
    db.session.commit()
    in_there = {str(s) for s in db.session.scalars(select(DutySlot.id).where(
        DutySlot.station_id == int(there)))}
    in_home = {str(s.id) for s in db.session.scalars(select(DutySlot).join(
        Station, Station.unit_id == DutySlot.station_id).where(
        Station.district_id == home, DutySlot.starts_at > now))}
    page = login("volunteer1").get("/processes/station_master/start").get_data(as_text=True)
    slots = set(_options(page, "slot"))
    assert in_home and in_home <= slots and not (in_there & slots)


def test_the_api_start_form_lists_the_callers_district_and_says_where_to_find_more(api, demo):
    home = _district_of("rider1")
    r = api("GET", "/processes/micro_wish", "rider1")
    assert r.status_code == 200
    field = next(f for f in r.get_json()["form"]["fields"] if f["name"] == "station")
    assert {c["value"] for c in field["choices"]} == _open_stations(home)
    assert field["choices_complete"] is False and field["choices_district"] == home
    assert field["choices_search"] == "/api/v1/stations"
    # Any open station is accepted when sent, listed or not.
    other = sorted(_open_stations() - _open_stations(home))[0]
    from tests.webapp.test_api import wish

    r = api("POST", "/processes/micro_wish/instances", "rider1",
            json={"data": wish(station=int(other))})
    assert r.status_code == 201, r.get_json()


def test_the_finder_takes_any_input_calmly(login, demo):
    client = login("rider1")
    payload = '"><script>alert(1)</script>' + "站" * 100
    for district in ("abc", "-1", "99999999999999999999", "1 OR 1=1", ""):
        response = client.post("/processes/micro_wish/start", data=wish_form(
            station="", **{"station-district": district, "station-q": payload + "\x00",
                           "_find_station": "station"}))
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
        assert _selected(page, "station-district") == ""  # not a district: all of them
        assert "没有找到符合条件的驿站" in page
    response = client.get("/processes/micro_wish/start?station-district=%E2%80%AE&station-q=%E2%80%AE")
    assert response.status_code == 200
    # A NUL is refused before any view (as everywhere), with a message, not a 500.
    response = client.get("/processes/micro_wish/start?station-q=%00")
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Instance)) == 0


# ------------------------------------------------------------------ a returned request

def _returned_wish(station_id: int) -> tuple[int, int]:
    """rider1's wish for ``station_id``, returned for revision by whoever it went to:
    (instance id, the revise task's id)."""
    from tests.webapp.test_pages import task_id_of
    from tests.webapp.test_workflow_service import NOW, wish_data
    from webapp.services import workflow as wf
    from webapp.services.users import find_user
    from workflows.runtime import Action

    instance = wf.start_instance("micro_wish", find_user("rider1"),
                                 wish_data(station=station_id), now=NOW)
    db.session.commit()
    task = next(t for t in instance.state["tasks"] if t.get("closed_at") is None)
    approver = db.session.get(User, sorted(task["assignees"])[0])
    wf.perform(instance.id, Action("return", task=task["id"], comment="请写清楚尺码",
                                   to="applicant"), approver, now=NOW)
    db.session.commit()
    return instance.id, task_id_of(instance.id)


def _far_station_with_a_head() -> int:
    """An open station outside rider1's district, headed by volunteer2 from now on."""
    from webapp.models import Membership

    far = int(sorted(_open_stations() - _open_stations(_district_of("rider1")))[0])
    head = db.session.scalar(select(User).where(User.username == "volunteer2"))
    db.session.add(Membership(user_id=head.id, unit_id=far, role="station_head"))
    db.session.commit()
    return far


def test_a_returned_request_lists_its_stations_district_and_keeps_its_station(app, login,
                                                                            demo):
    app.config["STATION_CHOICES_LIMIT"] = 2
    far = _far_station_with_a_head()
    district = db.session.get(Station, far).district_id
    _, revise = _returned_wish(far)
    page = login("rider1").get(f"/tasks/{revise}").get_data(as_text=True)
    listed = _options(page, "station")
    assert _selected(page, "station") == str(far)
    assert set(listed) <= _open_stations(district) | {str(far)} and len(listed) <= 3
    assert _selected(page, "station-district") == str(district)
    assert 'name="_find_station"' in page


def test_finding_on_a_returned_request_keeps_what_was_typed_and_decides_nothing(login,
                                                                                 demo):
    from tests.webapp.test_pages import wish_form

    instance_id, revise = _returned_wish(int(wish_form()["station"]))
    home = _district_of("rider1")
    other = _other_district(home)
    client = login("rider1")
    response = client.post(f"/tasks/{revise}", data=wish_form(
        title="尺码 L 的头盔", station="", **{"station-district": str(other),
                                          "_find_station": "station"}))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # The district asked for, and the station the request names (still an option).
    assert set(_options(page, "station")) == _open_stations(other) | {wish_form()["station"]}
    assert 'value="尺码 L 的头盔"' in page and "invalid-feedback" not in page
    db.session.expire_all()
    instance = db.session.get(Instance, instance_id)
    assert instance.status == "returned" and instance.state["data"]["title"] == "一个新头盔"
    # Then a station of that district is chosen and the request sent back.
    chosen = sorted(_open_stations(other))[0]
    response = client.post(f"/tasks/{revise}", data=wish_form(
        title="尺码 L 的头盔", station=chosen, action="resubmit",
        **{"station-district": str(other)}))
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    db.session.expire_all()
    instance = db.session.get(Instance, instance_id)
    assert instance.status == "running" and instance.state["data"]["station"] == int(chosen)


def test_the_slot_list_follows_the_station_chosen(login, demo):
    """A link opens the form with one station's slots; choosing another station and
    asking again (the button without JavaScript, or js/slots.js) lists that station's
    slots, with the link's station gone and the old station's slot no longer chosen."""
    now = datetime.now(timezone.utc)
    here = db.session.get(OrgUnit, int(wish_form()["station"]))
    there = db.session.scalar(select(OrgUnit).join(Station, Station.unit_id == OrgUnit.id)
                              .where(Station.unit_id != here.id, Station.is_open.is_(True)))
    for station in (here, there):
        db.session.add(DutySlot(station_id=station.id, starts_at=now + timedelta(days=2),
                                ends_at=now + timedelta(days=2, hours=4), capacity=1))
    db.session.commit()

    def upcoming(station):
        return {str(i) for i in db.session.scalars(select(DutySlot.id).where(
            DutySlot.station_id == station.id, DutySlot.starts_at > now))}

    client = login("volunteer1")
    page = client.get(f"/processes/station_master/start?station={here.id}").get_data(
        as_text=True)
    assert set(_options(page, "slot")) == upcoming(here)
    assert 'data-uf-slot-refresh' in page and "列出所选驿站的时段" in page
    action = re.search(r'<form method="post" action="([^"]*)" enctype', page).group(1)
    assert action == "/processes/station_master/start"  # not ?station=: the form decides
    old_slot = sorted(upcoming(here))[0]
    again = client.post(action, data={"station": str(there.id), "slot": old_slot,
                                      "phone": "13700137000", "_find_station": "slot"})
    assert again.status_code == 200
    redrawn = again.get_data(as_text=True)
    assert upcoming(there) <= set(_options(redrawn, "slot"))
    assert not (upcoming(here) - {old_slot}) & set(_options(redrawn, "slot"))
    assert _selected(redrawn, "slot") is None and _selected(redrawn, "station") == str(there.id)
    assert 'value="13700137000"' in redrawn  # what was typed is kept
    assert db.session.scalar(select(func.count(Instance.id))) == 0  # nothing submitted


def test_two_stations_of_one_name_are_told_apart_by_their_address(login, demo):
    """A city has many "XX工会驿站": two lines reading the same would leave a rider
    guessing which one they mean."""
    from webapp.demo import _ensure_station
    from webapp.services.org import unit_by_code

    jfb = unit_by_code("st-jfb")
    _ensure_station("st-jfb-2", jfb.name, None, "cq-yz-jfb", "渝中区民族路 1 号", "", "", True,
                    True, False, 0, 0, 0, True)
    db.session.commit()
    page = login("rider1").get("/processes/micro_wish/start").get_data(as_text=True)
    assert f"{jfb.name}（{jfb.station.address}） · " in page
    assert f"{jfb.name}（渝中区民族路 1 号） · " in page
    other = unit_by_code("st-dp")  # a name of its own: shown as it is
    assert f">{other.name} · " in page
