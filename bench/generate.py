"""Fill a UnionFlow database with a city's worth of data, fast, for the benchmarks.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/unionflow_bench \
        python bench/generate.py --scale city --fresh

The schema comes from the real migrations (``--fresh`` empties the database first and
runs them), then the Chongqing demo is seeded through the real services (so the demo
users, definitions, courses and a few real instances exist), and then the bulk: streets,
enterprise unions, stations, party branches, people with their roles, duty slots, and
workflow instances (wishes, nominations, duties served, workers' demands) with their
tasks, inbox rows and history.

Instances are *cloned* from real ones: the demo runs each process through the engine,
and each clone gets the template's state with its people, units, station, slot and times
replaced — so every page reads data the engine itself would have written.  Rows go in
with PostgreSQL's COPY (psycopg) or, on SQLite, ``executemany`` in large batches.

``--scale`` sets the size: ``city`` (= ``1m``) is 6,000 stations, 500,000 workers,
50,000 wishes, 20,000 duty slots, 5,000 nominations and 1,000,000 history rows; ``100k``
and ``10k`` keep the city's people and stations and scale the instances down to that many
history rows (the page benchmarks compare the three); ``small`` suits SQLite; ``tiny`` is
for the smoke test.  Every phase prints its time.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "demo-pass-2026"


@dataclass(frozen=True)
class Scale:
    stations: int
    workers: int
    wishes: int
    slots: int
    nominations: int
    history: int  # target history rows; workers' demands fill up to it
    stations_per_street: int = 30


CITY = Scale(stations=6000, workers=500_000, wishes=50_000, slots=20_000, nominations=5000,
             history=1_000_000)


def _scaled(history: int) -> Scale:
    f = history / CITY.history
    return Scale(CITY.stations, CITY.workers, max(1, int(CITY.wishes * f)), CITY.slots,
                 max(1, int(CITY.nominations * f)), history)


SCALES = {
    "city": CITY,
    "1m": CITY,
    "100k": _scaled(100_000),
    "10k": _scaled(10_000),
    "small": Scale(stations=300, workers=5000, wishes=500, slots=500, nominations=50,
                   history=10_000, stations_per_street=15),
    "tiny": Scale(stations=12, workers=60, wishes=8, slots=10, nominations=3, history=250,
                  stations_per_street=4),
}

# Keys of an engine state (and of history data) whose values are user ids, unit ids,
# or times; the clone rewrites them.
USER_KEYS = {"applicant", "by", "actor", "assignees", "claimed_by", "claimers", "waitlist"}
UNIT_KEYS = {"unit", "station", "responsible_unit"}
TIME_KEYS = {"at", "started_at", "opened_at", "closed_at", "ended_at"}


def log(what: str, started: float, n: int | None = None) -> None:
    took = time.perf_counter() - started
    rate = f", {n / took:,.0f} rows/s" if n and took > 0 else ""
    print(f"  {what}: {took:.1f} s{rate}", flush=True)


# --- bulk loading --------------------------------------------------------------------

class Loader:
    """COPY on PostgreSQL, batched executemany on SQLite; ids are handed out here."""

    def __init__(self, engine):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.raw = engine.raw_connection()
        self.next_ids: dict[str, int] = {}
        self.rows: dict[str, int] = {}

    def next_id(self, table: str) -> int:
        if table not in self.next_ids:
            cur = self.raw.cursor()
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            self.next_ids[table] = cur.fetchone()[0] + 1
            cur.close()
        value = self.next_ids[table]
        self.next_ids[table] += 1
        return value

    def load(self, table: str, columns: list[str], rows) -> int:
        n = 0
        cur = self.raw.cursor()
        if self.pg:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy_:
                for row in rows:
                    copy_.write_row(row)
                    n += 1
        else:
            sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' for _ in columns)})")
            batch = []
            for row in rows:
                batch.append(tuple(_sqlite_value(v) for v in row))
                if len(batch) >= 20_000:
                    cur.executemany(sql, batch)
                    n += len(batch)
                    batch = []
            if batch:
                cur.executemany(sql, batch)
                n += len(batch)
        cur.close()
        self.raw.commit()
        self.rows[table] = self.rows.get(table, 0) + n
        return n

    def finish(self) -> None:
        cur = self.raw.cursor()
        if self.pg:
            for table in self.next_ids:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
            self.raw.commit()
            cur.close()
            # VACUUM sets the visibility map, so index-only scans work as in a settled
            # database; it cannot run in a transaction.
            driver = self.raw.driver_connection
            driver.autocommit = True
            driver.execute("VACUUM ANALYZE")
            driver.autocommit = False
            cur = self.raw.cursor()
        else:
            cur.execute("ANALYZE")
            self.raw.commit()
        cur.close()
        self.raw.close()


def _sqlite_value(value):
    # What SQLAlchemy's types would have stored: naive UTC text for datetimes.
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ")
    return value


# --- templates ---------------------------------------------------------------------

@dataclass
class Template:
    instance: dict
    state: dict
    tasks: list[dict]
    assignees: dict[int, list[int]]     # task id → user ids
    history: list[dict]
    roles: dict[int, str]               # template user id → what they are to the instance
    unit_kinds: dict[int, str]          # template unit id → its kind
    slot_id: int | None = None
    weight: float = 1.0
    history_rows: int = field(init=False)

    def __post_init__(self):
        self.history_rows = len(self.history)


ROLE_ORDER = ("station_head", "unit_admin", "district_admin", "city_admin", "volunteer",
              "branch_secretary", "platform_admin", "supervisor", "worker")


def seed_demo() -> None:
    """What ``flask seed-demo`` does, with the benchmark's password."""
    from webapp import demo
    from webapp.extensions import db

    demo.seed(PASSWORD)
    demo.seed_city_stations()
    demo.publish_processes()
    demo.seed_activities()
    demo.seed_city_life(PASSWORD)
    db.session.commit()


