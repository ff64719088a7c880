"""``timer``: wait until a date (from the form, a record or fixed) or for a duration."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import TYPE_CHECKING, Mapping

from workflows.durations import Duration
from workflows.expr import Expr
from workflows.fields import FIELD_TYPES, FieldSpec
from workflows.kinds.base import StepKind, StepReader

if TYPE_CHECKING:
    from workflows.runtime import Run
    from workflows.spec import StepSpec
    from workflows.state import Task


@dataclass(frozen=True)
class TimerConfig:
    until: Expr | None = None
    fixed: datetime | None = None
    after: Duration | None = None


class TimerKind(StepKind):
    name = "timer"
    label, label_en = "等待", "Wait"
    keys = frozenset({"until", "after"})

    def parse(self, reader: StepReader) -> TimerConfig:
        has_until, has_after = "until" in reader.raw, "after" in reader.raw
        if has_until == has_after:
            reader.bad(None, "a timer step needs exactly one of 'until' (a date) or "
                       "'after' (a duration)",
                       "等待环节要在 until（日期）和 after（时长）中写且只写一个")
            return TimerConfig()
        if has_after:
            return TimerConfig(after=reader.duration("after"))
        expression, fixed = read_moment(reader, "until", reader.raw["until"],
                                        reader.line("until"))
        return TimerConfig(until=expression, fixed=fixed)

    def enter(self, run: Run, step: StepSpec) -> None:
        config: TimerConfig = step.config
        if config.after is not None:
            at = run.later(config.after)
        elif config.fixed is not None:
            at = moment(config.fixed, run.now)
        else:
            at = moment(run.value(config.until), run.now)
        if at is None or at <= run.now:
            # A date already past, or left empty (an optional date field), does not hold
            # the process up; the history says which (未填写日期，不等待).
            run.log("timer_passed", step=step.id, no_date=True if at is None else None)
            run.route(step, "done")
            return
        task = run.open_task(step, "timer")
        run.schedule(task, "wait", at)

    def retime(self, run: Run, step: StepSpec, task: Task) -> None:
        config: TimerConfig = step.config
        if config.until is None:
            return  # a duration from entering, or a date fixed in the definition
        at = moment(run.value(config.until), run.now)
        key = run.timer_key(task, "wait")
        current = next((t for t in run.timers if t.key == key), None)
        if at is None or current is None or at == current.at:
            return
        run.move_timer(step, task, current, at)

    def fire(self, run: Run, step: StepSpec, task: Task) -> None:
        run.close_task(task, "done")
        run.route(step, "done")


def read_moment(reader: StepReader, key: str, raw: object,
                line: int | None) -> tuple[Expr | None, datetime | None]:
    """A moment written in a definition: a date (``2025-05-01``, fixed) or an expression
    giving one (``record.slot.starts_at``).  Returns (expression, fixed); both None
    after logging a problem."""
    if isinstance(raw, (date, datetime)):
        return None, moment(raw, None)
    if isinstance(raw, str) and raw[:4].isdigit():
        try:
            return None, moment(datetime.fromisoformat(raw), None)
        except ValueError:
            reader.bad(key, f"'{key}' {raw!r} is not an ISO date like 2025-05-01",
                       f"{key} 的“{raw}”不是 2025-05-01 这样的日期")
            return None, None
    expression = reader.expression(raw, line, key)
    if expression is not None:
        problem = not_a_date(expression.tree, reader.fields)
        if problem is not None:
            where = reader.at(key)
            reader.log.add(line or reader.line(key), f"{where}: '{key}' must give a date: "
                           f"{problem[0]}", f"{where.zh}：{key} 应给出一个日期：{problem[1]}")
            return None, None
    return expression, None


def not_a_date(tree: tuple, fields: Mapping[str, FieldSpec]) -> tuple[str, str] | None:
    """Why a condition's tree can never give a date, (English, Chinese), or None when it
    may: a date or datetime field, a record's attribute, ``a or b`` of such.  A text or
    number field would make the step pass (or time out) at once."""
    kind = tree[0]
    if kind in ("and", "or"):
        return next((p for p in (not_a_date(t, fields) for t in tree[1]) if p), None)
    if kind == "name":
        parts = tree[1].split(".")
        field = fields.get(parts[1]) if parts[0] == "form" and len(parts) == 2 else None
        if field is None or field.type in ("date", "datetime"):
            return None
        label = FIELD_TYPES[field.type].label if field.type in FIELD_TYPES else field.type
        return (f"'{tree[1]}' is a {field.type} field, not a date or datetime field",
                f"“{tree[1]}”是{label}（{field.type}）字段，不是日期（date）或日期时间"
                "（datetime）字段")
    return ("write a date field (form.<field>), a record's date (record.<field>.<attribute>) "
            "or a fixed date like 2025-06-01, not a value or a calculation",
            "请写日期字段（form.字段）、记录的日期（record.字段.属性）或 2025-06-01 这样的"
            "固定日期，不能写数值或计算")


def moment(value: object, now: datetime | None, zone: tzinfo | None = None
           ) -> datetime | None:
    """A datetime from a date, datetime or ISO text, in ``now``'s time zone.  A date
    without a time is the start of that day in ``zone`` when one is given (the calendar's:
    China time), else in ``now``'s."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value \
                else date.fromisoformat(value[:10])
        except ValueError:
            return None
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, date):
        at = datetime.combine(value, time(), tzinfo=zone)
    else:
        return None
    if now is not None and at.tzinfo is not None and now.tzinfo is not None:
        return at.astimezone(now.tzinfo)
    if now is not None and (at.tzinfo is None) != (now.tzinfo is None):
        at = at.replace(tzinfo=now.tzinfo)
    return at
