"""``reserve``: take a place of a shared resource (course seats, a duty slot, a quota).

The resource is named by a template over the form (``course:{form.course}``); the
directory's capacity port decides atomically: granted → go on; waitlisted → wait in
this step until promoted; refused → ``next.refused`` if given, else CapacityExhausted
with the step's ``full_message`` (say which places ran out and what to do), or a
generic one.
Places are given back when the instance ends with a status in ``release_on``; a
waiting-list entry is always given back when the instance leaves the list.

A definition that gives the ``capacity`` owns it: entering the step first sets the
resource's capacity to it (``Directory.set_capacity``), so a new version's larger number
takes effect at once, and those already waiting take the new places (``Promoted``) before
the newcomer asks for one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workflows.directory import GRANTED, REFUSED, RESERVATION_RESULTS, WAITLISTED
from workflows.errors import CapacityExhausted, Conflict, InvalidInput, StateError
from workflows.expr import Expr, as_number
from workflows.kinds.base import StepKind, StepReader
from workflows.effects import Promoted
from workflows.spec import END_STATUSES, Template
from workflows.state import Reservation

if TYPE_CHECKING:
    from workflows.runtime import Run
    from workflows.spec import StepSpec

MAX_PLACES = 10 ** 9
DEFAULT_RELEASE_ON = ("rejected", "withdrawn", "cancelled", "expired")
FULL_ZH, FULL_EN = "名额已满，无法报名", "There are no places left"


@dataclass(frozen=True)
class ReserveConfig:
    resource: Template | None
    capacity: int | Expr | None = None
    waitlist: bool = True
    release_on: tuple[str, ...] = DEFAULT_RELEASE_ON
    full_message: str | None = None     # when refused without next.refused
    full_message_en: str | None = None

    def refusal(self, resource: str) -> CapacityExhausted:
        zh = self.full_message or FULL_ZH
        return CapacityExhausted(zh, self.full_message_en or self.full_message or FULL_EN,
                                 details={"resource": resource})


class ReserveKind(StepKind):
    name = "reserve"
    label, label_en = "名额", "Reserve a place"
    keys = frozenset({"resource", "capacity", "waitlist", "release_on", "full_message",
                      "full_message_en"})
    outcomes = ("granted", "refused")
    required_outcomes = ("granted",)

    def parse(self, reader: StepReader) -> ReserveConfig:
        resource = reader.template("resource") if reader.require("resource") else None
        return ReserveConfig(resource, self._capacity(reader), reader.flag("waitlist", True),
                             self._release_on(reader), *self._full_message(reader))

    def _full_message(self, reader: StepReader) -> tuple[str | None, str | None]:
        zh, en = reader.text("full_message"), reader.text("full_message_en")
        if en is not None and "full_message" not in reader.raw:
            reader.bad("full_message_en", "'full_message_en' needs 'full_message' (the "
                       "Chinese text) beside it", "写了 full_message_en，还需要写中文的 full_message")
        nexts = reader.raw.get("next")
        if (zh or en) and isinstance(nexts, dict) and "refused" in nexts:
            key = "full_message" if zh else "full_message_en"
            reader.bad(key, f"'{key}' is never shown: a full resource goes to next.refused",
                       f"{key} 不会显示：名额已满时按 next.refused 继续")
        return zh, en

    def _capacity(self, reader: StepReader) -> int | Expr | None:
        raw = reader.raw.get("capacity")
        if raw is None:
            return None  # the resource knows its own capacity
        if isinstance(raw, int) and not isinstance(raw, bool):
            if raw < 1:
                reader.bad("capacity", "'capacity' must be at least 1", "名额 capacity 至少为 1")
            return raw
        return reader.expression(raw, reader.line("capacity"), "capacity")

    def _release_on(self, reader: StepReader) -> tuple[str, ...]:
        raw = reader.raw.get("release_on", list(DEFAULT_RELEASE_ON))
        if not isinstance(raw, list) or any(s not in END_STATUSES for s in raw):
            reader.bad("release_on", f"'release_on' must list end statuses "
                       f"({', '.join(END_STATUSES)})",
                       f"release_on 应列出结果状态（{'、'.join(END_STATUSES)}）")
            return DEFAULT_RELEASE_ON
        return tuple(raw)

    def enter(self, run: Run, step: StepSpec) -> None:
        resource = resource_key(run, step)
        self.own_capacity(run, step, resource)
        result = self.ask(run, step, resource)
        if result == GRANTED:
            run.route(step, "granted")
        elif result == WAITLISTED:
            run.status = "waitlisted"
            task = run.open_task(step, "reserve")
            run.notify([run.applicant], "waitlisted", task)
        elif "refused" in step.next:
            run.route(step, "refused")
        else:
            raise step.config.refusal(resource)

    def own_capacity(self, run: Run, step: StepSpec, resource: str) -> None:
        """The definition gives the capacity: the resource's follows it, and those the
        port moves off the waiting list into new places are woken (before the newcomer
        asks, so it queues behind them).  Only on entering the step: a promotion asks
        again and must not set an older version's number back."""
        capacity = _capacity(run, step.config)
        if capacity is None:
            return  # the resource knows its own
        promoted = run.directory.set_capacity(resource, capacity)
        for instance in promoted or ():
            if instance != run.instance:
                run.effects.append(Promoted(instance, resource))

    def ask(self, run: Run, step: StepSpec, resource: str) -> str:
        config: ReserveConfig = step.config
        result = run.directory.reserve(resource, run.instance, _capacity(run, config),
                                       waitlist=config.waitlist)
        if result not in RESERVATION_RESULTS:
            raise StateError(en=f"the capacity port answered {result!r}")
        run.reservations = [r for r in run.reservations if r.resource != resource]
        if result != REFUSED:
            run.reservations.append(Reservation(resource, result, step.id))
        run.log("reserve", step=step.id, resource=resource, result=result)
        return result

    def promote(self, run: Run, step: StepSpec) -> None:
        """The port moved this instance off the waiting list: go on."""
        waiting = run.open_tasks(step.id)
        if run.status != "waitlisted" or not waiting:
            raise Conflict("该申请不在候补名单中", "This request is not on a waiting list",
                           code="not_waitlisted")
        if self.ask(run, step, resource_key(run, step)) != GRANTED:
            raise Conflict("尚未轮到候补", "No place has been freed for this request yet",
                           code="still_waitlisted")
        run.close_task(waiting[0], "granted")
        run.notify([run.applicant], "promoted", waiting[0], priority="high")
        run.status = "running"
        run.route(step, "granted")


