"""Who may see an instance, and whether they may see its personal data.

Anyone without the right to see an instance gets 404, never a hint that it exists.
"""
from __future__ import annotations

from sqlalchemy import bindparam, event, exists, false, or_, select
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload

from webapp.extensions import db
from webapp.models import Instance, Task, TaskAssignee, User
from webapp.models.org import subtree_range
from webapp.services import org_cache, workflow

# Roles that oversee everything below the unit where they hold them.
OVERSIGHT_ROLES = frozenset({"unit_admin", "district_admin", "city_admin", "platform_admin",
                             "supervisor"})


def oversight_clause(user: User):
    """WHERE clause: instances whose applicant's unit — or the station they name (a
    demand, a wish, a duty: the station's street and district run it) — lies below one
    of the user's oversight units (None when the user oversees nothing)."""
    ranges = [clause for m in user.memberships if m.role in OVERSIGHT_ROLES
              for clause in (subtree_range(Instance.unit_path, m.unit.path),
                             subtree_range(Instance.station_path, m.unit.path))]
    return or_(*ranges) if ranges else None


def visible_clause(user: User):
    """WHERE clause for every instance ``user`` may open."""
    from webapp.services.workflow import pool_tasks_query

    involved = exists(select(TaskAssignee.task_id).join(Task, Task.id == TaskAssignee.task_id)
                      .where(Task.instance_id == Instance.id, TaskAssignee.user_id == user.id))
    pooled = Instance.id.in_(pool_tasks_query(user).with_only_columns(Task.instance_id)
                             .order_by(None))
    clauses = [Instance.applicant_id == user.id, involved, pooled, on_public_notice()]
    oversight = oversight_clause(user)
    if oversight is not None:
        clauses.append(oversight)
    return or_(*clauses)


def on_public_notice():
    """WHERE clause: instances in a publicity period (公示), which every signed-in person
    may read (personal data stays masked) and object to, as a public notice means."""
    return exists(select(Task.id).where(Task.instance_id == Instance.id, Task.status == "open",
                                        Task.kind == "publicity"))


_GIVEN = "access_given"


@event.listens_for(Session, "after_transaction_end")
def _forget_given(session: Session, transaction) -> None:
    if transaction.parent is None:  # a reassignment may since have taken a task away
        session.info.pop(_GIVEN, None)


def _given_to_viewer():
    other = aliased(Task, name="given_task")
    return exists(select(TaskAssignee.task_id).join(other, other.id == TaskAssignee.task_id)
                  .where(other.instance_id == Task.instance_id,
                         TaskAssignee.user_id == bindparam("viewer_id"))
                  ).label("given_to_viewer")


# Built once (its alias alone makes two dozen column objects): values come as parameters.
_TASK_WITH_GIVEN = (select(Task, _given_to_viewer()).where(Task.id == bindparam("task_id"))
                    .options(joinedload(Task.instance)))
# The same, with the request's row locked as ``workflow.lock_instance`` locks it (and
# what that loads with it, and the organisation's generation).  PostgreSQL hands back
# the newest instance row once a concurrent decision commits, but the task's row (not
# locked) as of the query's start: the instance's version as of that start comes along,
# so a task changed meanwhile is seen and read again.
_SNAPSHOT = aliased(Instance, name="snapshot")
_TASK_LOCKED = (select(Task, _given_to_viewer(), org_cache.generation_column(),
                       select(_SNAPSHOT.lock_version).where(_SNAPSHOT.id == Task.instance_id)
                       .scalar_subquery().label("version_at_start"))
                .join(Task.instance).where(Task.id == bindparam("task_id"))
                .options(contains_eager(Task.instance).options(*workflow.LOCKED_LOAD))
                .with_for_update(of=Instance).execution_options(populate_existing=True))


