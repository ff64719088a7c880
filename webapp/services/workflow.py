"""Running the engine against the database: publish definitions, start instances, act.

Every write locks the instance row (``SELECT … FOR UPDATE``: ``lock_instance``, or the
view's read of the task with its request, ``access.task_for(lock=True)``), hands the
stored state to the pure engine, and saves what comes back — state, inbox index, timers,
history and notifications — in the caller's transaction.  Jobs that follow (deliveries)
are queued only after that transaction commits; timers are rows that every worker's
sweep fires when due (``fire_due_timers``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from flask import current_app
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import (and_, bindparam, column, event, insert, or_, select, text, tuple_,
                        update)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, joinedload, selectinload
from sqlalchemy.orm.attributes import NO_VALUE, set_committed_value

from webapp.database import loaded, rows_document, write_lock
from webapp.extensions import db
from webapp.models import Notification, User
from webapp.models.workflow import (DefinitionVersion, HistoryEntry, Instance, Submission,
                                    ProcessDefinition, Task, TaskAssignee, Timer)
from webapp.services import audit, instance_columns, org_cache, outbox
from webapp.services.directory import DbDirectory
from webapp.services.display import english_title, instance_title, title_inputs
from workflows import correction, engine
from workflows.effects import Announce, Notify, Promoted
from workflows.errors import Conflict, DefinitionError, NotFound, WorkflowError
from workflows.kinds.reserve import prefixes_meet, resource_prefixes
from workflows.loader import check_units, load_text, spec_digest
from workflows.problems import Problem
from workflows.runtime import SYSTEM, Action
from workflows.spec import ProcessSpec
from workflows.state import InstanceState

DEFINITIONS_DIR = Path(__file__).resolve().parents[2] / "workflows" / "definitions"
# Promotions cascade (a promoted instance may free or take other places); bound the chain.
MAX_CASCADE = 50


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class DefinitionProblems(DefinitionError):
    """A definition that did not validate; ``problems`` says every reason with its line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        zh = "\n".join(_where(p) + p.text("zh") for p in problems)
        en = "\n".join(str(p) for p in problems)
        super().__init__(f"流程定义有误：\n{zh}", f"The definition has problems:\n{en}")


def _where(problem: Problem) -> str:
    """``micro_wish.yaml 第 12 行：`` — where a problem is, for the Chinese message."""
    return f"{problem.file} 第 {problem.line} 行：" if problem.line else f"{problem.file}："


# ---------------------------------------------------------------------------- definitions

@dataclass(frozen=True)
class Published:
    version: DefinitionVersion
    created: bool


# Specs parsed in this process by their content digest (what an instance's state names):
# acting on an instance then needs no read of its definition's text.
_BY_DIGEST: dict[str, ProcessSpec] = {}


@lru_cache(maxsize=128)
def _parse(source: str, filename: str) -> ProcessSpec:
    # Keyed by the text itself: a cache hit is always the same definition.
    spec, problems = load_text(source, filename)
    if spec is None or problems:
        raise DefinitionProblems(problems)
    if len(_BY_DIGEST) >= 256:
        _BY_DIGEST.clear()
    _BY_DIGEST[spec.digest] = spec
    return spec


def spec_of(version: DefinitionVersion) -> ProcessSpec:
    # A version's digest is its content's (``spec_digest``): one parsed already is used
    # without reading the text (``_newest_version`` leaves it unread until needed).
    spec = _BY_DIGEST.get(version.digest)
    if spec is not None:
        return spec
    return _parse(version.source, version.filename or f"{version.definition.key}.yaml")


def spec_of_instance(instance: Instance) -> ProcessSpec:
    """The spec an instance runs on: by the digest its state carries (the same content
    is the same definition), else read from its version."""
    digest = instance.state.get("definition_digest") if isinstance(instance.state, dict) \
        else None
    spec = _BY_DIGEST.get(digest) if digest else None
    return spec if spec is not None else spec_of(instance.version)


def validate_text(text: str, filename: str) -> tuple[ProcessSpec | None, list[Problem]]:
    """Parse and check a definition, including that the units it names exist."""
    spec, problems = load_text(text, filename)
    if spec is not None and not problems:
        problems = check_units(spec, DbDirectory()) + check_resources(spec)
    return spec, problems


def check_resources(spec: ProcessSpec) -> list[Problem]:
    """A reserve resource whose prefix another running process's reserve step uses:
    the two would share places and a waiting list (a withdrawal in one promoting a
    request of the other)."""
    mine = resource_prefixes(spec)
    if not mine:
        return []
    problems = []
    for other in db.session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.key != spec.key, ProcessDefinition.retired.is_(False))
            .order_by(ProcessDefinition.key)):
        if other.latest is None:
            continue
        theirs = [p for p, _ in resource_prefixes(spec_of(other.latest))]
        for prefix, line in mine:
            if any(prefixes_meet(prefix, taken) for taken in theirs):
                shown = f"{prefix}…"
                problems.append(Problem(
                    spec.file, line,
                    f"the reserve resource '{shown}' is already used by the process "
                    f"'{other.name_en or other.name}' ({other.key}): choose another prefix",
                    f"名额资源“{shown}”已被流程“{other.name}”（{other.key}）使用，请换一个前缀"))
    return problems


def publish_text(text: str, filename: str, actor: User | None = None) -> Published:
    """Publish a definition: a new version if it changed, else the current one."""
    with write_lock():
        return _publish_text(text, filename, actor)


def _publish_text(text: str, filename: str, actor: User | None) -> Published:
    spec, problems = validate_text(text, filename)
    if spec is None or problems:
        raise DefinitionProblems(problems)
    definition = db.session.scalar(select(ProcessDefinition).where(
        ProcessDefinition.key == spec.key).with_for_update())
    if definition is None:
        definition = ProcessDefinition(key=spec.key, name=spec.name, name_en=spec.name_en)
        db.session.add(definition)
        db.session.flush()
    latest = definition.latest
    digest = spec_digest(text)
    if latest is not None and latest.digest == digest:
        return Published(latest, created=False)
    definition.name, definition.name_en = spec.name, spec.name_en
    version = DefinitionVersion(definition=definition, digest=digest, source=text,
                                filename=Path(filename).name,
                                version=(latest.version + 1) if latest else 1,
                                published_by_id=actor.id if actor else None)
    db.session.add(version)
    db.session.flush()
    audit.record(actor, "definition.publish", version,
                 {"version": latest.version if latest else None},
                 # not "digest": the log drops that name everywhere (a token's digest)
                 {"key": spec.key, "version": version.version, "content_digest": digest})
    return Published(version, created=True)


def publish_file(path: str | Path, actor: User | None = None) -> Published:
    path = Path(path)
    return publish_text(path.read_text(encoding="utf-8"), str(path), actor)


def set_retired(process_key: str, retired: bool, actor: User | None = None) -> ProcessDefinition:
    """Retire a process (no new starts; running requests finish on their version), or
    bring a retired one back."""
    definition = db.session.scalar(select(ProcessDefinition).where(
        ProcessDefinition.key == process_key).with_for_update())
    if definition is None:
        raise NotFound("找不到该流程", f"No process {process_key!r}", code="no_process")
    if definition.retired != retired:
        audit.record(actor, "definition.retire" if retired else "definition.reinstate",
                     definition, {"retired": definition.retired}, {"retired": retired})
        definition.retired = retired
        db.session.flush()
    return definition


def shipped_definitions() -> list[Path]:
    return sorted(DEFINITIONS_DIR.glob("*.yaml"))


