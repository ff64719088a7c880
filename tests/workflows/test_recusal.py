"""Nobody decides their own request; escalation decides rather than adds votes; who may
reassign a task nobody holds."""
from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.effects import Assign, Notify, Unassigned
from workflows.engine import reassign_candidates
from workflows.errors import NotAllowed

WISH = {"title": "一个新头盔", "category": "goods", "story": "电动车头盔摔坏了，想要一个新的",
        "station": 5, "contact_name": "张三", "phone": "13800138000"}
DEMAND = {"category": "parking", "station": 5, "description": "送餐时电动车没有地方停，经常被贴条",
          "phone": "13600004444"}

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
    approvers: {{role: unit_admin, of: applicant}}
    mode: {mode}
    {n}
    {sla}
    next: done
ends:
  done: {{status: approved}}
  rejected: rejected
"""
ESCALATE = "sla: {escalate_after: 2d, escalate_to: {role: district_admin, of: applicant.district}}"


def approval(inline, mode="single", n=None, sla=""):
    return inline(APPROVAL.format(mode=mode, n=f"n: {n}" if n else "", sla=sla))


def actions(d):
    return [h.action for h in d.state.history]


# ---------------------------------------------------------------------------- recusal
def test_a_station_head_never_verifies_their_own_wish(drive, shipped, directory):
    directory.grant("head", "worker", 5)
    d = drive(shipped("micro_wish")).start("head", WISH)
    # the only station head is the applicant: it goes where the SLA would escalate it
    assert d.task().assignees == ("yz_admin",)
    assert d.effects_of(Assign)[0].users == ("yz_admin",)
    entry = next(h for h in d.state.history if h.action == "recuse_escalate")
    assert entry.step == "verify" and entry.details["to"] == ("yz_admin",)
    with pytest.raises(NotAllowed):
        d.do("approve", "head")
    d.do("approve", "yz_admin")
    assert d.current == ("wall",)


def test_another_holder_of_the_role_takes_it_without_going_up(drive, shipped, directory):
    directory.grant("head", "worker", 5)
    directory.add_user("deputy_head", 5, [("station_head", 5)])
    d = drive(shipped("micro_wish")).start("head", WISH)
    assert d.task().assignees == ("deputy_head",)
    assert "recuse" in actions(d) and "recuse_escalate" not in actions(d)


def test_a_unit_admin_nominating_themselves_goes_to_a_colleague(drive, shipped, directory):
    directory.grant("unit_admin", "worker", 7)
    d = drive(shipped("retreat_nomination")).start("unit_admin", {
        "batch": 1, "honour": "city", "frontline": True, "id_card": "11010519491231002X",
        "phone": "13900002222", "health_ok": True,
        "deeds": "连续十年安全行驶无事故，带教新人三十余名，获评市级劳动模范。"})
    assert d.task().assignees == ("unit_admin2",)


def test_without_an_sla_the_same_role_one_level_up_takes_it(inline, drive, directory):
    directory.grant("street_admin", "worker", 4)
    directory.add_user("yz_unit_admin", 2, [("unit_admin", 2)])
    spec = inline(APPROVAL.format(mode="single", n="", sla="").replace(
        "of: applicant}", "of: applicant, exact: true}"))
    d = drive(spec).start("street_admin", {"amount": 5})
    assert d.task().assignees == ("yz_unit_admin",)
    assert d.state.history[-1].action == "recuse_escalate"


def test_with_nobody_above_either_the_task_waits_for_an_administrator(inline, drive, directory):
    directory.grant("street_admin", "worker", 4)
    d = drive(approval(inline)).start("street_admin", {"amount": 5})
    assert d.task().assignees == ()
    assert d.effects_of(Unassigned)[0].step == "review"
    assert actions(d)[-2:] == ["recuse_escalate", "unassigned"]
    assert not [n for n in d.effects_of(Notify) if "street_admin" in n.recipients
                and n.kind == "task_assigned"]
    with pytest.raises(NotAllowed) as err:  # the applicant does not pick their approver
        d.do("reassign", "street_admin", user="unit_admin")
    assert err.value.code == "own_request"
    with pytest.raises(NotAllowed) as err:  # nor get it back through an administrator
        d.do("reassign", "yz_admin", user="street_admin")
    assert err.value.code == "not_eligible"


def test_a_task_step_skips_the_applicant_too(drive, shipped, directory):
    directory.grant("unit_admin", "worker", 7)
    d = drive(shipped("worker_demand")).start("unit_admin", DEMAND)
    d.do("approve", "yz_admin", data={"responsible_unit": 7})
    assert d.current == ("acknowledge",) and d.task().assignees == ("unit_admin2",)
    with pytest.raises(NotAllowed) as err:
        d.do("delegate", "unit_admin2", user="unit_admin")
    assert err.value.code == "not_eligible"


def test_escalation_never_brings_in_the_applicant(drive, shipped, directory):
    directory.grant("yz_admin", "worker", 2)
    d = drive(shipped("micro_wish")).start("yz_admin", WISH)
    assert d.task().assignees == ("head",)  # not recused: they are not the approver here
    d.advance(timedelta(days=5))
    assert "yz_admin" not in d.task().assignees and d.task().escalated == ()
    assert [h for h in d.state.history if h.action == "escalate"][0].details == {}
    # Nobody brought in, but not nobody told: the street above the station (the head's
    # post) may give it to someone else.
    [note] = [n for n in d.effects_of(Notify) if n.kind == "stalled"]
    assert note.recipients == ("street_admin",) and d.task().stalled


def test_a_district_admin_filing_a_demand_in_their_district(drive, shipped, directory):
    directory.grant("yz_admin", "worker", 2)
    d = drive(shipped("worker_demand")).start("yz_admin", DEMAND)
    assert d.task().assignees == ("city_admin",)  # the SLA's escalate_to


# ---------------------------------------------------------------------------- escalation
# (mode, n, decisions after escalation, the end or step it is at afterwards)
ESCALATED = [
    ("single", None, [("yz_admin", "approve")], "done"),
    ("all_of", None, [("yz_admin", "approve")], "done"),
    ("all_of", None, [("unit_admin", "approve"), ("yz_admin", "approve")], "done"),
    ("all_of", None, [("unit_admin", "approve"), ("unit_admin2", "approve")], "done"),
    ("all_of", None, [("unit_admin", "approve"), ("yz_admin", "reject")], "rejected"),
    ("any_of", None, [("yz_admin", "reject")], "rejected"),
    ("any_of", None, [("unit_admin", "reject"), ("unit_admin2", "reject")], "rejected"),
    ("any_of", None, [("unit_admin", "reject"), ("yz_admin", "approve")], "done"),
    ("n_of_m", 2, [("yz_admin", "approve")], "done"),
    ("n_of_m", 2, [("unit_admin", "approve"), ("unit_admin2", "approve")], "done"),
    ("n_of_m", 2, [("unit_admin", "reject")], "rejected"),  # 2 of the own 2: unreachable
    ("n_of_m", 2, [("unit_admin", "approve"), ("yz_admin", "reject")], "rejected"),
]


@pytest.mark.parametrize("mode, n, decisions, where", ESCALATED)
def test_the_escalation_target_decides_for_the_step(inline, drive, mode, n, decisions, where):
    d = drive(approval(inline, mode, n, ESCALATE)).start("rider", {"amount": 5})
    d.advance(timedelta(days=2))
    task = d.task()
    assert task.assignees == ("unit_admin", "unit_admin2", "yz_admin")
    assert task.escalated == ("yz_admin",)
    for who, verdict in decisions:
        d.do(verdict, who, comment="理由" if verdict == "reject" else None)
    assert (d.state.end or d.current[0]) == where
    votes = [h for h in d.state.history if h.action in ("approve", "reject")]
    assert [h.actor for h in votes] == [who for who, _ in decisions]
    assert [h.details.get("escalated", False) for h in votes] == \
        [who == "yz_admin" for who, _ in decisions]


def test_all_of_still_waits_for_every_own_approver(inline, drive):
    d = drive(approval(inline, "all_of", sla=ESCALATE)).start("rider", {"amount": 5})
    d.advance(timedelta(days=2))
    d.do("approve", "unit_admin")
    assert d.current == ("review",)


def test_who_takes_over_from_the_escalation_target_decides_as_they_would(inline, drive,
                                                                          directory):
    d = drive(approval(inline, "all_of", sla=ESCALATE)).start("rider", {"amount": 5})
    d.advance(timedelta(days=2))
    directory.add_user("yz_deputy", 2, [("district_admin", 2)])
    d.do("delegate", "yz_admin", user="yz_deputy")
    assert d.task().escalated == ("yz_deputy",)
    d.do("approve", "yz_deputy")
    assert d.state.end == "done"


# ---------------------------------------------------------------------------- reassign
@pytest.fixture
def stuck(inline, drive):
    """A request at station 5 whose unit has no unit_admin of its own (exact)."""
    spec = inline(APPROVAL.format(mode="single", n="", sla="").replace(
        "of: applicant}", "of: applicant, exact: true}"))
    return drive(spec).start("courier", {"amount": 5})


def test_an_administrator_in_scope_reassigns_a_task_nobody_holds(stuck):
    assert stuck.task().assignees == ()
    assert reassign_candidates(stuck.spec, stuck.state, stuck.task().id,
                               stuck.directory) == ("street_admin",)
    for outsider in ("jb_admin", "unit_admin", "supervisor", "head"):
        with pytest.raises(NotAllowed):
            stuck.do("reassign", outsider, user="street_admin")
    stuck.do("reassign", "yz_admin", user="street_admin", comment="由街道审核")
    assert stuck.task().assignees == ("street_admin",)
    assert stuck.state.history[-1].details["to"] == "street_admin"


def test_a_held_task_is_reassigned_only_by_a_platform_administrator(stuck):
    stuck.do("reassign", "city_admin", user="street_admin")
    with pytest.raises(NotAllowed) as err:
        stuck.do("reassign", "yz_admin", user="unit_admin")  # not eligible either way
    assert err.value.code == "task_held"
    stuck.directory.add_user("street_admin2", 4, [("unit_admin", 4)])
    stuck.do("reassign", "padmin", user="street_admin2")
    assert stuck.task().assignees == ("street_admin2",)


# ------------------------------------------------------------- escalation that finds nobody
NOBODY_ABOVE = "sla: {escalate_after: 2d, escalate_to: {role: branch_secretary, of: applicant}}"


def test_an_escalation_finding_nobody_tells_the_level_above_and_lets_it_reassign(
        inline, drive, directory):
    d = drive(approval(inline, sla=NOBODY_ABOVE)).start("rider", {"amount": 5})
    held = d.task().assignees
    assert set(held) == {"unit_admin", "unit_admin2"}
    with pytest.raises(NotAllowed) as err:  # not overdue yet: held, not theirs to move
        d.do("reassign", "yz_admin", user="unit_admin")
    assert err.value.code == "task_held"
    d.advance(timedelta(days=2))
    escalation = [h for h in d.state.history if h.action == "escalate"][0]
    assert escalation.details == {}  # brought nobody in: 督办升级未送达
    assert d.task().stalled and d.task().assignees == held
    # Not the overdue unit administrators themselves: the district above them.
    [note] = [n for n in d.effects_of(Notify) if n.kind == "stalled"]
    assert (note.recipients, note.priority) == (("yz_admin",), "high")
    directory.add_user("unit_admin3", 7, [("unit_admin", 7)])  # someone new to give it to
    d.do("reassign", "yz_admin", user="unit_admin3", comment="原审核人长期未处理")
    assert d.task().assignees == ("unit_admin3",) and not d.task().stalled
    with pytest.raises(NotAllowed) as err:  # with someone again: held once more
        d.do("reassign", "yz_admin", user="unit_admin")
    assert err.value.code == "task_held"
    d.do("approve", "unit_admin3")
    assert d.state.end == "done"


def test_a_stalled_task_handed_on_by_its_holder_is_no_longer_stalled(inline, drive,
                                                                     directory):
    d = drive(approval(inline, sla=NOBODY_ABOVE)).start("rider", {"amount": 5})
    d.advance(timedelta(days=2))
    assert d.task().stalled
    directory.add_user("unit_admin3", 7, [("unit_admin", 7)])
    d.do("delegate", "unit_admin", user="unit_admin3", comment="我休假，请代办")
    assert not d.task().stalled and "unit_admin3" in d.task().assignees


def test_a_district_approval_overdue_goes_to_the_city_not_back_down(inline, drive, directory):
    spec = inline(APPROVAL.format(mode="single", n="", sla=NOBODY_ABOVE).replace(
        "{role: unit_admin, of: applicant}", "{role: district_admin, of: applicant.district}"))
    d = drive(spec).start("rider", {"amount": 5})
    assert d.task().assignees == ("yz_admin",)
    d.advance(timedelta(days=2))
    [note] = [n for n in d.effects_of(Notify) if n.kind == "stalled"]
    assert note.recipients == ("city_admin",)  # not the rider's unit administrators


def test_an_escalation_that_reaches_someone_stalls_nothing(inline, drive):
    d = drive(approval(inline, sla=ESCALATE)).start("rider", {"amount": 5})
    d.advance(timedelta(days=2))
    assert "yz_admin" in d.task().assignees and not d.task().stalled
    assert not [n for n in d.effects_of(Notify) if n.kind == "stalled"]


# ------------------------------------------------------------------------------ 催办
def test_the_escalation_target_presses_the_holders_once_in_a_while(inline, drive):
    from workflows.engine import available_actions
    from workflows.errors import Conflict

    d = drive(approval(inline, sla=ESCALATE)).start("rider", {"amount": 5})
    for outsider in ("jb_admin", "vol1", "rider"):
        with pytest.raises(NotAllowed):
            d.do("urge", outsider)
    d.advance(timedelta(days=2))  # escalated: yz_admin may decide, or press the unit
    assert "urge" in [a.action for a in available_actions(
        d.spec, d.state, "yz_admin", d.directory, d.now)]
    d.do("urge", "yz_admin", comment="请本周内答复")
    [note] = d.effects_of(Notify)
    assert (note.kind, set(note.recipients), note.priority) == (
        "urged", {"unit_admin", "unit_admin2"}, "high")
    from workflows.messages import render_title
    assert render_title(note.kind, note.params, "zh") == "催办：审批·审核 请尽快处理（附言：请本周内答复）"
    line = d.state.history[-1]
    assert (line.action, line.comment, set(line.details["to"])) == (
        "urge", "请本周内答复", {"unit_admin", "unit_admin2"})
    with pytest.raises(Conflict) as err:  # not again at once
        d.do("urge", "yz_admin")
    assert err.value.code == "urged_recently"
    d.advance(timedelta(hours=4))
    d.do("urge", "yz_admin")
    d.do("approve", "unit_admin")
    assert d.state.end == "done"


def test_nobody_to_press_on_a_pool_task(drive, shipped):
    from tests.workflows.test_micro_wish import WISH

    d = drive(shipped("micro_wish")).start("courier", WISH)
    d.do("approve", "head")  # on the wall: a pool, nobody holds it
    with pytest.raises(NotAllowed) as err:
        d.do("urge", "yz_admin")
    assert err.value.code == "nobody_to_urge"


# ------------------------------------------------------------ the station's side
def test_the_station_s_administrators_press_for_a_request_at_their_station(drive, shipped):
    """A 江北 driver's wish at a 渝中 station: the station's street may press its head;
    an enterprise administrator over neither the driver nor the station may not."""
    d = drive(shipped("micro_wish")).start("driver_jb", WISH)
    assert d.task().assignees == ("head",)
    for outsider in ("unit_admin", "vol1"):
        with pytest.raises(NotAllowed):
            d.do("urge", outsider)
    d.do("urge", "street_admin", comment="请今天核实")
    assert d.state.history[-1].action == "urge"


@pytest.mark.parametrize("administrator", ["street_admin", "jb_admin"])
def test_the_station_s_or_the_applicant_s_administrators_reassign_at_a_vacant_station(
        drive, shipped, directory, administrator):
    """The station lost its head: its street, or the driver's own district, gives the
    check to someone eligible; an administrator over neither may not."""
    directory.memberships.remove(("head", "station_head", 5))
    d = drive(shipped("micro_wish")).start("driver_jb", WISH)
    assert d.task().assignees == ()
    [target, *_] = reassign_candidates(d.spec, d.state, d.task().id, directory)
    with pytest.raises(NotAllowed):
        d.do("reassign", "unit_admin", user=target)
    d.do("reassign", administrator, user=target)
    assert d.task().assignees == (target,)


def test_a_stalled_check_at_a_station_is_told_to_the_station_s_street(drive, shipped,
                                                                      directory):
    """The head's overdue check cannot be escalated (the district's post is vacant): the
    street above the station is told — not the driver's unit far away — and may give
    it to someone else."""
    directory.memberships.remove(("yz_admin", "district_admin", 2))
    d = drive(shipped("micro_wish")).start("driver_jb", WISH)
    d.advance(timedelta(days=6))
    [note] = [n for n in d.effects_of(Notify) if n.kind == "stalled"]
    assert note.recipients == ("street_admin",) and d.task().stalled
    directory.add_user("head2", 5, [("station_head", 5)])  # a second head is appointed
    d.do("reassign", "street_admin", user="head2")
    assert d.task().assignees == ("head2",)


def test_no_reminder_is_written_to_nobody(drive, shipped, directory):
    """The station lost its head: its check is on the administrators' 待指派 list; a
    reminder to no one is neither sent nor written into the record as 提醒."""
    directory.memberships.remove(("head", "station_head", 5))
    d = drive(shipped("micro_wish")).start("driver_jb", WISH)
    d.advance(timedelta(days=3))
    assert not [h for h in d.state.history if h.action == "remind"]
    assert not [n for n in d.effects_of(Notify) if n.kind == "reminder"]
