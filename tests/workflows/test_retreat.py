"""retreat_nomination: unit quota, three levels of approval, publicity with objections."""
from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.effects import Notify, ScheduleTimer
from workflows.errors import AlreadyDecided, CapacityExhausted, Conflict, InvalidInput, NotAllowed

NOMINATION = {"batch": 1, "honour": "city", "frontline": True, "id_card": "11010519491231002X",
              "phone": "13900002222", "health_ok": True,
              "deeds": "连续十年安全行驶无事故，带教新人三十余名，获评市级劳动模范。"}


@pytest.fixture
def nominate(drive, shipped):
    def make(user: str = "rider", **changes):
        return drive(shipped("retreat_nomination")).start(user, {**NOMINATION, **changes})
    return make


def through_the_chain(d):
    d.do("approve", "unit_admin")
    d.do("approve", "yz_admin")
    d.do("approve", "city_admin")
    return d


def test_main_path_with_an_objection(nominate):
    d = nominate()
    assert d.current == ("unit_review",)
    through_the_chain(d)
    assert d.current == ("publicity",)
    end = [t.at for t in d.effects_of(ScheduleTimer) if t.purpose == "wait"][0]
    assert end - d.now == timedelta(days=3)  # Monday + 3 working days = Thursday
    with pytest.raises(InvalidInput):
        d.do("object", "vol1")  # an objection needs a reason
    d.do("object", "vol1", comment="该同志今年已参加过疗休养")
    assert any(n.kind == "objection" and n.recipients == ("city_admin",)
               for n in d.effects_of(Notify))
    with pytest.raises(AlreadyDecided):
        d.do("object", "vol1", comment="再说一次")
    d.advance(timedelta(days=3))
    assert d.current == ("objection_review",)
    d.do("approve", "city_admin", data={"objection_finding": "经核查，今年未参加，异议不成立"})
    assert d.current == ("briefing",)
    with pytest.raises(InvalidInput):
        d.do("complete", "rider", data={"discipline_ack": False})
    d.do("complete", "rider", data={"discipline_ack": True})
    assert d.current == ("retreat",)
    d.advance(timedelta(days=60))
    d.do("complete", "rider", data={"travelled": "yes", "summary_text": "收获很大。" * 12})
    assert (d.status, d.state.end) == ("completed", "done")


def test_the_nominee_cannot_object_to_their_own_nomination(nominate, directory):
    from workflows.engine import available_actions

    d = through_the_chain(nominate())
    assert d.current == ("publicity",)
    mine = available_actions(d.spec, d.state, "rider", directory, d.now)
    assert "object" not in {a.action for a in mine}  # no "需要您处理: 公示" for them
    theirs = available_actions(d.spec, d.state, "vol1", directory, d.now)
    assert "object" in {a.action for a in theirs}
    with pytest.raises(NotAllowed):
        d.do("object", "rider", comment="我反对我自己")
    d.advance(timedelta(days=3))
    assert d.current == ("briefing",)  # nobody else objected: it passed


def test_publicity_without_objection_goes_straight_on(nominate):
    d = through_the_chain(nominate())
    d.advance(timedelta(days=3))
    assert d.current == ("briefing",)


def test_publicity_counts_working_days(nominate, directory):
    d = nominate()
    d.now += timedelta(days=4)  # Friday
    through_the_chain(d)
    end = [t.at for t in d.effects_of(ScheduleTimer) if t.purpose == "wait"][0]
    assert end.strftime("%A") == "Wednesday"


def test_unit_quota_is_enforced_and_released_on_rejection(nominate, directory):
    first = nominate("rider")
    with pytest.raises(CapacityExhausted) as full:
        nominate("welder")  # the same unit's single place is taken
    # Which places ran out, and what to do about it.
    assert full.value.message("zh") == "本单位本批次疗休养名额已用完，请联系上级工会调整名额"
    assert full.value.message("en") == ("Your unit's retreat places in this batch are all "
                                        "taken; ask the union above to adjust the quota")
    first.do("reject", "unit_admin", comment="事迹材料不实")
    assert first.state.end == "rejected"
    assert nominate("welder").current == ("unit_review",)


def test_duplicate_nomination_is_refused(nominate, directory):
    directory.set_capacity("retreat:1:7", 5)
    nominate("rider")
    with pytest.raises(Conflict) as err:
        nominate("rider")
    assert err.value.code == "duplicate"