def _newest_version(process_key: str) -> tuple[DefinitionVersion, ProcessDefinition] | None:
    """The process's newest version and the process, in one query (not every version's
    text, as ``definition.latest`` reads them)."""
    row = db.session.execute(
        select(DefinitionVersion, ProcessDefinition)
        .join(ProcessDefinition, ProcessDefinition.id == DefinitionVersion.definition_id)
        .where(ProcessDefinition.key == process_key)
        .order_by(DefinitionVersion.version.desc()).limit(1)
        .options(defer(DefinitionVersion.source))).first()
    return (row[0], row[1]) if row is not None else None


def current_version(process_key: str) -> DefinitionVersion:
    newest = _newest_version(process_key)
    if newest is None or newest[1].retired:
        raise NotFound("找不到该流程", f"No process {process_key!r}", code="no_process")
    return newest[0]


def open_request_of(spec: ProcessSpec, user: User) -> int | None:
    """The request of ``spec`` that ``user`` still has open, when the process allows one
    at a time (``one_active_per_applicant``): a second cannot be started until it ends —
    said before the form is filled in, not after."""
    if not spec.start.one_active_per_applicant:
        return None
    from webapp.services.directory import open_requests

    return db.session.scalar(open_requests(spec.key, user.id)
                             .order_by(Instance.id.desc()).limit(1))


def latest_version(process_key: str) -> DefinitionVersion:
    """The newest version whether or not the process is retired: for reading its labels
    (a retired process's requests still run and are still listed)."""
    newest = _newest_version(process_key)
    if newest is None:
        raise NotFound("找不到该流程", f"No process {process_key!r}", code="no_process")
    return newest[0]


def startable_processes(user: User) -> list[tuple[ProcessDefinition, ProcessSpec]]:
    """The published, not retired processes ``user`` may start."""
    directory = DbDirectory()
    out = []
    for definition in db.session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.retired.is_(False)).order_by(ProcessDefinition.id)):
        if definition.latest is None:
            continue
        spec = spec_of(definition.latest)
        if engine.can_start(spec, user.id, directory) \
                or engine.can_start_for_others(spec, user.id, directory):
            out.append((definition, spec))
    return out


def starts_for_others(spec: ProcessSpec, user: User) -> bool:
    """Whether ``user`` may start ``spec`` for other people (``start.on_behalf``): the
    start form then asks for whom."""
    return engine.can_start_for_others(spec, user.id, DbDirectory())


def applicants_for(spec: ProcessSpec, starter: User, *, limit: int = 300) -> list[User]:
    """The people ``starter`` may start ``spec`` for (the start form's suggestions): the
    active users of the units at and below those where the starter holds a role
    ``start.on_behalf`` names, whom the engine lets them start it for."""
    from webapp.models import Membership, OrgUnit
    from webapp.models.org import subtree_range

    roles = {rule.role for rule in spec.start.on_behalf}
    paths = [unit.path for membership in starter.memberships
             if membership.role in roles and (unit := db.session.get(OrgUnit, membership.unit_id))]
    if not paths:
        return []
    query = (select(User).join(OrgUnit, User.unit_id == OrgUnit.id)
             .where(User.active.is_(True), User.id != starter.id,
                    or_(*(subtree_range(OrgUnit.path, path) for path in paths)))
             .order_by(OrgUnit.path, User.username).limit(limit * 2))
    who = {rule.role for rule in spec.start.who if rule.role}
    if who:
        query = query.where(User.id.in_(select(Membership.user_id)
                                        .where(Membership.role.in_(who))))
    directory = DbDirectory()
    return [person for person in db.session.scalars(query)
            if engine.start_for_refusal(spec, starter.id, person.id, directory) is None][:limit]


def applicant_for(spec: ProcessSpec, starter: User, username: str) -> User:
    """The person named ``username`` whom ``starter`` starts ``spec`` for; NotFound (no
    such active user) or NotAllowed (the engine's reason) otherwise."""
    from webapp.services.users import find_user

    person = find_user(username.strip()) if isinstance(username, str) else None
    if person is None or not person.active:
        raise NotFound("找不到该用户，请核对用户名", "No such user; check the username",
                       code="no_user")
    refusal = engine.start_for_refusal(spec, starter.id, person.id, DbDirectory())
    if refusal is not None:
        raise refusal
    return person


def may_start(user: User, process_key: str) -> bool:
    """Whether ``user`` may start ``process_key`` now (published, not retired): the check
    the start page guards with, for showing a link to it."""
    try:
        version = current_version(process_key)
    except NotFound:
        return False
    return engine.can_start(spec_of(version), user.id, DbDirectory())


# ---------------------------------------------------------------------------- instances

# What a start form (or an API client's Idempotency-Key) may carry as its one-time key.
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")


class AlreadySubmitted(Exception):
    """This very start form was sent before and started ``instance_id``."""

    def __init__(self, instance_id: int):
        super().__init__(instance_id)
        self.instance_id = instance_id


def submission_key(applicant_id: int, nonce: str | None) -> str | None:
    """The key a start is recorded under: the person's own (two people's forms never
    collide), None for a missing or malformed nonce (the start is then not guarded)."""
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        return None
    return f"{applicant_id}:{nonce}"


def submitted(key: str | None) -> int | None:
    """The request a start form with ``key`` started already, if any."""
    if key is None:
        return None
    return db.session.scalar(select(Submission.instance_id).where(Submission.key == key))


def submission_fingerprint(key: str) -> str | None:
    """What the start recorded under ``key`` sent (``Submission.fingerprint``)."""
    return db.session.scalar(select(Submission.fingerprint).where(Submission.key == key))


def start_instance(process_key: str, applicant: User, data: Mapping[str, Any] | None,
                   *, now: datetime | None = None,
                   version: DefinitionVersion | None = None,
                   submission: str | None = None,
                   fingerprint: str | None = None,
                   by: User | None = None) -> Instance:
    """Start ``process_key`` for ``applicant``; engine errors leave nothing behind.

    ``version``: ``current_version(process_key)`` as the caller has just read it in this
    request (and checked ``data`` against its form) — started on that one, not read
    again.  ``submission``: the form's key (``submission_key``); if a start with it was
    made already (or is being made by a simultaneous request, which is waited for),
    ``AlreadySubmitted`` names that request and nothing is started.  ``fingerprint``:
    what an API client sent under that key, recorded with it.  ``by``: who filled the
    form in for ``applicant`` (the definition's ``start.on_behalf``), if not they."""
    with write_lock():
        return _start_instance(process_key, applicant, data, now, version, submission,
                               fingerprint, by)


def _start_instance(process_key, applicant, data, now, version, submission=None,
                    fingerprint=None, by=None):
    if version is None:
        version = current_version(process_key)
    spec = spec_of(version)
    now = now or utcnow()
    directory = DbDirectory()
    unit = directory.unit_row(applicant.unit_id) if applicant.unit_id else None
    try:
        with db.session.begin_nested():  # a refusal rolls back the row and any places
            instance = Instance(version=version, process_key=spec.key,
                                applicant_id=applicant.id, unit_id=unit.id if unit else None,
                                unit_path=unit.path if unit else "", state={},
                                status="starting",
                                created_at=now, updated_at=now)
            db.session.add(instance)
            db.session.flush()
            if submission is not None:
                # First, so a simultaneous sending of the same form waits here for this
                # one — before it takes any place or quota — and is then shown it.
                db.session.add(Submission(key=submission, instance_id=instance.id,
                                          created_at=now, fingerprint=fingerprint))
                db.session.flush()
            state, effects = engine.start(spec, applicant.id, data, now, directory,
                                          instance_id=instance.id,
                                          by=by.id if by is not None else None)
            _save(instance, spec, None, state, effects, directory, now)
    except IntegrityError as exc:
        if "submissions" in str(exc.orig):
            # The same form, sent again while the first was being saved: the database
            # made this one wait for the first, whose request it is shown.
            first = submitted(submission)
            if first is not None:
                raise AlreadySubmitted(first) from None
            raise
        if "active_key" not in str(exc.orig):
            raise
        # Another request of the same applicant started one a moment ago.
        raise Conflict(f"您已有一个进行中的“{spec.name}”，请办结后再提交",
                         f"You already have an open '{spec.name_en or spec.name}'",
                         code="already_active") from None
    return instance


