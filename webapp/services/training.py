"""Skills training beyond the registration form: the attendance register of a course
(trainees × sessions), deciding completion from it, and the completion certificate.

The register is what the engine's ``attendance`` step reads through the directory
(``course:<id>`` registers); the decision itself — at least the definition's
``pass_rate`` of the sessions — is the engine's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from flask import Response
from sqlalchemy import func, or_, select

from webapp.database import write_lock
from webapp.extensions import db
from webapp.models import (Attendance, Course, CourseSession, Instance, Membership, OrgUnit,
                           Reservation, Task, TaskAssignee, User)
from webapp.services import export
from webapp.services.directory import ATTENDANCE_REGISTERS
from workflows.errors import Conflict, WorkflowError
from workflows.runtime import Action

# Who runs a course's register besides the people its attendance step is given to:
# the course unit's administrators (a role covers the units below).
ORGANISER_ROLES = ("unit_admin", "district_admin", "city_admin", "platform_admin")
ATTENDANCE_KIND = "attendance"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def course_key(course: Course) -> str:
    return f"course:{course.id}"


# ------------------------------------------------------------------ who may record

def may_record(user: User, course: Course) -> bool:
    """The course unit's administrators (at it or above), and whoever an attendance
    step of one of its trainees was given to."""
    unit = db.session.get(OrgUnit, course.unit_id)
    held = db.session.scalar(select(Membership.id).where(
        Membership.user_id == user.id, Membership.role.in_(ORGANISER_ROLES),
        Membership.unit_id.in_(unit.ancestor_ids)).limit(1))
    if held is not None:
        return True
    return db.session.scalar(
        _attendance_tasks(course).join(TaskAssignee, TaskAssignee.task_id == Task.id)
        .where(TaskAssignee.user_id == user.id).with_only_columns(Task.id).limit(1)) is not None


def courses_for(user: User) -> list[Course]:
    """Courses whose register ``user`` may keep, newest first."""
    paths = [m.unit.path for m in user.memberships if m.role in ORGANISER_ROLES]
    from webapp.models.org import subtree_range

    by_unit = select(Course.id).join(OrgUnit, OrgUnit.id == Course.unit_id).where(
        or_(*[subtree_range(OrgUnit.path, p) for p in paths])) if paths else None
    assigned = (select(Reservation.resource_key).join(Task, Task.instance_id ==
                                                      Reservation.instance_id)
                .join(TaskAssignee, TaskAssignee.task_id == Task.id)
                .where(TaskAssignee.user_id == user.id, Task.step.in_(_attendance_steps()),
                       Task.status == "open", Reservation.resource_key.like("course:%")))
    ids = {int(key.split(":", 1)[1]) for key in db.session.scalars(assigned)}
    if by_unit is not None:
        ids |= set(db.session.scalars(by_unit))
    if not ids:
        return []
    return db.session.scalars(select(Course).where(Course.id.in_(ids))
                              .order_by(Course.starts_on.desc(), Course.id)).all()


# ------------------------------------------------------------------ the register

@dataclass
class Trainee:
    instance: Instance
    name: str
    present: set[int]  # session ids
    deciding: bool      # the attendance step is open for this trainee
    result: str | None = None  # "passed" | "failed" once the attendance step decided

    @property
    def decided(self) -> bool:
        return self.result is not None


def trainees(course: Course) -> list[Trainee]:
    """Everyone who holds or held a place on the course to its end, in the order they got
    it: a trainee judged on attendance stays on the register with the result — also one
    whose place an earlier definition version gave back when the request ended."""
    rows = db.session.execute(
        select(Instance, User.display_name, Reservation.status).join(
            Reservation, Reservation.instance_id == Instance.id)
        .join(User, User.id == Instance.applicant_id)
        .where(Reservation.resource_key == course_key(course),
               Reservation.status.in_(("granted", "released")))
        .order_by(Reservation.seq)).all()
    steps = _attendance_steps() if rows else set()
    kept = []
    for instance, name, status in rows:
        data = (instance.state or {}).get("data", {})
        decided = any(step in data for step in steps)
        if status == "granted" or decided:
            result = None if not decided else (
                "passed" if instance.status == "completed" else "failed")
            kept.append((instance, name, result))
    ids = [instance.id for instance, _name, _result in kept]
    present: dict[int, set[int]] = {i: set() for i in ids}
    if ids:
        for session_id, instance_id in db.session.execute(
                select(Attendance.session_id, Attendance.instance_id).where(
                    Attendance.instance_id.in_(ids), Attendance.present.is_(True))):
            present[instance_id].add(session_id)
    deciding = set(db.session.scalars(_attendance_tasks(course).with_only_columns(
        Task.instance_id)))
    return [Trainee(instance, name, present[instance.id], instance.id in deciding, result)
            for instance, name, result in kept]


def held_sessions(course: Course, now: datetime | None = None) -> list[CourseSession]:
    """Sessions that have begun: only those can be attended (or missed)."""
    now = now or utcnow()
    return [s for s in course.schedule if s.starts_at <= now]


def save_register(course: Course, actor: User, ticked: set[tuple[int, int]],
                  now: datetime | None = None, *, correcting: int | None = None) -> int:
    """Make the register match the ticked (session id, instance id) pairs for the
    sessions held so far; returns how many marks changed.  Sessions still to come,
    people without a place on the course and trainees already judged (the register they
    were judged on stays as it was) are left alone — but for ``correcting``: the one
    judged trainee whose result is being corrected (``correct_completion``), whose row
    alone is then saved."""
    now = now or utcnow()
    with write_lock():
        sessions = {s.id for s in held_sessions(course, now)}
        people = {t.instance.id for t in trainees(course)
                  if (t.instance.id == correcting if correcting is not None
                      else not t.decided)}
        existing = {(a.session_id, a.instance_id): a for a in db.session.scalars(
            select(Attendance).where(Attendance.session_id.in_(sessions or {0}),
                                     Attendance.instance_id.in_(people or {0})))}
        changed = 0
        for session_id in sessions:
            for instance_id in people:
                present = (session_id, instance_id) in ticked
                row = existing.get((session_id, instance_id))
                if row is None:
                    if not present:
                        continue  # no row means absent: nothing to write
                    db.session.add(Attendance(session_id=session_id, instance_id=instance_id,
                                              present=True, recorded_by_id=actor.id,
                                              recorded_at=now))
                    changed += 1
                elif row.present != present:
                    row.present, row.recorded_by_id, row.recorded_at = present, actor.id, now
                    changed += 1
        db.session.flush()
    return changed


def counts(course_id: int, instance_id: int) -> tuple[int, int] | None:
    """(sessions attended, sessions of the course); the directory's register port."""
    course = db.session.get(Course, course_id)
    if course is None:
        return None
    total = db.session.scalar(select(func.count()).select_from(CourseSession).where(
        CourseSession.course_id == course_id))
    attended = db.session.scalar(
        select(func.count()).select_from(Attendance)
        .join(CourseSession, CourseSession.id == Attendance.session_id)
        .where(CourseSession.course_id == course_id, Attendance.instance_id == instance_id,
               Attendance.present.is_(True)))
    return attended, total


