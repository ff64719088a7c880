"""The station directory and the wish wall, as riders and volunteers use them."""
from __future__ import annotations

import re

from tests.webapp.test_pages import login, submit_wish, task_id_of, wish_form  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.services.org import unit_by_code


def names(page: str) -> list[str]:
    return re.findall(r'<div class="fw-semibold">([^<]+)</div>', page)


def test_find_a_station_with_charging_near_a_landmark(login, demo):
    client = login("rider1")
    everything = names(client.get("/stations").get_data(as_text=True))
    assert len(everything) == 6
    near = names(client.get("/stations?q=解放碑").get_data(as_text=True))
    assert near == ["解放碑户外劳动者驿站"]
    charging = names(client.get("/stations?service=charging").get_data(as_text=True))
    assert "小龙坎新就业形态劳动者驿站" not in charging and "大坪爱心驿站" in charging
    jiangbei = unit_by_code("cq-jb")
    both = client.get(f"/stations?district={jiangbei.id}&service=parking&open=1")
    assert names(both.get_data(as_text=True)) == ["观音桥商圈工会驿站"]
    assert client.get("/stations?district=abc&service=bogus&page=-1").status_code == 200
    # % and _ are what they are, not wildcards that find every station.
    assert names(client.get("/stations?q=%25").get_data(as_text=True)) == []
    assert names(client.get("/stations?q=_").get_data(as_text=True)) == []
    admin = login("city_admin")
    assert "cq-yz-jfb" not in admin.get("/admin/units?q=_").get_data(as_text=True)
    # (The list's role filter offers "station_head" on every page: look at its rows.)
    assert 'data-user="station_head"' not in admin.get("/admin/users?q=%25").get_data(
        as_text=True)
    assert 'data-user="station_head"' in admin.get("/admin/users?q=station_").get_data(
        as_text=True)


def test_a_search_as_people_type_it_finds_the_station(login, demo):
    """"解放碑驿站" or "Jiefangbei station": a place with the word every station's name
    has, or words in another order, find the station — not nothing."""
    client = login("rider1")

    def found(q):
        return names(client.get("/stations", query_string={"q": q}).get_data(as_text=True))

    assert found("解放碑驿站") == found("解放碑 驿站") == found("解放碑") == ["解放碑户外劳动者驿站"]
    assert found("观音桥工会驿站") == ["观音桥商圈工会驿站"]  # a word left out of the middle
    assert found("民族路 解放碑") == ["解放碑户外劳动者驿站"]  # address and landmark words
    assert len(found("驿站")) == 5  # only the word every name has: all with it in the name
    assert found("解放碑 观音桥") == []  # every word must match
    client.post("/auth/locale", data={"locale": "en"})
    assert found("Jiefangbei station") == found("jiefangbei outdoor rest station") == [
        "Jiefangbei Outdoor Workers&#39; Rest Station"]
    # The API searches the same way.
    from tests.webapp.test_api import Api

    answer = Api(client)("GET", "/stations", "rider1", query_string={"q": "解放碑驿站"})
    assert [s["code"] for s in answer.get_json()["items"]] == ["st-jfb"]


def test_station_page_shows_services_and_unknown_ones_are_404(login, demo):
    client = login("rider1")
    station = unit_by_code("st-dp")
    page = client.get(f"/stations/{station.id}").get_data(as_text=True)
    assert "大坪正街118号" in page and "充电桩：10" in page
    assert client.get("/stations/999999").status_code == 404
    assert client.get(f"/stations/{unit_by_code('cq-yz').id}").status_code == 404


def test_the_wish_wall_masks_who_wished_and_filters(login, demo):
    instance_id = submit_wish(login("rider1"))
    login("station_head").post(f"/tasks/{task_id_of(instance_id)}", data={"action": "approve"})
    volunteer = login("volunteer1")
    wall = volunteer.get("/wishes").get_data(as_text=True)
    assert "一个新头盔" in wall and "电动车头盔摔坏了" in wall
    assert "马超" not in wall and "13800138000" not in wall
    assert "认领这个心愿" in wall  # a 渝中区 volunteer may claim it
    other = login("volunteer2").get("/wishes").get_data(as_text=True)
    assert "一个新头盔" in other and "认领这个心愿" not in other  # shown, not theirs to claim
    yz, jb = unit_by_code("cq-yz").id, unit_by_code("cq-jb").id
    volunteer = login("volunteer1")
    assert "一个新头盔" in volunteer.get(f"/wishes?district={yz}").get_data(as_text=True)
    assert "一个新头盔" not in volunteer.get(f"/wishes?district={jb}").get_data(as_text=True)
    assert "一个新头盔" in volunteer.get("/wishes?category=goods").get_data(as_text=True)
    assert "一个新头盔" not in volunteer.get("/wishes?category=study").get_data(as_text=True)
    claimed = volunteer.post(f"/tasks/{task_id_of(instance_id)}/claim", follow_redirects=True)
    assert "认领成功" in claimed.get_data(as_text=True)
    assert "一个新头盔" not in volunteer.get("/wishes").get_data(as_text=True)


