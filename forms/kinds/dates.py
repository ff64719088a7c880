"""Date kinds: ``date`` and ``datetime``.

Dates are stored as ISO text ("2025-05-01").  Date-times are stored as ISO text with
the offset (API.md asks for it); input without an offset is China time, the time of
everyone using the platform (China has had no daylight saving since 1991).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from wtforms import widgets

from forms import messages as M
from forms.kinds.base import BuildContext, FieldKind
from forms.messages import InputError
from forms.registry import register
from forms.validators import Range
from workflows.fields import FieldSpec

CHINA_TIME = timezone(timedelta(hours=8), "CST")
# 2025-05-01, 2025/5/1, 2025.5.1 and 2025年5月1日 are all how people write a date.
_DATE = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?")


class _DayKind(FieldKind):
    fold = True

    def bound(self, value: Any) -> Any:
        raise NotImplementedError

    def checks(self, spec: FieldSpec, ctx: BuildContext) -> list[Any]:
        if spec.min is None and spec.max is None:
            return []
        least = None if spec.min is None else self.bound(spec.min)
        most = None if spec.max is None else self.bound(spec.max)
        return [Range(least, most, too_small=M.DATE_MIN, too_big=M.DATE_MAX,
                      show=lambda v: self.format(spec, v).replace("T", " "))]

    def render_attrs(self, spec: FieldSpec) -> dict[str, Any]:
        return {k: self.format(spec, self.bound(v))
                for k, v in (("min", spec.min), ("max", spec.max)) if v is not None}

    def to_json(self, spec: FieldSpec, value: Any) -> str | None:
        return None if value is None else value.isoformat()

    def limits(self, spec: FieldSpec) -> dict[str, Any]:
        return {k: self.to_json(spec, self.bound(v))
                for k, v in (("min", spec.min), ("max", spec.max)) if v is not None}


@register
class DateKind(_DayKind):
    """A calendar day."""

    name = "date"

    def widget(self, spec: FieldSpec) -> Any:
        return widgets.DateInput()

    def parse(self, spec: FieldSpec, text: str) -> date:
        match = _DATE.fullmatch(text)
        try:
            if match is None:
                raise ValueError
            return date(*(int(part) for part in match.groups()))
        except ValueError:
            raise InputError(M.NOT_DATE) from None

    def bound(self, value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    def format(self, spec: FieldSpec, value: Any) -> str:
        return value.isoformat()

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "format": "date"}


@register
class DateTimeKind(_DayKind):
    """A moment: a day and a time of day."""

    name = "datetime"

    def widget(self, spec: FieldSpec) -> Any:
        return widgets.DateTimeLocalInput()

    def parse(self, spec: FieldSpec, text: str) -> datetime:
        try:
            return china_time(datetime.fromisoformat(text.replace("/", "-")))
        except (ValueError, OverflowError):
            raise InputError(M.NOT_DATETIME) from None

    def bound(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return china_time(value)
        return china_time(datetime.fromisoformat(str(value)))

    def format(self, spec: FieldSpec, value: Any) -> str:
        return value.isoformat()[:16]  # "2025-05-01T09:30", what datetime-local takes

    def schema(self, spec: FieldSpec) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


def china_time(moment: datetime) -> datetime:
    """``moment`` in China time, to the second; a naive one is taken as China time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TIME)
    return moment.astimezone(CHINA_TIME).replace(microsecond=0)
