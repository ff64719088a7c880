"""Tasks nobody holds (no one has the role the step asks for), and giving them to someone.

The engine decides who may reassign (``workflows.actions.Reassign``): a platform
administrator, or a unit/district/city administrator over the applicant's unit.  The
list here shows each administrator the same part of the tree, so every row it offers is
one they can act on.
"""
from __future__ import annotations

from sqlalchemy import false, or_, select, true
from sqlalchemy.orm import contains_eager

from webapp.models import Instance, Task, User
from webapp.services import workflow as wf
from webapp.services.directory import DbDirectory
from webapp.services.org import in_scope_clause
from webapp.services.users import find_user
from workflows import engine
from workflows.actions import REASSIGN_ROLES
from workflows.errors import NotFound
from workflows.runtime import Action

NAMED_KINDS = wf.NAMED_KINDS  # step kinds whose tasks are for named people
MAY_REASSIGN = REASSIGN_ROLES | {"platform_admin"}


def may_reassign(user: User) -> bool:
    return any(m.role in MAY_REASSIGN for m in user.memberships)


def scope_clause(user: User):
    """WHERE clause on Instance: the requests whose stuck tasks ``user`` may reassign."""
    if any(m.role == "platform_admin" for m in user.memberships):
        return true()
    # The applicant's unit or the station the request names (as the engine's Reassign).
    clauses = [clause for column in (Instance.unit_path, Instance.station_path)
               if (clause := in_scope_clause(user, REASSIGN_ROLES, column)) is not None]
    return or_(*clauses) if clauses else false()


def unassigned_tasks_query(user: User):
    """Open tasks for named people that nobody holds — or that are overdue with nobody
    above to escalate to — in ``user``'s scope, oldest first.

    Requests of ``user`` themselves are left out: nobody reassigns their own request.
    """
    # ``unheld`` (kept by every save, with the task's ``stalled`` mark) finds the few
    # candidates by a partial index; the rest of the rule is checked on those few.
    return (select(Task).join(Instance, Instance.id == Task.instance_id)
            .options(contains_eager(Task.instance))
            .where(Task.status == "open", Task.unheld, Task.kind.in_(NAMED_KINDS),
                   Task.pool_role.is_(None), Instance.applicant_id != user.id,
                   scope_clause(user))
            .order_by(Task.opened_at, Task.id))


def eligible_ids(task: Task) -> tuple:
    """Who the task could go to, as the engine names them: its step's rule or that
    rule's escalation, other than the applicant and those holding it."""
    instance = task.instance
    return engine.reassign_candidates(wf.spec_of_instance(instance), wf.state_of(instance),
                                      task.key, DbDirectory())


def candidates_for(tasks, limit: int = 5) -> dict[int, list[User]]:
    """A few people each task could go to (its step's rule or that rule's escalation),
    by task id, with one query for all of them."""
    from webapp.extensions import db

    wanted = {task.id: [i for i in eligible_ids(task) if isinstance(i, int)][:limit]
              for task in tasks}
    ids = {i for chosen in wanted.values() for i in chosen}
    found = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} \
        if ids else {}
    return {task_id: [found[i] for i in chosen if i in found]
            for task_id, chosen in wanted.items()}


def who_should_act(task: Task, rule, locale: str) -> str:
    """The step's rule in words, with the unit it named for this request:
    "责任单位（歇马工会驿站）的基层工会管理员" — what the administrator has to find."""
    from webapp.extensions import db
    from webapp.models import OrgUnit
    from workflows.rules import RuleContext, resolve_unit

    spec = wf.spec_of_instance(task.instance)
    ref = rule.of or rule.within
    unit = None
    if ref is not None:
        state = wf.state_of(task.instance)
        unit_id = resolve_unit(ref, RuleContext(DbDirectory(), state.applicant,
                                                state.applicant_unit, state.data, spec.fields))
        row = db.session.get(OrgUnit, unit_id) if isinstance(unit_id, int) else None
        unit = row.label(locale) if row is not None else None
    return rule.describe(locale, spec.fields, unit)


def reassign(task: Task, username: str, actor: User, comment: str | None = None) -> User:
    """Give ``task`` to the user called ``username``; the engine checks who may and who
    is eligible.  NotFound when there is no such user."""
    target = find_user(username)
    if target is None or not target.active:
        raise NotFound("找不到该用户，请核对用户名", "There is no such user; check the username",
                       code="no_user")
    wf.perform(task.instance_id, Action("reassign", task=task.key, user=target.id,
                                        comment=comment or None), actor)
    return target


__all__ = ["unassigned_tasks_query", "candidates_for", "eligible_ids", "reassign", "may_reassign",
           "who_should_act"]