def _course_register(key: str, instance_id):
    try:
        course_id = int(key)
    except ValueError:
        return None
    return counts(course_id, instance_id) if isinstance(instance_id, int) else None


ATTENDANCE_REGISTERS["course"] = _course_register


# ------------------------------------------------------------------ deciding completion

def _attendance_tasks(course: Course):
    """Open attendance tasks of the course's trainees."""
    return (select(Task).join(Reservation, Reservation.instance_id == Task.instance_id)
            .join(Instance, Instance.id == Task.instance_id)
            .where(Reservation.resource_key == course_key(course),
                   Reservation.status == "granted", Task.status == "open",
                   Task.step.in_(_attendance_steps())))


def _attendance_steps() -> set[str]:
    """Ids of the attendance steps in the published definitions."""
    from webapp.models import DefinitionVersion
    from webapp.services.workflow import spec_of

    steps = set()
    for version in db.session.scalars(select(DefinitionVersion)):
        steps |= {s.id for s in spec_of(version).steps if s.kind == ATTENDANCE_KIND}
    return steps


def attendance_ends(process: str = "training_registration") -> tuple[set[str], set[str]]:
    """The ends a registration reaches when its attendance step judges it, in any
    version of ``process``: (passed — completed, the certificate given —, failed — short
    of attendance, not completed)."""
    from webapp.models import DefinitionVersion, ProcessDefinition
    from webapp.services.workflow import spec_of

    passed, failed = set(), set()
    for version in db.session.scalars(select(DefinitionVersion).join(
            ProcessDefinition, ProcessDefinition.id == DefinitionVersion.definition_id)
            .where(ProcessDefinition.key == process)):
        spec = spec_of(version)
        for step in spec.steps:
            if step.kind != ATTENDANCE_KIND:
                continue
            for outcome, ends in (("passed", passed), ("failed", failed)):
                target = step.target(outcome)
                if target and spec.end(target) is not None:
                    ends.add(target)
    return passed, failed


