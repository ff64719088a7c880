"""training_registration: eligibility, optional approval, shared course seats with a
waiting list, completion decided from the attendance register."""
from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.effects import Notify, Promoted, ScheduleTimer
from workflows.errors import CapacityExhausted, Conflict, InvalidInput, NotAllowed
from workflows.engine import SYSTEM

ID_CARD = "11010519491231002X"


def registration(course: int = 1) -> dict:
    return {"course": course, "real_name": "马超", "occupation": "delivery",
            "occupation_confirmed": True, "phone": "13900001111",
            "id_card": ID_CARD}


@pytest.fixture
def register(drive, shipped):
    def make(user: str, course: int = 1):
        return drive(shipped("training_registration")).start(user, registration(course))
    return make


def test_main_path_without_approval(register, directory):
    d = register("rider")
    assert d.current == ("course_runs",)  # seat granted, waiting for the course to end
    assert d.state.reservations[0].resource == "course:1"
    wait = [t for t in d.effects_of(ScheduleTimer) if t.purpose == "wait"][0]
    assert wait.at.date().isoformat() == "2025-06-10"
    d.advance(timedelta(days=40))
    assert d.current == ("attendance",)
    assert set(d.task().assignees) == {"unit_admin", "unit_admin2"}  # the course's unit
    directory.attended[("course:1", d.state.instance_id)] = 8  # exactly 80 %
    d.do("complete", "unit_admin", data={"sessions_attended": 0})  # a typed count is ignored
    assert (d.status, d.state.end) == ("completed", "completed")
    assert d.state.data["attendance"] == {"attended": 8, "total": 10, "rate": 80}


def test_below_80_percent_does_not_complete(register, directory):
    d = register("rider").advance(timedelta(days=40))
    directory.attended[("course:1", d.state.instance_id)] = 7
    d.do("complete", "unit_admin")
    assert (d.status, d.state.end) == ("expired", "not_completed")


def test_attendance_needs_sessions_and_the_assignee(register, directory):
    d = register("rider").advance(timedelta(days=40))
    with pytest.raises(NotAllowed):
        d.do("complete", "rider")
    directory.sessions["course:1"] = 0
    with pytest.raises(InvalidInput) as err:
        d.do("complete", "unit_admin")
    assert err.value.code == "no_sessions"


def test_pass_rate_comes_from_the_definition(drive, inline, directory):
    spec = inline("""
key: t
name: 培训
start: {who: anyone, form: [{name: course, type: record, source: course, label: 课程}]}
steps:
  check:
    kind: attendance
    name: 出勤
    assignee: {role: unit_admin, of: record.course.unit}
    register: "course:{form.course}"
    pass_rate: 50
    next: {passed: done, failed: failed}
ends: {done: completed, failed: expired}
""")
    d = drive(spec).start("rider", {"course": 1})
    directory.attended[("course:1", d.state.instance_id)] = 5
    d.do("complete", "unit_admin")
    assert d.state.end == "done"


def test_occupation_age_and_window_are_checked_at_registration(drive, shipped, directory):
    directory.records[("course", 1)].update(occupations=["courier"], min_age=18, max_age=60,
                                            occupation_names="快递员",
                                            occupation_names_en="couriers",
                                            age_range="18–60 周岁",
                                            age_range_en="aged 18 to 60")
    spec = shipped("training_registration")
    with pytest.raises(InvalidInput) as err:
        drive(spec).start("rider", registration())  # a delivery rider born in 1949
    assert err.value.code == "not_eligible"
    assert err.value.field_messages() == {"occupation": ["本课程只面向快递员报名"],
                                          "id_card": ["本课程只招收18–60 周岁的学员"]}
    fits = {**registration(), "occupation": "courier", "id_card": "110105199001010010"}
    too_young = {**fits, "id_card": "110105201001010010"}
    with pytest.raises(InvalidInput) as err:
        drive(spec).start("rider", too_young)
    assert err.value.field_messages("en") == {
        "id_card": ["This course is only open to trainees aged 18 to 60"]}
    drive(spec).start("rider", fits)
    directory.records[("course", 1)]["closes_on"] = "2025-05-01"  # before MONDAY
    with pytest.raises(InvalidInput) as err:
        drive(spec).start("courier", fits)
    assert list(err.value.field_errors) == ["course"]


