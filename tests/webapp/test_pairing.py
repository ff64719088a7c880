"""结对: a branch secretary pairs the branch with a station, one station at a time."""
from __future__ import annotations

import re

from sqlalchemy import select

from tests.webapp.test_pages import alerts, login  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Pairing
from webapp.services.directory import DbDirectory
from webapp.services.org import unit_by_code


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
                                                   Pairing.active.is_(True))).station_id == gyq.id


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
    assert db.session.get(Pairing, pairing.id).active is False
    assert DbDirectory().paired_unit(branch.id) is None
    assert admin.post(f"/stations/{jfb.id}/pairings/999999/end").status_code == 404
