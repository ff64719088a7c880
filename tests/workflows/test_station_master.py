"""station_master: a shared duty slot with a waiting list, check-in, report, confirmation."""
from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.effects import Promoted
from workflows.errors import Conflict, InvalidInput, NotAllowed

SIGNUP = {"station": 5, "slot": 11, "phone": "13700003333", "skills": ["legal"]}
REPORT = {"checklist": ["clean", "water", "safety"], "hours": "6.5", "opinions_count": 3,
          "opinions": "骑手反映停车难", "event_held": True, "event_summary": "开展了法律咨询"}


@pytest.fixture
def sign_up(drive, shipped):
    def make(user: str = "vol1"):
        return drive(shipped("station_master")).start(user, SIGNUP)
    return make


def on_duty(d):
    d.advance(timedelta(days=5))  # the slot starts on Saturday 2025-05-10 09:00
    assert d.current == ("check_in",)
    d.do("complete", d.state.applicant, data={"arrival_note": "准时到岗"})
    return d


def test_main_path(sign_up):
    d = sign_up()
    assert d.current == ("wait_duty",)
    on_duty(d)
    d.do("complete", "vol1", data=REPORT)
    assert d.current == ("confirm",) and d.task().assignees == ("head",)
    with pytest.raises(InvalidInput):
        d.do("approve", "head")  # the confirmed hours are required
    d.do("approve", "head", data={"confirmed_hours": "6"})
    assert (d.status, d.state.end) == ("completed", "done")
    assert d.state.data["confirmed_hours"] == "6"


def test_report_checklist_rule(sign_up):
    d = on_duty(sign_up())
    with pytest.raises(InvalidInput) as err:
        d.do("complete", "vol1", data={**REPORT, "checklist": ["clean"]})
    assert err.value.field_messages("zh") == {"checklist": ["请至少完成 3 项检查"]}


def test_head_returns_the_report(sign_up):
    d = on_duty(sign_up())
    d.do("complete", "vol1", data=REPORT)
    d.do("return", "head", comment="时长与签到记录不符", to="report")
    assert d.current == ("report",) and d.task().assignees == ("vol1",)
    # Told why, not only "您有一项待办".
    from workflows.effects import Notify
    from workflows.messages import render_title
    [note] = d.effects_of(Notify)
    assert (note.kind, note.recipients, note.priority) == ("sent_back", ("vol1",), "high")
    assert render_title(note.kind, note.params, "zh") == \
        "退回重新办理：一日站长·签退并提交值守报告（理由：时长与签到记录不符）"
    d.do("complete", "vol1", data={**REPORT, "hours": "5"})
    assert [n.kind for n in d.effects_of(Notify)] == ["task_assigned"]  # the head: as usual


def test_no_duplicate_sign_up_for_a_slot(sign_up):
    sign_up("vol1")
    with pytest.raises(Conflict) as err:
        sign_up("vol1")
    assert err.value.code == "duplicate"


def test_full_slot_waitlists_and_promotes(sign_up):
    first, _, third = sign_up("vol1"), sign_up("vol2"), sign_up("vol3")
    assert third.status == "waitlisted"
    first.act("withdraw", "vol1")
    assert first.effects_of(Promoted)[0].instance == third.state.instance_id


def test_the_waiting_list_ends_when_the_duty_begins(sign_up):
    """A place freed once the slot has begun is no use: the waiting list ends at its
    start (Saturday 09:00), not 14 days later."""
    sign_up("vol1"), sign_up("vol2")
    third = sign_up("vol3").advance(timedelta(days=4, hours=23))
    assert third.status == "waitlisted"
    third.advance(timedelta(hours=1))
    assert (third.status, third.state.end) == ("expired", "not_needed")


def test_no_show_expires(sign_up):
    d = sign_up().advance(timedelta(days=5))
    d.advance(timedelta(days=1))
    assert (d.status, d.state.end) == ("expired", "no_show")


def test_no_withdrawal_once_on_duty(sign_up):
    d = on_duty(sign_up())
    with pytest.raises(NotAllowed):
        d.act("withdraw", "vol1")


def test_the_slot_must_be_one_of_the_chosen_stations(drive, shipped):
    d = drive(shipped("station_master"))
    d.directory.add_record("slot", 12, starts_at="2025-05-10T09:00:00", station=6)  # elsewhere
    with pytest.raises(InvalidInput) as err:
        d.start("vol1", {**SIGNUP, "slot": 12})
    assert err.value.field_messages("zh") == {"slot": ["所选时段不属于所选驿站，请重新选择"]}
    with pytest.raises(InvalidInput):
        d.start("vol1", {**SIGNUP, "slot": 99})  # no such slot: not this station's either
    d.start("vol1", SIGNUP)
    assert d.current == ("wait_duty",)


def test_no_overlapping_sign_ups(drive, shipped, directory):
    """Nobody is on duty at two places at once; back-to-back slots are fine."""
    for slot, starts, ends in ((11, "09:00", "17:00"), (12, "13:00", "18:00"),
                               (13, "17:00", "21:00"), (14, "10:00", "12:00")):
        directory.add_record("slot", slot, starts_at=f"2025-05-10T{starts}:00",
                             ends_at=f"2025-05-10T{ends}:00", station=5)
        directory.set_capacity(f"slot:{slot}", 2)
    first = drive(shipped("station_master")).start("vol1", SIGNUP)
    with pytest.raises(Conflict) as err:
        drive(shipped("station_master")).start("vol1", {**SIGNUP, "slot": 12})
    assert err.value.code == "overlap" and "重叠" in err.value.message("zh")
    drive(shipped("station_master")).start("vol1", {**SIGNUP, "slot": 13})
    drive(shipped("station_master")).start("vol2", {**SIGNUP, "slot": 12})  # someone else
    with pytest.raises(Conflict):
        drive(shipped("station_master")).start("vol1", {**SIGNUP, "slot": 14})
    first.act("withdraw", "vol1")
    drive(shipped("station_master")).start("vol1", {**SIGNUP, "slot": 14})  # free again


def test_the_volunteer_is_reminded_before_the_day_ends_as_a_no_show(sign_up):
    from workflows.effects import Notify

    d = sign_up().advance(timedelta(days=5))  # on duty: the check-in is open
    d.advance(timedelta(hours=4))
    assert [(n.kind, n.recipients) for n in d.effects_of(Notify)] == [("reminder", ("vol1",))]
    assert d.current == ("check_in",)


def test_the_report_is_reminded_a_day_before_it_is_too_late(sign_up):
    from workflows.effects import Notify

    d = on_duty(sign_up()).advance(timedelta(days=2))
    assert [(n.kind, n.recipients) for n in d.effects_of(Notify)] == [("reminder", ("vol1",))]
    d.advance(timedelta(days=1))
    assert d.state.end == "no_report"