# Instances whose row this transaction has locked already (with ``LOCKED_LOAD``: the
# view read the task with its request FOR UPDATE): the step uses that row, no second read.
_LOCKED = "instances_locked"
# What a query that locks an instance row loads with it, as ``lock_instance`` does.
LOCKED_LOAD = (joinedload(Instance.version).defer(DefinitionVersion.source),
               joinedload(Instance.applicant))


# Task rows this transaction's steps inserted: (instance id, task key) → (row id, the
# instance's version after that step).  The answer to a step lists the open tasks from
# the state and these ids when it has them all, without reading the rows back.
_OPENED = "tasks_opened"


@event.listens_for(Session, "after_transaction_end")
def _forget_locked(session: Session, transaction) -> None:
    if transaction.parent is None:  # committed or rolled back: the lock is gone
        session.info.pop(_LOCKED, None)
        session.info.pop(_OPENED, None)


@dataclass(frozen=True, slots=True)
class OpenTask:
    """An open task as the answer to a step shows it: what its row holds, from the
    state the step wrote and the id its INSERT returned.  Only these fields — not a
    ``Task`` (no assignees, pool or opening time): for showing, not for writing."""

    id: int
    instance_id: int
    key: str
    step: str
    kind: str
    due_at: datetime | None
    status: str = "open"


_OPEN_TASK_ROWS = (select(Task).where(Task.instance_id == bindparam("instance_id"),
                                      Task.status == "open").order_by(Task.id))


def open_task_rows(instance: Instance) -> list:
    """The instance's open tasks (``Task`` rows, or ``OpenTask``s with the same values
    when this transaction's step opened every one of them: nothing to read)."""
    opened = db.session.info.get(_OPENED)
    if opened:
        state = state_of(instance)
        found = [opened.get((instance.id, task.id)) for task in state.open_tasks]
        if all(row is not None and row[1] == instance.lock_version for row in found):
            due = _due_dates(state)
            return sorted((OpenTask(row[0], instance.id, task.id, task.step, task.kind,
                                    due.get(task.id))
                           for row, task in zip(found, state.open_tasks)),
                          key=lambda t: t.id)
    return list(db.session.scalars(_OPEN_TASK_ROWS, {"instance_id": instance.id}))


def note_locked(instance: Instance) -> None:
    """``instance`` was just read with its row locked (FOR UPDATE, with ``LOCKED_LOAD``)
    and the organisation's generation in this transaction: ``lock_instance`` takes it as
    it is."""
    db.session.info.setdefault(_LOCKED, set()).add(instance.id)


def _already_locked(instance_id: int) -> Instance | None:
    if instance_id not in db.session.info.get(_LOCKED, ()):
        return None
    return loaded(Instance, instance_id)


# Built once; the id comes as a parameter.
_LOCK_INSTANCE = (select(Instance, org_cache.generation_column())
                  .where(Instance.id == bindparam("instance_id"))
                  .options(*LOCKED_LOAD)
                  .with_for_update(of=Instance)
                  .execution_options(populate_existing=True))


def lock_instance(instance_id: int) -> Instance:
    # populate_existing: a copy of the row this session read earlier (the view's access
    # check, a page) is replaced by the locked row — else a decision committed by
    # someone else in between would be overwritten with the stale state.
    # The version (without its text) and the applicant come in the same query: the
    # answer to the request shows both.  Only the instance's row is locked.
    # The organisation's generation comes with it: the step's directory uses this
    # process's copy of the organisation if it is current (``org_cache``), no query.
    held = _already_locked(instance_id)
    if held is not None:
        return held
    row = db.session.execute(_LOCK_INSTANCE, {"instance_id": instance_id}).first()
    if row is None:
        raise NotFound("找不到该申请", "No such request", code="no_instance")
    org_cache.note_generation(row[1])
    return row[0]


def perform(instance_id: int, action: Action, actor: User | None, *,
            now: datetime | None = None, _depth: int = 0) -> Instance:
    """Do ``action`` on the instance as ``actor`` (None: the system, for timers).

    The row lock makes a second, simultaneous decision wait for the first and then see
    its result: the engine answers it with ``AlreadyDecided`` or ``Conflict`` (409).
    """
    now = now or utcnow()
    # Read before the lock: on SQLite taking it commits the read transaction, which
    # expires ``actor``, and its id would cost a query to read back.
    actor_id = actor.id if actor is not None else SYSTEM
    with write_lock():
        return _perform(instance_id, action, actor_id, now, _depth)


def dated_timers(instance: Instance) -> dict[str, datetime]:
    """The request's timers that a date may have set (a step waiting until it, a time-out
    until it), by key: those a ``retime`` may move."""
    return {t.key: t.at for t in state_of(instance).timers
            if t.purpose in ("wait", "timeout")}


def retime(instance_ids, now: datetime | None = None) -> set[int]:
    """A date running requests wait for moved (a course's, a retreat batch's): each of
    them with such a timer is handed to the engine's ``retime``, whose timers follow the
    new date — the history says so, the applicant is told.  Returns the ids of those
    whose timers moved.  One waiting for nothing dated is left alone; one that ended
    meanwhile is passed over.  In the caller's transaction, one savepoint each."""
    moved = set()
    for instance_id in instance_ids:
        before = dated_timers(db.session.get(Instance, instance_id))
        if not before:
            continue
        try:
            with db.session.begin_nested():
                instance = perform(instance_id, Action("retime"), None, now=now)
        except WorkflowError:
            continue
        if dated_timers(instance) != before:
            moved.add(instance_id)
    return moved


def _perform(instance_id: int, action: Action, actor_id, now: datetime,
             _depth: int) -> Instance:
    instance = lock_instance(instance_id)
    # A write that read an older version of the instance must not overwrite a newer one.
    if action.expected_version is not None and action.expected_version != instance.lock_version:
        raise Conflict("该申请已被他人处理或更新，请刷新后查看最新状态",
                       "Someone else has already acted on this request; reload to see it",
                       code="stale")
    spec = spec_of_instance(instance)
    state = state_of(instance)
    directory = DbDirectory(
        {instance.unit_id: instance.unit_path} if instance.unit_id else None,
        current_version=lambda: latest_version(instance.process_key).id == instance.version_id)
    try:
        new_state, effects = engine.act(spec, state, action, actor_id, now, directory)
    except BaseException:
        directory.undo_writes()  # a refusal gives back any place it took
        raise
    directory.keep_writes()
    # No savepoint around the save (two statements a step): if it fails, the caller's
    # transaction is rolled back whole, as every caller does on an error.
    _save(instance, spec, state, new_state, effects, directory, now, _depth)
    return instance