def test_full_course_waitlists_and_promotes_on_withdrawal(register, directory):
    first, _second, third = register("rider"), register("courier"), register("driver_jb")
    assert third.status == "waitlisted"
    # The page the registration answers with says so: no message of their own doing.
    assert not third.effects_of(Notify)
    with pytest.raises(Conflict):
        third.act("promote", SYSTEM)  # no place yet
    first.act("withdraw", "rider")
    assert first.effects_of(Promoted) == [Promoted(third.state.instance_id, "course:1")]
    third.act("promote", SYSTEM)
    assert (third.status, third.current) == ("running", ("course_runs",))
    # One event, one message: 候补成功, not also "已进入：参加培训" (the step's notify).
    assert [(n.kind, n.recipients) for n in third.effects_of(Notify)] == [
        ("promoted", ("driver_jb",))]
    assert directory.holders["course:1"] == [_second.state.instance_id,
                                             third.state.instance_id]


def test_waiting_too_long_gives_up_the_waiting_place(register, directory):
    register("rider"), register("courier")
    third = register("driver_jb").advance(timedelta(days=31))
    assert third.state.end == "waitlist_expired"
    assert directory.waiting["course:1"] == []


def test_the_waiting_list_ends_when_the_course_begins(register, directory):
    """Not a fixed 30 days: the course (2025-05-26) starts three weeks after MONDAY."""
    register("rider"), register("courier")
    third = register("driver_jb")
    timeout = [t for t in third.state.timers if t.purpose == "timeout"][0]
    assert timeout.at.date().isoformat() == "2025-05-26"
    third.advance(timedelta(days=20))
    assert third.status == "waitlisted"
    third.advance(timedelta(days=1))
    assert (third.status, third.state.end) == ("expired", "waitlist_expired")


def test_a_far_off_course_keeps_its_waiting_list_until_it_begins(register, directory):
    directory.records[("course", 1)]["starts_on"] = "2025-07-15"
    register("rider"), register("courier")
    third = register("driver_jb").advance(timedelta(days=60))
    assert third.status == "waitlisted"  # a 30-day limit would have ended it
    third.advance(timedelta(days=11))
    assert third.state.end == "waitlist_expired"


def test_the_waiting_list_follows_the_course_when_its_start_moves(register, directory):
    register("rider"), register("courier")
    third = register("driver_jb")
    directory.records[("course", 1)]["starts_on"] = "2025-06-02"
    third.act("retime", SYSTEM)
    timeout = [t for t in third.state.timers if t.purpose == "timeout"][0]
    assert timeout.at.date().isoformat() == "2025-06-02"
    assert third.state.history[-1].action == "retime"
    third.advance(timedelta(days=25))  # past the old start, before the new one
    assert third.status == "waitlisted"


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


def test_a_registration_not_reviewed_before_the_course_begins_lapses(register, directory):
    """Approved after the first class, a trainee would be judged on classes missed: the
    review ends when the course begins (2025-05-26), the applicant told, no seat taken."""
    from workflows.effects import Notify as Told

    d = register("rider", course=2).advance(timedelta(days=20))
    assert d.current == ("unit_review",)  # escalated by now, still open
    d.advance(timedelta(days=1))
    assert (d.status, d.state.end) == ("expired", "review_lapsed")
    assert any(n.kind == "ended" and n.recipients == ("rider",) for n in d.effects_of(Told))
    assert directory.holders.get("course:2", []) == []


