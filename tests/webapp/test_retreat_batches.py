"""Retreat batches made and changed by the city administrators on the quota pages: the
checks, the city's quota following the places, the audit, English names, the start
form's batch list (a worker nominated into a new batch, its quota applied) and what the
start form says once nominations are closed."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

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
    # With a nomination under way its closing day may still change; the edit page says
    # what a change of its dates would do.
    t = today()
    client = login("city_admin")
    page = client.get(f"/retreat/batches/{batch.id}/edit").get_data(as_text=True)
    assert "已有 1 份推荐正在办理：改动开始或结束日期后，这些推荐按新日期办理" in page
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


# ------------------------------------------------------------------ moving a batch

SEEDED = "2027年第一期劳模疗休养（武隆仙女山）"
COURIER = ("50010319920611456", "13900139000")


def edit_form(batch, **changes) -> dict:
    """The edit form as the page fills it for ``batch``, with ``changes``."""
    data = {"name": batch.name, "name_en": batch.name_en or "", "site": batch.site,
            "site_en": batch.site_en or "", "starts_on": str(batch.starts_on),
            "ends_on": str(batch.ends_on), "nominations_close_on": str(batch.nominations_close_on),
            "capacity": str(batch.capacity)}
    return {**data, **{k: str(v) for k, v in changes.items()}}


def to_the_retreat(login, instance_id: int):
    """Approve the nomination up the chain, let its public notice pass and acknowledge
    the rules: it then waits for the retreat's end."""
    from datetime import datetime, timezone

    from webapp.models import Instance, Task, TaskAssignee, User
    from webapp.services import workflow as wf

    answers = {"unit_review": {"action": "approve"}, "district_review": {"action": "approve"},
               "city_review": {"action": "approve"},
               "briefing": {"action": "complete", "discipline_ack": "y"}}
    clock = datetime.now(timezone.utc) + timedelta(days=20)  # past the notice, not the end
    for _ in range(12):
        db.session.expire_all()
        instance = db.session.get(Instance, instance_id)
        if instance.steps == "retreat":
            return instance
        task = db.session.scalar(select(Task).where(
            Task.instance_id == instance_id, Task.status == "open", Task.kind != "timer"))
        if task is None or task.step not in answers:
            wf.fire_due_timers(clock)
            db.session.commit()
            continue
        username = db.session.scalar(select(User.username).join(
            TaskAssignee, TaskAssignee.user_id == User.id).where(
            TaskAssignee.task_id == task.id).order_by(User.id))
        answer = login(username).post(f"/tasks/{task.id}", data=answers[task.step])
        assert answer.status_code == 302, (task.step, errors(answer) + alerts(answer))
    raise AssertionError(f"still at {instance.steps}")


def wait_timer(instance_id: int):
    from webapp.models import Timer

    db.session.expire_all()
    return db.session.scalar(select(Timer).where(
        Timer.instance_id == instance_id, Timer.purpose == "wait", Timer.status == "pending"))


def notes(instance_id: int, kinds=("dates_moved", "retimed")) -> list[tuple[str, str, str]]:
    """(username, kind, priority) of the instance's notifications of ``kinds``."""
    from webapp.models import Notification, User

    db.session.expire_all()
    return db.session.execute(
        select(User.username, Notification.kind, Notification.priority)
        .join(User, User.id == Notification.user_id)
        .where(Notification.instance_id == instance_id, Notification.kind.in_(kinds))
        .order_by(Notification.id)).all()


def task_holders(instance_id: int) -> list[str]:
    from webapp.models import Task, TaskAssignee, User

    return db.session.scalars(
        select(User.username).join(TaskAssignee, TaskAssignee.user_id == User.id)
        .join(Task, Task.id == TaskAssignee.task_id)
        .where(Task.instance_id == instance_id, Task.status == "open")
        .order_by(User.username)).all()