def _save(instance: Instance, spec: ProcessSpec, old: InstanceState | None,
          new: InstanceState, effects: list, directory: DbDirectory, now: datetime,
          depth: int = 0) -> None:
    instance.state = new.to_dict()
    instance.__dict__[_PARSED] = (instance.state, new)  # what state_of would parse from it
    instance.status = new.status
    instance.steps = ",".join(new.current)
    instance.lock_version = new.version
    instance.unique_key = new.unique_key
    instance.active_key = None if new.finished else _active_key(spec, new)
    instance.updated_at = now
    instance.closed_at = new.ended_at
    instance_columns.fill(instance, new.data, directory)
    # Made again only when what it is made from changed (a resubmitted return): a step
    # that leaves the data alone costs nothing for it.
    if not instance.title or old is None \
            or title_inputs(spec, old.data) != title_inputs(spec, new.data):
        instance.title = instance_title(spec, new.data, directory)
        instance.title_en = english_title(spec, new.data, instance.title, directory)
    batch = _Batch() if db.session.get_bind().dialect.name == "postgresql" else None
    _append_history(instance, old, new, batch)
    _sync_tasks(instance, new, old, batch)
    _sync_timers(instance, new, old, batch)
    notes = [_notification(spec, effect, now) for effect in effects
             if isinstance(effect, Notify)]
    handled = handled_messages(old, new, now)
    if batch is not None:
        # The in-app notifications go in the step's statement too (PostgreSQL), which
        # gives back the people they went to; their outbox rows are planned from those.
        # So does marking read the messages about tasks this step took off someone.
        batch.notes, batch.handled = notes, handled
        batch.send(instance)
    db.session.flush()
    if batch is None and handled:
        _mark_handled(instance, handled)
    # This step's notifications (and their outbox rows) first, on either database, then
    # the steps it causes on other requests (a waiting list's next person promoted).
    # One event may reach 1,000 people: either way the notifications are one INSERT …
    # SELECT whose only per-person part is the list of ids (no ORM objects), and the
    # outbox writes its rows the same way.
    if batch is not None:
        for recipients, fields, people in batch.noted:
            outbox.plan_written(recipients, people, instance, now, **fields)
    else:
        for note in notes:
            _notify(instance, note, now)
    # A step that tells nobody — its only recipient was its actor (an applicant's
    # withdrawal of a request nobody else held) — still reaches the unit's group chat,
    # once; one that tells someone reached it with their messages.
    if not any(recipients for recipients, _ in notes):
        event = next((e for e in effects if isinstance(e, Announce)), None)
        if event is not None:
            outbox.announce(instance, now, **_notification(spec, event, now)[1])
    for effect in effects:
        if isinstance(effect, Promoted) and effect.instance != instance.id:
            if depth >= MAX_CASCADE:
                raise Conflict(en="too many promotions in one step")
            perform(effect.instance, Action("promote"), None, now=now, _depth=depth + 1)
    outbox.queue_new()


# Messages that ask their reader to do something about a task (its ``task_key``): done
# with — marked read — once the task is no longer open for that reader, whoever closed
# it (decided, claimed, withdrawn, cancelled, timed out) or took it off them (handed on,
# reassigned, their vote cast).  News (claimed, promoted, a comment, an ending) stays
# unread until its reader opens the request (``webapp.notifications.read_about``).
TASK_MESSAGES = ("task_assigned", "sent_back", "reminder", "urged", "escalated",
                 "escalated_watch", "stalled", "returned")


def handled_messages(old: InstanceState | None, new: InstanceState,
                     now: datetime) -> list[dict]:
    """Which task messages the step from ``old`` to ``new`` is done with, as rows
    ``{"key", "at"}`` (everyone's about that task: it closed), ``{"key", "user_id",
    "at"}`` (one person's: no longer theirs, or their part decided) or ``{"key", "kind":
    "stalled", "at"}`` (a stalled task has someone again: the administrators' call to
    reassign it is answered)."""
    if old is None:
        return []
    before = {task.id: task for task in old.tasks if task.open}
    if not before:
        return []
    rows: list[dict] = []
    for task in new.tasks:
        was = before.get(task.id)
        if was is None or was is task or was == task:
            continue
        if not task.open:
            rows.append({"key": task.id, "at": now})
            continue
        rows += [{"key": task.id, "user_id": person, "at": now} for person in was.assignees
                 if isinstance(person, int) and was.decided_by(person) is None
                 and (person not in task.assignees or task.decided_by(person) is not None)]
        if was.stalled and not task.stalled:
            rows.append({"key": task.id, "kind": "stalled", "at": now})
    return rows


_NOTES = Notification.__table__


def _mark_handled(instance: Instance, handled: list[dict]) -> None:
    """The statement-per-write path of ``handled_messages`` (SQLite; PostgreSQL marks
    them in the step's statement): one UPDATE."""
    n = _NOTES
    which = []
    for row in handled:
        match = [n.c.task_key == row["key"]]
        if row.get("user_id") is not None:
            match.append(n.c.user_id == row["user_id"])
        if row.get("kind") is not None:
            match.append(n.c.kind == row["kind"])
        which.append(and_(*match))
    db.session.execute(update(n).where(
        n.c.instance_id == instance.id, n.c.read_at.is_(None),
        n.c.kind.in_(TASK_MESSAGES), or_(*which)).values(read_at=handled[0]["at"]))


def _active_key(spec: ProcessSpec, state: InstanceState) -> str | None:
    if spec.start.one_active_per_applicant:
        return f"{spec.key}|{state.applicant}"
    if state.unique_key is not None:
        return f"{spec.key}|{state.applicant}|{state.unique_key}"
    return None


_INSERT_HISTORY = insert(HistoryEntry.__table__)


def _append_history(instance: Instance, old: InstanceState | None, new: InstanceState,
                    batch: _Batch | None = None) -> None:
    first = len(old.history) if old else 0
    rows = []
    for seq, entry in enumerate(new.history[first:], start=first + 1):
        data = {}
        if entry.changes:
            data["changes"] = _plain(entry.changes)
        if entry.details:
            data["details"] = _plain(entry.details)
        rows.append({"instance_id": instance.id, "seq": seq, "at": entry.at,
                     "actor_id": entry.actor if isinstance(entry.actor, int) else None,
                     "action": entry.action, "step": entry.step, "task_key": entry.task,
                     "comment": entry.comment, "data": data or None})
    if rows and batch is not None:
        batch.history = rows
    elif rows:
        # Append-only lines nothing reads back in this step: one INSERT for all of them
        # (no ORM objects; every column given, so a missing comment or data is stored
        # exactly as the ORM stored it).
        db.session.execute(_INSERT_HISTORY, rows)
    audit.record_instance(instance, old, new)


def _plain(value):
    from workflows.state import thaw

    return thaw(value)


# The timers that are a task's deadline (its 期限): when it is escalated, times out, or
# closes by itself ("wait": the end of a notice's period (公示) or of a timer step).  A
# reminder is the deadline only of a task with none of these (an SLA of remind_after
# alone), as the reports count SLA breaches.
DEADLINE_PURPOSES = ("escalate", "timeout", "wait")


def _due_dates(state: InstanceState | None) -> dict[str, datetime]:
    due: dict[str, datetime] = {}
    reminders: dict[str, datetime] = {}
    for timer in state.timers if state is not None else ():
        if not timer.task:
            continue
        if timer.purpose in DEADLINE_PURPOSES:
            due[timer.task] = min(due.get(timer.task, timer.at), timer.at)
        elif timer.purpose == "remind":
            reminders[timer.task] = min(reminders.get(timer.task, timer.at), timer.at)
    for task, at in reminders.items():
        due.setdefault(task, at)
    return due


