"""Engine benchmark: complete three-approval instances, in-process, one transaction per
transition — beside SpiffWorkflow persisting its state after each step, and beside a
bare hand-written loop (the floor).

    python bench/engine.py                                  # SQLite file, 200 instances
    python bench/engine.py --db postgresql://postgres@127.0.0.1:5432/unionflow_bench_engine
    python bench/engine.py --instances 50 --profile engine.html   # pyinstrument, engine side

A *transition* is one of the four writes of an instance's life — start, then three
approvals — each done as a web request would: a new session, load the acting user,
load (and lock) the instance, act, commit.  All three sides use the same database, the
same SQLAlchemy engine and session, and the same lock (``write_lock``: BEGIN IMMEDIATE
on SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL).

* engine — the real service layer (``webapp.services.workflow``): ``start_instance``,
  then ``perform(Action("approve", task=…))`` by each level's administrator, on
  ``bench/definitions/bench_chain.yaml``.  It writes what every step writes: the state,
  history, the hash-chained audit log, the inbox index (tasks, assignees) and in-app
  notifications.
* core — the engine itself (``workflows.engine``) with the persistence the spiff and bare
  sides have: the state read (locked), the step decided, the state UPDATEd and its history
  INSERTed; approvers through the app's real ``DbDirectory``.  The like-for-like figure.
* spiff — SpiffWorkflow (``bench/chain.bpmn``, the same chain with a gateway after each
  user task).  Every transition reads the serialised workflow from a table in the same
  database, deserialises it, completes the ready user task, runs the engine steps,
  serialises it back (UPDATE) and adds a history row (INSERT).
* bare — a hand-written state machine: read the row, check the step and the actor,
  UPDATE the state, INSERT a history row.

Sides run interleaved in rounds, so load from other work on the machine falls on all
of them alike.  The database is emptied and rebuilt first (give it its own database).
Prints figures and conditions; asserts nothing about time.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engine_setup import (CHAIN_DEFINITION, ROOT, chain_org, conditions,  # noqa: E402
                                fresh_database, make_app, make_workers, percentile)

BPMN = ROOT / "bench" / "chain.bpmn"
SIDES = ("engine", "core", "spiff", "bare")
LEVELS = ("unit_review", "district_review", "city_review")
TRANSITIONS_PER_INSTANCE = 1 + len(LEVELS)
# The targets of issue #9 (ratios in one run on one machine).
TARGET_VS_BARE = 1.25
TARGET_VS_SPIFF = 2.0


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# ------------------------------------------------------------------ tables of the other sides

def bench_tables():
    """Tables for the core, SpiffWorkflow and bare sides (in their own metadata: never
    part of the app's schema or its migrations)."""
    import sqlalchemy as sa

    from webapp.models.types import UTCDateTime

    meta = sa.MetaData()

    def instances(name: str, *columns) -> sa.Table:
        return sa.Table(name, meta, sa.Column("id", sa.Integer, primary_key=True), *columns,
                        sa.Column("status", sa.String(20), nullable=False),
                        sa.Column("version", sa.Integer, nullable=False),
                        sa.Column("updated_at", UTCDateTime, nullable=False))

    def history(name: str, parent: str, key: str) -> sa.Table:
        return sa.Table(name, meta, sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column(key, sa.Integer, sa.ForeignKey(f"{parent}.id"), index=True),
                        sa.Column("seq", sa.Integer, nullable=False),
                        sa.Column("at", UTCDateTime, nullable=False),
                        sa.Column("actor_id", sa.Integer),
                        sa.Column("action", sa.String(32), nullable=False),
                        sa.Column("step", sa.String(64)))

    return meta, {
        "spiff": instances("bench_spiff_workflows",
                           sa.Column("applicant_id", sa.Integer, nullable=False),
                           sa.Column("serialization", sa.Text, nullable=False)),
        "spiff_history": history("bench_spiff_history", "bench_spiff_workflows",
                                 "workflow_id"),
        "bare": instances("bench_bare_instances",
                          sa.Column("applicant_id", sa.Integer, nullable=False),
                          sa.Column("state", sa.JSON, nullable=False),
                          sa.Column("step", sa.String(64))),
        "bare_history": history("bench_bare_history", "bench_bare_instances", "instance_id"),
        "core": instances("bench_core_instances", sa.Column("state", sa.JSON, nullable=False)),
        "core_history": history("bench_core_history", "bench_core_instances", "instance_id"),
    }


# ------------------------------------------------------------------ the four sides

class EngineSide:
    """The real service layer, one request per transition."""

    name = "engine"

    def __init__(self, applicant_id: int, approver_ids: list[int]):
        from webapp.extensions import db
        from webapp.services.workflow import publish_file

        self.applicant_id, self.approver_ids = applicant_id, approver_ids
        publish_file(CHAIN_DEFINITION)
        db.session.commit()

    def start(self) -> tuple[int, str]:
        from webapp.extensions import db
        from webapp.models import User
        from webapp.services.workflow import start_instance

        applicant = db.session.get(User, self.applicant_id)
        instance = start_instance("bench_chain", applicant, {"title": "基准测试申请"})
        handle = instance.id, _open_task(instance.state)
        db.session.commit()
        return handle

    def approve(self, handle: tuple[int, str], level: int) -> tuple[int, str]:
        from webapp.extensions import db
        from webapp.models import User
        from webapp.services.workflow import Action, perform

        instance_id, task = handle
        actor = db.session.get(User, self.approver_ids[level])
        instance = perform(instance_id, Action("approve", task=task), actor)
        handle = instance_id, _open_task(instance.state)
        db.session.commit()
        return handle

    def check(self, handles) -> str:
        from sqlalchemy import func, select

        from webapp.extensions import db
        from webapp.models import Instance

        done = db.session.scalar(select(func.count()).select_from(Instance).where(
            Instance.id.in_([h[0] for h in handles]), Instance.status == "completed"))
        return f"{done}/{len(handles)} completed"


def _open_task(state: dict) -> str | None:
    return next((t["id"] for t in state["tasks"] if t.get("closed_at") is None), None)


class _TableSide:
    """A side keeping its instances in its own ``self.table`` (core, spiff, bare)."""

    table = None

    def check(self, handles) -> str:
        from sqlalchemy import func, select

        from webapp.extensions import db

        done = db.session.scalar(select(func.count()).select_from(self.table).where(
            self.table.c.id.in_(handles), self.table.c.status == "completed"))
        return f"{done}/{len(handles)} completed"


class CoreSide(_TableSide):
    """The engine itself (``workflows.engine``) with the persistence the other two sides
    have: the instance's state read (locked) and thawed, the step decided by the
    definition — approvers resolved through the app's real ``DbDirectory`` (the unit
    and its ancestors, the role holders: two reads the hand-written loop does not need,
    its approver being written into its code) — and the new state UPDATEd with its
    history lines INSERTed.  No audit chain, inbox index or notifications: this is the
    like-for-like comparison with SpiffWorkflow and the loop; ``engine`` is the product."""

    name = "core"

    def __init__(self, tables, applicant_id: int, approver_ids: list[int]):
        from workflows.loader import load_file

        self.spec, problems = load_file(CHAIN_DEFINITION)  # parsed once, as the app caches it
        if self.spec is None:
            raise RuntimeError(f"{CHAIN_DEFINITION}: {problems}")
        self.table, self.history = tables["core"], tables["core_history"]
        self.applicant_id, self.approver_ids = applicant_id, approver_ids

    def _write_history(self, instance_id: int, old_len: int, state) -> None:
        from webapp.extensions import db

        rows = [{"instance_id": instance_id, "seq": old_len + i + 1, "at": entry.at,
                 "actor_id": entry.actor if isinstance(entry.actor, int) else None,
                 "action": entry.action, "step": entry.step}
                for i, entry in enumerate(state.history[old_len:])]
        if rows:
            db.session.execute(self.history.insert(), rows)

    def start(self) -> int:
        from workflows import engine

        from webapp.database import write_lock
        from webapp.extensions import db
        from sqlalchemy import select

        from webapp.models import User
        from webapp.services import org_cache
        from webapp.services.directory import DbDirectory

        # The signed-in person as the app reads them: with the organisation's generation.
        applicant, generation = db.session.execute(select(
            User, org_cache.generation_column()).where(User.id == self.applicant_id)).one()
        org_cache.note_generation(generation)
        with write_lock():
            now = utcnow()
            instance_id = db.session.execute(self.table.insert().values(
                state={}, status="running", version=0, updated_at=now)
                .returning(self.table.c.id)).scalar_one()
            state, _effects = engine.start(self.spec, applicant.id, {"title": "基准测试申请"},
                                           now, DbDirectory(), instance_id=instance_id)
            db.session.execute(self.table.update().where(self.table.c.id == instance_id)
                               .values(state=state.to_dict(), status=state.status,
                                       version=state.version))
            self._write_history(instance_id, 0, state)
        db.session.commit()
        return instance_id

    def approve(self, instance_id: int, level: int) -> int:
        from sqlalchemy import select

        from workflows import engine
        from workflows.state import InstanceState

        from webapp.database import write_lock
        from webapp.extensions import db
        from webapp.models import User
        from webapp.services import org_cache
        from webapp.services.directory import DbDirectory

        actor = db.session.get(User, self.approver_ids[level])
        actor_id = actor.id
        with write_lock():
            # With the organisation's generation, as the product's lock reads it: the
            # directory then uses this process's copy of the organisation (org_cache).
            row = db.session.execute(select(self.table.c.state, org_cache.generation_column())
                                     .where(self.table.c.id == instance_id)
                                     .with_for_update(of=self.table)).one()
            org_cache.note_generation(row.org_generation)
            old = InstanceState.from_dict(row.state)
            task = next(t.id for t in old.tasks if t.open)
            now = utcnow()
            new, _effects = engine.act(self.spec, old, engine.Action("approve", task=task),
                                       actor_id, now, DbDirectory())
            db.session.execute(self.table.update().where(self.table.c.id == instance_id)
                               .values(state=new.to_dict(), status=new.status,
                                       version=new.version, updated_at=now))
            self._write_history(instance_id, len(old.history), new)
        db.session.commit()
        return instance_id


class SpiffSide(_TableSide):
    """SpiffWorkflow, its whole state serialised to the database after every step and
    read back before the next — what a web request must do."""

    name = "spiff"

    def __init__(self, tables, applicant_id: int, approver_ids: list[int]):
        from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
        from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer

        parser = BpmnParser()
        parser.add_bpmn_file(str(BPMN))
        self.spec = parser.get_spec("bench_chain")  # parsed once, as an app would cache it
        self.serializer = BpmnWorkflowSerializer()
        self.table, self.history = tables["spiff"], tables["spiff_history"]
        self.applicant_id, self.approver_ids = applicant_id, approver_ids

    def start(self) -> int:
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

        from webapp.database import write_lock
        from webapp.extensions import db
        from webapp.models import User

        db.session.get(User, self.applicant_id)  # the signed-in user, as on every request
        with write_lock():
            workflow = BpmnWorkflow(self.spec)
            workflow.do_engine_steps()
            now = utcnow()
            wf_id = db.session.execute(self.table.insert().values(
                applicant_id=self.applicant_id,
                serialization=self.serializer.serialize_json(workflow), status="running",
                version=1, updated_at=now).returning(self.table.c.id)).scalar_one()
            db.session.execute(self.history.insert().values(
                workflow_id=wf_id, seq=1, at=now, actor_id=self.applicant_id,
                action="submit", step=None))
        db.session.commit()
        return wf_id

    def approve(self, wf_id: int, level: int) -> int:
        from sqlalchemy import select

        from SpiffWorkflow.util.task import TaskState

        from webapp.database import write_lock
        from webapp.extensions import db
        from webapp.models import User

        actor = db.session.get(User, self.approver_ids[level])
        with write_lock():
            row = db.session.execute(select(self.table.c.serialization, self.table.c.version)
                                     .where(self.table.c.id == wf_id)
                                     .with_for_update()).one()
            workflow = self.serializer.deserialize_json(row.serialization)
            task = workflow.get_next_task(state=TaskState.READY, manual=True)
            if task is None or task.task_spec.name != LEVELS[level]:
                raise RuntimeError(f"workflow {wf_id}: expected {LEVELS[level]}, got {task}")
            task.data["approved"] = True
            task.data[f"{LEVELS[level]}_by"] = actor.id
            task.run()
            workflow.do_engine_steps()
            now = utcnow()
            db.session.execute(self.table.update().where(self.table.c.id == wf_id).values(
                serialization=self.serializer.serialize_json(workflow),
                status="completed" if workflow.is_completed() else "running",
                version=row.version + 1, updated_at=now))
            db.session.execute(self.history.insert().values(
                workflow_id=wf_id, seq=row.version + 1, at=now, actor_id=actor.id,
                action="approve", step=LEVELS[level]))
        db.session.commit()
        return wf_id


class BareSide(_TableSide):
    """The floor: a hand-written state machine with the same persistence — UPDATE the
    state, INSERT a history row, one transaction per step."""

    name = "bare"
    NEXT = dict(zip(LEVELS, LEVELS[1:] + (None,)))

    def __init__(self, tables, applicant_id: int, approver_ids: list[int]):
        self.table, self.history = tables["bare"], tables["bare_history"]
        self.applicant_id, self.approver_ids = applicant_id, approver_ids

    def start(self) -> int:
        from webapp.database import write_lock
        from webapp.extensions import db
        from webapp.models import User

        db.session.get(User, self.applicant_id)
        with write_lock():
            now = utcnow()
            state = {"data": {"title": "基准测试申请"}, "decisions": []}
            instance_id = db.session.execute(self.table.insert().values(
                applicant_id=self.applicant_id, state=state, step=LEVELS[0],
                status="running", version=1, updated_at=now)
                .returning(self.table.c.id)).scalar_one()
            db.session.execute(self.history.insert().values(
                instance_id=instance_id, seq=1, at=now, actor_id=self.applicant_id,
                action="submit", step=None))
        db.session.commit()
        return instance_id

    def approve(self, instance_id: int, level: int) -> int:
        from sqlalchemy import select

        from webapp.database import write_lock
        from webapp.extensions import db
        from webapp.models import User

        actor = db.session.get(User, self.approver_ids[level])
        with write_lock():
            row = db.session.execute(select(self.table.c.state, self.table.c.step,
                                            self.table.c.version)
                                     .where(self.table.c.id == instance_id)
                                     .with_for_update()).one()
            if row.step != LEVELS[level] or actor.id != self.approver_ids[level]:
                raise RuntimeError(f"instance {instance_id}: not at {LEVELS[level]}")
            now = utcnow()
            state = dict(row.state)
            state["decisions"] = state["decisions"] + [
                {"step": row.step, "by": actor.id, "action": "approve", "at": now.isoformat()}]
            following = self.NEXT[row.step]
            db.session.execute(self.table.update().where(self.table.c.id == instance_id)
                               .values(state=state, step=following,
                                       status="completed" if following is None else "running",
                                       version=row.version + 1, updated_at=now))
            db.session.execute(self.history.insert().values(
                instance_id=instance_id, seq=row.version + 1, at=now, actor_id=actor.id,
                action="approve", step=row.step))
        db.session.commit()
        return instance_id


# ------------------------------------------------------------------ running

def spiff_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("SpiffWorkflow") is not None


def _one_instance(side, app, times: list[float]):
    """Start and approve one instance, each transition in its own app context and
    session (as a request would); the time of each transition goes to ``times``."""
    from webapp.extensions import db

    handle = None
    for step in range(TRANSITIONS_PER_INSTANCE):
        started = time.perf_counter()
        with app.app_context():
            handle = side.start() if step == 0 else side.approve(handle, step - 1)
            db.session.remove()
        times.append(time.perf_counter() - started)
    return handle


def run(url: str, instances: int = 200, sides=SIDES, rounds: int = 10, warmup: int = 5,
        profile: str | None = None, quiet: bool = False, profile_side: str = "engine") -> dict:
    """Run the benchmark on a fresh database at ``url``; returns the figures per side.

    ``profile``: write a pyinstrument HTML profile of ``profile_side`` to that path (and
    its text to stdout).
    """
    from sqlalchemy import event

    from webapp.extensions import db

    sides = [s for s in sides if s != "spiff" or spiff_available()]
    url = fresh_database(url)
    instance_dir = tempfile.mkdtemp(prefix="bench-engine-")
    app = make_app(url, instance_dir, EMBEDDED_WORKER=False)
    meta, tables = bench_tables()
    with app.app_context():
        meta.create_all(db.engine)
        units, approvers = chain_org()
        applicant_id = make_workers(units["company"], 1, prefix="applicant")[0]
        approver_ids = [u.id for u in approvers]
        objects = {"engine": lambda: EngineSide(applicant_id, approver_ids),
                   "core": lambda: CoreSide(tables, applicant_id, approver_ids),
                   "spiff": lambda: SpiffSide(tables, applicant_id, approver_ids),
                   "bare": lambda: BareSide(tables, applicant_id, approver_ids)}
        runners = {name: objects[name]() for name in sides}
        db.session.remove()

    # Warm up every side (imports, caches, the parsed definition) before timing.
    for side in runners.values():
        for _ in range(warmup):
            _one_instance(side, app, [])

    times = {name: [] for name in sides}
    walls = {name: 0.0 for name in sides}
    cpus = {name: 0.0 for name in sides}  # CPU time of this process: less noisy than wall
    statements = {name: 0 for name in sides}
    counting = [None]  # the side whose statements are being counted

    def _count(*_args):
        if counting[0] is not None:
            statements[counting[0]] += 1

    with app.app_context():
        bound = db.engine
    event.listen(bound, "before_cursor_execute", _count)
    handles = {name: [] for name in sides}
    per_round = max(1, instances // rounds)
    done = 0
    profiler = None
    if profile and profile_side in sides:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    round_no = 0
    while done < instances:
        batch = min(per_round, instances - done)
        order = sides if round_no % 2 == 0 else list(reversed(sides))
        for name in order:
            if name == profile_side and profiler is not None:
                profiler.start()
            counting[0] = name
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(batch):
                handles[name].append(_one_instance(runners[name], app, times[name]))
            walls[name] += time.perf_counter() - started
            cpus[name] += time.process_time() - cpu
            counting[0] = None
            if name == profile_side and profiler is not None:
                profiler.stop()
        done += batch
        round_no += 1
    event.remove(bound, "before_cursor_execute", _count)

    with app.app_context():
        checks = {name: runners[name].check([h for h in handles[name]]) for name in sides}
        cond = conditions(url, instances=instances, transitions=instances
                          * TRANSITIONS_PER_INSTANCE)
        db.session.remove()
        db.engine.dispose()
    if profiler is not None:
        Path(profile).write_text(profiler.output_html(), encoding="utf-8")
        print(profiler.output_text(show_all=False))

    results = {}
    for name in sides:
        n = len(times[name])
        results[name] = {
            "ms_per_transition": walls[name] / n * 1000,
            "p50_ms": percentile(times[name], 50) * 1000,
            "p95_ms": percentile(times[name], 95) * 1000,
            "instances_per_s": instances / walls[name],
            "cpu_ms_per_transition": cpus[name] / n * 1000,
            "statements_per_transition": statements[name] / n,
            "transitions": n, "check": checks[name]}
    results["_conditions"] = cond
    if not quiet:
        report(results)
    return results


def report(results: dict) -> None:
    print(f"Engine benchmark {results['_conditions']}")
    print(f"  {'side':7} {'ms/transition':>14} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'instances/s':>12} {'CPU ms':>7} {'stmts':>6}  check")
    for name in SIDES:
        r = results.get(name)
        if r is None:
            continue
        print(f"  {name:7} {r['ms_per_transition']:14.2f} {r['p50_ms']:8.2f} "
              f"{r['p95_ms']:8.2f} {r['instances_per_s']:12.1f} "
              f"{r['cpu_ms_per_transition']:7.2f} {r['statements_per_transition']:6.2f}  "
              f"{r['check']}")
    for name, label in (("engine", "engine (the product's step)"),
                        ("core", "core (the engine, same persistence)")):
        side = results.get(name)
        if side is None:
            continue
        print(f"  {label}:")
        if "bare" in results:
            bare = results["bare"]
            ratio = side["ms_per_transition"] / bare["ms_per_transition"]
            print(f"    {name} / bare  = {ratio:.2f}x  (target <= {TARGET_VS_BARE}x: "
                  f"{'met' if ratio <= TARGET_VS_BARE else 'MISSED'}; CPU "
                  f"{side['cpu_ms_per_transition'] / bare['cpu_ms_per_transition']:.2f}x)")
        if "spiff" in results:
            ratio = results["spiff"]["ms_per_transition"] / side["ms_per_transition"]
            print(f"    spiff / {name} = {ratio:.2f}x  (target >= {TARGET_VS_SPIFF}x: "
                  f"{'met' if ratio >= TARGET_VS_SPIFF else 'MISSED'})")
    if "spiff" not in results and any(n in results for n in ("engine", "core")):
        print("  spiff: SpiffWorkflow is not installed (pip install -r bench/requirements.txt)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None,
                        help="database URL (emptied first!); default: a SQLite file in a "
                             "temporary directory")
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--profile", metavar="HTML",
                        help="pyinstrument profile of one side to this file")
    parser.add_argument("--profile-side", default="engine", choices=SIDES,
                        help="the side --profile profiles (default: engine)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='bench-engine-db-')}/bench.db"
    results = run(url, args.instances, args.sides.split(","), args.rounds,
                  profile=args.profile, profile_side=args.profile_side)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
