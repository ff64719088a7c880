"""Retreat batches made and changed by the city administrators on the quota pages: the
checks, the city's quota following the places, the audit, English names, the start
form's batch list (a worker nominated into a new batch, its quota applied) and what the
start form says once nominations are closed."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.webapp.test_pages import alerts, errors, login  # noqa: F401
from tests.webapp.test_union_processes import id_card, start
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import AuditEntry, CapacityResource, Course, RetreatBatch, RetreatQuota
from webapp.services.org import unit_by_code
from webapp.services.activities import CHINA

NAME = "2027年第二期劳模疗休养（南川金佛山）"


def today():
    from datetime import datetime

    return datetime.now(CHINA).date()


def form(**changes) -> dict:
    t = today()
    data = {"name": NAME, "name_en": "2027 model-worker retreat, 2nd batch (Jinfo Mountain)",
            "site": "南川金佛山职工疗休养基地", "site_en": "Jinfo Mountain retreat centre",
            "starts_on": str(t + timedelta(days=90)), "ends_on": str(t + timedelta(days=95)),
            "nominations_close_on": str(t + timedelta(days=45)), "capacity": "30"}
    return {**data, **changes}


def named(name: str = NAME) -> RetreatBatch | None:
    db.session.expire_all()
    return db.session.scalar(select(RetreatBatch).where(RetreatBatch.name == name))


def city_quota(batch) -> tuple[int, int]:
    """The city's quota of the batch and the places its resource keeps for it."""
    db.session.expire_all()
    city = unit_by_code("cq")
    amount = db.session.scalar(select(RetreatQuota.amount).where(
        RetreatQuota.batch_id == batch.id, RetreatQuota.unit_id == city.id))
    kept = db.session.get(CapacityResource, f"retreat:{batch.id}:{city.id}").capacity
    return amount, kept


def create(client, **changes) -> RetreatBatch:
    answer = client.post("/retreat/batches/new", data=form(**changes))
    assert answer.status_code == 302, errors(answer) + alerts(answer)
    batch = named(changes.get("name", NAME))
    assert answer.headers["Location"].endswith(f"/retreat/quotas/{batch.id}")
    return batch


def test_the_city_admin_creates_a_batch_and_the_list_shows_every_batch(login, demo):
    client = login("city_admin")
    listed = client.get("/retreat/quotas")
    assert listed.status_code == 200  # no longer sent on to the one seeded batch
    assert "新建批次" in listed.get_data(as_text=True)
    assert client.get("/retreat/batches/new").status_code == 200
    batch = create(client)
    assert batch.owner_unit.code == "cq" and batch.capacity == 30
    assert batch.site_en == "Jinfo Mountain retreat centre"
    assert city_quota(batch) == (30, 30)  # every place the city's, as the seed does it
    page = client.get(f"/retreat/quotas/{batch.id}").get_data(as_text=True)
    assert "已将" not in page and "本批次共 30 个名额。" in page and "编辑批次" in page
    listed = client.get("/retreat/quotas").get_data(as_text=True)
    names = re.findall(r'class="fw-semibold batch-name">([^<]*)<', listed)
    assert names == [NAME, "2027年第一期劳模疗休养（武隆仙女山）"]  # the latest first
    assert re.findall(r'batch-status">([^<]*)<', listed) == ["接受推荐中", "接受推荐中"]
    actions = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "retreat_batch", AuditEntry.object_id == str(batch.id))).all()
    assert actions == ["retreat_batch.create"]
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "quota.allocate", AuditEntry.actor_id == demo["city_admin"].id))
    assert entry.after == {"amount": 30}
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "新建疗休养批次" in audit and f"疗休养批次 · {NAME}" in audit


def test_the_status_of_a_batch_follows_its_dates(login, demo):
    client = login("city_admin")
    batch = create(client)
    t = today()
    db.session.execute(update(RetreatBatch).where(RetreatBatch.id == batch.id).values(
        nominations_close_on=t - timedelta(days=1), starts_on=t, ends_on=t + timedelta(days=2)))
    seeded = db.session.scalar(select(RetreatBatch).where(RetreatBatch.id != batch.id))
    db.session.execute(update(RetreatBatch).where(RetreatBatch.id == seeded.id).values(
        nominations_close_on=t - timedelta(days=30), starts_on=t - timedelta(days=20),
        ends_on=t - timedelta(days=15)))
    db.session.commit()
    listed = client.get("/retreat/quotas").get_data(as_text=True)
    assert re.findall(r'batch-status">([^<]*)<', listed) == ["推荐已截止", "已结束"]


