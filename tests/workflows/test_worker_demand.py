"""worker_demand: dispatch to the responsible unit, deadlines, rating and reopening."""
from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.effects import ScheduleTimer
from workflows.errors import InvalidInput

DEMAND = {"category": "parking", "station": 5, "location": "解放碑步行街东口",
          "description": "送餐时电动车没有地方停，经常被贴条", "phone": "13600004444"}


@pytest.fixture
def demand(drive, shipped):
    return drive(shipped("worker_demand")).start("courier", DEMAND)


def dispatched(d):
    d.do("approve", "yz_admin", data={"responsible_unit": 7, "dispatch_note": "请限期答复"})
    return d


def answered(d):
    d.do("complete", "unit_admin", data={"handler_name": "李四"})
    d.do("complete", "unit_admin", data={"answer": "已协调增设临时停车点两处。"})
    return d


def test_main_path(demand):
    assert demand.task().assignees == ("yz_admin",)  # the district of the station
    with pytest.raises(InvalidInput) as err:
        demand.do("approve", "yz_admin")
    assert set(err.value.field_errors) == {"responsible_unit"}
    dispatched(demand)
    assert demand.current == ("acknowledge",)
    assert set(demand.task().assignees) == {"unit_admin", "unit_admin2"}
    answered(demand)
    demand.do("complete", "courier", data={"result": "satisfied", "rating": 5})
    assert (demand.status, demand.state.end) == ("completed", "closed")


def test_acknowledge_deadline_is_three_working_days(demand):
    dispatched(demand)
    timers = {t.purpose: t.at for t in demand.effects_of(ScheduleTimer)}
    assert (timers["remind"] - demand.now).days == 2
    assert timers["escalate"].strftime("%A") == "Thursday"
    demand.advance(timedelta(days=3))
    assert "yz_admin" in demand.task().assignees
    assert demand.task().escalated == ("yz_admin",)


def test_answer_deadline_is_fifteen_days(demand):
    dispatched(demand)
    demand.do("complete", "unit_admin", data={"handler_name": "李四"})
    timers = {t.purpose: t.at for t in demand.effects_of(ScheduleTimer)}
    assert timers["escalate"] - demand.now == timedelta(days=15)


def test_worker_reopens_then_accepts(demand):
    answered(dispatched(demand))
    demand.do("complete", "courier", data={"result": "reopen", "reopen_reason": "停车点太远"})
    assert demand.current == ("answer",)
    demand.do("complete", "unit_admin2", data={"answer": "已在东口增设停车点。"})
    demand.do("complete", "courier", data={"result": "acceptable", "rating": 4})
    assert demand.state.end == "closed"
    assert [h.action for h in demand.state.history].count("complete") == 5


def test_unrated_answer_closes_itself(demand):
    answered(dispatched(demand)).advance(timedelta(days=7))
    assert demand.state.end == "closed"


def test_not_accepted(demand):
    demand.do("reject", "yz_admin", comment="不属于工会受理范围，已告知职工向城管反映")
    assert (demand.status, demand.state.end) == ("rejected", "not_accepted")


def test_returned_for_more_detail(demand):
    demand.do("return", "yz_admin", comment="请补充现场照片")
    photo = {"id": 3, "name": "p.jpg", "mime": "image/jpeg", "size": 1000}
    demand.act("resubmit", "courier", data={"photo": [photo]})
    assert demand.current == ("dispatch",)
    assert demand.state.data["photo"] == ({"id": 3, "name": "p.jpg", "mime": "image/jpeg",
                                           "size": 1000},)
