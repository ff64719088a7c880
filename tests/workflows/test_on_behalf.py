"""start.on_behalf: someone the definition names (a unit union's administrator) starts a
request for another person (代为推荐), which then runs as that person's own."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.workflows.conftest import MONDAY, shipped
from tests.workflows.test_retreat import NOMINATION
from workflows.effects import Notify
from workflows.engine import can_start_for_others, start
from workflows.errors import Conflict, NotAllowed
from workflows.loader import load_text

RETREAT = shipped("retreat_nomination")


def nominate(directory, nominee, by, n=[100], **changes):
    n[0] += 1
    state, effects = start(RETREAT, nominee, {**NOMINATION, **changes}, MONDAY, directory,
                           instance_id=n[0], by=by)
    directory.track(state)
    return state, effects


def test_a_unit_admin_nominates_a_worker_of_their_unit(directory, drive):
    state, effects = nominate(directory, "rider", "unit_admin")
    assert state.applicant == "rider" and state.applicant_unit == 7
    first = state.history[0]
    assert (first.actor, first.action) == ("unit_admin", "submit")
    assert first.details["on_behalf_of"] == "rider"
    told = [e for e in effects if isinstance(e, Notify) and e.kind == "started_for_you"]
    assert [e.recipients for e in told] == [("rider",)]
    # The unit's review is the approvers of the nominee's unit; the nominee's later
    # steps are theirs, as if they had started it.
    d = drive(RETREAT)
    d.state = state
    # The one who nominated steps aside: the unit's other administrator reviews it.
    assert d.task().assignees == ("unit_admin2",)
    assert state.history[-1].action == "recuse_starter" or "recuse_starter" in [
        h.action for h in state.history]
    with pytest.raises(NotAllowed):
        d.do("approve", "unit_admin")
    d.do("approve", "unit_admin2")
    d.do("approve", "yz_admin")
    d.do("approve", "city_admin")
    d.advance(timedelta(days=3))
    assert d.task().step == "briefing" and d.task().assignees == ("rider",)
    with pytest.raises(NotAllowed):
        d.do("complete", "unit_admin", data={"discipline_ack": True})
    d.do("complete", "rider", data={"discipline_ack": True})
    assert d.current == ("retreat",)


def test_an_admin_above_the_unit_may_nominate_too(directory):
    directory.set_capacity("retreat:1:5", 1)
    state, _ = nominate(directory, "courier", "street_admin")  # station 5 is under street 4
    assert state.applicant == "courier" and state.current == ("unit_review",)


def test_the_nominees_unit_quota_is_used(directory):
    nominate(directory, "rider", "unit_admin")
    from workflows.errors import CapacityExhausted
    with pytest.raises(CapacityExhausted):
        nominate(directory, "welder", "unit_admin")  # unit 7's one place is the rider's


def test_an_admin_of_another_unit_is_refused(directory):
    with pytest.raises(NotAllowed) as err:
        nominate(directory, "courier", "unit_admin")  # courier is in station 5, not in 7
    assert err.value.code == "not_on_behalf"
    assert "只有申请人单位的基层工会管理员可以代为发起" in err.value.message("zh")
    assert "may" in err.value.message("en")


def test_someone_without_the_role_is_refused(directory):
    with pytest.raises(NotAllowed) as err:
        nominate(directory, "rider", "welder")  # a fellow worker
    assert err.value.code == "not_on_behalf"


def test_a_nominee_who_is_not_a_worker_is_refused(directory):
    with pytest.raises(NotAllowed) as err:
        nominate(directory, "unit_admin2", "unit_admin")
    assert err.value.code == "applicant_not_eligible"
    assert err.value.message("zh") == ("被代办人不符合条件：只有职工可以作为“劳模职工疗休养推荐”"
                                       "的申请人")


def test_a_nominee_with_a_nomination_this_year_is_refused(directory):
    directory.set_capacity("retreat:1:7", 5)
    directory.track(start(RETREAT, "welder", NOMINATION, MONDAY, directory, instance_id=1)[0])
    with pytest.raises(Conflict) as err:
        nominate(directory, "welder", "unit_admin")  # they put themselves forward already
    assert err.value.code == "duplicate"
    assert err.value.message("zh") == "此人已有相同的申请（如同一年度已被推荐过），不能重复提交"
    nominate(directory, "rider", "unit_admin")
    with pytest.raises(Conflict):
        nominate(directory, "rider", "unit_admin2")  # nominated already, by a colleague


def test_a_process_without_on_behalf_cannot_be_started_for_someone(directory):
    with pytest.raises(NotAllowed) as err:
        start(shipped("micro_wish"), "rider", {}, MONDAY, directory, instance_id=1,
              by="unit_admin")
    assert err.value.code == "no_on_behalf"


def test_starting_for_oneself_is_the_usual_start(directory):
    state, effects = start(RETREAT, "rider", NOMINATION, MONDAY, directory, instance_id=1,
                           by="rider")
    assert state.history[0].actor == "rider" and "on_behalf_of" not in state.history[0].details
    assert not any(isinstance(e, Notify) and e.kind == "started_for_you" for e in effects)


def test_who_may_be_offered_the_form_for_others(directory):
    assert can_start_for_others(RETREAT, "unit_admin", directory)
    assert can_start_for_others(RETREAT, "street_admin", directory)
    assert not can_start_for_others(RETREAT, "rider", directory)
    assert not can_start_for_others(shipped("micro_wish"), "unit_admin", directory)


BASE = """\
key: demo
name: 演示
start:
  who: {role: worker}
  on_behalf: ON_BEHALF
