"""Step kinds and actions, table-driven, on small inline definitions."""
from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.effects import Notify, Promoted, ScheduleTimer, Unassigned
from workflows.engine import SYSTEM, Action, act, available_actions, can_start
from workflows.errors import (AlreadyDecided, CapacityExhausted, Conflict, InvalidInput,
                              NotAllowed, NotFound, StateError)
from workflows.messages import render_title

APPROVAL = """
key: approve_it
name: 审批
start:
  who: {{role: worker}}
  form: [{{name: amount, type: integer, label: 金额, required: true}}]
steps:
  review:
    kind: approval
    name: 审核
    approvers: {{role: unit_admin, of: applicant{exact}}}
    mode: {mode}
    {n}
    next: done
ends:
  done: {{status: approved}}
  rejected: rejected
"""


def approval_spec(inline, mode="single", n=None, exact=False):
    return inline(APPROVAL.format(mode=mode, n=f"n: {n}" if n else "",
                                  exact=", exact: true" if exact else ""))


# (mode, n, decisions in order, where the instance is after each decision)
MODES = [
    ("single", None, [("unit_admin", "approve")], ["done"]),
    ("single", None, [("unit_admin2", "reject")], ["rejected"]),
    ("any_of", None, [("unit_admin", "reject"), ("unit_admin2", "approve")], ["review", "done"]),
    ("any_of", None, [("unit_admin", "reject"), ("unit_admin2", "reject"),
                      ("deputy", "reject")], ["review", "review", "rejected"]),
    ("all_of", None, [("unit_admin", "approve"), ("unit_admin2", "approve"),
                      ("deputy", "approve")], ["review", "review", "done"]),
    ("all_of", None, [("unit_admin", "approve"), ("deputy", "reject")], ["review", "rejected"]),
    ("n_of_m", 2, [("unit_admin", "approve"), ("deputy", "approve")], ["review", "done"]),
    ("n_of_m", 2, [("unit_admin", "reject"), ("deputy", "approve"), ("unit_admin2", "approve")],
     ["review", "review", "done"]),
    ("n_of_m", 2, [("unit_admin", "reject"), ("deputy", "reject")], ["review", "rejected"]),
]


@pytest.mark.parametrize("mode, n, decisions, after", MODES)
def test_approval_modes(inline, drive, directory, mode, n, decisions, after):
    directory.grant("deputy", "unit_admin", 7)
    d = drive(approval_spec(inline, mode, n)).start("rider", {"amount": 5})
    assert d.task().assignees == ("unit_admin", "unit_admin2", "deputy")
    for (who, verdict), where in zip(decisions, after):
        d.do(verdict, who, comment="理由" if verdict == "reject" else None)
        assert (d.state.end or d.current[0]) == where


def test_second_approver_of_a_decided_task_gets_a_conflict(inline, drive):
    d = drive(approval_spec(inline)).start("rider", {"amount": 5})
    task = d.task().id
    before = d.state
    d.act("approve", "unit_admin", task=task)
    with pytest.raises(Conflict) as err:  # the same instance, reloaded after the first
        d.act("approve", "unit_admin2", task=task)
    assert err.value.http_status == 409
    with pytest.raises(Conflict) as stale:  # or still holding the old version
        act(d.spec, before, Action("approve", task=task, expected_version=before.version - 1),
            "unit_admin2", d.now, d.directory)
    assert stale.value.code == "version_conflict"


def test_one_person_decides_once(inline, drive):
    d = drive(approval_spec(inline, "all_of")).start("rider", {"amount": 5})
    d.do("approve", "unit_admin")
    with pytest.raises(AlreadyDecided):
        d.do("approve", "unit_admin")