def test_a_course_needing_approval_takes_no_registration_once_begun(drive, shipped, monday,
                                                                   directory):
    """There would be no time left to review it: refused at once, in the reader's words,
    instead of accepted and lapsed by the next sweep.  One needing no approval still
    takes late registrations (its window decides)."""
    directory.records[("course", 2)]["closes_on"] = "2025-06-01"  # open past the start
    directory_day = monday + timedelta(days=21)  # 2025-05-26, the first day
    with pytest.raises(InvalidInput) as err:
        drive(shipped("training_registration"), now=directory_day).start(
            "rider", registration(course=2))
    assert err.value.field_messages("zh") == {"course": ["该课程需要审核，开课后不再接受报名"]}
    d = drive(shipped("training_registration"), now=monday + timedelta(days=20)).start(
        "rider", registration(course=2))
    assert d.current == ("unit_review",)


def test_rejection_keeps_the_seat_free(register, directory):
    d = register("rider", course=2)
    d.do("reject", "unit_admin", comment="不符合报名条件")
    assert d.state.end == "rejected"
    assert directory.holders.get("course:2", []) == []


def test_no_waiting_list_means_a_clear_refusal(drive, inline, directory):
    text = """
key: t
name: 报名
start: {who: anyone, form: [{name: course, type: record, source: course, label: 课程}]}
steps:
  seat: {kind: reserve, name: 名额, resource: "course:{form.course}", waitlist: false, next: ok}
ends: {ok: completed}
"""
    spec = inline(text)
    directory.set_capacity("course:1", 1)
    drive(spec).start("rider", {"course": 1})
    with pytest.raises(CapacityExhausted) as err:
        drive(spec).start("courier", {"course": 1})
    assert err.value.message("en") == "There are no places left"
    # A step that says which places these are says so, in Chinese where it gives no English.
    spec = inline(text.replace("waitlist: false,", "waitlist: false, "
                               "full_message: 本期课程名额已满，请关注下一期,"))
    with pytest.raises(CapacityExhausted) as err:
        drive(spec).start("courier", {"course": 1})
    assert err.value.message("zh") == err.value.message("en") == "本期课程名额已满，请关注下一期"


def test_age_reads_a_resident_id_or_a_date():
    from workflows.expr import parse

    now = {"now": "2026-03-07"}
    assert parse("age('110105199003070010')").evaluate(now) == 36  # birthday today
    assert parse("age('110105199003080010')").evaluate(now) == 35  # tomorrow
    assert parse("age('2000-02-29', '2026-02-28')").evaluate({}) == 25
    assert parse("age('not an id')").evaluate(now) is None
    assert parse("age('110105199013400010')").evaluate(now) is None  # no 13th month


@pytest.mark.parametrize("bad, words", [
    ("checks: [{check: 'form.course > 0'}]", "each needs 'check' (a condition) and 'message'"),
    ("checks: [{check: 'form.nope == 1', message: x}]", "unknown field 'form.nope'"),
    ("checks: [{check: 'true', message: x, field: nope}]", "field 'nope' is not in the start form"),
    ("checks: [{check: 'true', message: 'x {form.nope}'}]", "unknown field 'form.nope'"),
    ("checks: {check: 'true'}", "'checks' must be a list"),
])
def test_start_checks_are_validated(bad, words):
    from workflows.loader import load_text

    text = f"""
key: t
name: 报名
start:
  who: anyone
  form: [{{name: course, type: record, source: course, label: 课程}}]
  {bad}
steps:
  go: {{kind: decision, name: 分支, branches: [{{when: "true", go: ok}}], default: ok}}
ends: {{ok: completed}}
"""
    spec, problems = load_text(text, "t.yaml")
    assert spec is None and any(words in p.message for p in problems), problems


@pytest.mark.parametrize("register, bad, words", [
    ('"course:{form.course}"', "pass_rate: 120", "'pass_rate' must be a whole percentage"),
    ('"course:{form.course}"', "pass_rate: true", "'pass_rate' must be a whole percentage"),
    ("''", "pass_rate: 80", "'register' must be text"),
    ('"course:{form.nope}"', "pass_rate: 80", "unknown field 'form.nope'"),
])
def test_attendance_step_is_validated(register, bad, words):
    from workflows.loader import load_text

    text = f"""
key: t
name: 培训
start: {{who: anyone, form: [{{name: course, type: record, source: course, label: 课程}}]}}
steps:
  check:
    kind: attendance
    name: 出勤
    assignee: {{role: unit_admin, of: record.course.unit}}
    register: {register}
    {bad}
    next: {{passed: done, failed: done}}
ends: {{done: completed}}
"""
    spec, problems = load_text(text, "t.yaml")
    assert spec is None and any(words in p.message for p in problems), problems