def _sync_tasks(instance: Instance, state: InstanceState,
                old: InstanceState | None = None, batch: _Batch | None = None) -> None:
    """Make the inbox index match the engine's tasks for this instance.

    Only tasks that changed in this step (or whose due date did) are written: the rows of
    the others already say what they say, as the step before saved them.
    """
    due = _due_dates(state)
    before = {t.id: t for t in old.tasks} if old is not None else {}
    due_before = _due_dates(old)
    # A deadline that passed (its escalation or reminder fired) stays the task's 期限
    # while nothing later replaces it: the inbox shows the task as overdue, not undated.
    still_open = {task.id for task in state.tasks if task.open}
    for task_id, at in due_before.items():
        if task_id not in due and task_id in still_open:
            due[task_id] = at
    changed = [task for task in state.tasks
               if before.get(task.id) != task or due_before.get(task.id) != due.get(task.id)]
    if not changed:
        return
    closing = [task for task in changed if task.id in before and not task.open]
    for task in closing:
        if batch is not None:
            batch.closing.append((task, due.get(task.id)))
        else:
            _close_task_row(instance, task, due.get(task.id))
    opening = [task for task in changed if task.id not in before and task.open]
    if opening and batch is not None:
        batch.opening.extend((task, due.get(task.id)) for task in opening)
    elif opening:
        _insert_task_rows(instance, opening, due)
    changed = [task for task in changed if task.id in before and task.open
               or task.id not in before and not task.open]
    if not changed:
        return
    known = [task.id for task in changed if task.id in before]
    rows = {t.key: t for t in db.session.scalars(
        select(Task).where(Task.instance_id == instance.id, Task.key.in_(known))
        .options(selectinload(Task.assignees)))} if known else {}
    for task in changed:
        row = rows.get(task.id)
        if row is None:
            row = Task(instance_id=instance.id, key=task.id, step=task.step, kind=task.kind,
                       opened_at=task.opened_at, assignees=[])
            db.session.add(row)
        row.status = "open" if task.open else "closed"
        row.outcome = task.outcome
        row.closed_at = task.closed_at
        # An open task changed steps after its deadline passed keeps the deadline.
        row.due_at = due.get(task.id, row.due_at if task.open else None)
        for name, value in _pool_columns(task).items():
            setattr(row, name, value)
        people = set(task.assignees) | set(task.claimed_by)
        current = {a.user_id for a in row.assignees}
        wanted = {p for p in people if isinstance(p, int)} if task.open else current
        for user_id in wanted - current:
            row.assignees.append(TaskAssignee(user_id=user_id))
        if task.open:
            for assignee in [a for a in row.assignees if a.user_id not in wanted]:
                row.assignees.remove(assignee)
        row.unheld = _unheld(task, row.pool_role, wanted)


def _pool_columns(task) -> dict:
    """The pool columns of a task's row.  A closed task keeps the pool it was offered to:
    whoever lost the race to claim it is told "claimed by someone else", not "no such
    task"; an open task claimed by someone is no longer offered."""
    pool = task.pool
    if pool is not None and (not task.claimed_by or not task.open):
        unit = DbDirectory().unit_row(pool.unit)  # read by the step already, or copied
        return {"pool_role": pool.role, "pool_unit_id": unit.id if unit else None,
                "pool_unit_path": unit.path if unit else None, "pool_within": pool.within,
                "pool_anyone": pool.anyone}
    return {"pool_role": None, "pool_unit_id": None, "pool_unit_path": None,
            "pool_anyone": False}


# Step kinds whose tasks are for named people (revise tasks always go to the applicant).
NAMED_KINDS = ("approval", "task")


def _unheld(task, pool_role, people) -> bool:
    """An open task for named people that nobody holds, or that is overdue with nobody
    above to escalate to (``stalled``): the administrators' list of tasks to reassign
    (``tasks.unheld``, read by a small partial index)."""
    return bool(task.open and task.kind in NAMED_KINDS and pool_role is None
                and (not people or task.stalled))


# The step's writes to the inbox index, built once (a statement built per call costs
# more Python than running it): their values come as parameters.
_INSERT_TASK = insert(Task.__table__).returning(Task.__table__.c.id)
_CLOSE_TASK = update(Task.__table__).where(
    Task.__table__.c.instance_id == bindparam("b_instance_id"),
    Task.__table__.c.key == bindparam("b_key"))


def _insert_task_rows(instance: Instance, tasks, due: dict) -> None:
    """Tasks this step opened: their rows and assignees by plain INSERTs (nothing in
    this step reads them back as objects)."""
    assignees = TaskAssignee.__table__
    for task in tasks:
        pool = _pool_columns(task)
        people = [p for p in dict.fromkeys([*task.assignees, *task.claimed_by])
                  if isinstance(p, int)]
        task_id = db.session.execute(_INSERT_TASK, dict(
            instance_id=instance.id, key=task.id, step=task.step, kind=task.kind,
            status="open", outcome=task.outcome, closed_at=task.closed_at,
            due_at=due.get(task.id), opened_at=task.opened_at,
            unheld=_unheld(task, pool["pool_role"], people), **pool)).scalar_one()
        db.session.info.setdefault(_OPENED, {})[(instance.id, task.id)] = (
            task_id, instance.lock_version)
        if people:
            db.session.execute(insert(assignees),
                               [{"task_id": task_id, "user_id": p} for p in people])


def _close_task_row(instance: Instance, task, due_at) -> None:
    """Write a task that this step closed, without reading its row: a closed task keeps
    its assignees and the pool it was offered to (whoever lost the race to claim it is
    told "claimed by someone else", not "no such task") — what ``_sync_tasks`` would set
    on the loaded row, in one UPDATE."""
    db.session.execute(_CLOSE_TASK, {
        "status": "closed", "outcome": task.outcome, "closed_at": task.closed_at,
        "due_at": due_at, "unheld": False, **_pool_columns(task),
        "b_instance_id": instance.id, "b_key": task.id})
    _expire_loaded(Task, instance.id, key=task.id)  # a plain UPDATE: a loaded copy is stale