def course_pass_rate() -> int:
    """The pass rate the published definitions' attendance steps on course registers
    ask for (the strictest, if several do); 80 when none says."""
    from webapp.models import ProcessDefinition
    from webapp.services.workflow import spec_of

    rates = []
    for definition in db.session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.retired.is_(False))):
        if definition.latest is None:
            continue
        rates += [s.config.pass_rate for s in spec_of(definition.latest).steps
                  if s.kind == ATTENDANCE_KIND
                  and s.config.register.text.startswith("course:")]
    return max(rates, default=80)


@dataclass
class Decided:
    passed: int = 0
    failed: int = 0
    errors: list[str] | None = None


@dataclass
class Outlook:
    """What deciding now would do, for the organiser to confirm: names that would pass
    and names that would not, by the register as saved."""
    passing: list[str]
    failing: list[str]


def completion_outlook(course: Course, actor: User) -> Outlook:
    """The trainees whose attendance step ``actor`` would complete now, split as the
    engine will judge them (sessions attended against the step's pass rate)."""
    mine = set(db.session.scalars(
        _attendance_tasks(course).join(TaskAssignee, TaskAssignee.task_id == Task.id)
        .where(TaskAssignee.user_id == actor.id).with_only_columns(Task.instance_id)))
    total = len(course.schedule)
    outlook = Outlook([], [])
    for trainee in trainees(course):
        if trainee.instance.id not in mine:
            continue
        found = register_of(trainee.instance)
        rate = found[0].config.pass_rate if found else course_pass_rate()
        passes = len(trainee.present) * 100 >= rate * total
        (outlook.passing if passes else outlook.failing).append(trainee.name)
    return outlook


def decide_completion(course: Course, actor: User, locale: str = "zh",
                      now: datetime | None = None) -> Decided:
    """Complete every open attendance step of the course that is ``actor``'s: the
    engine counts the register and moves each request on to completed or not."""
    from webapp.services import workflow as wf

    result = Decided(errors=[])
    tasks = db.session.execute(
        _attendance_tasks(course).join(TaskAssignee, TaskAssignee.task_id == Task.id)
        .where(TaskAssignee.user_id == actor.id)
        .with_only_columns(Task.instance_id, Task.key).order_by(Task.instance_id)).all()
    for instance_id, task_key in tasks:
        try:
            with db.session.begin_nested():
                instance = wf.perform(instance_id, Action("complete", task=task_key, data={}),
                                      actor, now=now)
        except WorkflowError as exc:
            result.errors.append(exc.message(locale))
            continue
        if instance.state.get("end") == "completed" or instance.status == "completed":
            result.passed += 1
        else:
            result.failed += 1
    return result


# ------------------------------------------------------------------ correcting a decision

# How long after a course's last day a trainee's result may still be corrected (the
# register put right, completion judged again): time to notice a mistake when the
# certificates go out, and then a certificate given (or refused) stays so.
CORRECTION_DAYS = 30


def correction_deadline(course: Course) -> datetime:
    """The last moment (China time) a result of ``course`` may be corrected: the end of
    the ``CORRECTION_DAYS``-th day after its last day."""
    from webapp.services.activities import CHINA

    return datetime.combine(course.ends_on + timedelta(days=CORRECTION_DAYS + 1), time.min,
                            tzinfo=CHINA)