def test_delegate_to_another_eligible_person(inline, drive, directory):
    d = drive(approval_spec(inline)).start("rider", {"amount": 5})
    directory.grant("deputy", "unit_admin", 7)  # joined after the task was assigned
    with pytest.raises(InvalidInput) as err:
        d.do("delegate", "unit_admin")
    assert err.value.code == "user_required"
    with pytest.raises(InvalidInput):
        d.do("delegate", "unit_admin", user="unit_admin2")
    with pytest.raises(NotAllowed) as err:
        d.do("delegate", "unit_admin", user="rider")
    assert err.value.code == "not_eligible"
    with pytest.raises(NotAllowed):
        d.do("delegate", "yz_admin", user="deputy")  # not an assignee
    d.do("delegate", "unit_admin", user="deputy", comment="出差")
    assert d.task().assignees == ("deputy", "unit_admin2")
    notify = d.effects_of(Notify)[0]
    assert notify.recipients == ("deputy",)
    assert render_title(notify.kind, notify.params, "zh").endswith("（附言：出差）")
    assert render_title(notify.kind, notify.params, "en").endswith("(note: 出差)")
    d.do("approve", "deputy")
    assert d.state.end == "done"


def test_nobody_found_is_flagged_and_an_admin_reassigns(inline, drive):
    d = drive(approval_spec(inline, exact=True)).start("courier", {"amount": 5})
    assert d.task().assignees == ()
    assert d.effects_of(Unassigned)[0].step == "review"
    with pytest.raises(NotAllowed):
        d.do("reassign", "jb_admin", user="street_admin")  # another district's admin
    d.do("reassign", "padmin", user="street_admin")  # eligible one level up
    assert d.task().assignees == ("street_admin",)
    d.do("approve", "street_admin")
    assert d.state.end == "done"


def test_comments(inline, drive):
    d = drive(approval_spec(inline)).start("rider", {"amount": 5})
    with pytest.raises(NotAllowed):
        d.act("comment", "vol1", comment="路过")
    with pytest.raises(InvalidInput):
        d.act("comment", "rider", comment=" ")
    d.act("comment", "rider", comment="请尽快审核")
    assert d.state.history[-1].comment == "请尽快审核"
    assert d.effects_of(Notify)[0].recipients == ("unit_admin", "unit_admin2")
    assert d.current == ("review",)


def test_cancel_is_for_platform_admins_with_a_reason(inline, drive):
    d = drive(approval_spec(inline)).start("rider", {"amount": 5})
    with pytest.raises(NotAllowed):
        d.act("cancel", "unit_admin", comment="x")
    with pytest.raises(InvalidInput):
        d.act("cancel", "padmin")
    d.act("cancel", "padmin", comment="重复提交")
    assert d.status == "cancelled" and d.state.open_tasks == ()
    with pytest.raises(Conflict) as err:
        d.act("comment", "rider", comment="还在吗")
    assert err.value.code == "finished"


BAD_ACTIONS = [
    (Action("approve"), "unit_admin", InvalidInput, "task_required"),
    (Action("approve", task="t99"), "unit_admin", NotFound, "not_found"),
    (Action("explode"), "unit_admin", InvalidInput, "unknown_action"),
    (Action("fire", timer="x"), "unit_admin", NotAllowed, "system_only"),
    (Action("approve", task="t1"), SYSTEM, NotAllowed, "system_only"),
    (Action("fire", timer="gone"), SYSTEM, Conflict, "stale_timer"),
    (Action("promote"), SYSTEM, Conflict, "not_waitlisted"),
    (Action("resubmit"), "rider", Conflict, "not_returned"),
    (Action("complete", task="t1"), "unit_admin", NotAllowed, "not_allowed"),
    (Action("object", task="t1"), "unit_admin", NotAllowed, "not_allowed"),
    (Action("claim"), "vol1", NotAllowed, "not_allowed"),
    (Action("unclaim"), "vol1", NotAllowed, "not_allowed"),
    (Action("approve", task="t1"), None, NotAllowed, "not_signed_in"),
]


