"""training_registration: optional approval, shared course seats with a waiting list."""
from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.effects import Notify, Promoted, ScheduleTimer
from workflows.errors import CapacityExhausted, Conflict
from workflows.engine import SYSTEM

ID_CARD = "11010519491231002X"


def registration(course: int = 1) -> dict:
    return {"course": course, "occupation": "delivery", "phone": "13900001111",
            "id_card": ID_CARD}


@pytest.fixture
def register(drive, shipped):
    def make(user: str, course: int = 1):
        return drive(shipped("training_registration")).start(user, registration(course))
    return make


def test_main_path_without_approval(register):
    d = register("rider")
    assert d.current == ("course_runs",)  # seat granted, waiting for the course to end
    assert d.state.reservations[0].resource == "course:1"
    wait = [t for t in d.effects_of(ScheduleTimer) if t.purpose == "wait"][0]
    assert wait.at.date().isoformat() == "2025-06-10"
    d.advance(timedelta(days=40))
    assert d.current == ("attendance",)
    assert set(d.task().assignees) == {"unit_admin", "unit_admin2"}  # the course's unit
    d.do("complete", "unit_admin", data={"sessions_attended": 8})
    assert d.current == ("certificate",)
    d.do("complete", "unit_admin2", data={"certificate_no": "CQ-2025-001"})
    assert (d.status, d.state.end) == ("completed", "completed")


def test_below_80_percent_does_not_complete(register):
    d = register("rider").advance(timedelta(days=40))
    d.do("complete", "unit_admin", data={"sessions_attended": 7})
    assert d.state.end == "not_completed"


def test_full_course_waitlists_and_promotes_on_withdrawal(register, directory):
    first, _second, third = register("rider"), register("courier"), register("driver_jb")
    assert third.status == "waitlisted"
    assert any(n.kind == "waitlisted" and n.recipients == ("driver_jb",)
               for n in third.effects_of(Notify))
    with pytest.raises(Conflict):
        third.act("promote", SYSTEM)  # no place yet
    first.act("withdraw", "rider")
    assert first.effects_of(Promoted) == [Promoted(third.state.instance_id, "course:1")]
    third.act("promote", SYSTEM)
    assert (third.status, third.current) == ("running", ("course_runs",))
    assert directory.holders["course:1"] == [_second.state.instance_id,
                                             third.state.instance_id]


def test_waiting_too_long_gives_up_the_waiting_place(register, directory):
    register("rider"), register("courier")
    third = register("driver_jb").advance(timedelta(days=31))
    assert third.state.end == "waitlist_expired"
    assert directory.waiting["course:1"] == []


def test_same_course_twice_is_refused(register):
    register("rider")
    with pytest.raises(Conflict) as err:
        register("rider")
    assert err.value.code == "duplicate"


def test_course_that_asks_for_approval(register):
    d = register("rider", course=2)
    assert d.current == ("unit_review",)
    assert set(d.task().assignees) == {"unit_admin", "unit_admin2"}
    d.do("approve", "unit_admin2")
    assert d.current == ("course_runs",)


def test_rejection_keeps_the_seat_free(register, directory):
    d = register("rider", course=2)
    d.do("reject", "unit_admin", comment="不符合报名条件")
    assert d.state.end == "rejected"
    assert directory.holders.get("course:2", []) == []


def test_no_waiting_list_means_a_clear_refusal(drive, inline, directory):
    spec = inline("""
key: t
name: 报名
start: {who: anyone, form: [{name: course, type: record, source: course, label: 课程}]}
steps:
  seat: {kind: reserve, name: 名额, resource: "course:{form.course}", waitlist: false, next: ok}
ends: {ok: completed}
""")
    directory.set_capacity("course:1", 1)
    drive(spec).start("rider", {"course": 1})
    with pytest.raises(CapacityExhausted) as err:
        drive(spec).start("courier", {"course": 1})
    assert err.value.message("en") == "There are no places left"