# ---------------------------------------------------------------- correcting the result

def _decided(register, directory, attended: int):
    d = register("rider").advance(timedelta(days=40))
    directory.attended[("course:1", d.state.instance_id)] = attended
    d.do("complete", "unit_admin")
    return d


def _correct(d, outcome, actor="unit_admin", reason="第3次课签到表漏录"):
    from workflows.correction import correct

    d.state, d.effects = correct(d.spec, d.state, outcome, reason, actor, d.now, d.directory)
    return d


def test_a_failed_trainee_is_corrected_to_completed_from_the_corrected_register(
        register, directory):
    d = _decided(register, directory, 7)
    ended_at, version = d.state.ended_at, d.state.version
    assert (d.status, d.state.end) == ("expired", "not_completed")
    directory.attended[("course:1", d.state.instance_id)] = 8  # the register put right
    _correct(d, "passed")
    assert (d.status, d.state.end) == ("completed", "completed")
    assert d.state.finished and d.state.ended_at == ended_at  # still ended, when it was
    assert d.state.version == version + 1
    assert d.state.data["attendance"] == {"attended": 8, "total": 10, "rate": 80}
    line = d.state.history[-1]
    assert (line.action, line.actor, line.comment) == ("correct", "unit_admin", "第3次课签到表漏录")
    assert line.details["before"] == "not_completed" and line.details["end"] == "completed"
    assert line.changes["attendance"][0]["attended"] == 7
    [note] = d.effects_of(Notify)
    assert note.kind == "corrected" and note.recipients == ("rider",)
    assert note.params["comment"] == "第3次课签到表漏录"
    # Nothing reopened: no task, no timer, the place kept.
    assert not d.state.open_tasks and not d.state.timers and not d.effects_of(ScheduleTimer)
    assert d.state.reservations[0].status == "granted"
    # And back again, by the escalation's district administrator.
    directory.attended[("course:1", d.state.instance_id)] = 6
    _correct(d, "failed", actor="yz_admin", reason="误勾")
    assert (d.status, d.state.end) == ("expired", "not_completed")


def test_a_correction_must_agree_with_the_register_and_change_something(register, directory):
    d = _decided(register, directory, 7)
    with pytest.raises(InvalidInput) as err:
        _correct(d, "passed")  # the register still says 7/10
    assert err.value.code == "disagrees" and "7/10" in err.value.message("zh")
    with pytest.raises(InvalidInput) as err:
        _correct(d, "failed")
    assert err.value.code == "unchanged"
    directory.attended[("course:1", d.state.instance_id)] = 6  # still a fail: the count is fixed
    _correct(d, "failed")
    assert d.state.end == "not_completed" and d.state.data["attendance"]["attended"] == 6
    with pytest.raises(InvalidInput) as err:
        _correct(d, "passed", reason="  ")
    assert err.value.code == "comment_required"
    with pytest.raises(InvalidInput) as err:
        _correct(d, "sideways")
    assert err.value.code == "bad_outcome"


def test_only_those_who_may_decide_correct_and_only_a_decided_result(register, directory):
    from workflows.correction import correctable

    d = _decided(register, directory, 7)
    directory.attended[("course:1", d.state.instance_id)] = 9
    for outsider in ("jb_admin", "city_admin", "head", "rider"):
        with pytest.raises(NotAllowed):
            _correct(d, "passed", actor=outsider)
    running = register("welder").advance(timedelta(days=40))
    assert correctable(running.spec, running.state) is None
    with pytest.raises(Conflict) as err:
        _correct(running, "passed")
    assert err.value.code == "not_decided"
    withdrawn = register("courier")
    withdrawn.act("withdraw", "courier")
    with pytest.raises(Conflict) as err:
        _correct(withdrawn, "passed")
    assert err.value.code == "not_correctable"