def decided_trainee(course: Course, instance_id: int | None) -> Trainee | None:
    """The trainee of ``course`` with this registration, if their result was decided."""
    return next((t for t in trainees(course)
                 if t.instance.id == instance_id and t.decided), None)


def correction_refusal(course: Course, user: User, instance: Instance,
                       now: datetime | None = None) -> WorkflowError | None:
    """Why ``user`` may not correct this decided trainee's result now, or None: too late
    (``CORRECTION_DAYS`` after the course), or not one who may decide it."""
    from webapp.services import workflow as wf

    now = now or utcnow()
    if now >= correction_deadline(course):
        last = correction_deadline(course) - timedelta(days=1)
        return Conflict(
            f"课程结束已超过 {CORRECTION_DAYS} 天（更正截止于 {last:%Y-%m-%d}），"
            "结业结果不能再更正",
            f"More than {CORRECTION_DAYS} days have passed since the course ended (corrections "
            f"closed on {last:%Y-%m-%d}): its results can no longer be corrected",
            code="too_late")
    return wf.correction_refusal(instance, user, now)


def may_correct(user: User, course: Course, instance: Instance,
                now: datetime | None = None) -> bool:
    return correction_refusal(course, user, instance, now) is None


def correct_completion(course: Course, actor: User, instance_id: int, present: set[int],
                       outcome: str, reason: str | None, *, expected_version: int | None = None,
                       now: datetime | None = None) -> Instance:
    """Correct a decided trainee's result: their row of the register becomes ``present``
    (ids of sessions held), and the engine judges them again from it and moves the
    request to ``outcome``'s end (``passed``: completed, ``failed``: not completed) —
    refused, with nothing changed, when the register does not support ``outcome``, the
    reason is missing, ``actor`` may not decide it, or it is too late.  The caller
    commits (or rolls back on a ``WorkflowError``)."""
    from webapp.services import workflow as wf

    now = now or utcnow()
    with write_lock():
        instance = wf.lock_instance(instance_id)  # one correction of a trainee at a time
        wf.note_locked(instance)
        if expected_version is not None and expected_version != instance.lock_version:
            raise Conflict("该学员的结果已被他人更正，请刷新后查看最新状态",
                           "Someone else has corrected this result meanwhile; reload to see it",
                           code="stale")
        if decided_trainee(course, instance_id) is None:
            raise Conflict("该学员尚未判定结业，不能更正；请在出勤登记中判定",
                           "This trainee has not been decided yet: there is nothing to correct",
                           code="not_decided")
        refused = correction_refusal(course, actor, instance, now)
        if refused is not None:
            raise refused
        save_register(course, actor, {(session, instance_id) for session in present}, now,
                      correcting=instance_id)
        return wf.correct_end(instance_id, outcome, reason, actor, now=now)


# ------------------------------------------------------------------ one registration

def register_of(instance: Instance):
    """(the attendance step, the course) of a registration, or None if its process
    keeps no course register."""
    from webapp.services.workflow import spec_of_instance

    spec = spec_of_instance(instance)
    step = next((s for s in spec.steps if s.kind == ATTENDANCE_KIND), None)
    if step is None:
        return None
    key = step.config.register.text
    if not key.startswith("course:{form.") or not key.endswith("}"):
        return None
    value = instance.state.get("data", {}).get(key[len("course:{form."):-1])
    course = db.session.get(Course, value) if isinstance(value, int) else None
    return (step, course) if course is not None else None


def attendance_summary(instance: Instance) -> dict | None:
    """The course, sessions attended so far and in all, and the pass rate; for the
    trainee's page and the attendance task."""
    found = register_of(instance)
    if found is None:
        return None
    step, course = found
    attended, total = counts(course.id, instance.id)
    return {"course": course, "attended": attended, "total": total,
            "pass_rate": step.config.pass_rate, "step": step.id}


# ------------------------------------------------------------------ certificates