@pytest.mark.parametrize("changes, field, message", [
    ({"ends_on": str(today() + timedelta(days=80))}, "ends_on", "结束日期不能早于开始日期"),
    ({"nominations_close_on": str(today() + timedelta(days=91))}, "nominations_close_on",
     "推荐截止日期不能晚于开始日期"),
    ({"nominations_close_on": str(today() - timedelta(days=1))}, "nominations_close_on",
     "推荐截止日期已经过去，将无法推荐。请检查日期。"),
    ({"name": "2027年第一期劳模疗休养（武隆仙女山）"}, "name", "已有同名的疗休养批次，请换个名称"),
    ({"name": "  "}, "name", "请填写批次名称"),
    ({"capacity": "0"}, "capacity", "名额总数应在 1 到 100000 之间"),
    ({"capacity": "abc"}, "capacity", "名额总数应在 1 到 100000 之间"),
    ({"starts_on": "2027-02-30"}, "starts_on", "不是有效的日期值"),
])
def test_a_wrong_batch_is_refused_beside_its_field(login, demo, changes, field, message):
    client = login("city_admin")
    before = db.session.scalar(select(RetreatBatch.id).order_by(RetreatBatch.id.desc()))
    answer = client.post("/retreat/batches/new", data=form(**changes))
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert message in page, errors(answer)
    assert f'id="{field}-error"' in page or re.search(
        rf'id="{field}"[^>]*is-invalid|is-invalid[^>]*id="{field}"', page), field
    db.session.expire_all()
    assert db.session.scalar(select(RetreatBatch.id).order_by(RetreatBatch.id.desc())) == before


def test_places_cannot_drop_below_what_the_city_handed_down_or_used(login, demo):
    client = login("city_admin")
    batch = create(client, capacity="10")
    yz = unit_by_code("cq-yz")
    assert client.post(f"/retreat/quotas/{batch.id}/units/{yz.id}",
                       data={f"u{yz.id}-amount": "7"}).status_code == 302
    edit = f"/retreat/batches/{batch.id}/edit"
    assert "已下拨 7 个、自用 0 个名额" in client.get(edit).get_data(as_text=True)
    refused = client.post(edit, data=form(capacity="6"))
    assert refused.status_code == 422
    assert errors(refused) == ["已下拨 7 个、市级已使用 0 个名额，名额不能少于 7 个"]
    assert named().capacity == 10 and city_quota(batch) == (10, 3)
    client.post("/auth/locale", data={"locale": "en"})
    refused = client.post(edit, data=form(capacity="6"))
    assert errors(refused) == ["7 places are handed down and 0 used by the city: at least 7"]
    # More places: the city's quota follows, what it keeps grows with it; audited.
    done = client.post(edit, data=form(capacity="12", site="南川金佛山疗休养中心"))
    assert done.status_code == 302
    assert named().capacity == 12 and city_quota(batch) == (12, 5)
    update_entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "retreat_batch.update", AuditEntry.object_id == str(batch.id)))
    assert update_entry.before == {"capacity": 10, "site": "南川金佛山职工疗休养基地"}
    assert update_entry.after == {"capacity": 12, "site": "南川金佛山疗休养中心"}
    assert client.post(edit, data=form(capacity="7")).status_code == 302
    assert city_quota(batch) == (7, 0)


