"""Fixtures for engine tests: a small Chongqing organisation and a driver for instances.

The suite imports test modules with ``--import-mode=importlib``, so helpers are handed
out as fixtures (``directory``, ``drive``, ``shipped``, ``inline``) rather than imported.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workflows.engine import SYSTEM, Action, act, start
from workflows.loader import load_file, load_text
from workflows.memory import MemoryDirectory

DEFINITIONS = Path(__file__).resolve().parents[2] / "workflows" / "definitions"
MONDAY = datetime(2025, 5, 5, 9, 0)  # a Monday, so working-day sums are easy to read


def build_directory() -> MemoryDirectory:
    d = MemoryDirectory()
    d.add_unit(1, "cq", "city", name="重庆市总工会")
    d.add_unit(2, "cq.yuzhong", "district", 1, "渝中区总工会")
    d.add_unit(3, "cq.jiangbei", "district", 1, "江北区总工会")
    d.add_unit(4, "yz.jiefangbei", "street", 2, "解放碑街道工会")
    d.add_unit(5, "st.jiefangbei", "station", 4, "解放碑工会驿站")
    d.add_unit(6, "br.jiefangbei", "branch", 4, "解放碑社区党支部")
    d.add_unit(7, "ent.express", "enterprise", 2, "渝中快递企业工会")
    d.add_unit(8, "st.guanyinqiao", "station", 3, "观音桥工会驿站")
    d.pair(6, 5)
    people = {
        "rider": (7, [("worker", 7)]),
        "welder": (7, [("worker", 7)]),
        "courier": (5, [("worker", 5)]),
        "driver_jb": (8, [("worker", 8)]),
        "head": (5, [("station_head", 5)]),
        "head_jb": (8, [("station_head", 8)]),
        "unit_admin": (7, [("unit_admin", 7)]),
        "unit_admin2": (7, [("unit_admin", 7)]),
        "street_admin": (4, [("unit_admin", 4)]),
        "yz_admin": (2, [("district_admin", 2)]),
        "jb_admin": (3, [("district_admin", 3)]),
        "city_admin": (1, [("city_admin", 1)]),
        "secretary": (6, [("branch_secretary", 6), ("volunteer", 6)]),
        "vol1": (6, [("volunteer", 6)]),
        "vol2": (6, [("volunteer", 6)]),
        "vol3": (6, [("volunteer", 6)]),
        "vol_jb": (8, [("volunteer", 8)]),
        "padmin": (1, [("platform_admin", 1)]),
        "supervisor": (1, [("supervisor", 1)]),
        "nobody": (None, []),
    }
    for user, (home, roles) in people.items():
        d.add_user(user, home, roles)
    window = {"opens_on": "2025-04-20", "closes_on": "2025-05-20", "occupations": [],
              "min_age": None, "max_age": None}
    d.add_record("course", 1, requires_approval=False, sessions=10, starts_on="2025-05-26",
                 ends_on="2025-06-10",
                 unit=7, **window)
    d.add_record("course", 2, requires_approval=True, sessions=10, starts_on="2025-05-26",
                 ends_on="2025-06-10",
                 unit=7, **window)
    d.sessions.update({"course:1": 10, "course:2": 10})
    d.set_capacity("course:1", 2)
    d.set_capacity("course:2", 1)
    d.add_record("retreat_batch", 1, ends_on="2025-07-01", year=2025)
    d.set_capacity("retreat:1:7", 1)
    d.set_capacity("retreat:1:5", 1)
    d.add_record("slot", 11, starts_at="2025-05-10T09:00:00", station=5)
    d.set_capacity("slot:11", 2)
    return d


_SPECS: dict[str, Any] = {}


def shipped(key: str):
    """A shipped definition, loaded once per test session (specs are immutable)."""
    if key not in _SPECS:
        spec, problems = load_file(DEFINITIONS / f"{key}.yaml")
        assert not problems, [str(p) for p in problems]
        _SPECS[key] = spec
    return _SPECS[key]


def inline(text: str):
    spec, problems = load_text(text, "test.yaml")
    assert not problems, [str(p) for p in problems]
    return spec


class Driver:
    """Runs one instance the way the web layer would: state in, state and effects out."""

    counter = 0

    def __init__(self, spec, directory: MemoryDirectory, now: datetime = MONDAY):
        self.spec, self.directory, self.now = spec, directory, now
        self.state = None
        self.effects: list = []

    def start(self, applicant, data: dict[str, Any]):
        Driver.counter += 1
        self.state, self.effects = start(self.spec, applicant, data, self.now, self.directory,
                                         instance_id=Driver.counter)
        self.directory.track(self.state)
        return self

    def act(self, kind: str, actor, **kwargs: Any):
        action = Action(kind, **kwargs)
        self.state, self.effects = act(self.spec, self.state, action, actor, self.now,
                                       self.directory)
        self.directory.track(self.state)
        return self

    def do(self, kind: str, actor, **kwargs: Any):
        """Act on the single open task (the common case in these tests)."""
        return self.act(kind, actor, task=self.task().id, **kwargs)

    def task(self, step: str | None = None):
        tasks = [t for t in self.state.open_tasks if step is None or t.step == step]
        assert len(tasks) == 1, f"expected one open task, found {tasks}"
        return tasks[0]

    def advance(self, delta: timedelta):
        """Move the clock and fire every timer that falls due, oldest first."""
        target = self.now + delta
        while not self.state.finished:
            due = sorted((t for t in self.state.timers if t.at <= target), key=lambda t: t.at)
            if not due:
                break
            self.now = max(self.now, due[0].at)
            self.act("fire", SYSTEM, timer=due[0].key)
        self.now = target
        return self

    @property
    def current(self) -> tuple[str, ...]:
        return self.state.current

    @property
    def status(self) -> str:
        return self.state.status

    def effects_of(self, kind: type) -> list:
        return [e for e in self.effects if isinstance(e, kind)]


@pytest.fixture
def directory() -> MemoryDirectory:
    return build_directory()


@pytest.fixture
def drive(directory):
    """Make a Driver for a spec against the fixture's directory."""
    def make(spec, now: datetime = MONDAY) -> Driver:
        return Driver(spec, directory, now)
    return make


@pytest.fixture(name="shipped")
def shipped_fixture():
    """Load a shipped definition by key (cached: specs are immutable)."""
    return shipped


@pytest.fixture(name="inline")
def inline_fixture():
    """Load a definition from text, failing the test on any problem."""
    return inline


@pytest.fixture
def monday() -> datetime:
    return MONDAY


@pytest.fixture
def org_factory():
    """Build a fresh copy of the test organisation (for property tests)."""
    return build_directory
