"""micro_wish, driven end to end: verify → wall → fulfil → confirm, and every way off it."""
from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.effects import Assign, Notify, OfferToPool, ScheduleTimer, TaskClosed
from workflows.errors import AlreadyDecided, CapacityExhausted, Conflict, InvalidInput, NotAllowed

WISH = {"title": "一个新头盔", "category": "goods", "story": "电动车头盔摔坏了，想要一个新的",
        "budget": "80", "station": 5, "contact_name": "张三", "phone": "13800138000"}
PROOF = {"proof": [{"id": 9, "name": "helmet.jpg", "mime": "image/jpeg", "size": 20_000}]}


@pytest.fixture
def wish(drive, shipped):
    return drive(shipped("micro_wish")).start("courier", WISH)


def on_wall(wish):
    return wish.do("approve", "head")


def test_main_path_reaches_closed_and_tells_only_the_right_people(wish):
    assert wish.current == ("verify",)
    assert wish.task().assignees == ("head",)  # the head of station 5, not of station 8
    assert [n.recipients for n in wish.effects_of(Notify)] == [("head",)]

    on_wall(wish)
    offer = wish.effects_of(OfferToPool)[0]
    # the pool is the volunteers of the station's district; nobody is notified one by one
    assert (offer.role, offer.unit, offer.within) == ("volunteer", 2, True)
    assert not [n for n in wish.effects_of(Notify) if n.kind == "task_assigned"]

    wish.act("claim", "vol1")
    assert wish.current == ("fulfil",) and wish.task().assignees == ("vol1",)
    assert any(n.kind == "claimed" and n.recipients == ("courier",)
               for n in wish.effects_of(Notify))

    wish.do("complete", "vol1", data=PROOF)
    assert wish.task().assignees == ("courier",)
    wish.do("complete", "courier", data={"satisfied": "yes", "rating": 5, "thanks": "谢谢"})
    assert (wish.status, wish.state.end) == ("completed", "closed")
    assert wish.state.data["rating"] == 5


def test_budget_only_kept_for_goods(drive, shipped):
    d = drive(shipped("micro_wish")).start("courier", {**WISH, "category": "service"})
    assert "budget" not in d.state.data


def test_one_active_wish_per_worker(wish, drive, shipped):
    with pytest.raises(Conflict) as err:
        drive(shipped("micro_wish")).start("courier", WISH)
    assert err.value.code == "already_active"
    assert "进行中" in err.value.message("zh")
    wish.act("withdraw", "courier")
    drive(shipped("micro_wish")).start("courier", WISH)  # allowed once the first is over


def test_only_workers_may_submit(drive, shipped):
    with pytest.raises(NotAllowed):
        drive(shipped("micro_wish")).start("vol1", WISH)


def test_missing_fields_are_reported_per_field(drive, shipped):
    with pytest.raises(InvalidInput) as err:
        drive(shipped("micro_wish")).start("courier", {**WISH, "phone": "123", "story": ""})
    fields = err.value.field_messages("en")
    assert set(fields) == {"phone", "story"}
    assert fields["story"] == ["This field is required"]


def test_reject_needs_a_reason_then_ends_rejected(wish):
    with pytest.raises(InvalidInput) as err:
        wish.do("reject", "head", comment="  ")
    assert err.value.code == "comment_required"
    wish.do("reject", "head", comment="不符合微心愿范围")
    assert (wish.status, wish.state.end) == ("rejected", "rejected")
    [ended] = [n for n in wish.effects_of(Notify) if n.kind == "ended"]
    assert ended.recipients == ("courier",)
    # The applicant is told why, in the notification's title (and so in its e-mail).
    from workflows.messages import render_title
    assert render_title("ended", ended.params, "zh") == \
        "您的微心愿已结束：未通过核实（原因：不符合微心愿范围）"
    assert render_title("ended", ended.params, "en") == \
        "Your Micro-wish has ended: Not verified (reason: 不符合微心愿范围)"


def test_an_end_nobody_decided_says_no_reason(wish):
    """A withdrawal's own words, a timer's end: no reason is quoted back."""
    wish.do("withdraw", "courier", comment="不需要了")
    [ended] = [n for n in wish.effects_of(Notify) if n.kind == "ended"] or [None]
    assert ended is None or not ended.params.get("comment")


def test_only_the_station_head_can_decide(wish):
    for outsider in ("head_jb", "vol1", "courier"):
        with pytest.raises(NotAllowed):
            wish.do("approve", outsider)


def test_return_to_applicant_and_resubmit(wish):
    wish.do("return", "head", comment="请补充心愿故事")
    assert wish.status == "returned"
    # One notification, with the reason — not also "您有一项待办：微心愿·驿站核实", which
    # names the reviewer's step as if it were the applicant's.
    assert [(n.kind, n.recipients) for n in wish.effects_of(Notify)] == [
        ("returned", ("courier",))]
    revise = wish.task()
    assert (revise.kind, revise.assignees) == ("revise", ("courier",))
    with pytest.raises(NotAllowed):
        wish.act("resubmit", "head", data={})
    wish.act("resubmit", "courier", data={"story": "头盔摔坏了，每天送餐需要安全头盔"})
    assert (wish.status, wish.current) == ("running", ("verify",))
    assert wish.task().assignees == ("head",)
    entry = wish.state.history[-2]
    assert entry.action == "resubmit" and list(entry.changes) == ["story"]
    assert wish.state.data["title"] == WISH["title"]  # untouched fields are kept


def test_second_claim_gets_a_clear_answer(wish):
    on_wall(wish)
    wish.act("claim", "vol1")
    with pytest.raises(CapacityExhausted) as err:
        wish.act("claim", "vol2")
    assert err.value.code == "already_claimed"
    assert err.value.message("zh") == "已被他人认领"
    with pytest.raises(AlreadyDecided):
        wish.act("claim", "vol1")