def make_closed_examples() -> None:
    """The demo leaves wishes and demands open; withdraw one of each so there is a
    closed example to clone (most of a year's requests are finished)."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Instance
    from webapp.services import workflow as wf
    from workflows.runtime import Action

    for key, step in (("micro_wish", "wall"), ("worker_demand", "dispatch")):
        instance = db.session.scalar(select(Instance).where(
            Instance.process_key == key, Instance.steps == step).order_by(Instance.id.desc()))
        if instance is not None and db.session.scalar(select(Instance.id).where(
                Instance.process_key == key, Instance.status == "withdrawn")) is None:
            wf.perform(instance.id, Action("withdraw", comment="已自行解决"), instance.applicant)
    db.session.commit()


def load_templates() -> dict[tuple[str, str, str], Template]:
    """One real instance per (process, status, step) to clone."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import (HistoryEntry, Instance, Membership, OrgUnit, Task,
                               TaskAssignee)

    out: dict[tuple[str, str, str], Template] = {}
    for inst in db.session.scalars(select(Instance).order_by(Instance.id)):
        key = (inst.process_key, inst.status, inst.steps)
        if key in out:
            continue
        tasks = db.session.scalars(select(Task).where(Task.instance_id == inst.id)
                                   .order_by(Task.id)).all()
        assignees = {t.id: list(db.session.scalars(select(TaskAssignee.user_id).where(
            TaskAssignee.task_id == t.id))) for t in tasks}
        history = db.session.scalars(select(HistoryEntry).where(
            HistoryEntry.instance_id == inst.id).order_by(HistoryEntry.seq)).all()
        people = set(_walk_ids(inst.state, USER_KEYS)) | {
            u for ids in assignees.values() for u in ids} | {
            h.actor_id for h in history if h.actor_id}
        roles = {}
        for uid in people:
            if uid == inst.applicant_id:
                roles[uid] = "applicant"
                continue
            held = set(db.session.scalars(select(Membership.role).where(
                Membership.user_id == uid)))
            roles[uid] = next((r for r in ROLE_ORDER if r in held), "keep")
        units = set(_walk_ids(inst.state, UNIT_KEYS)) | {
            t.pool_unit_id for t in tasks if t.pool_unit_id}
        unit_kinds = {u.id: u.kind for u in db.session.scalars(
            select(OrgUnit).where(OrgUnit.id.in_(units)))}
        data = inst.state.get("data", {})
        out[key] = Template(
            instance={"version_id": inst.version_id, "process_key": inst.process_key,
                      "status": inst.status, "steps": inst.steps, "title": inst.title,
                      "unique_key": inst.unique_key, "active_key": inst.active_key,
                      "lock_version": inst.lock_version, "created_at": inst.created_at,
                      "updated_at": inst.updated_at, "closed_at": inst.closed_at,
                      "applicant_id": inst.applicant_id, "id": inst.id},
            state=inst.state,
            tasks=[{c: getattr(t, c) for c in TASK_COLUMNS} | {"id": t.id} for t in tasks],
            assignees=assignees,
            history=[{c: getattr(h, c) for c in HISTORY_COLUMNS} for h in history],
            roles=roles, unit_kinds=unit_kinds,
            slot_id=data.get("slot") if isinstance(data.get("slot"), int) else None)
    return out