@dataclass(frozen=True)
class CertificateFacts:
    number: str
    name: str
    id_card: str
    course: Course
    unit_name: str
    hours: float
    attended: int
    total: int
    issued_on: datetime


def may_have_certificate(user: User, instance: Instance, course: Course) -> bool:
    """Who may download the certificate of a registration for ``course``: the trainee,
    and — to read it, never to issue or change it — the administrators over it: those
    who oversee the request as every other page decides (``access.oversees``: the
    trainee's unit lies in their scope; a supervisor, read-only, sees the whole of
    theirs) and the course's organisers (``may_manage``: its unit's administrators, at
    it or above).  Not a reviewer only given a task of it, nor anyone else."""
    from webapp.services import access

    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.id == instance.applicant_id:
        return True
    return may_manage(user, course) or access.oversees(user, instance)


def certificate_facts(instance: Instance, user: User) -> CertificateFacts | None:
    """What a certificate prints, if the trainee passed and ``user`` may have it
    (``may_have_certificate``); else None."""
    if instance.status != "completed":
        return None
    data = instance.state.get("data", {})
    found = register_of(instance)
    if found is None or found[0].id not in data:
        return None
    step, course = found
    result = data[step.id]
    if result["attended"] * 100 < step.config.pass_rate * result["total"]:
        return None
    if not may_have_certificate(user, instance, course):
        return None
    id_card = str(data.get("id_card") or "")
    # The legal name the registration form asks for; a request started on a version of
    # the definition from before it was asked has only the trainee's display name.
    name = str(data.get("real_name") or "").strip() or db.session.get(
        User, instance.applicant_id).display_name
    return CertificateFacts(
        number=certificate_number(course, instance),
        name=name, id_card=(id_card[:6] + "********" + id_card[-4:])
        if len(id_card) == 18 else "", course=course,
        unit_name=db.session.get(OrgUnit, course.unit_id).name, hours=course.hours,
        attended=result["attended"], total=result["total"],
        issued_on=instance.closed_at or instance.updated_at)


def certificate_number(course: Course, instance: Instance) -> str:
    """The number a certificate prints: the course's year and id, the request's id."""
    return f"PX{course.starts_on:%Y}{course.id:04d}{instance.id:06d}"


@dataclass(frozen=True)
class Withdrawal:
    """A certificate issued and since withdrawn: its result was corrected (更正)."""

    number: str
    at: datetime
    reason: str | None


def certificate_withdrawal(instance: Instance | None, user: User) -> Withdrawal | None:
    """The certificate the trainee had, withdrawn when their result was corrected to not
    completed — for those who may have it (``may_have_certificate``: the trainee and the
    administrators over it), None for anyone else, and if there never was one or it
    stands now."""
    if instance is None or instance.status == "completed":
        return None
    found = register_of(instance)
    if found is None:
        return None
    withdrawn = withdrawal_of(instance, found[1])
    if withdrawn is None or not may_have_certificate(user, instance, found[1]):
        return None
    return withdrawn


def withdrawal_of(instance: Instance, course: Course) -> Withdrawal | None:
    """The withdrawal of the certificate of ``instance`` (a registration for ``course``),
    whoever asks: the last correction that took it from completed, while it stays not
    completed; None if there is none."""
    if instance.status == "completed":
        return None
    from webapp.services.workflow import state_of

    line = next((line for line in reversed(state_of(instance).history)
                 if line.action == "correct" and line.details.get("before_status") == "completed"),
                None)
    if line is None:
        return None
    return Withdrawal(certificate_number(course, instance), line.at, line.comment)