def test_claim_pool_is_limited_to_the_district_and_not_the_wisher(wish):
    on_wall(wish)
    with pytest.raises(NotAllowed):
        wish.act("claim", "vol_jb")  # a volunteer of another district
    with pytest.raises(NotAllowed):
        wish.act("claim", "head")  # not a volunteer


def test_unclaimed_wish_expires(wish):
    on_wall(wish)
    wish.advance(timedelta(days=29))
    assert wish.current == ("wall",)
    wish.advance(timedelta(days=2))
    assert (wish.status, wish.state.end) == ("expired", "expired")


def test_claim_not_fulfilled_in_time_goes_back_to_the_wall(wish):
    on_wall(wish)
    wish.act("claim", "vol1")
    wish.advance(timedelta(days=16))
    assert wish.current == ("wall",)
    assert wish.state.claim.claimers == ()
    wish.act("claim", "vol2")  # someone else may take it now
    assert wish.task().assignees == ("vol2",)


def test_claimer_can_give_up(wish):
    on_wall(wish)
    wish.act("claim", "vol1")
    with pytest.raises(NotAllowed):
        wish.act("unclaim", "vol2")
    wish.act("unclaim", "vol1", comment="临时有事")
    assert wish.current == ("wall",)
    assert wish.effects_of(OfferToPool)


def test_not_fulfilled_goes_back_to_the_claimer(wish):
    on_wall(wish)
    wish.act("claim", "vol1")
    wish.do("complete", "vol1", data=PROOF)
    with pytest.raises(InvalidInput) as err:
        wish.do("complete", "courier", data={"satisfied": "no"})
    assert set(err.value.field_errors) == {"problem"}
    wish.do("complete", "courier", data={"satisfied": "no", "problem": "头盔尺寸不对"})
    assert wish.current == ("fulfil",) and wish.task().assignees == ("vol1",)


def test_a_later_answer_leaves_no_reason_from_the_first(wish):
    """未实现 then 已实现: the wish's data holds the last answer only — no 未实现的原因
    beside 已实现 (the history keeps the first answer)."""
    on_wall(wish)
    wish.act("claim", "vol1")
    wish.do("complete", "vol1", data=PROOF)
    wish.do("complete", "courier", data={"satisfied": "no", "problem": "还没收到"})
    wish.do("complete", "vol1", data=PROOF)
    wish.do("complete", "courier", data={"satisfied": "yes", "rating": 5})
    assert wish.state.data["satisfied"] == "yes" and wish.state.data.get("problem") is None
    last = wish.state.history[-1] if wish.state.history[-1].action == "complete" else \
        next(h for h in reversed(wish.state.history) if h.action == "complete")
    assert last.changes["problem"] == ("还没收到", None)


def test_a_wish_nobody_claims_is_escalated_to_the_district_to_find_someone(wish):
    on_wall(wish).advance(timedelta(days=14))
    note = [n for n in wish.effects_of(Notify) if n.kind.startswith("escalated")][0]
    assert (note.kind, note.recipients, note.priority) == ("escalated_watch", ("yz_admin",),
                                                           "high")
    assert wish.task().assignees == ()  # a watcher: the pool stays the volunteers'
    from workflows.messages import render_title
    assert "无人认领" in render_title(note.kind, note.params, "zh")


def test_a_wish_nobody_claims_with_no_district_administrator_is_still_told(wish):
    on_wall(wish)
    wish.directory.memberships.remove(("yz_admin", "district_admin", 2))  # the post is vacant
    wish.advance(timedelta(days=14))
    [note] = [n for n in wish.effects_of(Notify) if n.kind.startswith("escalated")]
    # The nearest administrators above the wisher's station: the street's.
    assert (note.kind, note.recipients) == ("escalated_watch", ("street_admin",))
    assert not wish.task().stalled  # a pool: the volunteers', not to be reassigned


def test_withdraw_from_the_wall_closes_the_pool_task(wish):
    on_wall(wish)
    pool_task = wish.task().id
    with pytest.raises(NotAllowed):
        wish.act("withdraw", "head")
    wish.act("withdraw", "courier", comment="已自行解决")
    assert wish.status == "withdrawn"
    assert [e.task for e in wish.effects_of(TaskClosed)] == [pool_task]
    assert wish.state.timers == ()


def test_reminder_then_escalation_to_the_district(wish):
    timers = {t.purpose: t.at for t in wish.effects_of(ScheduleTimer)}
    assert timers["remind"] - wish.now == timedelta(days=2)
    assert timers["escalate"] - wish.now == timedelta(days=5)
    wish.advance(timedelta(days=2))
    reminder = wish.effects_of(Notify)[0]
    assert (reminder.kind, reminder.recipients, reminder.priority) == ("reminder", ("head",),
                                                                         "normal")
    wish.advance(timedelta(days=3))
    assert wish.task().assignees == ("head", "yz_admin")
    assert wish.effects_of(Assign)[0].users == ("head", "yz_admin")
    wish.do("approve", "yz_admin")
    assert wish.current == ("wall",)


def test_the_wisher_is_reminded_before_an_unconfirmed_wish_closes(wish):
    on_wall(wish).act("claim", "vol1")
    wish.do("complete", "vol1", data=PROOF)
    wish.advance(timedelta(days=5))
    assert [(n.kind, n.recipients) for n in wish.effects_of(Notify)] == [
        ("reminder", ("courier",))]
    assert wish.current == ("confirm",)
    wish.advance(timedelta(days=2))
    assert (wish.status, wish.state.end) == ("completed", "closed")