@pytest.mark.parametrize("action, actor, error, code", BAD_ACTIONS)
def test_refused_actions_say_why(inline, drive, action, actor, error, code):
    d = drive(approval_spec(inline)).start("rider", {"amount": 5})
    with pytest.raises(error) as err:
        act(d.spec, d.state, action, actor, d.now, d.directory)
    assert err.value.code == code
    assert err.value.message("zh") and err.value.message("en")


def test_state_of_another_definition_is_refused(inline, drive, shipped):
    d = drive(approval_spec(inline)).start("rider", {"amount": 5})
    with pytest.raises(StateError):
        act(shipped("micro_wish"), d.state, Action("withdraw"), "rider", d.now, d.directory)


def test_start_checks(inline, drive, directory):
    spec = approval_spec(inline)
    with pytest.raises(NotAllowed):
        drive(spec).start("vol1", {"amount": 5})
    directory.add_user("homeless", None, [("worker", 7)])
    with pytest.raises(NotAllowed) as err:
        drive(spec).start("homeless", {"amount": 5})
    assert err.value.code == "no_unit"
    assert can_start(spec, "rider", directory) and not can_start(spec, "vol1", directory)
    with pytest.raises(InvalidInput):
        drive(spec).start("rider", {"amount": "many"})


def test_available_actions_are_the_buttons_to_show(inline, drive):
    d = drive(approval_spec(inline)).start("rider", {"amount": 5})
    mine = {a.action for a in available_actions(d.spec, d.state, "unit_admin", d.directory,
                                                d.now)}
    assert mine == {"approve", "reject", "return", "delegate", "comment"}
    applicant = {a.action for a in available_actions(d.spec, d.state, "rider", d.directory,
                                                     d.now)}
    assert applicant == {"withdraw", "comment"}
    assert available_actions(d.spec, d.state, "vol1", d.directory, d.now) == []


# ---------------------------------------------------------------------------- claim
CLAIM = """
key: help_out
name: 志愿服务
start: {who: {role: worker}}
steps:
  pool:
    kind: claim
    name: 报名服务
    pool: {role: volunteer, within: applicant.district}
    capacity: 2
    waitlist: true
    next: serve
  serve: {kind: task, name: 服务, assignee: claimer, next: done}
ends: {done: completed}
"""


def test_claim_capacity_waitlist_and_promotion(inline, drive):
    d = drive(inline(CLAIM)).start("courier", {})
    d.act("claim", "vol1")
    assert d.current == ("pool",) and d.state.claim.claimers == ("vol1",)
    d.act("unclaim", "vol1")
    assert d.current == ("pool",) and d.state.claim.claimers == ()
    d.act("claim", "vol1").act("claim", "vol2")
    assert d.current == ("serve",) and d.task().assignees == ("vol1", "vol2")
    d.act("claim", "vol3")
    assert d.state.claim.waitlist == ("vol3",)
    with pytest.raises(AlreadyDecided):
        d.act("claim", "vol3")
    d.act("unclaim", "vol1")
    assert d.task().assignees == ("vol2", "vol3")
    # vol3 is told once that they moved up, with the task they now share.
    to_vol3 = [n for n in d.effects_of(Notify) if "vol3" in n.recipients]
    assert [n.kind for n in to_vol3] == ["promoted"]
    assert to_vol3[0].task == d.task().id
    d.act("unclaim", "vol2").act("unclaim", "vol3")
    assert d.current == ("pool",) and d.state.claim.claimers == ()


def test_claim_without_waitlist_is_refused_when_full(inline, drive):
    spec = inline(CLAIM.replace("waitlist: true", "waitlist: false"))
    d = drive(spec).start("courier", {}).act("claim", "vol1").act("claim", "vol2")
    with pytest.raises(CapacityExhausted) as err:
        d.act("claim", "vol3")
    assert err.value.code == "already_claimed"


# ---------------------------------------------------------------------------- timers
TIMER = """
key: wait_it
name: 等待
start:
  who: anyone
  form: [{{name: day, type: date, label: 日期}}]
steps:
  wait: {{kind: timer, name: 等待, {how}, next: after}}
  after: {{kind: task, name: 之后, assignee: applicant, next: done}}
ends: {{done: completed}}
"""