def certificate_download(instance: Instance | None, user: User) -> Response | None:
    """The certificate as a PDF download for ``user`` (the page's and the API's), or None
    when there is none for them: not passed, or not theirs nor one they oversee.

    A download by anyone but the trainee is written to the application log (who, whose,
    which certificate).  Not to the audit log: that records changes — reading a stored
    file (``/files/<key>``) is not in it either — and a read-only supervisor must not
    be able to add entries to it at will (docs/audit.md)."""
    facts = certificate_facts(instance, user) if instance is not None else None
    if facts is None:
        return None
    if user.id != instance.applicant_id:
        from flask import current_app

        from webapp.logs import request_id

        current_app.logger.info(
            "certificate %s (request %s, trainee user %s) downloaded by %s (user %s) "
            "[request id %s]", facts.number, instance.id, instance.applicant_id,
            user.username, user.id, request_id())
    # fpdf (with fontTools) is ~30 MB a process: only the workers that draw one load it.
    from webapp.training.certificate import render

    response = Response(render(facts), mimetype="application/pdf")
    response.headers["Content-Disposition"] = export.content_disposition(
        f"certificate-{facts.number}.pdf", fallback="certificate")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


__all__ = ["register_of", "attendance_summary", "course_pass_rate", "may_record",
           "courses_for", "trainees", "held_sessions", "save_register", "counts",
           "decide_completion", "completion_outlook", "certificate_facts", "certificate_download",
           "certificate_number", "certificate_withdrawal", "Withdrawal", "withdrawal_of",
           "may_have_certificate", "attendance_ends",
           "correct_completion", "correction_deadline", "may_correct", "CORRECTION_DAYS",
           "Trainee", "Decided",
           "Outlook", "CertificateFacts"]


# ------------------------------------------------------------------ running courses

# Units that run courses: the union's own levels, not party branches or rest stations.
COURSE_UNIT_KINDS = ("federation", "city", "district", "street", "enterprise")
COURSE_FIELDS = ("title", "kind", "venue", "capacity", "sessions", "opens_on", "closes_on",
                 "starts_on", "ends_on", "requires_approval", "description", "occupations",
                 "min_age", "max_age")


class CourseChangeError(ValueError):
    """A change to a course that would break what is already under way."""


class SessionsOutsideDates(CourseChangeError):
    """New course dates that would leave sessions of its timetable outside them: the
    waiting list, the wait for the course's end and the attendance judgement all follow
    the dates, so a timetable outside them would fail every trainee."""

    def __init__(self, days: list[date]):
        super().__init__(days)
        self.days = days


def sessions_outside(course: Course, starts_on: date, ends_on: date) -> list[date]:
    """The days (China time) of ``course``'s sessions outside ``starts_on``–``ends_on``."""
    from webapp.services.activities import CHINA

    days = sorted({s.starts_at.astimezone(CHINA).date() for s in course.schedule})
    return [day for day in days if not starts_on <= day <= ends_on]


def may_manage(user: User, course: Course) -> bool:
    """The course unit's administrators, at it or above (not those only given a task)."""
    unit = db.session.get(OrgUnit, course.unit_id)
    return db.session.scalar(select(Membership.id).where(
        Membership.user_id == user.id, Membership.role.in_(ORGANISER_ROLES),
        Membership.unit_id.in_(unit.ancestor_ids)).limit(1)) is not None


def course_units(user: User, limit: int = 500) -> list[OrgUnit]:
    """The units ``user`` may run a course for, in tree order."""
    from webapp.services.org import in_scope_clause

    scope = in_scope_clause(user, ORGANISER_ROLES)
    if scope is None:
        return []
    return db.session.scalars(select(OrgUnit).where(
        scope, OrgUnit.active.is_(True), OrgUnit.kind.in_(COURSE_UNIT_KINDS))
        .order_by(OrgUnit.path).limit(limit)).all()


def _snapshot(course: Course) -> dict:
    values = {name: getattr(course, name) for name in COURSE_FIELDS}
    values["unit"] = course.unit.code if course.unit else None
    return values