def test_moving_a_batch_moves_its_nominations_and_tells_their_people(login, demo):
    """The resort postponed: the batch's dates move under nominations under way. The
    one waiting for the retreat to end waits for the new end (the engine's retime: its
    history says so, its nominee told); one still in review is told the new dates, and
    so is whoever holds its review; the administrator who moved it is not; audited."""
    from datetime import datetime, time

    from webapp.models import Delivery, Instance, Notification, Task
    from webapp.notifications import title_of
    from webapp.services import workflow as wf

    batch = named(SEEDED)
    old_start, old_end = batch.starts_on, batch.ends_on
    travelling = start(login("rider1"), "retreat_nomination", nomination(batch))
    to_the_retreat(login, travelling)
    reviewed = start(login("courier1"), "retreat_nomination", nomination(batch, *COURIER))
    holders = task_holders(reviewed)
    assert holders and "city_admin" not in holders and "courier1" not in holders
    old_timer = wait_timer(travelling).fire_at
    assert old_timer.astimezone(CHINA).date() == old_end

    # Later within its year (earlier if that would leave it).
    days = 3 if (old_start + timedelta(days=3)).year == old_start.year else -3
    new_start, new_end = old_start + timedelta(days=days), old_end + timedelta(days=days)
    client = login("city_admin")
    answer = client.post(f"/retreat/batches/{batch.id}/edit",
                         data=edit_form(batch, starts_on=new_start, ends_on=new_end))
    assert answer.status_code == 302, errors(answer)
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "批次已保存。2 份正在办理的推荐已按新日期办理，推荐人和经办人已收到通知。" in shown
    assert (named(SEEDED).starts_on, named(SEEDED).ends_on) == (new_start, new_end)

    # Its timer follows the new end (the last second of that day, China time), and the
    # page and the API's due date with it.
    timer = wait_timer(travelling)
    assert timer.fire_at == datetime.combine(new_end, time(23, 59, 59), tzinfo=CHINA)
    assert db.session.scalar(select(Task.due_at).where(
        Task.instance_id == travelling, Task.status == "open")) == timer.fire_at
    assert "日期调整" in login("rider1").get(f"/instances/{travelling}").get_data(as_text=True)
    # Told once each: the engine told the traveller its step moved; the nominee in review
    # and its reviewers hear the new dates (the reviewers in the digest).
    assert notes(travelling) == [("rider1", "retimed", "normal")]
    assert notes(reviewed) == [("courier1", "dates_moved", "normal")] + [
        (who, "dates_moved", "low") for who in holders]
    assert not db.session.scalar(select(Notification.id).join(
        Instance, Instance.id == Notification.instance_id).where(
        Notification.kind == "dates_moved", Notification.user_id == demo["city_admin"].id))
    told = db.session.scalar(select(Notification).where(
        Notification.instance_id == reviewed, Notification.kind == "dates_moved")
        .order_by(Notification.id))
    # The dates first: a title is cut short at 100 characters (the request's own title,
    # beside it in the list and in the e-mail, says which nomination).
    assert title_of(told, "zh") == (f"日期调整为 {new_start} 至 {new_end}（原为 {old_start} 至 "
                                    f"{old_end}）：{SEEDED}")
    assert title_of(told, "en").startswith(
        f"Dates moved to {new_start} – {new_end} (was {old_start} – {old_end}): 2027 "
        "model-worker retreat")
    assert db.session.scalar(select(Delivery.subject).where(
        Delivery.notification_id == told.id)) == title_of(told, "zh")  # and by e-mail
    page = login("courier1").get("/notifications").get_data(as_text=True)
    assert f"日期调整为 {new_start} 至 {new_end}" in page

    # Audited: the batch's dates and how many nominations moved with them; the step
    # that moved, in the nomination's own entry.
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "retreat_batch.update", AuditEntry.object_id == str(batch.id)))
    assert entry.before == {"starts_on": str(old_start), "ends_on": str(old_end)}
    assert entry.after == {"starts_on": str(new_start), "ends_on": str(new_end),
                           "nominations_moved": 2}
    assert db.session.scalar(select(AuditEntry.id).where(
        AuditEntry.action == "instance.retime", AuditEntry.object_id == str(travelling)))
    client = login("city_admin")
    audit = client.get("/admin/audit?action=retreat_batch.update").get_data(as_text=True)
    assert "随日期调整的推荐（份）" in audit

    # A change that leaves the dates tells nobody more.
    assert client.post(f"/retreat/batches/{batch.id}/edit", data=edit_form(
        named(SEEDED), site="武隆仙女山疗休养中心")).status_code == 302
    assert len(notes(travelling)) == 1 and len(notes(reviewed)) == 1 + len(holders)

    # The retreat ends on the new day, not the old one.
    wf.fire_due_timers(timer.fire_at - timedelta(minutes=1))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Instance, travelling).steps == "retreat"
    wf.fire_due_timers(timer.fire_at + timedelta(minutes=1))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Instance, travelling).steps == "summary"