def _expire_loaded(cls, instance_id: int, **match) -> None:
    """Rows of ``cls`` of this instance that the session holds were just written by a
    plain statement: expire them.  Only loaded values are compared, so no row is read
    (an already-expired copy reloads by itself)."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, cls):
            loaded = sa_inspect(obj).dict
            if loaded.get("instance_id") == instance_id and all(
                    loaded.get(name) == value for name, value in match.items()):
                db.session.expire(obj)


@lru_cache(maxsize=None)
def _arm_timers(dialect: str):
    """The upsert of armed timers for this database, built once (a key fired or
    cancelled earlier is armed again)."""
    table = Timer.__table__
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    return upsert.on_conflict_do_update(
        index_elements=[table.c.instance_id, table.c.key],
        set_={"status": "pending", "fire_at": upsert.excluded.fire_at, "fired_at": None,
              "purpose": upsert.excluded.purpose, "task_key": upsert.excluded.task_key})


# Timers a step dropped, cancelled (only those still pending).
_CANCEL_TIMERS = update(Timer.__table__).where(
    Timer.__table__.c.instance_id == bindparam("b_instance_id"),
    Timer.__table__.c.key.in_(bindparam("b_keys", expanding=True)),
    Timer.__table__.c.status == "pending").values(status="cancelled")


def _sync_timers(instance: Instance, state: InstanceState,
                 old: InstanceState | None = None, batch: _Batch | None = None) -> None:
    """Make the timer rows match the state's pending timers, from the two states alone:
    new or moved timers are upserted (a key fired or cancelled earlier is armed again),
    timers the step dropped are cancelled — no read of the rows first."""
    before = {t.key: t for t in old.timers} if old is not None else {}
    pending = {t.key: t for t in state.timers}
    armed = [ref for key, ref in pending.items()
             if key not in before or before[key].at != ref.at]
    dropped = [key for key in before if key not in pending]
    if not armed and not dropped:
        return
    if batch is not None:
        batch.armed, batch.dropped = armed, dropped
        return
    if armed:
        # A row is the whole alarm: every worker's sweep fires what is due (``sweep``),
        # so no job waits weeks in Redis for each reminder and time-out.
        db.session.execute(
            _arm_timers(db.session.get_bind().dialect.name),
            [{"instance_id": instance.id, "key": ref.key, "purpose": ref.purpose,
              "task_key": ref.task, "fire_at": ref.at, "status": "pending",
              "fired_at": None} for ref in armed])
    if dropped:
        db.session.execute(_CANCEL_TIMERS, {"b_instance_id": instance.id, "b_keys": dropped})
    _expire_loaded(Timer, instance.id)  # plain statements: ``fire_timer``'s copy is stale


# ------------------------------------------------------------------ one statement a step
#
# On PostgreSQL a step's writes to its own rows — the instance, its history lines, the
# tasks it closed and opened (with their assignees), the timers it dropped and armed —
# go to the database as one statement: each is a data-modifying part of a WITH, all
# run whether or not anything reads them (they touch different rows, and every foreign
# key and trigger is checked after the whole statement; an assignee's ``open_since``
# trigger sees the task row inserted before it by the same statement).  SQLite runs the
# same writes one statement each, as ``_append_history``, ``_close_task_row``,
# ``_insert_task_rows`` and ``_sync_timers`` do.

class _Batch:
    """The step's writes, gathered to be sent together (``send``)."""

    __slots__ = ("history", "closing", "opening", "armed", "dropped", "notes", "noted",
                 "handled")

    def __init__(self) -> None:
        self.history: list[dict] = []
        self.closing: list[tuple] = []  # (task, due_at)
        self.opening: list[tuple] = []  # (task, due_at)
        self.armed: list = []           # TimerRef
        self.dropped: list[str] = []    # timer keys
        self.notes: list[tuple] = []    # (recipients, fields): one per Notify effect
        self.handled: list[dict] = []   # task messages to mark read (``handled_messages``)
        # After ``send``: (recipients, fields, people) for each of ``notes`` with
        # recipients — ``people`` the rows of ``outbox.plan``'s ``people`` (maybe none).
        self.noted: list[tuple] = []

    def send(self, instance: Instance) -> None:
        # Each part is one JSON document of rows (read by ``jsonb_to_recordset``): one
        # parameter to adapt instead of an array per column.
        params: dict[str, Any] = {"instance_id": instance.id}
        people = {}
        for task, _due in self.opening:
            people[task.id] = [p for p in dict.fromkeys([*task.assignees, *task.claimed_by])
                               if isinstance(p, int)]
        assignees = [{"key": key, "user_id": p} for key, ps in people.items() for p in ps]
        if self.history:
            params["history"] = rows_document([_present(row) for row in self.history])
        if self.closing:
            params["closing"] = rows_document([{
                "key": task.id, "outcome": task.outcome, "closed_at": task.closed_at,
                "due_at": due, **_pool_fields(task)} for task, due in self.closing])
        if self.opening:
            rows = []
            for task, due in self.opening:
                pool = _pool_fields(task)
                rows.append({"key": task.id, "step": task.step, "kind": task.kind,
                             "outcome": task.outcome, "due_at": due,
                             "opened_at": task.opened_at, "closed_at": task.closed_at,
                             "unheld": _unheld(task, pool["pool_role"], people[task.id]),
                             **pool})
            params["opening"] = rows_document(rows)
        if assignees:
            params["assignees"] = rows_document(assignees)
        if self.armed:
            params["armed"] = rows_document([{"key": t.key, "purpose": t.purpose,
                                              "task_key": t.task, "fire_at": t.at}
                                             for t in self.armed])
        if self.dropped:
            params["dropped"] = rows_document(self.dropped)
        notes = [(recipients, fields) for recipients, fields in self.notes if recipients]
        if notes:
            params["notes"] = rows_document([
                {**fields, "user_ids": recipients} for recipients, fields in notes])
        if self.handled:
            params["handled"] = rows_document(self.handled)
        # Last, after anything above that might have read (and so flushed) through the
        # session: the instance's columns it has not written yet.  This statement writes
        # them, so the session must not write them again (its autoflush runs before it).
        columns = _instance_changes(instance)
        for name, value in columns.items():
            params["i_" + name] = value
        if columns and db.session().in_nested_transaction():
            # In a savepoint the flush must still see the instance: a rollback to the
            # savepoint then expires what the statement wrote (the row goes back too).
            for name, value in columns.items():
                set_committed_value(instance, name, value)
        elif columns:
            # Every change the session holds for the instance is in this statement (or
            # set back to its value): it is clean now, so no flush walks its unit of work
            # to find no UPDATE to make.  A rollback expires it all the same.
            state = sa_inspect(instance)
            state._commit_all(state.dict, db.session.identity_map)
        shape = (tuple(columns), bool(self.history), bool(self.closing), bool(self.opening),
                 bool(assignees), bool(self.armed), bool(self.dropped), bool(notes),
                 bool(self.handled))
        if not any(shape):
            return
        result = db.session.execute(_batch_statement(*shape), params)
        opened = db.session.info.setdefault(_OPENED, {}) if self.opening else None
        people: list[dict] = [{} for _ in notes]
        for row in result:
            if row.part == "task":
                opened[(instance.id, row.key)] = (row.id, instance.lock_version)
            elif row.part == "note":
                people[row.n][row.id] = row
        self.noted = [(recipients, fields, found)
                      for (recipients, fields), found in zip(notes, people)]
        for task, _due in self.closing:
            _expire_loaded(Task, instance.id, key=task.id)  # plain statements: a loaded
        if self.armed or self.dropped:                      # copy is stale
            _expire_loaded(Timer, instance.id)


def _present(row: dict) -> dict:
    """A row without its empty values: a key left out is NULL to ``jsonb_to_recordset``
    (a JSON ``null`` would be a JSON value in a ``jsonb`` column)."""
    return {key: value for key, value in row.items() if value is not None}


def _pool_fields(task) -> dict:
    """``_pool_columns`` of a task, and whether it has a pool: ``pool_within`` is left as
    it was (or its default) where a task has none, as the one-statement writers leave it."""
    pool = _pool_columns(task)
    return {**pool, "has_pool": "pool_within" in pool}


_INSTANCE_COLUMNS = {attr.key: attr.columns[0] for attr in Instance.__mapper__.column_attrs}


def _instance_changes(instance: Instance) -> dict[str, Any]:
    """The instance's columns this step changed and the session has not written yet,
    with their new values — {} when the session must write it itself (new, or a change
    that is not a plain column, or already flushed)."""
    state = sa_inspect(instance)
    if not state.persistent or not state.committed_state:
        return {}
    changes = {}
    for name, before in state.committed_state.items():
        if name not in _INSTANCE_COLUMNS or name == "id":
            return {}
        value = state.dict.get(name, NO_VALUE)
        if value is NO_VALUE:
            return {}
        if before is NO_VALUE or before != value:
            changes[name] = value
    return dict(sorted(changes.items()))


def _rows(param: str, columns: str) -> str:
    """The rows of a JSON document parameter, typed, with their place ``n``."""
    return f"jsonb_to_recordset(CAST(:{param} AS jsonb)) AS {param[0]} ({columns}, n integer)"


_POOL_AS = ("pool_role varchar, pool_unit_id integer, pool_unit_path varchar, "
            "pool_within boolean, pool_anyone boolean, has_pool boolean")


