"""Random action sequences by random people never break the engine's promises.

A hypothesis state machine starts instances of the shipped processes and throws every
kind of action at them — by the right people and the wrong ones, with good data and
bad — while the clock moves and timers fire.  After every step it checks:

* a refused action changes nothing; an accepted one adds history and bumps the version
  by exactly one (history only grows, the old entries unchanged);
* a finished instance has one final status, no open task or timer, and never changes;
* every open task is held only by people its step's rule allows, and never by the
  applicant unless the rule names the applicant (staff who apply themselves included);
* no claim step and no shared resource ever holds more people than its capacity.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,
                                 rule, run_state_machine_as_test)

from workflows.actions import assignee_rules
from workflows.effects import Notify, Promoted
from workflows.engine import SYSTEM, Action, act, available_actions, start
from workflows.errors import WorkflowError
from workflows.rules import RuleContext, is_eligible
from workflows.spec import END_STATUSES, RUNNING_STATUSES

MONDAY_NINE = __import__("datetime").datetime(2025, 5, 5, 9)
PEOPLE = ["rider", "welder", "courier", "driver_jb", "head", "head_jb", "unit_admin",
          "unit_admin2", "street_admin", "yz_admin", "jb_admin", "city_admin", "secretary",
          "vol1", "vol2", "vol3", "vol_jb", "padmin", "supervisor"]
PROOF = {"id": 1, "mime": "image/png", "size": 10}
START_DATA = {
    "micro_wish": {"title": "头盔", "category": "goods", "story": "头盔坏了需要新的一个",
                   "station": 5, "contact_name": "张三", "phone": "13800138000"},
    "training_registration": {"course": 1, "real_name": "杨洋", "occupation": "courier",
                              "occupation_confirmed": True, "phone": "13800138000",
                              "id_card": "11010519491231002X"},
    "retreat_nomination": {"batch": 1, "honour": "city", "id_card": "11010519491231002X",
                           "phone": "13800138000", "health_ok": True,
                           "deeds": "二十个字以上的主要事迹描述，连续多年获得表彰。"},
    "station_master": {"station": 5, "slot": 11, "phone": "13800138000"},
    "worker_demand": {"category": "parking", "station": 5, "phone": "13800138000",
                      "description": "电动车没有地方停放"},
}
STEP_DATA = {
    "fulfil": {"proof": PROOF}, "confirm": {"satisfied": "yes", "rating": 4},
    "attendance": {"sessions_attended": 9}, "certificate": {"certificate_no": "C-1"},
    "objection_review": {"objection_finding": "异议不成立"},
    "briefing": {"discipline_ack": True},
    "summary": {"travelled": "yes", "summary_text": "很好" * 30},
    "check_in": {}, "report": {"checklist": ["clean", "water", "safety"], "hours": "4"},
    "dispatch": {"responsible_unit": 7}, "acknowledge": {"handler_name": "李四"},
    "answer": {"answer": "已经协调解决停车问题"}, "rate": {"result": "reopen",
                                                     "reopen_reason": "还没解决"},
}
VOLUNTEERS = ["vol1", "vol2", "vol3"]
LIKELY = {"approval": ["approve", "approve", "reject", "return", "delegate"],
          "task": ["complete", "complete", "delegate", "unclaim"], "claim": ["claim", "unclaim"],
          "publicity": ["object"], "revise": ["resubmit"], "reserve": ["withdraw"]}
STARTERS = ["rider", "welder", "courier", "driver_jb", "vol1", "vol2", "vol3", "head",
            "unit_admin", "yz_admin", "street_admin"]
# Staff who are also workers: their own requests must go to someone else.
STAFF_WORKERS = [("head", 5), ("unit_admin", 7), ("yz_admin", 2), ("street_admin", 4)]
ACTIONS = ["approve", "reject", "return", "complete", "object", "delegate", "reassign",
           "claim", "unclaim", "comment", "withdraw", "cancel", "resubmit"]


def make_machine(shipped, org_factory):
    specs = {key: shipped(key) for key in START_DATA}

    class Engine(RuleBasedStateMachine):
        @initialize()
        def setup(self):
            self.directory = org_factory()
            for user, unit in STAFF_WORKERS:
                self.directory.grant(user, "worker", unit)
            self.now = MONDAY_NINE
            self.instances: list = []  # [spec, state]
            self.promotions: list[Promoted] = []
            self.next_id = 0

        # ------------------------------------------------------------ rules
        @rule(key=st.sampled_from(sorted(START_DATA)), good=st.booleans(),
              who=st.one_of(st.sampled_from(STARTERS), st.sampled_from(PEOPLE)))
        def start_one(self, key, who, good):
            data = dict(START_DATA[key]) if good else {}
            self.next_id += 1
            try:
                state, effects = start(specs[key], who, data, self.now, self.directory,
                                       instance_id=self.next_id)
            except WorkflowError:
                return
            assert state.version == 1 and state.history[0].action == "submit"
            self._accept(effects)
            self.directory.track(state)
            self.instances.append([specs[key], state])

        @precondition(lambda self: any(not s.finished for _, s in self.instances))
        @rule(data=st.data(), good=st.sampled_from([True, True, True, False]),
              with_comment=st.sampled_from([True, True, True, False]))
        def act_on_one(self, data, good, with_comment):
            entry = data.draw(st.sampled_from([e for e in self.instances if not e[1].finished]))
            spec, state = entry
            task = data.draw(st.one_of(st.sampled_from(state.open_tasks or (None,)),
                                       st.sampled_from(state.tasks + (None,))))
            # Mostly what could plausibly happen next, sometimes anything at all.
            likely = LIKELY.get(task.kind if task else None, ["withdraw", "comment"])
            kind = data.draw(st.one_of(st.sampled_from(likely), st.sampled_from(ACTIONS)))
            involved = list(task.assignees if task else ()) + [state.applicant] + VOLUNTEERS
            choices = [st.sampled_from(involved), st.sampled_from(PEOPLE)]
            if task is not None and task.assignees:
                choices.insert(0, st.sampled_from(task.assignees))
            who = data.draw(st.one_of(*choices))
            step = task.step if task else None
            payload = dict(START_DATA[spec.key] if kind == "resubmit" else
                           STEP_DATA.get(step, {})) if good else {"junk": 1}
            action = Action(kind, task=task.id if task else None,
                            comment="理由" if with_comment else None, data=payload,
                            to=data.draw(st.sampled_from([None, "applicant"])),
                            user=data.draw(st.sampled_from(PEOPLE)))
            self._apply(entry, action, who)

        @precondition(lambda self: any(s.timers for _, s in self.instances))
        @rule(data=st.data(), hours=st.integers(min_value=0, max_value=72))
        def time_passes(self, data, hours):
            self.now += timedelta(hours=hours)
            entry = data.draw(st.sampled_from([e for e in self.instances if e[1].timers]))
            timer = min(entry[1].timers, key=lambda t: t.at)
            self.now = max(self.now, timer.at)
            self._apply(entry, Action("fire", timer=timer.key), SYSTEM)

        @precondition(lambda self: self.promotions)
        @rule()
        def deliver_promotion(self):
            promoted = self.promotions.pop(0)
            entry = next((e for e in self.instances if e[1].instance_id == promoted.instance),
                         None)
            if entry is not None:
                self._apply(entry, Action("promote"), SYSTEM)

        # ------------------------------------------------------------ helpers
        def _apply(self, entry, action, who):
            spec, before = entry
            try:
                after, effects = act(spec, before, action, who, self.now, self.directory)
            except WorkflowError:
                assert entry[1] is before  # a refusal changes nothing
                return
            assert not before.finished, "a finished instance changed"
            assert after.version == before.version + 1
            assert after.history[:len(before.history)] == before.history
            assert len(after.history) > len(before.history)
            self._accept(effects)
            self.directory.track(after)
            entry[1] = after

        def _accept(self, effects):
            for effect in effects:
                if isinstance(effect, Notify):
                    assert effect.recipients and SYSTEM not in effect.recipients
                if isinstance(effect, Promoted):
                    self.promotions.append(effect)

        # ------------------------------------------------------------ invariants
        @invariant()
        def final_states_are_final(self):
            for _, state in getattr(self, "instances", []):
                if state.finished:
                    assert state.status in END_STATUSES
                    assert state.current == () and state.open_tasks == ()
                    assert state.timers == ()
                else:
                    assert state.status in RUNNING_STATUSES and state.end is None

        @invariant()
        def tasks_are_held_by_eligible_people(self):
            for spec, state in getattr(self, "instances", []):
                ctx = RuleContext(self.directory, state.applicant, state.applicant_unit,
                                  state.data, spec.fields,
                                  state.claim.claimers if state.claim else ())
                for task in state.open_tasks:
                    for person in task.assignees:
                        assert _eligible(spec, state, task, person, ctx), (task, person)
                    if state.applicant in task.assignees:
                        assert _names_the_applicant(spec, task), (task, state.applicant)

        @invariant()
        def one_tasks_actions_are_the_whole_lists(self):
            # A task's page asks only about its task: it must see what the whole list
            # says of it (its actions, and claiming or resubmitting its request).
            for spec, state in getattr(self, "instances", []):
                for task in state.open_tasks:
                    for person in {*task.assignees, state.applicant, "vol1", "unit_admin"}:
                        whole = available_actions(spec, state, person, self.directory,
                                                  self.now)
                        assert available_actions(spec, state, person, self.directory,
                                                 self.now, task=task.id) == [
                            a for a in whole if a.task == task.id or (
                                a.task is None and a.action in ("claim", "resubmit"))]

        @invariant()
        def capacity_is_never_exceeded(self):
            for _, state in getattr(self, "instances", []):
                if state.claim is not None:
                    assert len(state.claim.claimers) <= state.claim.capacity
            directory = getattr(self, "directory", None)
            for resource, holders in (directory.holders.items() if directory else ()):
                limit = directory.capacities.get(resource)
                assert limit is None or len(holders) <= limit, resource

    return Engine


def _eligible(spec, state, task, person, ctx) -> bool:
    if task.kind == "revise":
        return person == state.applicant
    step = spec.step(task.step)
    rule = getattr(step.config, "assignee", None) or getattr(step.config, "approvers", None)
    if rule is not None and rule.special == "applicant":
        return person == state.applicant
    if rule is not None and rule.special == "claimer":
        return person in ctx.claimers

    class _Run:  # assignee_rules only needs .step()
        def step(self, step_id):
            return spec.step(step_id)
    rules = assignee_rules(_Run(), task)
    return any(is_eligible(r, person, ctx) for r in rules)


def _names_the_applicant(spec, task) -> bool:
    if task.kind == "revise":
        return True
    step = spec.step(task.step)
    rule = getattr(step.config, "assignee", None) or getattr(step.config, "approvers", None)
    return rule is not None and rule.special == "applicant"


@pytest.mark.filterwarnings("error")
def test_random_actions_keep_the_invariants(shipped, org_factory):
    machine = make_machine(shipped, org_factory)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=150, stateful_step_count=50, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