def test_a_batch_with_nominations_under_way_stays_in_its_year(login, demo):
    """One nomination a person a year, counted in the year the batch starts: with
    nominations under way its start cannot move into another year (a nominee may
    already have one there); moving within the year is fine (above). Once none are
    under way it may move, and a new nomination counts in the new year."""
    from datetime import date

    from webapp.models import Instance, Notification

    batch = named(SEEDED)
    reviewed = start(login("courier1"), "retreat_nomination", nomination(batch, *COURIER))
    year = batch.starts_on.year + 1
    moved = edit_form(batch, starts_on=date(year, 1, 10), ends_on=date(year, 1, 15))
    client = login("city_admin")
    refused = client.post(f"/retreat/batches/{batch.id}/edit", data=moved)
    assert refused.status_code == 422
    message = (f"本批次有 1 份推荐正在办理，开始日期不能改到 {year} 年：每人每年只能被推荐一次，"
               f"这些推荐已计入 {year - 1} 年。如需在 {year} 年举办，请为 {year} 年新建批次并重新推荐。")
    assert errors(refused) == [message]
    assert message in refused.get_data(as_text=True).split('id="starts_on"')[1].split(
        "<input")[0]  # beside the start date
    assert named(SEEDED).starts_on == batch.starts_on
    assert not db.session.scalars(select(Notification.kind).where(
        Notification.kind.in_(("dates_moved", "retimed")))).all()
    assert "retreat_batch.update" not in db.session.scalars(select(AuditEntry.action)).all()
    client.post("/auth/locale", data={"locale": "en"})
    assert errors(client.post(f"/retreat/batches/{batch.id}/edit", data=moved)) == [
        f"1 nomination for this batch is under way, and it counts for {year - 1}, so its "
        f"start cannot move into {year}: a worker may be nominated once a year. Create a "
        f"new batch for {year} and nominate again."]
    # Two under way: said in the plural.
    other = start(login("rider1"), "retreat_nomination", nomination(batch))
    client = login("city_admin")
    client.post("/auth/locale", data={"locale": "en"})
    assert errors(client.post(f"/retreat/batches/{batch.id}/edit", data=moved)) == [
        f"2 nominations for this batch are under way, and they count for {year - 1}, so "
        f"its start cannot move into {year}: a worker may be nominated once a year. "
        f"Create a new batch for {year} and nominate again."]
    client.post("/auth/locale", data={"locale": "zh_CN"})
    assert errors(client.post(f"/retreat/batches/{batch.id}/edit", data=moved)) == [
        message.replace("有 1 份", "有 2 份")]

    assert login("rider1").post(f"/instances/{other}/withdraw").status_code == 302
    assert login("courier1").post(f"/instances/{reviewed}/withdraw").status_code == 302
    moving = login("city_admin").post(f"/retreat/batches/{batch.id}/edit", data=moved)
    assert moving.status_code == 302, errors(moving)
    assert named(SEEDED).starts_on == date(year, 1, 10)
    again = start(login("courier1"), "retreat_nomination", nomination(batch, *COURIER))
    assert db.session.get(Instance, again).unique_key == f"retreat-year:{year}"


# ------------------------------------------------------------------ one batch of a name

def test_the_database_holds_one_batch_of_a_name_whatever_its_case(demo):
    from sqlalchemy.exc import IntegrityError

    seeded = named(SEEDED)

    def copy(name):
        db.session.add(RetreatBatch(name=name, site="x", starts_on=seeded.starts_on,
                                    ends_on=seeded.ends_on, capacity=1,
                                    nominations_close_on=seeded.nominations_close_on,
                                    owner_unit_id=seeded.owner_unit_id))
        db.session.flush()

    for name in (SEEDED, "Jinfo retreat"):
        if name != SEEDED:
            copy(name)
        with pytest.raises(IntegrityError, match="uq_retreat_batches_name"):
            with db.session.begin_nested():
                copy(name.upper())
    copy("Jinfo retreat, 2nd batch")  # another name is another batch
    db.session.rollback()


