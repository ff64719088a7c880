"""A closed capacity resource (what it counts places for was called off): ``reserve``
gives nobody a place or a waiting place there, and a place given back, or more places,
go to nobody — whatever the resource is (duty slots close theirs when called off)."""
from __future__ import annotations

from sqlalchemy import select

from tests.webapp.test_workflow_service import NOW, demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.models import CapacityResource, Reservation
from webapp.services import workflow as wf
from webapp.services.directory import (GRANTED, REFUSED, WAITLISTED, DbDirectory,
                                       close_resource, set_places)


def requests(demo) -> list[int]:
    ids = [wf.start_instance("micro_wish", demo[name], wish_data(), now=NOW).id
           for name in ("rider1", "courier1", "driver1")]
    db.session.commit()
    return ids


def status(key: str, instance_id) -> str | None:
    return db.session.scalar(select(Reservation.status).where(
        Reservation.resource_key == key, Reservation.instance_id == instance_id))


def test_a_closed_resource_gives_no_place_and_no_waiting_place(app, demo):
    holder, waiting, late = requests(demo)
    key = "demo:event"
    set_places(key, 1)
    assert DbDirectory().reserve(key, holder, None, waitlist=True) == GRANTED
    assert DbDirectory().reserve(key, waiting, None, waitlist=True) == WAITLISTED
    close_resource(key)
    db.session.commit()
    assert db.session.get(CapacityResource, key).closed
    # Asking again for one already on it answers as before (the owner ends them).
    assert DbDirectory().reserve(key, waiting, None, waitlist=True) == WAITLISTED
    assert DbDirectory().reserve(key, late, None, waitlist=True) == REFUSED
    assert status(key, late) is None
    # The place given back goes to nobody waiting; nor do more places.
    assert DbDirectory().release(key, holder) is None
    assert status(key, waiting) == WAITLISTED
    assert set_places(key, 5) == []
    assert status(key, waiting) == WAITLISTED
    # Free places now, and still nobody gets one.
    assert DbDirectory().reserve(key, late, None, waitlist=False) == REFUSED
    assert DbDirectory().reserve(key, late, 5, waitlist=True) == REFUSED
    assert db.session.get(CapacityResource, key).granted == 0


def test_a_resource_closed_before_anyone_set_it_up_stays_closed(app, demo):
    """Closed before its first reservation: a definition's capacity does not open it."""
    first, *_ = requests(demo)
    close_resource("demo:never")
    db.session.commit()
    assert DbDirectory().reserve("demo:never", first, 3, waitlist=True) == REFUSED
    assert db.session.get(CapacityResource, "demo:never").granted == 0


def test_other_resources_are_open(app, demo):
    first, second, _ = requests(demo)
    set_places("demo:open", 1)
    db.session.commit()
    assert not db.session.get(CapacityResource, "demo:open").closed
    assert DbDirectory().reserve("demo:open", first, None, waitlist=True) == GRANTED
    assert DbDirectory().reserve("demo:open", second, None, waitlist=True) == WAITLISTED