TIMERS = [
    ("after: 2d", {}, timedelta(days=2)),
    ("after: 3wd", {}, timedelta(days=3)),          # Monday → Thursday
    ("until: form.day", {"day": "2025-05-07"}, timedelta(days=1, hours=15)),
    ("until: 2025-05-06", {}, timedelta(hours=15)),
]


@pytest.mark.parametrize("how, data, wait", TIMERS)
def test_timer_waits_then_goes_on(inline, drive, how, data, wait):
    d = drive(inline(TIMER.format(how=how))).start("rider", data)
    timer = d.effects_of(ScheduleTimer)[0]
    assert (timer.purpose, timer.at - d.now) == ("wait", wait)
    d.advance(wait - timedelta(minutes=1))
    assert d.current == ("wait",)
    d.advance(timedelta(minutes=1))
    assert d.current == ("after",)


@pytest.mark.parametrize("how, data", [("until: form.day", {"day": "2025-05-01"}),
                                       ("until: form.day", {}),
                                       ("until: 2024-01-01", {})])
def test_timer_in_the_past_does_not_wait(inline, drive, how, data):
    d = drive(inline(TIMER.format(how=how))).start("rider", data)
    assert d.current == ("after",)


def test_a_timer_says_whether_its_date_was_past_or_left_empty(inline, drive):
    spec = inline(TIMER.format(how="until: form.day"))
    empty = drive(spec).start("rider", {})
    past = drive(spec).start("rider", {"day": "2025-05-01"})
    passed = [next(h for h in d.state.history if h.action == "timer_passed") for d in (empty, past)]
    assert [dict(h.details) for h in passed] == [{"no_date": True}, {}]


TIMEOUT_UNTIL = """
key: answer_it
name: 答复
start:
  who: anyone
  form: [{name: due, type: date, label: 答复期限}]
steps:
  answer: {kind: task, name: 答复, assignee: applicant, next: done,
           timeout: {until: form.due, go: late}}
ends: {done: completed, late: expired}
"""


def test_a_timeout_without_its_date_never_times_out_and_says_so(inline, drive):
    spec = inline(TIMEOUT_UNTIL)
    dated = drive(spec).start("rider", {"due": "2025-05-07"})
    assert [t.purpose for t in dated.effects_of(ScheduleTimer)] == ["timeout"]
    assert "no_timeout" not in [h.action for h in dated.state.history]
    undated = drive(spec).start("rider", {})
    assert undated.effects_of(ScheduleTimer) == []
    note = next(h for h in undated.state.history if h.action == "no_timeout")
    assert (note.step, dict(note.details)) == ("answer", {"no_date": True})
    undated.advance(timedelta(days=400))
    assert undated.current == ("answer",)


def test_a_timeout_whose_record_date_comes_later_is_set_then(inline, drive, directory):
    directory.add_record("course", 9, starts_on=None)
    spec = inline(TIMEOUT_UNTIL.replace("[{name: due, type: date, label: 答复期限}]",
                                        "[{name: course, type: record, source: course, "
                                        "label: 课程}]").replace("form.due",
                                                               "record.course.starts_on"))
    d = drive(spec).start("rider", {"course": 9})
    assert d.effects_of(ScheduleTimer) == []
    directory.add_record("course", 9, starts_on="2025-05-07")
    d.act("retime", SYSTEM)
    assert [t.purpose for t in d.effects_of(ScheduleTimer)] == ["timeout"]
    d.advance(timedelta(days=3))
    assert d.state.status == "expired"


def test_working_days_skip_holidays(inline, drive, directory, monday):
    directory.holidays.add((monday + timedelta(days=1)).date())
    d = drive(inline(TIMER.format(how="after: 3wd"))).start("rider", {})
    assert d.effects_of(ScheduleTimer)[0].at - d.now == timedelta(days=4)