def test_a_name_taken_meanwhile_is_refused_as_the_form_refuses_it(login, demo, monkeypatch):
    """Two administrators save the same name at once: both looked before either wrote.
    The database lets one through; the other is told what the form tells when it sees
    the name taken — beside the name, not an error page — and nothing of it is kept."""
    from webapp.services import retreat_batches

    looked = retreat_batches.check

    def look_then_lose_the_race(fields, batch):
        looked(fields, batch)  # nothing of that name yet…
        seeded = named(SEEDED)  # …then the other administrator's batch lands
        db.session.execute(RetreatBatch.__table__.insert().values(
            name=fields["name"].upper(), site="x", starts_on=seeded.starts_on,
            ends_on=seeded.ends_on, capacity=1, owner_unit_id=seeded.owner_unit_id,
            nominations_close_on=seeded.nominations_close_on))

    client = login("city_admin")
    other = create(client, name="Jinfo retreat, 2nd batch")
    monkeypatch.setattr(retreat_batches, "check", look_then_lose_the_race)
    before = db.session.scalar(select(func.count()).select_from(RetreatBatch))
    made = client.post("/retreat/batches/new", data=form(name="Jinfo retreat"))
    assert made.status_code == 422
    assert errors(made) == ["已有同名的疗休养批次，请换个名称"]
    assert re.search(r'id="name"[^>]*is-invalid|is-invalid[^>]*id="name"',
                     made.get_data(as_text=True))
    renamed = client.post(f"/retreat/batches/{other.id}/edit",
                          data=form(name="Jinfo retreat"))
    assert renamed.status_code == 422
    assert errors(renamed) == ["已有同名的疗休养批次，请换个名称"]
    client.post("/auth/locale", data={"locale": "en"})
    assert errors(client.post("/retreat/batches/new", data=form(name="Jinfo retreat"))) == [
        "There is already a retreat batch of that name"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(RetreatBatch)) == before
    assert named("Jinfo retreat, 2nd batch") is not None and named("Jinfo retreat") is None
    assert "retreat_batch.update" not in db.session.scalars(select(AuditEntry.action)).all()


def test_the_name_migration_stops_at_shared_names_and_adds_the_index(app, demo):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy.exc import IntegrityError

    seeded = named(SEEDED)
    values = dict(name=SEEDED.replace("（", "(").replace("）", ")"), site="x",
                  starts_on=seeded.starts_on, ends_on=seeded.ends_on, capacity=1,
                  nominations_close_on=seeded.nominations_close_on,
                  owner_unit_id=seeded.owner_unit_id)
    db.session.close()
    try:
        downgrade(revision="f4b6d8a0c2e5")  # the one before it
        twin = db.session.execute(RetreatBatch.__table__.insert().values(
            {**values, "name": "Wulong retreat"})).inserted_primary_key[0]
        db.session.execute(RetreatBatch.__table__.insert().values(
            {**values, "name": "WULONG RETREAT"}))
        db.session.commit()
        db.session.close()
        with pytest.raises(SystemExit):  # Flask-Migrate logs why and exits
            upgrade()
        db.session.execute(RetreatBatch.__table__.delete().where(RetreatBatch.id == twin))
        db.session.commit()
        db.session.close()
    finally:
        upgrade()
    with pytest.raises(IntegrityError, match="uq_retreat_batches_name"):
        db.session.execute(RetreatBatch.__table__.insert().values(
            {**values, "name": "wulong retreat"}))
    db.session.rollback()


def test_two_administrators_saving_one_name_at_once(app, demo):
    """The race itself, on PostgreSQL: the second save looks while the first is still
    uncommitted (nothing of the name to see), writes, waits for the first to commit on
    the name's index, and is refused as the form refuses a name taken."""
    import threading

    from webapp.models import OrgUnit, User
    from webapp.services import retreat_batches

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes one writer at a time: the second save sees the first")
    t = today()
    fields = dict(site="金佛山", site_en=None, name_en=None, capacity=5,
                  starts_on=t + timedelta(days=90), ends_on=t + timedelta(days=95),
                  nominations_close_on=t + timedelta(days=45))
    city_id, admin_id = unit_by_code("cq").id, demo["city_admin"].id
    db.session.commit()
    written, release, failed = threading.Event(), threading.Event(), []

    def first():
        with app.app_context():
            try:
                retreat_batches.save_batch(None, db.session.get(User, admin_id),
                                           db.session.get(OrgUnit, city_id),
                                           name="Jinfo retreat", **fields)
                written.set()
                release.wait(10)
                db.session.commit()
            except Exception as exc:  # pragma: no cover - said by the assertion below
                failed.append(exc)
                written.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert written.wait(10) and not failed
    threading.Timer(0.5, release.set).start()  # the first commits while the second waits
    with pytest.raises(retreat_batches.BatchError) as refused:
        retreat_batches.save_batch(None, db.session.get(User, admin_id),
                                   db.session.get(OrgUnit, city_id),
                                   name="JINFO RETREAT", **fields)
    db.session.rollback()
    thread.join(10)
    assert not failed
    assert (refused.value.field, refused.value.zh) == ("name", "已有同名的疗休养批次，请换个名称")
    assert named("Jinfo retreat") is not None and named("JINFO RETREAT") is None