@lru_cache(maxsize=256)
def _batch_statement(columns: tuple[str, ...], history: bool, closing: bool, opening: bool,
                     assignees: bool, armed: bool, dropped: bool, notes: bool,
                     handled: bool = False):
    """The statement for one shape of step (which parts it has), built once.  Its rows:
    ``part`` "task" for each task it opened (``id``, ``key``), "note" for each person a
    notification went to (``n``: which of the notes; ``id``: the person; what
    ``outbox.plan`` reads of them; and ``notification_id``)."""
    parts, binds = [], []
    if columns:
        sets = ", ".join(f'"{_INSTANCE_COLUMNS[name].name}" = :i_{name}' for name in columns)
        parts.append(f"step_instance AS (UPDATE instances SET {sets} WHERE id = :instance_id)")
        binds += [bindparam("i_" + name, type_=_INSTANCE_COLUMNS[name].type)
                  for name in columns]
    if history:
        parts.append(f"""step_history AS (
    INSERT INTO history (instance_id, seq, "at", actor_id, action, step, task_key, comment, data)
    SELECT :instance_id, h.seq, h."at", h.actor_id, h.action, h.step, h.task_key, h.comment,
           h.data
    FROM {_rows("history", 'seq integer, "at" timestamptz, actor_id integer, action varchar, '
                           'step varchar, task_key varchar, comment text, data jsonb')}
    ORDER BY h.n)""")
    if closing:
        parts.append(f"""step_closed AS (
    UPDATE tasks SET status = 'closed', outcome = c.outcome, closed_at = c.closed_at,
           due_at = c.due_at, unheld = false, pool_role = c.pool_role,
           pool_unit_id = c.pool_unit_id, pool_unit_path = c.pool_unit_path,
           pool_within = CASE WHEN c.has_pool THEN c.pool_within ELSE tasks.pool_within END,
           pool_anyone = c.pool_anyone
    FROM {_rows("closing", '"key" varchar, outcome varchar, closed_at timestamptz, '
                           'due_at timestamptz, ' + _POOL_AS)}
    WHERE tasks.instance_id = :instance_id AND tasks."key" = c."key")""")
    if opening:
        parts.append(f"""step_opened AS (
    INSERT INTO tasks (instance_id, "key", step, kind, status, outcome, pool_role,
                       pool_unit_id, pool_unit_path, pool_within, pool_anyone, unheld,
                       due_at, opened_at, closed_at)
    SELECT :instance_id, o."key", o.step, o.kind, 'open', o.outcome, o.pool_role,
           o.pool_unit_id, o.pool_unit_path,
           CASE WHEN o.has_pool THEN o.pool_within ELSE true END, o.pool_anyone, o.unheld,
           o.due_at, o.opened_at, o.closed_at
    FROM {_rows("opening", '"key" varchar, step varchar, kind varchar, outcome varchar, '
                           'unheld boolean, due_at timestamptz, opened_at timestamptz, '
                           'closed_at timestamptz, ' + _POOL_AS)}
    ORDER BY o.n
    RETURNING id, "key")""")
    if assignees:
        parts.append(f"""step_assignees AS (
    INSERT INTO task_assignees (task_id, user_id)
    SELECT o.id, a.user_id
    FROM step_opened o JOIN {_rows("assignees", '"key" varchar, user_id integer')}
      ON a."key" = o."key")""")
    if dropped:
        parts.append("""step_timers_dropped AS (
    UPDATE timers SET status = 'cancelled'
    WHERE instance_id = :instance_id AND status = 'pending'
      AND "key" IN (SELECT jsonb_array_elements_text(CAST(:dropped AS jsonb))))""")
    if armed:
        # A key fired or cancelled earlier is armed again.
        parts.append(f"""step_timers_armed AS (
    INSERT INTO timers (instance_id, "key", purpose, task_key, fire_at, status, fired_at)
    SELECT :instance_id, a."key", a.purpose, a.task_key, a.fire_at, 'pending', NULL
    FROM {_rows("armed", '"key" varchar, purpose varchar, task_key varchar, '
                         'fire_at timestamptz')}
    ON CONFLICT (instance_id, "key") DO UPDATE
    SET status = 'pending', fire_at = excluded.fire_at, fired_at = NULL,
        purpose = excluded.purpose, task_key = excluded.task_key)""")
    if handled:
        # Task messages this step is done with; the notes it writes are not among them
        # (one snapshot: this statement's own INSERT is not seen here).
        kinds = ", ".join(f"'{kind}'" for kind in TASK_MESSAGES)
        parts.append(f"""step_read AS (
    UPDATE notifications SET read_at = h."at"
    FROM {_rows("handled", '"key" varchar, user_id integer, kind varchar, "at" timestamptz')}
    WHERE notifications.instance_id = :instance_id AND notifications.read_at IS NULL
      AND notifications.kind IN ({kinds}) AND notifications.task_key = h."key"
      AND (h.user_id IS NULL OR notifications.user_id = h.user_id)
      AND (h.kind IS NULL OR notifications.kind = h.kind))""")
    if notes:
        # One row per note and person (the person must exist), its id taken first so
        # the rows can say which note they belong to (RETURNING could not).
        parts.append("""step_note_rows AS MATERIALIZED (
    SELECT nextval(pg_get_serial_sequence('notifications', 'id')) AS id, e.n,
           users.id AS user_id, users.email, users.locale, e.kind, e.title_key, e.params,
           e.task_key, e.priority, e.created_at, r.k
    FROM jsonb_to_recordset(CAST(:notes AS jsonb)) AS e (kind varchar, title_key varchar,
         params jsonb, task_key varchar, priority varchar, created_at timestamptz,
         user_ids jsonb, n integer)
    CROSS JOIN LATERAL jsonb_array_elements_text(e.user_ids) WITH ORDINALITY AS r (user_id, k)
    JOIN users ON users.id = CAST(r.user_id AS integer)
    ORDER BY e.n, r.k)""")
        parts.append("""step_notes AS (
    INSERT INTO notifications (id, user_id, kind, title_key, params, instance_id, task_key,
                               priority, created_at)
    SELECT id, user_id, kind, title_key, params, :instance_id, task_key, priority, created_at
    FROM step_note_rows ORDER BY id)""")
    main = []
    if opening:
        main.append(f'SELECT \'task\' AS part, id, "key", {_NOTE_NULLS} FROM step_opened')
    if notes:
        main.append("""SELECT 'note' AS part, r.user_id AS id, NULL::varchar AS "key", r.n AS n,
       r.id AS notification_id, r.email AS email, r.locale AS locale, s.user_id AS user_id,
       s.email_enabled AS email_enabled, s.quiet_start AS quiet_start,
       s.quiet_end AS quiet_end, s.digest_low_priority AS digest_low_priority
FROM step_note_rows r LEFT JOIN notification_settings s ON s.user_id = r.user_id""")
    statement = text("WITH " + ",\n".join(parts) + "\n"
                     + ("\nUNION ALL\n".join(main) if main else "SELECT 'none' AS part"))
    if binds:
        statement = statement.bindparams(*binds)
    # Its columns named in order: the result's description is then matched by position
    # and kept with the compiled statement, not worked out again at each step.
    return statement.columns(*(column(name) for name in (_ROW_COLUMNS if main else ("part",))))


# The note columns of ``_batch_statement``'s rows, with their types: empty on a task's row.
_NOTE_COLUMNS = (("n", "integer"), ("notification_id", "integer"), ("email", "varchar"),
                 ("locale", "varchar"), ("user_id", "integer"), ("email_enabled", "boolean"),
                 ("quiet_start", "time"), ("quiet_end", "time"),
                 ("digest_low_priority", "boolean"))
_ROW_COLUMNS = ("part", "id", "key", *(name for name, _ in _NOTE_COLUMNS))
_NOTE_NULLS = ", ".join(f"NULL::{kind} AS {name}" for name, kind in _NOTE_COLUMNS)


def _notification(spec: ProcessSpec, effect: Notify | Announce, now: datetime
                  ) -> tuple[list, dict]:
    """(recipients, fields) of the in-app notifications of ``effect``, as
    ``outbox.notify`` takes them (the instance's id aside) and ``_Batch`` sends them (an
    ``Announce``: no recipients, its fields for ``outbox.announce``)."""
    params = dict(effect.params)
    params.setdefault("process_name", spec.name)
    params.setdefault("process_name_en", spec.name_en or spec.name)
    recipients = list(dict.fromkeys(user_id for user_id in getattr(effect, "recipients", ())
                                    if isinstance(user_id, int)))
    return recipients, {"kind": effect.kind, "title_key": effect.title_key,
                        "params": _plain(params), "task_key": effect.task,
                        "priority": effect.priority, "created_at": now}


def _notify(instance: Instance, note: tuple[list, dict], now: datetime) -> None:
    """The statement-per-write path of one of a step's notes, as ``_notification`` makes
    it (SQLite; the reference the PostgreSQL statement is compared with)."""
    recipients, fields = note
    outbox.notify(recipients, instance, now, instance_id=instance.id, **fields)


