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


def test_places_left_are_counted_in_english_as_in_chinese(app, demo):
    from webapp.models import CapacityResource, DutySlot
    from webapp.services.activities import course_choices, slot_choices

    field = FieldSpec(name="course", type="record", label="课程")
    offered = [int(value) for value, _label in course_choices(field, "en")][:2]
    slot = db.session.scalars(select(DutySlot).order_by(DutySlot.starts_at.desc())).first()
    for key, left in ((f"course:{offered[0]}", 1), (f"course:{offered[1]}", 2),
                      (f"slot:{slot.id}", 1)):
        resource = db.session.get(CapacityResource, key)
        resource.capacity = resource.granted + left
    db.session.flush()
    english = dict(course_choices(field, "en"))
    assert english[str(offered[0])].endswith(" · 1 place left")
    assert english[str(offered[1])].endswith(" · 2 places left")
    assert dict(course_choices(field, "zh"))[str(offered[0])].endswith(" · 余 1 位")
    # The days it runs, first to last: a worker sees a three-day course is three days.
    from webapp.models import Course

    course = db.session.get(Course, offered[0])
    days = (f"{course.starts_on:%m-%d}" if course.ends_on == course.starts_on
            else f"{course.starts_on:%m-%d}~{course.ends_on:%m-%d}")
    assert f"{course.title} · {days} · " in english[str(offered[0])]
    assert any("~" in label for label in dict(course_choices(field, "zh")).values())
    slots = dict(slot_choices(FieldSpec(name="slot", type="slot", label="时段"), "en",
                              {"slot": [slot.id]}))
    # The time and places lead; the station (none chosen here) follows, in English.
    assert " · 1 place left · Jiefangbei" in slots[str(slot.id)]


def test_every_record_source_a_definition_may_name_is_listed_looked_up_and_named():
    # The loader refuses any other source (workflows.fields.RECORD_SOURCES); one it
    # accepts must work here, or every start of the process would be refused.
    import webapp.services.activities  # noqa: F401  (registers the sources)
    from webapp.services.choices import RECORD_CHOICES
    from webapp.services.directory import RECORD_SOURCES as LOOKUPS
    from webapp.services.display import RECORD_NAMES
    from workflows.fields import RECORD_SOURCES

    for source in RECORD_SOURCES:
        assert source in RECORD_CHOICES and source in LOOKUPS and source in RECORD_NAMES, source
