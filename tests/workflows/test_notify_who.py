"""Who is told of an action: never the one who took it, and each person once."""
from __future__ import annotations

import json

from workflows.effects import Announce, Notify, effect_from_dict, effect_to_dict

WISH = {"title": "一个新头盔", "category": "goods", "story": "电动车头盔摔坏了，想要一个新的",
        "budget": "80", "station": 5, "contact_name": "张三", "phone": "13800138000"}
PROOF = {"proof": [{"id": 9, "name": "helmet.jpg", "mime": "image/jpeg", "size": 20_000}]}


def told(d) -> list[tuple[str, tuple]]:
    return [(n.kind, n.recipients) for n in d.effects_of(Notify)]


def test_the_actor_is_told_nothing_of_what_they_did(drive, shipped):
    """rider1 withdrew their wish and got "您的微心愿已撤回": every action, checked."""
    d = drive(shipped("micro_wish")).start("courier", WISH)
    assert told(d) == [("task_assigned", ("head",))]
    d.do("return", "head", comment="请补充照片")
    assert told(d) == [("returned", ("courier",))]
    d.act("resubmit", "courier", data=WISH)  # the head is asked again; not the applicant
    assert told(d) == [("task_assigned", ("head",))]
    d.do("approve", "head")  # the wall's notify tells the applicant, not the head
    assert told(d) == [("step_entered", ("courier",))]
    d.act("claim", "vol1")  # the applicant hears; the claimer's task is on their list
    assert told(d) == [("claimed", ("courier",))]
    d.act("comment", "vol1", comment="明天送到")
    assert told(d) == [("comment", ("courier",))]
    d.do("complete", "vol1", data=PROOF)
    assert told(d) == [("task_assigned", ("courier",))]
    d.do("complete", "courier", data={"satisfied": "yes", "rating": 5, "thanks": "谢谢"})
    assert d.state.end == "closed" and told(d) == []  # their own confirmation ended it


def test_a_withdrawal_tells_the_holders_not_the_applicant(drive, shipped):
    d = drive(shipped("micro_wish")).start("courier", WISH)
    d.act("withdraw", "courier")
    assert d.status == "withdrawn"
    assert told(d) == [("withdrawn", ("head",))]


def announced(d) -> list[tuple[str, str | None]]:
    return [(a.kind, a.params.get("status")) for a in d.effects_of(Announce)]


def test_an_event_only_the_actor_would_have_heard_of_is_announced_to_nobody(drive, shipped):
    """The wish on the wall is held by nobody: its withdrawal tells nobody, but it is still
    an event (an ``Announce``: the unit's group chat hears of it), not nothing at all."""
    d = drive(shipped("micro_wish")).start("courier", WISH)
    d.do("approve", "head")
    assert d.current == ("wall",)
    d.act("withdraw", "courier")
    assert d.status == "withdrawn" and told(d) == []
    assert announced(d) == [("ended", "withdrawn")]
    (event,) = d.effects_of(Announce)
    assert effect_from_dict(json.loads(json.dumps(effect_to_dict(event)))) == event


def test_an_event_told_to_others_is_not_also_announced(drive, shipped):
    d = drive(shipped("micro_wish")).start("courier", WISH)
    assert announced(d) == []  # the head is told; the applicant was never a recipient
    d.act("withdraw", "courier")  # the applicant's own "ended": announced, told nobody
    assert told(d) == [("withdrawn", ("head",))] and announced(d) == [("ended", "withdrawn")]


def test_an_event_for_nobody_at_all_is_no_event(inline, drive):
    """A step whose ``notify`` names nobody (nobody holds the role there) announces nothing: only
    leaving out the actor makes an ``Announce``."""
    d = drive(inline(NOTIFIED_STEP.replace(
        "notify: [applicant, {role: district_admin, of: applicant.district}]",
        "notify: [{role: supervisor, of: applicant.district, exact: true}]")))
    d.start("rider", {})
    d.do("approve", "unit_admin")
    assert d.current == ("second",) and announced(d) == []


def test_an_ending_by_someone_else_is_still_told(drive, shipped):
    d = drive(shipped("micro_wish")).start("courier", WISH)
    d.do("reject", "head", comment="不符合条件")
    assert told(d) == [("ended", ("courier",))]


NOTIFIED_STEP = """
key: notified
name: 通知
start: {who: {role: worker}}
steps:
  first:
    kind: approval
    name: 初审
    approvers: {role: unit_admin, of: applicant, exact: true}
    next: second
  second:
    kind: approval
    name: 复审
    approvers: {role: district_admin, of: applicant.district}
    notify: [applicant, {role: district_admin, of: applicant.district}]
    next: done
ends: {done: approved, no: rejected}
"""


def test_a_step_entered_notice_gives_way_to_a_task_in_that_step(inline, drive):
    """The district administrator is both a ``notify`` person and the new step's
    approver: one message (the task), not also "已进入：复审"."""
    d = drive(inline(NOTIFIED_STEP)).start("rider", {})
    d.do("approve", "unit_admin")
    assert d.current == ("second",)
    assert told(d) == [("step_entered", ("rider",)), ("task_assigned", ("yz_admin",))]