# ---------------------------------------------------------------------------- decision
DECISION = """
key: route_it
name: 分流
start:
  who: anyone
  form: [{name: amount, type: decimal, label: 金额}, {name: kind, type: text, label: 类型}]
steps:
  choose:
    kind: decision
    name: 分流
    branches:
      - {when: "form.amount >= 1000", go: big}
      - {when: "form.kind == 'urgent' or form.amount >= 500", go: urgent}
    default: small
ends: {big: approved, urgent: approved, small: completed}
"""


@pytest.mark.parametrize("data, end", [
    ({"amount": "1000"}, "big"),
    ({"amount": "999.99", "kind": "urgent"}, "urgent"),
    ({"amount": "500"}, "urgent"),
    ({"amount": "12"}, "small"),
    ({}, "small"),
])
def test_decision_takes_the_first_matching_branch(inline, drive, data, end):
    d = drive(inline(DECISION)).start("rider", data)
    assert d.state.end == end
    assert d.state.history[-2].details["to"] == end


def test_looping_definition_is_stopped(inline, drive):
    spec = inline("""
key: loop
name: 循环
start: {who: anyone}
steps:
  a: {kind: decision, name: A, branches: [{when: "true", go: b}], default: done}
  b: {kind: decision, name: B, branches: [{when: "true", go: a}], default: done}
ends: {done: completed}
""")
    from workflows.errors import DefinitionError
    with pytest.raises(DefinitionError):
        drive(spec).start("rider", {})


# ---------------------------------------------------------------------------- publicity
def test_publicity_objectors_can_be_limited(inline, drive):
    spec = inline("""
key: notice
name: 公示
start: {who: anyone}
steps:
  notice: {kind: publicity, name: 公示, duration: 1d, objectors: {role: worker},
           next: {passed: ok, objected: review}}
  review: {kind: approval, name: 复核, approvers: {role: city_admin, of: applicant.city},
           actions: [approve], next: ok}
ends: {ok: completed}
""")
    d = drive(spec).start("rider", {})
    with pytest.raises(NotAllowed):
        d.do("object", "vol1", comment="有意见")
    d.do("object", "courier", comment="情况不实")
    d.advance(timedelta(days=1))
    assert d.current == ("review",) and d.task().assignees == ("city_admin",)


# ---------------------------------------------------------------------------- reserve
ROOM = """
key: room
name: 活动室
start: {who: anyone, form: [{name: n, type: integer, label: 名额数, required: false}]}
steps:
  seat: {kind: reserve, name: 名额, resource: "room:1", capacity: CAPACITY,
         next: {granted: ok}}
ends: {ok: completed}
"""


def test_a_definitions_larger_capacity_promotes_those_waiting_first(inline, drive):
    two, five = inline(ROOM.replace("CAPACITY", "2")), inline(ROOM.replace("CAPACITY", "5"))
    for who in ("rider", "welder"):
        assert drive(two).start(who, {}).status == "completed"
    waiting = [drive(two).start(who, {}) for who in ("courier", "driver_jb")]
    assert [d.status for d in waiting] == ["waitlisted", "waitlisted"]
    newcomer = drive(five).start("vol1", {})
    # Those waiting take two of the three new places, in their order; the newcomer the third.
    assert [p.instance for p in newcomer.effects_of(Promoted)] == \
        [d.state.instance_id for d in waiting]
    assert newcomer.status == "completed"
    for d in waiting:
        assert d.act("promote", SYSTEM).status == "completed"
    assert drive(five).start("vol2", {}).status == "waitlisted"  # 5 of 5


def test_a_definitions_capacity_given_by_a_condition_is_followed_too(inline, drive):
    spec = inline(ROOM.replace("CAPACITY", "form.n"))
    assert drive(spec).start("rider", {"n": 1}).status == "completed"
    first = drive(spec).start("welder", {"n": 1})
    assert first.status == "waitlisted"
    second = drive(spec).start("courier", {"n": 3})
    assert [p.instance for p in second.effects_of(Promoted)] == [first.state.instance_id]
    assert second.status == "completed"


