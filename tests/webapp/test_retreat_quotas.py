"""Retreat quotas handed down the tree on a page: who sees what, who may change what."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.webapp.test_pages import alerts, errors, login  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import CapacityResource, RetreatBatch, RetreatQuota
from webapp.services import quotas
from webapp.services.org import unit_by_code


@pytest.fixture
def batch(demo):
    return db.session.scalar(select(RetreatBatch))


def kept(batch, code) -> int:
    db.session.expire_all()
    return db.session.get(CapacityResource, f"retreat:{batch.id}:{unit_by_code(code).id}").capacity


def amount(batch, code) -> int:
    db.session.expire_all()
    return db.session.scalar(select(RetreatQuota.amount).where(
        RetreatQuota.batch_id == batch.id, RetreatQuota.unit_id == unit_by_code(code).id))


def units_on(page: str) -> list[str]:
    return re.findall(r'class="h6 mb-0 unit-name">([^<]*)<', page)


def test_a_parent_keeps_only_what_it_did_not_hand_down(batch):
    # The demo: city 40 → 渝中 15, 江北 12, 沙坪坝 10; 解放碑 6 of 渝中's → couriers 3.
    assert kept(batch, "cq") == 40 - 15 - 12 - 10
    assert kept(batch, "cq-yz") == 15 - 6
    assert kept(batch, "cq-yz-jfb") == 6 - 3
    quotas.allocate_quota(batch, unit_by_code("cq-yz-dp"), 4)
    db.session.commit()
    assert kept(batch, "cq-yz") == 15 - 6 - 4
    assert quotas.return_unused_quota(batch, unit_by_code("cq-yz-dp")) == 4
    db.session.commit()
    assert kept(batch, "cq-yz") == 15 - 6 and amount(batch, "cq-yz-dp") == 0


def test_city_admin_sees_the_whole_tree_and_hands_places_down(login, batch):
    client = login("city_admin")
    page = client.get(f"/retreat/quotas/{batch.id}").get_data(as_text=True)
    assert {"重庆市总工会", "渝中区总工会", "江北区总工会", "沙坪坝区总工会",
            "渝中区快递物流行业工会"} <= set(units_on(page))
    spb = unit_by_code("cq-spb")
    too_many = client.post(f"/retreat/quotas/{batch.id}/units/{spb.id}",
                           data={f"u{spb.id}-amount": "14"})
    assert too_many.status_code == 409
    # The number is the most the quota may be set to (10 now, 3 more), not places to add.
    assert errors(too_many) == ["沙坪坝区总工会的名额最多可设为 13 个（现为 10 个）"]
    assert amount(batch, "cq-spb") == 10  # nothing changed
    done = client.post(f"/retreat/quotas/{batch.id}/units/{spb.id}",
                       data={f"u{spb.id}-amount": "13"}, follow_redirects=True)
    assert "已将 沙坪坝区总工会 的名额设为 13 个。" in alerts(done)
    assert amount(batch, "cq-spb") == 13 and kept(batch, "cq") == 0
    city = unit_by_code("cq")  # the city's places have no level above to go back to
    assert client.post(f"/retreat/quotas/{batch.id}/units/{city.id}/return").status_code == 403
    for bad in ("", "-1", "abc", "9999999"):
        answer = client.post(f"/retreat/quotas/{batch.id}/units/{spb.id}",
                             data={f"u{spb.id}-amount": bad})
        assert answer.status_code == 422 and errors(answer), bad
        # The field says it is wrong to a screen reader, and the cursor is put there.
        field = answer.get_data(as_text=True).split(f'id="u{spb.id}-amount"')[1].split(">")[0]
        assert 'aria-invalid="true"' in field and "autofocus" in field, bad


def test_district_admin_sees_and_changes_only_their_district(login, batch):
    client = login("yuzhong_admin")
    page = client.get(f"/retreat/quotas/{batch.id}").get_data(as_text=True)
    shown = set(units_on(page))
    assert "渝中区总工会" in shown and "大坪街道工会" in shown  # 大坪 has no quota yet
    assert not shown & {"重庆市总工会", "江北区总工会", "沙坪坝区总工会"}
    dp, yz, jb = unit_by_code("cq-yz-dp"), unit_by_code("cq-yz"), unit_by_code("cq-jb")
    ok = client.post(f"/retreat/quotas/{batch.id}/units/{dp.id}", data={f"u{dp.id}-amount": "5"})
    assert ok.status_code == 302 and amount(batch, "cq-yz-dp") == 5
    # Their own quota comes from the city, and 江北 is not theirs.
    assert client.post(f"/retreat/quotas/{batch.id}/units/{yz.id}",
                       data={f"u{yz.id}-amount": "30"}).status_code == 403
    assert client.post(f"/retreat/quotas/{batch.id}/units/{jb.id}",
                       data={f"u{jb.id}-amount": "1"}).status_code == 403
    assert client.post(f"/retreat/quotas/{batch.id}/units/{jb.id}/return").status_code == 403
    assert amount(batch, "cq-yz") == 15 and amount(batch, "cq-jb") == 12


def test_unit_admin_gives_back_what_was_not_used(login, batch):
    jfb = unit_by_code("cq-yz-jfb")
    client = login("unit_admin")
    page = client.get(f"/retreat/quotas/{batch.id}").get_data(as_text=True)
    assert "退回未用的 3 个" in page
    done = client.post(f"/retreat/quotas/{batch.id}/units/{jfb.id}/return",
                       follow_redirects=True)
    assert "解放碑街道工会 退回了 3 个未使用的名额。" in alerts(done)
    assert amount(batch, "cq-yz-jfb") == 3 and kept(batch, "cq-yz") == 15 - 3


def test_supervisor_sees_everything_and_changes_nothing(login, batch):
    client = login("supervisor")
    page = client.get(f"/retreat/quotas/{batch.id}").get_data(as_text=True)
    assert "江北区总工会" in units_on(page) and f"/retreat/quotas/{batch.id}/units/" not in page
    spb = unit_by_code("cq-spb")
    assert client.post(f"/retreat/quotas/{batch.id}/units/{spb.id}",
                       data={f"u{spb.id}-amount": "1"}).status_code == 403
    assert client.post(f"/retreat/quotas/{batch.id}/units/{spb.id}/return").status_code == 403


def test_workers_and_volunteers_have_no_quota_page(login, batch):
    for who in ("rider1", "volunteer1", "station_head"):
        assert login(who).get(f"/retreat/quotas/{batch.id}").status_code == 403
    assert login("city_admin").get("/retreat/quotas/999999").status_code == 404


def test_the_most_a_quota_may_be_reads_as_a_total_in_english_too(login, batch):
    client = login("city_admin")
    client.post("/auth/locale", data={"locale": "en"})
    spb = unit_by_code("cq-spb")
    too_many = client.post(f"/retreat/quotas/{batch.id}/units/{spb.id}",
                           data={f"u{spb.id}-amount": "14"})
    assert too_many.status_code == 409
    assert errors(too_many) == [
        "The quota of Shapingba District Federation can be at most 13 places (now 10)"]
