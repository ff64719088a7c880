"""Instance state and effects survive a trip through JSON, and refuse what they cannot read."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from workflows.effects import effect_from_dict, effect_to_dict
from workflows.errors import StateError
from workflows.state import SCHEMA_VERSION, InstanceState


def busy_instance(drive, shipped):
    d = drive(shipped("micro_wish")).start("courier", {
        "title": "头盔", "category": "goods", "story": "头盔坏了需要新的一个", "budget": "50.5",
        "station": 5, "contact_name": "张三", "phone": "13800138000"})
    d.do("approve", "head")
    d.act("claim", "vol1")
    d.advance(timedelta(days=1))
    return d


def test_state_round_trips_through_json(drive, shipped):
    d = busy_instance(drive, shipped)
    stored = json.loads(json.dumps(d.state.to_dict(), ensure_ascii=False))
    assert stored["schema"] == SCHEMA_VERSION
    assert InstanceState.from_dict(stored) == d.state


def _reference_json(value):
    """The obvious, slow serialisation (what to_dict did before its one-pass version)."""
    from dataclasses import fields, is_dataclass
    from datetime import date
    from decimal import Decimal
    from typing import Mapping

    if is_dataclass(value):
        return {f.name: _reference_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _reference_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_reference_json(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def test_to_dict_is_the_plain_serialisation_of_every_field(drive, shipped):
    d = busy_instance(drive, shipped)
    for state in (d.state, replace(d.state, data={"d": Decimal("1.50"), "when": date(2026, 1, 2),
                                                   "nested": {"k": [1, (2, 3)]}})):
        assert state.to_dict() == _reference_json(state)
        assert json.loads(json.dumps(state.to_dict())) == state.to_dict()


def test_state_is_immutable(drive, shipped):
    d = busy_instance(drive, shipped)
    with pytest.raises(TypeError):
        d.state.data["title"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        d.state.status = "completed"  # type: ignore[misc]


def test_unknown_schema_and_broken_state_are_refused(drive, shipped):
    stored = busy_instance(drive, shipped).state.to_dict()
    with pytest.raises(StateError):
        InstanceState.from_dict({**stored, "schema": SCHEMA_VERSION + 1})
    broken = dict(stored)
    del broken["applicant"]
    with pytest.raises(StateError):
        InstanceState.from_dict(broken)


def test_effects_round_trip(drive, shipped):
    d = busy_instance(drive, shipped)
    effects = d.effects + drive(shipped("micro_wish")).start("rider", {
        "title": "书", "category": "study", "story": "想要一本电工考试的书", "station": 5,
        "contact_name": "李四", "phone": "13800138001"}).effects
    for effect in effects:
        stored = json.loads(json.dumps(effect_to_dict(effect), ensure_ascii=False))
        assert effect_from_dict(stored) == effect


def test_every_notification_has_a_title_in_both_languages(drive, shipped):
    from workflows.effects import Notify
    from workflows.messages import TITLES, render_title

    d = busy_instance(drive, shipped)
    d.act("cancel", "padmin", comment="重复提交")
    notes = [e for e in d.effects if isinstance(e, Notify)]
    ended = next(n for n in notes if n.kind == "ended")
    assert render_title(ended.kind, ended.params) == "您的微心愿已取消（原因：重复提交）"
    assert render_title(ended.kind, ended.params, "en") == \
        "Your Micro-wish is cancelled (reason: 重复提交)"
    assert render_title("ended", {**ended.params, "status": "withdrawn", "comment": None}) \
        == "您的微心愿已撤回"
    # every kind the engine can emit, read off its notify(...) calls
    import re
    from pathlib import Path
    source = "".join(p.read_text(encoding="utf-8") for p in
                     (Path(__file__).resolve().parents[2] / "workflows").rglob("*.py"))
    kinds = set(re.findall(r'\.notify\([^"\n]*"([a-z_]+)"', source))
    assert len(kinds) >= 12 and kinds <= set(TITLES), kinds - set(TITLES)


def test_the_memory_directory_is_a_directory():
    from workflows.directory import Directory
    from workflows.memory import MemoryDirectory
    assert isinstance(MemoryDirectory(), Directory)