def save_course(course: Course | None, actor: User, unit: OrgUnit, **fields) -> Course:
    """Create a course (``course`` None) or change one, keeping its places and audit.

    The capacity cannot drop below the places already given; a larger one goes to the
    waiting list first, in its order (each promoted and told); the dates must keep every
    session of the timetable (else ``SessionsOutsideDates``, nothing changed); the number
    of sessions follows the timetable once there is one.
    """
    from webapp.services import audit
    from webapp.services.activities import (CapacityError, _set_capacity, create_course,
                                            promote_waiting)

    occupations = tuple(fields.pop("occupations", ()) or ())
    if course is None:
        course = create_course(unit=unit, occupations=occupations, **fields)
        audit.record(actor, "course.create", ("course", course.id), {}, _snapshot(course), unit=unit)
        return course
    outside = sessions_outside(course, fields["starts_on"], fields["ends_on"])
    if outside:
        raise SessionsOutsideDates(outside)
    before = _snapshot(course)
    dates = (course.starts_on, course.ends_on)
    for name, value in fields.items():
        setattr(course, name, value)
    course.unit = unit
    course.occupations = ",".join(occupations)
    if course.schedule:
        course.sessions = len(course.schedule)
    try:
        promoted = _set_capacity(course_key(course), course.capacity)
    except CapacityError:
        taken = enrolled_count(course)
        raise CourseChangeError(taken) from None
    db.session.flush()
    audit.record(actor, "course.update", ("course", course.id), before, _snapshot(course), unit=unit)
    promote_waiting(promoted)  # more seats: the waiting list first, in its order
    if (course.starts_on, course.ends_on) != dates:
        retime_registrations(course)
    return course


def retime_registrations(course: Course) -> int:
    """The course's dates moved: registrations waiting for it to end wait for the new
    end, and those on its waiting list or under review wait until its new start (and
    are told); returns how many moved."""
    from webapp.services import workflow as wf

    # Every open registration for the course (its unique key, ``course:<id>``): those
    # with a seat, on the waiting list, and those still under review, whose review ends
    # when the course begins.
    running = db.session.scalars(
        select(Instance.id).where(Instance.process_key == "training_registration",
                                  Instance.unique_key == course_key(course),
                                  Instance.closed_at.is_(None))
        .order_by(Instance.id)).all()
    return len(wf.retime(running))


def enrolled_count(course: Course) -> int:
    from webapp.models import CapacityResource

    resource = db.session.get(CapacityResource, course_key(course))
    return resource.granted if resource is not None else 0


def add_session(course: Course, actor: User, starts_at: datetime, ends_at: datetime,
                topic: str) -> CourseSession:
    from webapp.services import audit

    if any(s.starts_at == starts_at for s in course.schedule):
        raise CourseChangeError("taken")
    session = CourseSession(course=course, starts_at=starts_at, ends_at=ends_at, topic=topic)
    db.session.add(session)
    db.session.flush()
    course.sessions = len(course.schedule)
    audit.record(actor, "course.session_add", ("course", course.id), {},
                 {"starts_at": starts_at, "ends_at": ends_at, "topic": topic},
                 unit=course.unit)
    return session


def remove_session(course: Course, actor: User, session: CourseSession,
                   now: datetime | None = None) -> None:
    """Take a session off the timetable: only one not yet held, with nobody marked."""
    from webapp.services import audit

    now = now or utcnow()
    marked = db.session.scalar(select(Attendance.id).where(
        Attendance.session_id == session.id).limit(1))
    if session.starts_at <= now or marked is not None:
        raise CourseChangeError("held")
    if len(course.schedule) <= 1:
        raise CourseChangeError("last")
    before = {"starts_at": session.starts_at, "ends_at": session.ends_at,
              "topic": session.topic}
    course.schedule.remove(session)
    db.session.delete(session)
    db.session.flush()
    course.sessions = len(course.schedule)
    audit.record(actor, "course.session_remove", ("course", course.id), before, {}, unit=course.unit)


# ------------------------------------------------------------------ courses for workers

# The process a course is registered for (its start form's ``course`` field).
REGISTRATION_PROCESS = "training_registration"
OFFERED_LIMIT = 200


@dataclass(frozen=True)
class Offer:
    """A course as a worker sees it before registering: its places left and whether
    registration is open — ``open``, ``not_yet`` (opens on ``opens_on``) or ``closed`` —
    and the eligibility the registration checks (``facts``: the record the definition's
    start checks read, so the page says what they will say)."""

    course: Course
    left: int
    registration: str
    facts: dict

    @property
    def open(self) -> bool:
        return self.registration == "open"

    @property
    def hours(self) -> float:
        return self.course.hours