def test_the_last_retreat_cannot_be_in_a_future_year(nominate, monday):
    year = monday.year  # the engine's day, not the clock's
    with pytest.raises(InvalidInput) as err:
        nominate(last_retreat_year=year + 1)
    assert err.value.field_messages("zh") == {"last_retreat_year": [f"不能大于 {year}"]}
    assert err.value.field_messages("en") == {"last_retreat_year": [f"Must be at most {year}"]}
    assert nominate(last_retreat_year=year).current == ("unit_review",)


def test_district_returns_to_the_unit(nominate):
    d = nominate()
    d.do("approve", "unit_admin")
    with pytest.raises(InvalidInput) as err:
        d.do("return", "yz_admin", comment="材料不全", to="city_review")
    assert err.value.code == "bad_return_target"
    d.do("return", "yz_admin", comment="请补充获奖证明", to="unit_review")
    assert d.current == ("unit_review",)
    assert set(d.task().assignees) == {"unit_admin", "unit_admin2"}


def test_city_returns_to_the_applicant(nominate):
    d = nominate()
    d.do("approve", "unit_admin")
    d.do("approve", "yz_admin")
    d.do("return", "city_admin", comment="请补充事迹")
    d.act("resubmit", "rider", data={"deeds": NOMINATION["deeds"] + "另获区级表彰。"})
    assert d.current == ("city_review",)  # back to the level that returned it


def test_withdraw_allowed_until_publicity(nominate, directory):
    d = nominate()
    d.act("withdraw", "rider")
    assert d.status == "withdrawn"
    assert directory.holders["retreat:1:7"] == []  # the quota place is given back
    d = through_the_chain(nominate())
    with pytest.raises(NotAllowed) as err:
        d.act("withdraw", "rider")
    assert err.value.code == "withdraw_closed"


def test_supervisor_can_see_but_not_act(nominate, directory, shipped, monday):
    from workflows.engine import available_actions
    d = nominate()
    assert available_actions(shipped("retreat_nomination"), d.state, "supervisor",
                             directory, monday) == []
    with pytest.raises(NotAllowed):
        d.do("approve", "supervisor")


def test_not_travelling_ends_cancelled(nominate):
    d = through_the_chain(nominate()).advance(timedelta(days=3))
    d.do("complete", "rider", data={"discipline_ack": True})
    d.advance(timedelta(days=60))
    d.do("complete", "rider", data={"travelled": "no", "absence_reason": "家中有事"})
    assert (d.status, d.state.end) == ("cancelled", "not_travelled")


def test_one_nomination_per_person_per_year_even_after_it_ended(nominate, directory):
    """A second batch the same year is refused, also once the first nomination is over;
    a batch the next year is not."""
    directory.set_capacity("retreat:1:7", 5)
    for batch, year in ((3, 2025), (4, 2026)):
        directory.add_record("retreat_batch", batch, ends_on=f"{year}-09-01", year=year)
        directory.set_capacity(f"retreat:{batch}:7", 5)
    first = through_the_chain(nominate("rider")).advance(timedelta(days=3))
    assert first.state.unique_key == "retreat-year:2025"
    first.do("complete", "rider", data={"discipline_ack": True})
    first.advance(timedelta(days=60))
    first.do("complete", "rider", data={"travelled": "no", "absence_reason": "家中有事"})
    assert first.status == "cancelled"
    with pytest.raises(Conflict) as err:
        nominate("rider", batch=3)
    assert err.value.code == "duplicate"
    nominate("rider", batch=4)


def test_a_summary_never_written_ends_the_nomination_as_done(nominate, directory):
    """The retreat is over and the quota place was used: a summary not written in 20
    working days ends the nomination (reminded first), and the place is not given back."""
    d = through_the_chain(nominate()).advance(timedelta(days=3))
    d.do("complete", "rider", data={"discipline_ack": True})
    d.advance(timedelta(days=60))
    assert d.current == ("summary",)
    opened = d.task().opened_at
    timers = {t.purpose: t.at for t in d.state.timers}
    assert timers["remind"] < timers["timeout"]
    assert timedelta(days=26) <= timers["timeout"] - opened <= timedelta(days=30)  # 20 wd
    d.advance(timers["timeout"] - d.now - timedelta(minutes=1))
    assert d.current == ("summary",)
    d.advance(timedelta(minutes=2))
    assert (d.status, d.state.end) == ("completed", "no_summary")
    assert directory.holders["retreat:1:7"] == [d.state.instance_id]