def _capacity(run: Run, config: ReserveConfig) -> int | None:
    """The definition's capacity for this instance, or None when the resource knows it."""
    if isinstance(config.capacity, Expr):
        return _places(run.value(config.capacity))
    return config.capacity


def _places(value: object) -> int | None:
    """A capacity from a condition's value; None (the resource knows) if it is no count."""
    number = as_number(value)
    if number is None or number != number or number < 0:  # number != number: NaN
        return None
    return int(min(number, MAX_PLACES))  # int(Decimal("1e999999")) would be huge


def resource_key(run: Run, step: StepSpec) -> str:
    key = step.config.resource.render(run.lookup_name)
    if key is None:
        raise InvalidInput("表单未说明要预约的名额", "The form does not say which place to reserve",
                           code="no_resource")
    return key


def resource_prefixes(spec) -> list[tuple[str, int | None]]:
    """The literal start of each reserve step's resource (the text before its first
    ``{``: ``cool:`` of ``cool:{form.station}``) with the step's line: two processes
    whose prefixes could render the same key would share places and a waiting list."""
    return [(step.config.resource.text.split("{", 1)[0], step.line)
            for step in spec.steps
            if step.kind == ReserveKind.name and step.config.resource is not None]


def prefixes_meet(a: str, b: str) -> bool:
    """Whether resources starting with ``a`` and with ``b`` could be the same key."""
    return a.startswith(b) or b.startswith(a)