def test_a_smaller_capacity_takes_no_place_back_and_grants_none_until_below(
        inline, drive, directory):
    three, one = inline(ROOM.replace("CAPACITY", "3")), inline(ROOM.replace("CAPACITY", "1"))
    held = [drive(three).start(who, {}) for who in ("rider", "welder")]
    first = drive(one).start("courier", {})
    assert first.status == "waitlisted"
    assert directory.holders["room:1"] == [d.state.instance_id for d in held]
    # One given back leaves one held of one: nobody moves up until another is.
    assert directory.release("room:1", held[0].state.instance_id) is None
    assert directory.release("room:1", held[1].state.instance_id) == first.state.instance_id


def test_refused_place_can_route_instead_of_failing(inline, drive, directory):
    spec = inline("""
key: seat
name: 名额
start: {who: anyone, form: [{name: n, type: integer, label: 名额数}]}
steps:
  seat: {kind: reserve, name: 名额, resource: "pool:x", capacity: form.n, waitlist: false,
         next: {granted: ok, refused: full}}
ends: {ok: completed, full: {status: rejected, name: 名额已满}}
""")
    assert drive(spec).start("rider", {"n": 1}).state.end == "ok"
    assert drive(spec).start("courier", {"n": 1}).state.end == "full"


GRANT = """
key: grant
name: 补助
start:
  who: {role: worker}
  form: [{name: asked, type: integer, label: 申请金额, required: true}]
steps:
  review:
    kind: approval
    name: 审核
    approvers: {role: unit_admin, of: applicant}
    actions: [approve, reject, return]
    form_on: [approve, reject]
    form:
      - {name: granted, type: integer, label: 核定金额, min: 1, required: [approve]}
      - {name: opinion, type: textarea, label: 审核意见, required: true}
    next: done
ends:
  done: approved
  rejected: rejected
"""


def test_a_field_required_to_approve_only_is_not_required_to_reject(inline, drive):
    d = drive(inline(GRANT)).start("rider", {"asked": 800})
    d.do("reject", "unit_admin", comment="不符合条件", data={"opinion": "已领过同类补助"})
    assert d.status == "rejected" and d.state.data["opinion"] == "已领过同类补助"
    assert d.state.data.get("granted") is None
    line = next(h for h in d.state.history if h.action == "reject")
    assert dict(line.changes) == {"opinion": (None, "已领过同类补助")}


def test_a_field_required_to_approve_is_refused_missing_when_approving(inline, drive):
    d = drive(inline(GRANT)).start("rider", {"asked": 800})
    with pytest.raises(InvalidInput) as refused:
        d.do("approve", "unit_admin", data={"opinion": "同意"})
    assert list(refused.value.field_errors) == ["granted"]
    with pytest.raises(InvalidInput) as wrong:  # the field's own checks apply to a reject
        d.do("reject", "unit_admin", comment="不行", data={"opinion": "不行", "granted": 0})
    assert list(wrong.value.field_errors) == ["granted"]
    d.do("approve", "unit_admin", data={"opinion": "同意", "granted": 500})
    assert (d.status, d.state.data["granted"]) == ("approved", 500)


def test_form_data_is_refused_with_an_action_that_does_not_send_the_form(inline, drive):
    d = drive(inline(GRANT.replace("form_on: [approve, reject]", "form_on: [approve]")
                     .replace("required: [approve]", "required: true"))).start(
        "rider", {"asked": 800})
    for kind, extra in (("reject", {}), ("return", {"to": "applicant"})):
        with pytest.raises(InvalidInput) as refused:
            d.do(kind, "unit_admin", comment="理由", data={"opinion": "x"}, **extra)
        assert refused.value.code == "no_form_data" and list(refused.value.field_errors) == ["data"]
    d.do("reject", "unit_admin", comment="不符合条件")  # without data, as before
    assert d.status == "rejected" and "opinion" not in d.state.data