def objected(nominate):
    d = through_the_chain(nominate())
    d.do("object", "vol1", comment="该同志今年已参加过疗休养")
    d.advance(timedelta(days=3))
    assert d.current == ("objection_review",)
    return d


def test_upholding_an_objection_records_the_finding_with_the_rejection(nominate):
    d = objected(nominate)
    finding = "经核查，该同志今年五月已参加区级疗休养，异议成立。"
    d.do("reject", "city_admin", comment="异议成立，取消提名", data={"objection_finding": finding})
    assert (d.status, d.state.data["objection_finding"]) == ("rejected", finding)
    line = next(h for h in d.state.history if h.action == "reject")
    assert (line.step, line.comment) == ("objection_review", "异议成立，取消提名")
    assert line.changes["objection_finding"] == (None, finding)


def test_the_finding_is_required_to_reject_too(nominate):
    d = objected(nominate)
    with pytest.raises(InvalidInput) as refused:
        d.do("reject", "city_admin", comment="异议成立")
    assert refused.value.field_errors["objection_finding"][0] == ("此项必填", "This field is required")
    # Neither the reason nor the finding: the finding is the reason (reason_field), so
    # only it is asked for.
    with pytest.raises(InvalidInput) as both:
        d.do("reject", "city_admin")
    assert set(both.value.field_errors) == {"objection_finding"}
    assert d.current == ("objection_review",) and d.status == "running"


def test_the_finding_is_the_reason_when_no_comment_is_given(nominate):
    """Upholding an objection is written once: the finding is the rejection's reason,
    in the history and in what the nominee is told."""
    d = objected(nominate)
    finding = "经核查，该同志今年五月已参加区级疗休养，异议成立。"
    d.do("reject", "city_admin", data={"objection_finding": finding})
    assert d.status == "rejected"
    line = next(h for h in d.state.history if h.action == "reject")
    assert line.comment == finding
    ended = next(n for n in d.effects_of(Notify) if n.kind == "ended")
    assert ended.recipients == ("rider",) and ended.params["comment"] == finding


def test_a_comment_given_stays_the_reason(nominate):
    d = objected(nominate)
    d.do("approve", "city_admin", comment="继续推荐",
         data={"objection_finding": "经核查，今年未参加，异议不成立。"})
    assert next(h for h in d.state.history if h.action == "approve"
                and h.step == "objection_review").comment == "继续推荐"


@pytest.mark.parametrize("decision, result, title", [
    ("reject", "upheld", "您对劳模职工疗休养推荐公示提出的异议已核查：异议成立，该事项已终止"),
    ("approve", "not_upheld", "您对劳模职工疗休养推荐公示提出的异议已核查：异议不成立，该事项继续办理"),
])
def test_each_objector_is_told_the_result_and_no_more(nominate, decision, result, title):
    from workflows.messages import render_title

    d = through_the_chain(nominate())
    d.do("object", "vol1", comment="该同志今年已参加过疗休养")
    d.do("object", "driver_jb", comment="事迹有夸大")
    d.advance(timedelta(days=3))
    finding = "经核查，情况属实。"
    d.do(decision, "city_admin", data={"objection_finding": finding})
    told = [n for n in d.effects_of(Notify) if n.kind == "objection_reviewed"]
    assert [n.recipients for n in told] == [("vol1", "driver_jb")]
    note = told[0]
    assert note.params["result"] == result and note.task is None
    # Not the finding, nor who reviewed it: no more than the notice showed.
    assert finding not in str(dict(note.params)) and "city_admin" not in str(dict(note.params))
    assert render_title(note.kind, note.params) == title
    assert "objection was" in render_title(note.kind, note.params, "en")


def test_nobody_is_told_of_a_review_without_objections(nominate):
    d = through_the_chain(nominate())
    d.advance(timedelta(days=3))
    assert d.current == ("briefing",)
    assert not [n for n in d.effects_of(Notify) if n.kind == "objection_reviewed"]
    # The rules to acknowledge are on the step, in both languages.
    briefing = d.spec.step("briefing")
    assert "八项规定" in briefing.describe() and "Eight-point" in briefing.describe("en")