TASK_COLUMNS = ["key", "step", "kind", "status", "outcome", "pool_role", "pool_unit_id",
                "pool_unit_path", "pool_within", "pool_anyone", "due_at", "opened_at",
                "closed_at"]
HISTORY_COLUMNS = ["seq", "at", "actor_id", "action", "step", "task_key", "comment", "data"]


def _walk_ids(value, keys, key=None):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_ids(v, keys, k)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_ids(v, keys, key)
    elif key in keys and isinstance(value, int) and not isinstance(value, bool):
        yield value


def _rewrite(value, users: dict, units: dict, shift: timedelta, key=None):
    """A copy of ``value`` with people, units and times replaced (the clone's own)."""
    if isinstance(value, dict):
        return {k: _rewrite(v, users, units, shift, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, users, units, shift, key) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        if key in USER_KEYS:
            return users.get(value, value)
        if key in UNIT_KEYS:
            return units.get(value, value)
        return value
    if key in TIME_KEYS and isinstance(value, str) and len(value) >= 19:
        try:
            return (datetime.fromisoformat(value) + shift).isoformat()
        except ValueError:
            return value
    return value


# --- the city ----------------------------------------------------------------------

@dataclass
class City:
    districts: list[dict] = field(default_factory=list)   # id, path, admin
    streets: list[dict] = field(default_factory=list)     # id, path, district, admin, ...
    stations: list[dict] = field(default_factory=list)    # id, path, street, district, head
    slots: list[dict] = field(default_factory=list)       # id, station
    city_admin: int | None = None


STREET_WORDS = ["朝天门", "较场口", "七星岗", "两路口", "上清寺", "大坪", "石油路", "化龙桥",
                "观音桥", "五里店", "大石坝", "寸滩", "杨家坪", "谢家湾", "黄桷坪", "石桥铺",
                "南坪", "弹子石", "海棠溪", "鸡冠石", "沙坪坝", "磁器口", "天星桥", "井口"]
PLACE_WORDS = ["商圈", "地铁站", "广场", "步行街", "社区", "市场", "医院", "学校", "公园",
               "物流园", "写字楼", "客运站"]


def build_city(loader: Loader, scale: Scale, rng: random.Random) -> City:
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Membership, OrgUnit, User

    city = City()
    now = datetime.now(timezone.utc)
    city_unit = db.session.scalar(select(OrgUnit).where(OrgUnit.kind == "city"))
    city.city_admin = db.session.scalar(select(Membership.user_id).where(
        Membership.role == "city_admin", Membership.unit_id == city_unit.id))
    pw_hash = db.session.scalar(select(User.password_hash).where(User.username == "admin"))

    units, stations, users, memberships, pairings = [], [], [], [], []

    def add_user(username, name, unit_id, roles):
        uid = loader.next_id("users")
        users.append((uid, username, name, pw_hash, None, None, "zh_CN", True,
                      secrets.token_urlsafe(24), unit_id, now, None))
        for role, at in roles:
            memberships.append((loader.next_id("memberships"), uid, at, role, now))
        return uid

    def add_unit(code, name, kind, parent_path, depth, parent_id):
        uid = loader.next_id("org_units")
        path = f"{parent_path}{uid}/"
        units.append((uid, code, name, None, kind, parent_id, path, depth, True, now))
        return uid, path

    district_admins = {}
    for m_unit, m_user in db.session.execute(select(Membership.unit_id, Membership.user_id)
                                             .where(Membership.role == "district_admin")):
        district_admins.setdefault(m_unit, m_user)
    for d in db.session.scalars(select(OrgUnit).where(OrgUnit.kind == "district")
                                .order_by(OrgUnit.id)):
        admin = district_admins.get(d.id) or add_user(
            f"bench_dadmin_{d.id}", f"{d.name}管理员", d.id, [("district_admin", d.id)])
        city.districts.append({"id": d.id, "path": d.path, "depth": d.depth, "admin": admin,
                               "name": d.name})

    t0 = time.perf_counter()
    n_streets = max(len(city.districts), -(-scale.stations // scale.stations_per_street))
    for s in range(n_streets):
        d = city.districts[s % len(city.districts)]
        word = STREET_WORDS[s % len(STREET_WORDS)]
        sid, spath = add_unit(f"bench-street-{s}", f"{d['name'][:-3]}{word}第{s}街道工会",
                              "street", d["path"], d["depth"] + 1, d["id"])
        eid, epath = add_unit(f"bench-ent-{s}", f"{word}第{s}新就业形态行业工会",
                              "enterprise", spath, d["depth"] + 2, sid)
        admin = add_user(f"bench_uadmin_{s}", f"街道工会干部{s}", sid, [("unit_admin", sid)])
        city.streets.append({"id": sid, "path": spath, "district": d, "admin": admin,
                             "ent": eid, "ent_path": epath, "stations": [], "workers": [],
                             "volunteers": []})
    for n in range(scale.stations):
        street = city.streets[n % n_streets]
        d = street["district"]
        word, place = rng.choice(STREET_WORDS), rng.choice(PLACE_WORDS)
        uid, path = add_unit(f"bench-st-{n}", f"{word}{place}工会驿站{n}", "station",
                             street["path"], d["depth"] + 2, street["id"])
        stations.append((uid, d["id"], f"{d['name'][:-3]}{word}路{rng.randint(1, 999)}号",
                         f"{word}{place}旁", "08:00-21:00", "", True, rng.random() < 0.7,
                         rng.random() < 0.5, rng.choice((0, 0, 2, 4, 6)),
                         rng.choice((0, 0, 2, 5)), rng.choice((5, 10, 20)),
                         rng.random() < 0.95))
        head = add_user(f"bench_head_{n}", f"站长{n}", uid, [("station_head", uid)])
        st = {"id": uid, "path": path, "street": street, "head": head}
        street["stations"].append(st)
        city.stations.append(st)
        if n % 3 == 0:  # a party branch for every three stations, paired with this one
            bid, bpath = add_unit(f"bench-br-{n}", f"{word}第{n}党支部", "branch",
                                  street["path"], d["depth"] + 2, street["id"])
            pairings.append((loader.next_id("pairings"), bid, uid, now.date(), None))
            add_user(f"bench_sec_{n}", f"支部书记{n}", bid,
                     [("branch_secretary", bid), ("volunteer", bid)])
            for v in range(3):
                street["volunteers"].append(add_user(
                    f"bench_vol_{n}_{v}", f"志愿者{n}-{v}", bid, [("volunteer", bid)]))
    for n in range(scale.workers):
        street = city.streets[n % n_streets]
        street["workers"].append(add_user(f"bench_w{n}", f"职工{n}", street["ent"],
                                          [("worker", street["ent"])]))
    log(f"made {len(units):,} units, {len(users):,} people in memory", t0)

    t0 = time.perf_counter()
    loader.load("org_units", ["id", "code", "name", "name_en", "kind", "parent_id", "path",
                              "depth", "active", "created_at"], units)
    loader.load("stations", ["unit_id", "district_id", "address", "landmark",
                             "opening_hours", "phone", "has_water", "has_toilet",
                             "has_microwave", "charging_piles", "car_parking",
                             "motorcycle_parking", "is_open"], stations)
    loader.load("pairings", ["id", "branch_id", "station_id", "since", "ended_on"], pairings)
    log(f"loaded {len(units):,} units, {len(stations):,} stations", t0, len(units))
    t0 = time.perf_counter()
    n = loader.load("users", ["id", "username", "display_name", "password_hash", "email",
                              "phone", "locale", "active", "session_token", "unit_id",
                              "created_at", "last_login_at"], users)
    n += loader.load("memberships", ["id", "user_id", "unit_id", "role", "created_at"],
                     memberships)
    log(f"loaded {len(users):,} people, {len(memberships):,} roles", t0, n)

    t0 = time.perf_counter()
    slots, day0 = [], datetime.now(timezone.utc).replace(hour=1, minute=0, second=0,
                                                          microsecond=0)
    for n in range(scale.slots):
        st = city.stations[n % len(city.stations)]
        starts = day0 + timedelta(days=(n // len(city.stations)) - 300)
        sid = loader.next_id("duty_slots")
        slots.append((sid, st["id"], starts, starts + timedelta(hours=8), 2, st["head"]))
        city.slots.append({"id": sid, "station": st, "starts": starts})
    loader.load("duty_slots", ["id", "station_id", "starts_at", "ends_at", "capacity",
                               "published_by_id"], slots)
    log(f"loaded {len(slots):,} duty slots", t0, len(slots))
    return city


# --- instances ---------------------------------------------------------------------

def plan(templates: dict, scale: Scale) -> list[tuple[Template, int]]:
    """How many clones of which template, so the history rows add up to the target."""
    def pick(process, *wanted):
        found = [(templates[k], w) for k, w in wanted if k in templates]
        total = sum(w for _, w in found) or 1
        return [(t, w / total) for t, w in found] if found else []

    wishes = pick("micro_wish", (("micro_wish", "withdrawn", ""), 0.7),
                  (("micro_wish", "running", "wall"), 0.2),
                  (("micro_wish", "running", "verify"), 0.1))
    noms = pick("retreat_nomination", (("retreat_nomination", "running", "publicity"), 1))
    duties = pick("station_master", (("station_master", "completed", ""), 1))
    demands = pick("worker_demand", (("worker_demand", "withdrawn", ""), 0.8),
                   (("worker_demand", "running", "dispatch"), 0.08),
                   (("worker_demand", "running", "acknowledge"), 0.06),
                   (("worker_demand", "running", "answer"), 0.06))
    out = []
    for group, count in ((wishes, scale.wishes), (noms, scale.nominations),
                         (duties, max(1, int(scale.slots * scale.history / CITY.history)))):
        out += [(t, max(1, round(count * share))) for t, share in group]
    used = sum(t.history_rows * n for t, n in out)
    left = max(0, scale.history - used)
    per = sum(t.history_rows * share for t, share in demands) or 1
    out += [(t, max(1, round(left / per * share))) for t, share in demands]
    return out


def clone_all(loader: Loader, city: City, templates: list[tuple[Template, int]],
              rng: random.Random) -> None:
    from webapp.services import instance_columns

    now = datetime.now(timezone.utc)
    instances, tasks, assignees, history = [], [], [], []
    # A running wish or nomination is "one per applicant": hand workers out once each.
    pools = {s["id"]: list(s["workers"]) for s in city.streets}
    for p in pools.values():
        rng.shuffle(p)
    counts = {"instances": 0, "tasks": 0, "task_assignees": 0, "history": 0}

    def flush():
        loader.load("instances", INSTANCE_COLUMNS, instances)
        loader.load("tasks", ["id", "instance_id"] + TASK_COLUMNS, tasks)
        loader.load("task_assignees", ["task_id", "user_id"], assignees)
        loader.load("history", ["id", "instance_id"] + HISTORY_COLUMNS, history)
        for name, rows in (("instances", instances), ("tasks", tasks),
                           ("task_assignees", assignees), ("history", history)):
            counts[name] += len(rows)
            rows.clear()

    slot_cursor = 0
    for tpl, n in templates:
        t0 = time.perf_counter()
        tpl_start = tpl.instance["created_at"]
        running = tpl.instance["status"] == "running"
        for _ in range(n):
            if tpl.slot_id is not None:
                slot = city.slots[slot_cursor % len(city.slots)]
                slot_cursor += 1
                station = slot["station"]
                street = station["street"]
                applicant = rng.choice(street["volunteers"] or street["workers"])
                started = slot["starts"] - timedelta(days=6)
            else:
                street = rng.choice(city.streets)
                station = rng.choice(street["stations"]) if street["stations"] else \
                    rng.choice(city.stations)
                pool = pools[street["id"]]
                applicant = pool.pop() if (running and pool) else rng.choice(street["workers"])
                started = now - timedelta(days=rng.uniform(1, 30) if running
                                          else rng.uniform(30, 330), minutes=rng.randint(0, 600))
            district = street["district"]
            shift = started - tpl_start
            iid = loader.next_id("instances")
            users = {}
            for uid, role in tpl.roles.items():
                users[uid] = {"applicant": applicant, "station_head": station["head"],
                              "unit_admin": street["admin"], "district_admin": district["admin"],
                              "city_admin": city.city_admin,
                              "volunteer": rng.choice(street["volunteers"]) if street[
                                  "volunteers"] else uid}.get(role, uid)
            units, paths = {}, {}
            for unit_id, kind in tpl.unit_kinds.items():
                new = {"station": (station["id"], station["path"]),
                       "district": (district["id"], district["path"]),
                       "street": (street["id"], street["path"]),
                       "enterprise": (street["ent"], street["ent_path"])}.get(kind)
                if new:
                    units[unit_id], paths[unit_id] = new
            state = _rewrite(tpl.state, users, units, shift)
            state["instance_id"] = iid
            state["applicant_unit"] = street["ent"]
            unique_key = tpl.instance["unique_key"]
            if tpl.slot_id is not None:
                state["data"]["slot"] = slot["id"]
                unique_key = f"slot:{slot['id']}"
                state["unique_key"] = unique_key if state.get("unique_key") else None
            for timer in state.get("timers", []):
                timer["key"] = f"{iid}:{timer['key'].split(':', 1)[1]}"
            active_key = None
            if tpl.instance["active_key"]:
                active_key = f"{tpl.instance['process_key']}|{applicant}" + (
                    f"|{unique_key}" if unique_key else "")

            def moved(value):
                return value + shift if value is not None else None

            instances.append((
                iid, tpl.instance["version_id"], tpl.instance["process_key"], applicant,
                street["ent"], street["ent_path"], tpl.instance["status"],
                tpl.instance["steps"], (state.get("data") or {}).get("title") or
                tpl.instance["title"], unique_key, active_key, json.dumps(state),
                tpl.instance["lock_version"], moved(tpl.instance["created_at"]),
                moved(tpl.instance["updated_at"]), moved(tpl.instance["closed_at"]),
                instance_columns.station_of(state.get("data") or {}),
                instance_columns.category_of(state.get("data") or {}),
                station["path"] if instance_columns.station_of(state.get("data") or {})
                == station["id"] else None))
            for task in tpl.tasks:
                tid = loader.next_id("tasks")
                pool_unit = task["pool_unit_id"]
                tasks.append((tid, iid, task["key"], task["step"], task["kind"],
                              task["status"], task["outcome"], task["pool_role"],
                              units.get(pool_unit, pool_unit),
                              paths.get(pool_unit, task["pool_unit_path"]),
                              task["pool_within"], task["pool_anyone"], moved(task["due_at"]),
                              moved(task["opened_at"]), moved(task["closed_at"])))
                assignees.extend((tid, users.get(u, u)) for u in
                                 dict.fromkeys(users.get(u, u) for u in tpl.assignees[task["id"]]))
            for h in tpl.history:
                data = h["data"]
                history.append((
                    loader.next_id("history"), iid, h["seq"], h["at"] + shift,
                    users.get(h["actor_id"], h["actor_id"]), h["action"], h["step"],
                    h["task_key"], h["comment"],
                    json.dumps(_rewrite(data, users, units, shift)) if data is not None
                    else None))
            if len(history) >= 100_000:
                flush()
        flush()
        key = f"{tpl.instance['process_key']} {tpl.instance['status']} {tpl.instance['steps']}"
        log(f"cloned {n:,} × {key.strip()} ({tpl.history_rows} history rows each)", t0,
            n * (1 + tpl.history_rows))
    print("  totals: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()), flush=True)


INSTANCE_COLUMNS = ["id", "version_id", "process_key", "applicant_id", "unit_id", "unit_path",
                    "status", "steps", "title", "unique_key", "active_key", "state",
                    "lock_version", "created_at", "updated_at", "closed_at",
                    # what workflow._save copies from the form data (instance_columns.py)
                    "station_id", "category", "station_path"]


# --- the command -------------------------------------------------------------------

def empty_database(app) -> None:
    """Drop everything, so the migrations build the schema from nothing."""
    from sqlalchemy import text

    from webapp.extensions import db

    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            db.drop_all()
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()


def generate(app, scale: Scale, *, fresh: bool = True, seed: int = 2026) -> dict[str, int]:
    """Build the data set in the app's database; returns the rows loaded per table."""
    import flask_migrate

    from webapp.extensions import db

    rng = random.Random(seed)
    started = time.perf_counter()
    if fresh:
        t0 = time.perf_counter()
        empty_database(app)
        with app.app_context():
            flask_migrate.upgrade()
        log("schema by the migrations", t0)
    with app.app_context():
        t0 = time.perf_counter()
        seed_demo()
        make_closed_examples()
        templates = load_templates()
        log(f"demo seeded through the services, {len(templates)} templates", t0)
        loader = Loader(db.engine)
        city = build_city(loader, scale, rng)
        clone_all(loader, city, plan(templates, scale), rng)
        t0 = time.perf_counter()
        loader.finish()
        log("sequences set, ANALYZE", t0)
        db.session.remove()
    print(f"done in {time.perf_counter() - started:.1f} s", flush=True)
    return loader.rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--fresh", action="store_true",
                        help="empty the database and build it by the migrations first")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    # The demo's e-mails stay queued: no job runs while the bulk load writes.
    os.environ.pop("REDIS_URL", None)
    os.environ["UNIONFLOW_EMBEDDED_WORKER"] = "false"
    os.environ.setdefault("DEMO_PASSWORD", PASSWORD)

    from webapp import create_app

    app = create_app()
    app.config["SWEEP_INTERVAL"] = None
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    scale = SCALES[args.scale]
    print(f"generate --scale {args.scale}: {scale}")
    print(f"database: {url.split('@')[-1]}  cpus: {os.cpu_count()}  "
          f"load average: {os.getloadavg()[0]:.2f}", flush=True)
    if not args.fresh:
        print("(adding to the existing data: use --fresh for a clean database)")
    rows = generate(app, scale, fresh=args.fresh, seed=args.seed)
    print("rows loaded: " + ", ".join(f"{n:,} {t}" for t, n in rows.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