def registration_state(course: Course, today: date) -> str:
    """As the definition's start checks judge it: within the registration window, and —
    for a course that asks for approval — before it begins (no time left to review)."""
    if today < course.opens_on:
        return "not_yet"
    if today > course.closes_on or (course.requires_approval and today >= course.starts_on):
        return "closed"
    return "open"


def _today() -> date:
    from webapp.services.activities import CHINA

    return datetime.now(CHINA).date()


def _offers(courses: list[Course], today: date) -> list[Offer]:
    from webapp.models import CapacityResource
    from webapp.services.activities import course_record

    from sqlalchemy.orm import selectinload

    if courses:  # the timetables and units the pages show, in two queries, not one a course
        db.session.scalars(select(Course).where(Course.id.in_([c.id for c in courses]))
                           .options(selectinload(Course.schedule),
                                    selectinload(Course.unit))).all()
    keys = [course_key(c) for c in courses]
    left = {key: max((capacity or 0) - granted, 0) for key, capacity, granted in
            db.session.execute(select(CapacityResource.key, CapacityResource.capacity,
                                      CapacityResource.granted)
                               .where(CapacityResource.key.in_(keys or [""])))}
    return [Offer(c, left.get(course_key(c), 0), registration_state(c, today),
                  course_record(c.id)) for c in courses]


def offered_courses(today: date | None = None) -> list[Offer]:
    """Courses a worker may still register for, or soon may: registration not closed,
    soonest first."""
    today = today or _today()
    rows = db.session.scalars(select(Course).where(Course.closes_on >= today)
                              .order_by(Course.starts_on, Course.id).limit(OFFERED_LIMIT)).all()
    return [offer for offer in _offers(rows, today) if offer.registration != "closed"]


def offer_of(course: Course, today: date | None = None) -> Offer:
    return _offers([course], today or _today())[0]


def offers_of(ids: list[int], today: date | None = None) -> list[Offer]:
    """The courses with ``ids`` (those a registration form lists), in that order."""
    found = {c.id: c for c in db.session.scalars(select(Course).where(Course.id.in_(ids)))}
    return _offers([found[i] for i in ids if i in found], today or _today())


def may_register(user: User) -> bool:
    """Whether ``user`` may start a registration at all (a worker, the process live)."""
    from webapp.services import workflow as wf
    from workflows import engine

    try:
        spec = wf.spec_of(wf.current_version(REGISTRATION_PROCESS))
    except WorkflowError:
        return False
    return engine.can_start(spec, user.id, wf.DbDirectory())


def own_registration(user: User, course: Course) -> Instance | None:
    """``user``'s running registration for ``course``, if any."""
    return db.session.scalar(select(Instance).where(
        Instance.process_key == REGISTRATION_PROCESS, Instance.applicant_id == user.id,
        Instance.unique_key == course_key(course), Instance.closed_at.is_(None))
        .order_by(Instance.id.desc()).limit(1))



@dataclass(frozen=True)
class Declaration:
    """What a reviewer of a registration weighs the stated occupation by: the worker's
    own word (nothing in the directory records a person's trade — a unit has no
    industry), whether they confirmed it true, whom the course is for, and the union
    unit they belong to."""

    occupation: str
    confirmed: bool | None   # None: asked by no version of the form they used
    course_for: str          # the course's occupations, "" for anyone
    unit: OrgUnit | None


def declaration(instance: Instance, occupation_text: str, locale: str) -> Declaration | None:
    """For a registration with a course and a stated occupation (shown as
    ``occupation_text``); None for other requests."""
    found = register_of(instance)
    data = instance.state.get("data", {})
    if found is None or "occupation" not in data:
        return None
    from webapp.services.workflow import spec_of_instance

    asked = spec_of_instance(instance).start.form.field("occupation_confirmed") is not None
    facts = offer_of(found[1]).facts
    applicant = db.session.get(User, instance.applicant_id)
    return Declaration(
        occupation=occupation_text,
        confirmed=bool(data.get("occupation_confirmed")) if asked else None,
        course_for=facts["occupation_names_en" if locale == "en" else "occupation_names"],
        unit=applicant.unit if applicant is not None else None)