def test_only_those_who_set_the_citys_quota_make_batches(login, demo):
    batch = db.session.scalar(select(RetreatBatch))
    for who in ("yuzhong_admin", "unit_admin", "supervisor"):
        client = login(who)
        assert "新建批次" not in client.get("/retreat/quotas").get_data(as_text=True), who
        assert client.get("/retreat/batches/new").status_code == 403, who
        assert client.post("/retreat/batches/new", data=form()).status_code == 403, who
        assert client.post(f"/retreat/batches/{batch.id}/edit",
                           data=form(name="x")).status_code == 403, who
        assert "编辑批次" not in client.get(f"/retreat/quotas/{batch.id}").get_data(as_text=True)
    for who in ("rider1", "volunteer1"):
        assert login(who).get("/retreat/batches/new").status_code == 403
    assert named() is None
    create(login("admin"))  # the platform administrator, above the city
    assert login("city_admin").get("/retreat/batches/999999/edit").status_code == 404


def nomination(batch, card="50010319900307123", phone="13800138000") -> dict:
    return {"batch": str(batch.id), "honour": "frontline", "id_card": id_card(card),
            "phone": phone, "health_ok": "y",
            "deeds": "从事外卖配送五年，累计安全配送三万余单，获评区级优秀骑手。"}


def test_a_worker_is_nominated_into_the_new_batch_within_its_quota(login, demo):
    client = login("city_admin")
    batch = create(client, capacity="4")
    yz, jfb = unit_by_code("cq-yz"), unit_by_code("cq-yz-jfb")
    logistics = unit_by_code("cq-yz-logistics")  # rider1's and courier1's, under 解放碑
    assert client.post(f"/retreat/quotas/{batch.id}/units/{yz.id}",
                       data={f"u{yz.id}-amount": "2"}).status_code == 302
    district = login("yuzhong_admin")
    for unit in (jfb, logistics):
        assert district.post(f"/retreat/quotas/{batch.id}/units/{unit.id}", data={
            f"u{unit.id}-amount": "1"}).status_code == 302
    rider = login("rider1")
    page = rider.get("/processes/retreat_nomination/start").get_data(as_text=True)
    assert f'<option value="{batch.id}">{NAME} · 南川金佛山职工疗休养基地 · ' in page
    instance_id = start(rider, "retreat_nomination", nomination(batch))
    from webapp.models import Instance

    instance = db.session.get(Instance, instance_id)
    assert instance.title.startswith(NAME)
    assert instance.title_en.startswith("2027 model-worker retreat, 2nd batch")
    db.session.expire_all()
    used = db.session.get(CapacityResource, f"retreat:{batch.id}:{logistics.id}")
    assert used.granted == 1 and used.capacity == 1
    refused = login("courier1").post("/processes/retreat_nomination/start", data=nomination(
        batch, "50010319920611456", "13900139000"))
    assert refused.status_code == 409
    assert "本单位本批次疗休养名额已用完，请联系上级工会调整名额" in alerts(refused)
    # With a nomination under way its dates stay (its timers and its one-a-year key were
    # made from them); its closing day and its name may still change.
    t = today()
    client = login("city_admin")
    moved = client.post(f"/retreat/batches/{batch.id}/edit", data=form(
        capacity="4", ends_on=str(t + timedelta(days=99))))
    assert moved.status_code == 422
    assert "已有 1 份推荐正在办理，不能再更改本批次的开始或结束日期" in moved.get_data(as_text=True)
    assert named().ends_on == t + timedelta(days=95)
    renamed = client.post(f"/retreat/batches/{batch.id}/edit", data=form(
        capacity="4", nominations_close_on=str(t + timedelta(days=40))))
    assert renamed.status_code == 302
    assert named().nominations_close_on == t + timedelta(days=40)


