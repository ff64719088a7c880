"""Options that live in the database, as the API checks submitted data against them."""
from __future__ import annotations

from sqlalchemy import select

from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import OrgUnit, Station
from webapp.services.choices import provider
from workflows.fields import FieldSpec


def station_field() -> FieldSpec:
    return FieldSpec(name="station", type="station", label="驿站")


def test_checking_a_sent_station_reads_only_that_station(app, demo):
    every = provider("zh")(station_field())
    assert len(every) > 3
    wanted = every[2][0]
    assert provider("zh", only={"station": int(wanted)})(station_field()) == [every[2]]
    assert provider("zh", only={"station": [wanted, "x", True, "9" * 40]})(
        station_field()) == [every[2]]
    assert provider("zh", only={})(station_field()) == []  # nothing sent, nothing to accept


def test_a_closed_station_is_refused_through_the_api_lookup_too(app, demo):
    station = db.session.scalar(select(Station).join(OrgUnit, OrgUnit.id == Station.unit_id)
                                .where(Station.is_open.is_(True)).limit(1))
    assert provider("zh", only={"station": station.unit_id})(station_field())
    station.is_open = False
    db.session.flush()
    assert provider("zh", only={"station": station.unit_id})(station_field()) == []