# The request's row if nobody holds it (PostgreSQL): workers sweeping at the same
# moment share the due timers out instead of queueing on each request in turn.
_TRY_LOCK = (select(Instance.id).where(Instance.id == bindparam("instance_id"))
             .with_for_update(skip_locked=True))


def fire_timer(timer_id: int, now: datetime | None = None) -> bool:
    """Fire one timer if it is pending and due, in its own transaction; False if there
    was nothing to do (already fired, cancelled, not due, or the request moved on)."""
    now = now or utcnow()
    timer = db.session.get(Timer, timer_id)
    if timer is None or timer.status != "pending" or timer.fire_at > now:
        return False
    instance_id, key = timer.instance_id, timer.key
    if db.session.get_bind().dialect.name == "postgresql" and db.session.scalar(
            _TRY_LOCK, {"instance_id": instance_id}) is None:
        db.session.rollback()  # another worker is firing it, or someone is deciding
        return False           # on the request: the next sweep comes back to it
    try:
        perform(instance_id, Action("fire", timer=key), None, now=now)
    except (Conflict, NotFound):
        db.session.rollback()  # the instance ended or changed meanwhile
        _cancel_if_gone(instance_id, key)
        return False
    timer = db.session.get(Timer, timer_id)
    if timer.status != "pending":  # the engine kept a rescheduled timer pending
        timer.status, timer.fired_at = "fired", now
    db.session.commit()
    return True


def _cancel_if_gone(instance_id: int, key: str) -> None:
    """A pending row whose request no longer waits for it (ended, or the step moved on
    in a way the row missed) is cancelled, so no sweep tries it again."""
    with write_lock():
        instance = db.session.execute(_LOCK_INSTANCE, {"instance_id": instance_id}).first()
        waiting = instance is not None and any(
            t.key == key for t in InstanceState.from_dict(instance[0].state).timers)
        if not waiting:
            db.session.execute(_CANCEL_TIMERS, {"b_instance_id": instance_id, "b_keys": [key]})
    db.session.commit()


def fire_due_timers(now: datetime | None = None, limit: int = 500) -> int:
    """Fire every pending timer that is due, the oldest first, read ``limit`` at a time
    (a morning's thousands of time-outs are all fired by one sweep); returns how many
    fired.  A timer that cannot fire (its request moved on meanwhile) is passed over, so
    the sweep always ends."""
    now = now or utcnow()
    fired, after = 0, None
    while True:
        stmt = select(Timer.fire_at, Timer.id).where(Timer.status == "pending",
                                                    Timer.fire_at <= now)
        if after is not None:
            stmt = stmt.where(tuple_(Timer.fire_at, Timer.id) > tuple_(*after))
        due = db.session.execute(stmt.order_by(Timer.fire_at, Timer.id).limit(limit)).all()
        db.session.commit()  # nothing written: each timer fires in its own transaction
        for _at, timer_id in due:
            try:
                fired += fire_timer(timer_id, now)
            except Exception:  # noqa: BLE001 - one bad timer must not stop the others
                db.session.rollback()
                current_app.logger.exception("timer %s could not fire; the next sweep "
                                             "tries it again", timer_id)
        if len(due) < limit:
            return fired
        after = tuple(due[-1])


# ---------------------------------------------------------------------------- inbox

def assigned_tasks_query(user: User):
    """``user``'s open tasks, oldest first: by their assignments' ``open_since`` (kept by
    the database from the task) and its partial index, not by every open task."""
    return (select(Task).join(TaskAssignee, TaskAssignee.task_id == Task.id)
            .where(TaskAssignee.user_id == user.id, TaskAssignee.open_since.is_not(None))
            .order_by(TaskAssignee.open_since, TaskAssignee.task_id))


def pool_tasks_query(user: User):
    """Open pooled tasks ``user`` may claim: by role and where they hold it (indexed)."""
    return (select(Task).where(Task.status == "open", Task.pool_role.is_not(None),
                               pool_clause(user))
            .order_by(Task.opened_at))


def pool_clause(user: User):
    """WHERE clause: tasks offered to a pool ``user`` belongs to (open or not)."""
    from sqlalchemy import and_, false, or_

    from webapp.models.org import subtree_range

    clauses = []
    for membership in user.memberships:
        unit = membership.unit
        clauses.append(and_(Task.pool_role == membership.role, or_(
            Task.pool_anyone.is_(True),
            and_(Task.pool_within.is_(True), Task.pool_unit_id.in_(unit.ancestor_ids)),
            and_(Task.pool_within.is_(False), subtree_range(Task.pool_unit_path, unit.path)))))
    return or_(*clauses) if clauses else false()


_PARSED = "_unionflow_parsed_state"  # on the Instance object: (the stored dict, its parse)


def state_of(instance: Instance) -> InstanceState:
    """The instance's state, parsed once per stored value.

    A request reads it several times (who may act, the step, the tasks it shows, the
    history it answers with): the parse is kept on the object beside the very dict it
    came from, and used while ``instance.state`` is still that object.  A reload, a
    refresh or a step puts a new dict there, which is parsed again (or, after a step, is
    known: ``_save`` keeps the state it wrote).  Nothing changes a stored dict in place —
    the column would not notice, so it would not be saved either.
    """
    raw = instance.state
    kept = instance.__dict__.get(_PARSED)
    if kept is not None and kept[0] is raw:
        return kept[1]
    state = InstanceState.from_dict(raw)
    instance.__dict__[_PARSED] = (raw, state)
    return state


def available_actions(instance: Instance, user: User, *, task: str | None = None) -> list:
    """``engine.available_actions`` for ``user``; ``task``: only that task's (its key)."""
    spec = spec_of_instance(instance)
    directory = DbDirectory({instance.unit_id: instance.unit_path} if instance.unit_id else None)
    return engine.available_actions(spec, state_of(instance), user.id, directory, utcnow(),
                                    task=task)


def refusal(instance: Instance, user: User, action: Action):
    """``engine.refusal``: why ``user`` may not do ``action`` on the instance now."""
    spec = spec_of_instance(instance)
    directory = DbDirectory({instance.unit_id: instance.unit_path} if instance.unit_id else None)
    return engine.refusal(spec, state_of(instance), user.id, directory, utcnow(), action)


def correct_end(instance_id: int, outcome: str, reason: str | None, actor: User, *,
                now: datetime | None = None) -> Instance:
    """Judge again the step that ended the instance and move it to ``outcome``'s end
    (``workflows.correction``: a narrow operation, not a reopening), saved like any step
    — its history line, the audit chain's entry, the applicant's notification."""
    now = now or utcnow()
    actor_id = actor.id
    with write_lock():
        instance = lock_instance(instance_id)
        spec = spec_of_instance(instance)
        state = state_of(instance)
        directory = DbDirectory({instance.unit_id: instance.unit_path}
                                if instance.unit_id else None)
        try:
            new_state, effects = correction.correct(spec, state, outcome, reason, actor_id,
                                                    now, directory)
        except BaseException:
            directory.undo_writes()
            raise
        directory.keep_writes()
        _save(instance, spec, state, new_state, effects, directory, now)
    return instance


def correction_refusal(instance: Instance, user: User, now: datetime | None = None):
    """Why ``user`` may not correct how the instance ended, or None if they may."""
    spec = spec_of_instance(instance)
    directory = DbDirectory({instance.unit_id: instance.unit_path} if instance.unit_id else None)
    try:
        correction.permit_correction(spec, state_of(instance), user.id, directory,
                                     now or utcnow())
    except WorkflowError as exc:
        return exc
    return None


__all__ = ["publish_text", "publish_file", "start_instance", "perform", "fire_due_timers",
           "assigned_tasks_query", "pool_tasks_query", "available_actions", "Action",
           "DefinitionProblems", "shipped_definitions", "spec_of", "startable_processes"]