def test_a_heic_photo_is_offered_as_a_file_on_the_wall_a_png_is_drawn(login, demo):
    """An iPhone's HEIC photo is kept as sent, but no browser draws it: the wall links to
    it rather than showing an empty picture; a PNG is drawn."""
    import io

    from tests.webapp.test_pages import PNG

    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    made = {}
    for who, name, data in (("rider1", "photo.heic", heic), ("courier1", "photo.png", PNG)):
        client = login(who)
        response = client.post("/processes/micro_wish/start", data={
            **wish_form(title=f"{who}的心愿"), "photo": (io.BytesIO(data), name)},
            content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        made[who] = int(response.headers["Location"].rsplit("/", 1)[1])
        login("station_head").post(f"/tasks/{task_id_of(made[who])}", data={"action": "approve"})
    wall = login("volunteer1").get("/wishes").get_data(as_text=True)
    cards = {who: wall.split(f"{who}的心愿")[0].rsplit('class="card ', 1)[-1] for who in made}
    assert "uf-wish-photo-file" in cards["rider1"] and "<img" not in cards["rider1"]
    assert "HEIC" in cards["rider1"]
    assert "<img" in cards["courier1"] and "uf-wish-photo-file" not in cards["courier1"]


def test_unverified_wishes_are_not_on_the_wall(login, demo):
    submit_wish(login("rider1"))
    assert "一个新头盔" not in login("volunteer1").get("/wishes").get_data(as_text=True)


def test_the_station_head_publishes_duty_slots_and_volunteers_see_the_places(login, demo):
    from datetime import date, timedelta

    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import CapacityResource, DutySlot

    station = unit_by_code("st-jck")  # 较场口: no slots in the demo
    day = (date.today() + timedelta(days=20)).isoformat()
    volunteer = login("volunteer1")
    assert "还没有发布值守时段" in volunteer.get(f"/stations/{station.id}/slots").get_data(
        as_text=True)
    assert volunteer.post(f"/stations/{station.id}/slots", data={
        "day": day, "starts": "09:00", "ends": "17:00", "capacity": "2"}).status_code == 403
    head = login("unit_admin")  # 解放碑街道工会 looks after 较场口 too
    bad = head.post(f"/stations/{station.id}/slots", data={
        "day": day, "starts": "17:00", "ends": "09:00", "capacity": "2"})
    assert bad.status_code == 422 and "结束时间应晚于开始时间" in bad.get_data(as_text=True)
    ok = head.post(f"/stations/{station.id}/slots", data={
        "day": day, "starts": "09:00", "ends": "17:00", "capacity": "3"}, follow_redirects=True)
    assert "值守时段已发布" in ok.get_data(as_text=True) and "已报 0 / 3" in ok.get_data(
        as_text=True)
    twice = head.post(f"/stations/{station.id}/slots", data={
        "day": day, "starts": "09:00", "ends": "17:00", "capacity": "3"})
    assert twice.status_code == 422 and "已经发布过" in twice.get_data(as_text=True)
    slot = db.session.scalar(select(DutySlot).where(DutySlot.station_id == station.id))
    assert db.session.get(CapacityResource, f"slot:{slot.id}").capacity == 3
    assert login("station_head").post(f"/stations/{station.id}/slots", data={
        "day": day, "starts": "09:00", "ends": "12:00", "capacity": "1"}).status_code == 403


def test_only_people_who_may_sign_up_see_the_station_master_button(login, demo):
    """The button leads to the station_master start page: shown exactly to whom it opens."""
    station = unit_by_code("st-jfb")
    for who in ("volunteer1", "volunteer2", "rider1", "unit_admin", "yuzhong_admin",
                "city_admin", "admin", "station_head"):
        client = login(who)
        page = client.get(f"/stations/{station.id}/slots").get_data(as_text=True)
        start = client.get(f"/processes/station_master/start?station={station.id}")
        assert ("报名当一日站长" in page) == (start.status_code == 200), (who, start.status_code)
        assert ("报名当一日站长" in page) == who.startswith("volunteer"), who