def task_for(user: User, task_id: int, *, lock: bool = False) -> Task | None:
    """The task with its request, if it exists — read with whether a task of that request
    was ever given to ``user`` (the usual reason they may see it), which ``was_given``
    then knows without a query.  Whether they may see it is still ``can_view``'s call.

    ``lock``: for a request about to act on the task — its instance's row is locked in
    the same query, so the step (``workflow.perform``) reads it no second time.  A refusal
    ends the transaction and the lock with it."""
    found = db.session.execute(_TASK_LOCKED if lock else _TASK_WITH_GIVEN,
                               {"task_id": task_id, "viewer_id": user.id}).first()
    if found is None:
        return None
    task, given = found[0], found[1]
    if lock:
        org_cache.note_generation(found[2])
        workflow.note_locked(task.instance)
        if found[3] != task.instance.lock_version:  # decided while this request waited
            db.session.refresh(task)
            given = False  # maybe handed on meanwhile: ``was_given`` asks again
    if given:
        db.session.info.setdefault(_GIVEN, set()).add((user.id, task.instance_id))
    return task


def was_given(user: User, instance: Instance) -> bool:
    """Whether a task of the instance was ever given to ``user`` (assignees stay on a
    closed task).  A yes is remembered until the transaction ends (the API asks twice in
    one: may they open it, may they see personal data)."""
    known = db.session.info.setdefault(_GIVEN, set())
    if (user.id, instance.id) in known:
        return True
    given = db.session.scalar(select(TaskAssignee.task_id).join(
        Task, Task.id == TaskAssignee.task_id).where(
        Task.instance_id == instance.id, TaskAssignee.user_id == user.id).limit(1)) is not None
    if given:
        known.add((user.id, instance.id))
    return given


def note_given(user: User, instance_ids) -> None:
    """Ask ``was_given`` for many requests at once (a page of tasks): the ones given to
    ``user`` are remembered until the transaction ends, in one query."""
    ids = [i for i in set(instance_ids) if i is not None]
    if not ids:
        return
    known = db.session.info.setdefault(_GIVEN, set())
    known.update((user.id, instance_id) for instance_id in db.session.scalars(
        select(Task.instance_id).join(TaskAssignee, TaskAssignee.task_id == Task.id)
        .where(Task.instance_id.in_(ids), TaskAssignee.user_id == user.id).distinct()))


def can_view(user: User, instance: Instance) -> bool:
    if user is None or not user.is_authenticated:
        return False
    # The common cases first, each cheaper than the whole visibility clause (which also
    # reads the person's roles and units): their own request, or one given to them.
    if user.id == instance.applicant_id or was_given(user, instance):
        return True
    return db.session.scalar(select(Instance.id).where(
        Instance.id == instance.id, visible_clause(user))) is not None


def lost_claim(user: User, task: Task) -> bool:
    """A pooled task ``user`` may no longer see because someone else claimed it: it was
    offered to a pool they belong to (what they are told: "claimed by someone else",
    not "not found" — and only they, not strangers)."""
    return not can_view(user, task.instance) and db.session.scalar(
        select(Task.id).where(Task.id == task.id, workflow.pool_clause(user))) is not None


def oversees(user: User, instance: Instance) -> bool:
    """Whether one of ``user``'s oversight roles (administrators, supervisors) covers the
    instance: its applicant's unit or the station it names lies below the unit where
    they hold it."""
    oversight = oversight_clause(user)
    return oversight is not None and db.session.scalar(select(Instance.id).where(
        Instance.id == instance.id, oversight)) is not None


def can_see_private(user: User, instance: Instance) -> bool:
    """The applicant, the people the instance was given to, and overseers in scope.

    A volunteer who may only claim from the wall sees the wish masked until it is theirs.
    """
    if user.id == instance.applicant_id or was_given(user, instance):
        return True
    return oversees(user, instance)


def may_read_objections(user: User, instance: Instance) -> bool:
    """Who may read who objected to a request on public notice (公示), and why: the
    people it was given to (those who review the objection) and overseers in scope —
    not the nominee, nor the public the notice is shown to.  Each objector still sees
    their own (``helpers.history_rows``)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.id != instance.applicant_id and was_given(user, instance):
        return True
    return oversees(user, instance)


def staff_instances_clause(user: User):
    clause = oversight_clause(user)
    return clause if clause is not None else false()


__all__ = ["can_view", "can_see_private", "may_read_objections", "oversees", "visible_clause",
           "staff_instances_clause",
           "on_public_notice",
           "OVERSIGHT_ROLES"]