def test_english_pages_downloads_and_the_start_form_read_the_english_name(login, demo):
    client = login("city_admin")
    batch = create(client)
    client.get(f"/retreat/quotas/{batch.id}")  # the flash saying it was made, in Chinese
    client.post("/auth/locale", data={"locale": "en"})
    english = "2027 model-worker retreat, 2nd batch (Jinfo Mountain)"
    for url in ("/retreat/quotas", f"/retreat/quotas/{batch.id}", "/reports/quotas"):
        page = client.get(url).get_data(as_text=True)
        assert english in page and NAME not in page, url
    assert "Jinfo Mountain retreat centre" in client.get(
        f"/retreat/quotas/{batch.id}").get_data(as_text=True)
    download = client.get(f"/reports/quotas?batch={batch.id}&format=csv")
    assert download.status_code == 200 and download.get_data()
    assert "2027%20model-worker%20retreat%2C%202nd%20batch" in download.headers[
        "Content-Disposition"]
    rider = login("rider1")
    rider.post("/auth/locale", data={"locale": "en"})
    page = rider.get("/processes/retreat_nomination/start").get_data(as_text=True)
    assert f'<option value="{batch.id}">{english} · Jinfo Mountain retreat centre · ' in page
    seeded = db.session.scalar(select(RetreatBatch).where(RetreatBatch.id != batch.id))
    assert f'<option value="{seeded.id}">2027 model-worker retreat, 1st batch ' in page
    # Without an English name, the Chinese one (as before).
    db.session.execute(update(RetreatBatch).where(RetreatBatch.id == seeded.id).values(
        name_en=None, site_en=None))
    db.session.commit()
    page = rider.get("/processes/retreat_nomination/start").get_data(as_text=True)
    assert f'<option value="{seeded.id}">{seeded.name} · {seeded.site} · ' in page


def test_the_quota_download_names_its_batch(login, demo):
    client = login("city_admin")
    batch = db.session.scalar(select(RetreatBatch))
    from urllib.parse import quote

    for fmt in ("csv", "xlsx"):
        download = client.get(f"/reports/quotas?batch={batch.id}&format={fmt}")
        assert download.status_code == 200 and download.get_data()
        assert quote(f"疗休养名额使用_{batch.name}_", safe="") in download.headers[
            "Content-Disposition"], fmt


def close_everything() -> None:
    db.session.execute(update(RetreatBatch).values(
        nominations_close_on=today() - timedelta(days=1)))
    db.session.commit()


def test_the_start_form_says_nominations_are_closed(login, demo):
    close_everything()
    batch = db.session.scalar(select(RetreatBatch))
    rider = login("rider1")
    answer = rider.get("/processes/retreat_nomination/start")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "疗休养推荐已截止：目前没有正在接受推荐的批次。" in page
    assert f"“{batch.name}”已于 {batch.nominations_close_on} 截止推荐。" in page
    assert 'name="honour"' not in page and 'action="/processes/retreat_nomination/start"' \
        not in page
    sent = rider.post("/processes/retreat_nomination/start", data=nomination(batch))
    assert sent.status_code == 409 and "疗休养推荐已截止" in sent.get_data(as_text=True)
    rider.post("/auth/locale", data={"locale": "en"})
    page = rider.get("/processes/retreat_nomination/start").get_data(as_text=True)
    assert "Retreat nominations are closed: no batch is taking nominations now." in page
    # A new batch opens the form again.
    create(login("city_admin"))
    page = login("rider1").get("/processes/retreat_nomination/start").get_data(as_text=True)
    assert 'name="honour"' in page and "疗休养推荐已截止" not in page


def test_a_record_list_with_nothing_in_it_names_the_field(login, demo):
    # Courses say nothing of their own: the generic words, naming the field.
    db.session.execute(update(Course).values(closes_on=today() - timedelta(days=1)))
    db.session.commit()
    rider = login("rider1")
    page = rider.get("/processes/training_registration/start").get_data(as_text=True)
    assert "目前没有可选的培训课程，暂时无法提交这份申请。" in page
    rider.post("/auth/locale", data={"locale": "en"})
    page = rider.get("/processes/training_registration/start").get_data(as_text=True)
    assert "Nothing to choose for “Course” at the moment; this request cannot be sent yet." in page


def test_the_migration_adds_and_drops_the_english_columns(app, demo):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    db.session.close()
    try:
        downgrade(revision="e8b2d4f6a1c3")  # the one before it
        columns = {c["name"] for c in inspect(db.engine).get_columns("retreat_batches")}
        assert "name_en" not in columns and "site_en" not in columns
    finally:
        upgrade()
    columns = {c["name"] for c in inspect(db.engine).get_columns("retreat_batches")}
    assert {"name_en", "site_en"} <= columns
    assert db.session.scalar(select(RetreatBatch.name)) == "2027年第一期劳模疗休养（武隆仙女山）"
