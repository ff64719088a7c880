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


def refusal(demand, unit) -> list:
    with pytest.raises(InvalidInput) as err:
        demand.do("approve", "yz_admin", data={"responsible_unit": unit})
    assert set(err.value.field_errors) == {"responsible_unit"}
    return err.value.field_errors["responsible_unit"]


def test_dispatch_only_to_a_street_or_enterprise_union_of_the_demands_district(demand):
    demand.directory.add_unit(9, "jb.express", "enterprise", 3, "江北快递企业工会")
    demand.directory.add_user("jb_unit_admin", 9, [("unit_admin", 9)])
    assert refusal(demand, 9) == [("请选择渝中区总工会范围内的单位",
                                   "Choose a unit within 渝中区总工会")]
    assert refusal(demand, 5) == [("请选择街道工会、企业工会",
                                   "Choose one of: Street union, Enterprise union")]
    assert refusal(demand, 404)[0][0] == "没有这个单位，请从列表中选择"
    assert demand.current == ("dispatch",) and "responsible_unit" not in demand.state.data
    demand.do("approve", "yz_admin", data={"responsible_unit": 4})  # the street union
    assert demand.task().assignees == ("street_admin",)


def test_dispatch_refuses_a_unit_with_nobody_to_acknowledge_it(demand):
    demand.directory.add_unit(10, "yz.daping", "street", 2, "大坪街道工会")
    assert refusal(demand, 10) == [("该单位暂无基层工会管理员，请选择其他单位",
                                    "This unit has no unit administrator; choose another unit")]
    assert demand.current == ("dispatch",)


def test_a_unit_field_may_be_limited_to_the_applicants_district(drive, inline):
    spec = inline("""\
key: report
name: 上报
start:
  who: {role: worker}
  form:
    - {name: unit, type: org_unit, label: 所在单位, within: applicant.district}
steps:
  review: {kind: approval, name: 审核, approvers: {role: district_admin, of: applicant.district},
           next: done}
ends: {done: completed, no: rejected}
""")
    with pytest.raises(InvalidInput) as err:
        drive(spec).start("driver_jb", {"unit": 7})  # 7 is in 渝中区, the driver in 江北区
    assert err.value.field_errors == {"unit": [("请选择江北区总工会范围内的单位",
                                                "Choose a unit within 江北区总工会")]}
    assert drive(spec).start("driver_jb", {"unit": 8}).current == ("review",)


def test_who_acknowledges_is_described_with_the_fields_label(shipped):
    spec = shipped("worker_demand")
    rule = spec.step("acknowledge").config.assignee
    assert rule.describe("zh", spec.fields, "解放碑街道工会") == "责任单位（解放碑街道工会）的基层工会管理员"
    assert rule.describe("en", spec.fields) == "Unit administrator of Responsible unit"
