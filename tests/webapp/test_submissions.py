"""The same start form sent twice — a flaky network's retry, the browser's "resubmit",
a double tap that got past the button — starts one request, and the second sending is
shown that request."""
from __future__ import annotations

import re
import threading

from sqlalchemy import func, select

from tests.webapp.test_pages import login  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Instance, Submission
from webapp.services import workflow as wf
from webapp.services.users import find_user

DEMAND = "/processes/worker_demand/start"


def _nonce(client, url=DEMAND) -> str:
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="_submission" value="([^"]+)"', page)
    assert found, "the start form carries its one-time key"
    return found.group(1)


def _demand(nonce, **changes):
    from webapp.services.org import unit_by_code

    form = {"category": "parking", "station": str(unit_by_code("st-jfb").id),
            "description": "晚上送单没有地方停车，电动车只能停在路边", "phone": "13900139000",
            "_submission": nonce}
    form.update(changes)
    return form


def _demands_of(username) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Instance).where(
        Instance.process_key == "worker_demand",
        Instance.applicant_id == find_user(username).id))


def test_the_same_form_sent_twice_starts_one_request(login, demo):  # noqa: F811
    client = login("rider1")
    before = _demands_of("rider1")
    nonce = _nonce(client)
    first = client.post(DEMAND, data=_demand(nonce))
    assert first.status_code == 302, first.get_data(as_text=True)[:1500]
    again = client.post(DEMAND, data=_demand(nonce))
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    assert _demands_of("rider1") == before + 1
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "这份表单已经提交过了" in page
    # A new form is a new key: a second demand of one's own is still possible.
    second = client.post(DEMAND, data=_demand(_nonce(client)))
    assert second.status_code == 302 and second.headers["Location"] != first.headers["Location"]
    assert _demands_of("rider1") == before + 2


def test_a_refused_sending_does_not_use_the_key_up(login, demo):  # noqa: F811
    client = login("rider1")
    before = _demands_of("rider1")
    nonce = _nonce(client)
    refused = client.post(DEMAND, data=_demand(nonce, phone="123"))
    assert refused.status_code == 422
    # The form comes back with the same key, so its corrected sending is the one.
    assert f'name="_submission" value="{nonce}"' in refused.get_data(as_text=True)
    assert client.post(DEMAND, data=_demand(nonce)).status_code == 302
    assert client.post(DEMAND, data=_demand(nonce)).status_code == 302
    assert _demands_of("rider1") == before + 1


def test_one_persons_key_is_not_anothers(login, demo):  # noqa: F811
    nonce = "the-same-nonce-for-both-0123"
    assert login("rider1").post(DEMAND, data=_demand(nonce)).status_code == 302
    before = _demands_of("courier1")
    assert login("courier1").post(DEMAND, data=_demand(nonce)).status_code == 302
    assert _demands_of("courier1") == before + 1


def test_simultaneous_sendings_of_one_form_start_one_request(app, demo):  # noqa: F811
    """Two requests with one key at the same moment: the database makes the second
    wait for the first and then names the first's request (both databases in CI)."""
    rider = find_user("rider1").id
    key = wf.submission_key(rider, "simultaneous-sending-42")
    data = {"category": "parking", "station": None,
            "description": "晚上送单没有地方停车，电动车只能停在路边", "phone": "13900139000"}
    from webapp.services.org import unit_by_code
    data["station"] = unit_by_code("st-jfb").id
    db.session.remove()
    barrier, results = threading.Barrier(2), []

    def send():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                instance = wf.start_instance("worker_demand", db.session.get(
                    type(find_user("rider1")), rider), data, submission=key)
                db.session.commit()
                results.append(("started", instance.id))
            except wf.AlreadySubmitted as exc:
                db.session.rollback()
                results.append(("shown", exc.instance_id))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(kind for kind, _ in results) == ["shown", "started"], results
    assert len({instance_id for _, instance_id in results}) == 1
    assert db.session.scalar(select(Submission.instance_id).where(
        Submission.key == key)) == results[0][1]


def test_a_malformed_key_is_not_a_key(demo):  # noqa: F811
    assert wf.submission_key(5, "short") is None
    assert wf.submission_key(5, "x" * 65) is None
    assert wf.submission_key(5, "a b c d e f g h i j k") is None
    assert wf.submission_key(5, None) is None
    assert wf.submission_key(5, "abcdefghij_KLMNOP-123") == "5:abcdefghij_KLMNOP-123"