steps:
  a: {kind: task, name: A, assignee: applicant, next: done}
ends:
  done: {status: completed}
"""


@pytest.mark.parametrize("value, english, chinese", [
    ("anyone", "start on_behalf: 'anyone' cannot start for someone else",
     "start 的 on_behalf：不能写 anyone"),
    ("{role: unit_admin}", "start on_behalf: say whose role it is",
     "start 的 on_behalf：请用 of 或 within 写明"),
    ("{role: unit_boss, of: applicant}", "start on_behalf: unknown role 'unit_boss'",
     "start 的 on_behalf：不认识的角色“unit_boss”"),
    ("{role: unit_admin, of: {code: cq}}", "start on_behalf: say whose role it is",
     "start 的 on_behalf：请用 of 或 within 写明"),
    ("[]", "start: 'on_behalf' must name at least one rule", "start 的 on_behalf 至少要写"),
])
def test_the_loader_checks_on_behalf(value, english, chinese):
    spec, problems = load_text(BASE.replace("ON_BEHALF", value), "demo.yaml")
    assert spec is None or problems
    assert [p.line for p in problems] == [5]
    assert english in str(problems[0]), str(problems[0])
    assert chinese in problems[0].text("zh"), problems[0].text("zh")


def test_the_loader_reads_on_behalf():
    spec, problems = load_text(BASE.replace("ON_BEHALF", "[{role: unit_admin, of: applicant},"
                                            " {role: district_admin, within: applicant.district}]"),
                               "demo.yaml")
    assert problems == []
    assert [r.role for r in spec.start.on_behalf] == ["unit_admin", "district_admin"]


def test_the_nominator_may_not_be_handed_the_review(directory, drive):
    """Nor can the review be handed back to the one who nominated (a delegation or an
    administrator's reassignment), nor are they suggested for it."""
    from workflows.engine import reassign_candidates

    state, _ = nominate(directory, "rider", "unit_admin")
    d = drive(RETREAT)
    d.state = state
    assert "unit_admin" not in reassign_candidates(d.spec, d.state, d.task().id, directory)
    with pytest.raises(NotAllowed, match="started the request for the applicant"):
        d.do("delegate", "unit_admin2", user="unit_admin")
