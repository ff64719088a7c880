"""The routes of API.md.  Thin: every rule lives in the services the pages use too."""
from __future__ import annotations

import hashlib
import json

from flask import request, url_for
from flask_babel import gettext as _
from sqlalchemy import and_, or_, select

from forms import validate_data
from webapp.api import present
from webapp.api.http import (ApiError, body, fail, int_arg, invalid, receive, text_field,
                             user)
from webapp.api.registry import Param, page_params, route
from webapp.extensions import db
from webapp.i18n import current_locale_short, select_locale
from webapp.models import Instance, Notification, Task
from webapp.models.types import utcnow
from webapp.notifications import read_about
from webapp.pagination import MAX_ID, id_arg, paginate
from webapp.services import access, resubmission, stations, uploads
from webapp.services import workflow as wf
from webapp.services.choices import provider
from webapp.services.decisions import (DECISIONS, action_form, already_decided,
                                      delegate_candidates, form_actions, form_context,
                                      needs_comment, task_actions)
from webapp.services.stations import SERVICE_ALIASES, SERVICES
from webapp.services.users import find_user
from workflows import engine
from workflows.errors import Conflict, InvalidInput, NotAllowed, NotFound
from workflows.runtime import Action

STATUSES = ("running", "approved", "rejected", "withdrawn", "cancelled", "expired", "completed")


def _page(stmt, present_row, for_page=None) -> dict:
    """A page of ``stmt``'s rows, each presented by ``present_row`` — or by the function
    ``for_page(rows)`` returns, when the page's rows are read together first."""
    # Past the end: no items (an app loads pages until one is empty), not the last again.
    found = paginate(stmt, int_arg("per_page", 20, 1, 100), past_end="empty")
    if for_page is not None:
        present_row = for_page(found.rows)
    return {"items": [present_row(r) for r in found.rows], "total": found.total,
            "page": found.page, "per_page": found.per_page}


def _validated(form_spec, data, files, context=None) -> dict:
    """The clean data, or 422 with the same messages the web form would show."""
    locale = select_locale()
    # Units and stations are checked against the values sent, not against every
    # station of the city (the form is never drawn here).
    sent = data if isinstance(data, dict) else {}
    clean, errors = validate_data(form_spec, data if data is not None else {}, locale=locale,
                                  choices=provider(locale, only=sent) if form_spec else None,
                                  files=files, context=context)
    if errors:
        invalid({name or "data": texts for name, texts in errors.items()})
    return clean


# ---------------------------------------------------------------------------- processes

def _commit(answer):
    """Commit, then answer with what was built just before: the request still held the
    instance's lock, so it is what was committed — and nothing is read twice."""
    db.session.commit()
    return answer


@route("/processes", "GET", summary="The published processes the caller may start",
       tag="processes", responses={200: "ProcessList"})
def processes():
    me = user()
    return {"items": [present.process_summary(spec, d.latest.version)
                      for d, spec in wf.startable_processes(me)]}


@route("/processes/<key>", "GET", summary="One process: its start form and its steps",
       tag="processes", responses={200: "Process"})
def process(key: str):
    me = user()
    version = wf.current_version(key)  # unknown or retired: 404
    spec = wf.spec_of(version)
    open_id = wf.open_request_of(spec, me)
    return present.process(spec, version.version,
                           open_id is None and engine.can_start(spec, me.id, wf.DbDirectory()),
                           open_id, wf.starts_for_others(spec, me))


@route("/processes/<key>/applicants", "GET",
       summary="Whom the caller may start the process for (on_behalf_of)",
       tag="processes", responses={200: "DelegateList"}, errors=(403,))
def applicants(key: str):
    me = user()
    spec = wf.spec_of(wf.current_version(key))
    if not wf.starts_for_others(spec, me):
        fail(403, _("您不能代他人发起此流程。"), code="no_on_behalf")
    return {"items": [{"username": p.username, "display_name": p.display_name,
                       "unit": present.unit(p.unit)}
                      for p in wf.applicants_for(spec, me)]}


IDEMPOTENCY_KEY = Param(
    "Idempotency-Key", {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"},
    "a key of the client's own (16–64 letters, digits, - or _) for this one start: sent "
    "again with the same key and the same request (a retry after a lost answer), the "
    "request started the first time is answered, 200 with Idempotent-Replayed: true, and "
    "nothing new is started; the same key with another process or another body is a 422 "
    "(code idempotency_key_reused)")


@route("/processes/<key>/instances", "POST", summary="Start the process with the start form's data",
       tag="processes", body="StartRequest", responses={201: "Instance", 200: "Instance"},
       errors=(403, 409), multipart=True, headers=(IDEMPOTENCY_KEY,))
def start(key: str):
    me = user()
    version = wf.current_version(key)
    spec = wf.spec_of(version)
    for_self = engine.can_start(spec, me.id, wf.DbDirectory())
    for_others = wf.starts_for_others(spec, me)
    if not for_self and not for_others:
        fail(403, _("您不能发起此流程。"))
    sent_key = request.headers.get(IDEMPOTENCY_KEY.name)
    once = wf.submission_key(me.id, sent_key)
    if sent_key is not None and once is None:
        fail(400, _("Idempotency-Key 应为 16–64 个字母、数字、- 或 _。"),
             code="bad_idempotency_key")
    payload, files = body()  # who may start comes before what they sent
    sent = _fingerprint(key, payload, files) if once is not None else None
    first = wf.submitted(once)
    if first is not None:
        return _started_before(first, me, once, sent)
    applicant = _applicant(spec, me, payload, for_self, for_others)
    data = payload.get("data", {})
    try:
        clean = _validated(spec.start.form, data, files)
    except ApiError:
        # One at a time: said rather than the form's fields (409 before 422, as the
        # order of checks in docs/api.md has it), so an app does not show field errors
        # to someone who cannot send the form anyway.  Asked only when the form is
        # refused: a valid one meets the same check in the engine, at no extra query.
        if applicant is me and wf.open_request_of(spec, me) is not None:
            raise engine.already_active(spec) from None
        raise
    clean = uploads.store(clean, me)
    try:
        instance = wf.start_instance(key, applicant, clean, version=version, submission=once,
                                     fingerprint=sent, by=None if applicant is me else me)
    except wf.AlreadySubmitted as exc:  # the same key, at the same moment
        db.session.rollback()
        return _started_before(exc.instance_id, me, once, sent)
    uploads.attach(instance.id, clean, me)
    # Its address before the commit: the commit expires the row, and reading its id
    # afterwards would read the whole request back in a transaction of its own.
    location = url_for("api.instance", instance_id=instance.id)
    return _commit(present.instance(instance, me)), 201, {"Location": location}


def _applicant(spec, me, payload: dict, for_self: bool, for_others: bool):
    """Whom the start is for: the caller, or the person ``on_behalf_of`` names (a
    username) whom the definition's ``start.on_behalf`` lets the caller start it for —
    403 with the engine's reason (``not_on_behalf``, ``applicant_not_eligible``) if not,
    422 on the member if nobody has that username."""
    errors: dict = {}
    named = text_field(payload, "on_behalf_of", max_length=64, errors=errors)
    if errors:
        invalid(errors)
    if named is None:
        if not for_self:
            invalid({"on_behalf_of": [_("请填写被代办人的用户名。")]})
        return me
    if not for_others:
        fail(403, _("您不能代他人发起此流程。"), code="no_on_behalf")
    try:
        person = wf.applicant_for(spec, me, named)
    except NotFound:
        invalid({"on_behalf_of": [_("找不到该用户，请核对用户名。")]})
    return me if person.id == me.id else person


def _fingerprint(process_key: str, payload: dict, files: dict) -> str:
    """SHA-256 of what a start sent: the process, the JSON body and every file's bytes."""
    digest = hashlib.sha256(json.dumps([process_key, payload], sort_keys=True,
                                       ensure_ascii=False, default=str).encode("utf-8"))
    for name in sorted(files):
        for upload in files[name]:
            digest.update(b"\x00" + name.encode("utf-8", "surrogatepass") + b"\x00")
            stream = upload.stream
            where = stream.tell()
            for chunk in iter(lambda: stream.read(65536), b""):
                digest.update(chunk)
            stream.seek(where)  # read again when the file is stored
    return digest.hexdigest()


def _started_before(instance_id: int, me, once: str, sent: str | None):
    """The answer to a start sent again with its Idempotency-Key: the request it started —
    unless the key came with another request (another process, another body), which a
    retry never does: a client's mistake, refused rather than answered with the wrong
    request."""
    recorded = wf.submission_fingerprint(once)
    if recorded is not None and sent is not None and recorded != sent:
        fail(422, _("这个 Idempotency-Key 已用于另一次不同内容的提交：每次新的提交请使用新的键，"
                    "重试时请原样重发。"), code="idempotency_key_reused")
    instance = db.session.get(Instance, instance_id)
    return (present.instance(instance, me), 200,
            {"Location": url_for("api.instance", instance_id=instance_id),
             "Idempotent-Replayed": "true"})


# ---------------------------------------------------------------------------- instances

@route("/instances", "GET", summary="The caller's requests, or (mine=0) all they may see",
       tag="instances", responses={200: "InstancePage"},
       query=(Param("mine", {"type": "string", "enum": ["0", "1"], "default": "1"},
                    "1: the caller's own requests; 0: every one in the caller's scope"),
              Param("process", {"type": "string", "maxLength": 64}, "process key"),
              Param("status", {"type": "string", "enum": list(STATUSES)}),
              Param("state", {"type": "string", "maxLength": 64},
                    "a current step id, an end id, or (for a request ended without "
                    "reaching an end: withdrawn, cancelled) its status"),
              *page_params()))
def instances():
    me = user()
    stmt = select(Instance).where(Instance.status != "starting")
    if request.args.get("mine", "1") == "0":
        stmt = stmt.where(access.visible_clause(me))
    else:
        stmt = stmt.where(Instance.applicant_id == me.id)
    if request.args.get("process"):
        stmt = stmt.where(Instance.process_key == request.args["process"])
    if request.args.get("status"):  # one of STATUSES, checked against the schema
        wanted = [request.args["status"]] + [inner for inner, shown in present.API_STATUS.items()
                                             if shown == request.args["status"]]
        stmt = stmt.where(Instance.status.in_(wanted))
    state = request.args.get("state")
    if state:
        stmt = stmt.where(or_(Instance.steps == state, Instance.steps.startswith(state + ","),
                              Instance.steps.endswith("," + state),
                              Instance.steps.contains("," + state + ","),
                              Instance.state["end"].as_string() == state,
                              and_(Instance.closed_at.is_not(None), Instance.steps == "",
                                   Instance.status == state,
                                   Instance.state["end"].as_string().is_(None))))
    return _page(stmt.order_by(Instance.id.desc()), present.instance_summary,
                 present.instance_summaries)


def _visible(instance_id: int) -> Instance:
    me = user()
    row = db.session.get(Instance, instance_id)
    if row is None or not access.can_view(me, row):
        fail(404, _("找不到该申请。"))
    return row


@route("/instances/<int:instance_id>", "GET", summary="One request as the caller may see it",
       tag="instances", responses={200: "Instance"})
def instance(instance_id: int):
    row = _visible(instance_id)
    read_about(user(), row.id)  # the caller's messages about it, as the page does
    return present.instance(row, user())


@route("/instances/<int:instance_id>/withdraw", "POST", summary="The applicant withdraws",
       tag="instances", body="WithdrawRequest", responses={200: "Instance"}, errors=(403, 409))
def withdraw(instance_id: int):
    row = _visible(instance_id)
    if row.status != "running":
        fail(409, _("该申请已结束，不能撤回。"), code="already_decided")
    _require(row, "withdraw", _("只有申请人可以撤回。"))
    payload, _files = body()
    errors: dict = {}
    comment = text_field(payload, "comment", errors=errors)
    if errors:
        invalid(errors)
    wf.perform(row.id, Action("withdraw", comment=comment), user())
    return _commit(present.instance(row, user()))


def _require(row: Instance, action: str, refusal: str) -> None:
    """403 unless the engine lets the caller do ``action`` on the instance now
    (asked before the body is read: who may act comes before what they sent)."""
    if action not in {a.action for a in wf.available_actions(row, user()) if a.task is None}:
        fail(403, refusal)


@route("/instances/<int:instance_id>/comments", "POST", summary="Add a comment",
       tag="instances", body="CommentRequest", responses={201: "Instance"}, errors=(403, 409))
def comment(instance_id: int):
    row = _visible(instance_id)
    if row.closed_at is not None:  # already done: a conflict, as for withdraw
        fail(409, _("该申请已结束，不能再留言。"), code="already_decided")
    _require(row, "comment", _("您未参与此申请，不能留言。"))
    payload, _files = body()
    errors: dict = {}
    text = text_field(payload, "text", required=True, errors=errors)
    if errors:
        invalid(errors)
    wf.perform(row.id, Action("comment", comment=text), user())
    return _commit(present.instance(row, user())), 201


# ---------------------------------------------------------------------------- tasks

@route("/tasks", "GET", summary="Open tasks: assigned to the caller, in a pool to claim, "
       "or public notices to object to", tag="tasks", responses={200: "TaskPage"},
       query=(Param("scope", {"type": "string", "enum": ["mine", "pool", "notices"],
                              "default": "mine"},
                    "mine: assigned to the caller; pool: open to one of the caller's roles, "
                    "to claim; notices: the public notices (公示) now open to objection, "
                    "as on the notice board, soonest ending first"),
              *page_params()))
def tasks():
    me = user()
    scope = request.args.get("scope", "mine")  # checked against the schema
    if scope == "notices":
        # The notice board's tasks (everyone signed in reads them; ``actions`` says
        # whether this caller may object — not to their own).
        stmt = select(Task).where(Task.status == "open", Task.kind == "publicity")
        return _page(stmt.order_by(Task.due_at.is_(None), Task.due_at, Task.id), None,
                     lambda rows: present.tasks(rows, me))
    stmt = wf.assigned_tasks_query(me) if scope == "mine" else wf.pool_tasks_query(me)
    return _page(stmt.order_by(None).order_by(Task.opened_at, Task.id), None,
                 lambda rows: present.tasks(rows, me))


def _task(task_id: int, *, lock: bool = False) -> Task:
    """The task if the caller may see it, else 404; ``lock``: about to act on it (its
    request's row locked until the commit, taken once the body has arrived)."""
    me = user()
    if lock:
        receive()
    row = access.task_for(me, task_id, lock=lock)
    if row is None or not access.can_view(me, row.instance):
        fail(404, _("找不到该任务。"))
    return row


@route("/tasks/<int:task_id>/claim", "POST", summary="Take a pooled task", tag="tasks",
       responses={200: "Instance"}, errors=(403, 409))
def claim(task_id: int):
    me = user()
    # Read (and lock) first: whoever waited here for a rival's claim to commit sees it.
    receive()
    task = access.task_for(me, task_id, lock=True)
    if task is not None and not access.can_view(me, task.instance):
        # No longer on their wall because someone took it: say so, to the pool only.
        if access.lost_claim(me, task):
            fail(409, _("已被他人认领。"), code="claimed")
        task = None
    if task is None:
        fail(404, _("找不到该任务。"))
    _refuse_own_claim(task, me)
    if task.status != "open":
        fail(409, _("此任务已由他人处理。"), code="already_decided")
    if "claim" not in task_actions(task.instance, task, me):
        fail(403, _("您不能认领此任务。"))
    body()  # takes no members: anything sent is refused, not ignored
    wf.perform(task.instance_id, Action("claim", task=task.key), me)
    return _commit(present.instance(task.instance, me))


def _refuse_own_claim(task: Task, me) -> None:
    """Claiming again what the caller already holds (or waits for): 409 saying so, as
    the engine says it on the web page — not "someone else handled it"; codes of their
    own (``already_yours``: an app opens the task rather than show an error)."""
    group = wf.state_of(task.instance).claim
    if group is None or group.step != task.step:
        return
    if me.id in group.claimers or me.id in group.waitlist:
        _refuse_as_the_engine_would(task, Action("claim"), me)


def _asked_action() -> str | None:
    """The ``action`` member of the body if it can be read at a glance — to say why it
    is refused before the body itself is checked (403 / 409 come before 400 / 422)."""
    try:
        sent = json.loads(request.form.get("json") or "{}") \
            if request.mimetype == "multipart/form-data" else request.get_json(silent=True)
    except (ValueError, RecursionError):  # said by ``body`` if it comes to reading it
        return None
    action = sent.get("action") if isinstance(sent, dict) else None
    return action if isinstance(action, str) else None


def _refuse_as_the_engine_would(task: Task, action: Action, me) -> None:
    """An action the caller may not take now, refused as the engine says it when it is a
    conflict (objecting twice: 409 already_objected) rather than a bare 403."""
    why = wf.refusal(task.instance, me, action)
    if isinstance(why, Conflict):
        raise why


@route("/tasks/<int:task_id>/complete", "POST", summary="Decide or complete a task",
       tag="tasks", body="CompleteRequest", responses={200: "Instance"}, errors=(403, 409),
       multipart=True)
def complete(task_id: int):
    task = _task(task_id, lock=True)
    me = user()
    instance = task.instance
    actions = task_actions(instance, task, me)
    if not any(a in DECISIONS + ("resubmit",) for a in actions):
        if task.status != "open":
            # Who decided it and when, or how the request ended — as the page says it.
            fail(409, already_decided(instance, task), code="already_decided")
        asked = _asked_action()
        if asked in DECISIONS:
            _refuse_as_the_engine_would(task, Action(asked, task=task.key), me)
        fail(403, _("您不能处理此任务。"))
    payload, files = body()
    errors: dict = {}
    action = payload.get("action")
    comment = text_field(payload, "comment", errors=errors)
    to = text_field(payload, "to", max_length=64, errors=errors)
    version = payload.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        errors["version"] = [_("应为整数。")]
    if action in OWN_ROUTES:  # listed in the task's actions, done by a route of its own
        errors["action"] = [_("“%(action)s”请用 POST /api/v1/tasks/%(id)s/%(action)s。",
                              action=action, id=task.id)]
    elif not isinstance(action, str) or action not in DECISIONS + ("resubmit",):
        errors["action"] = [_("应为以下之一：%(values)s",
                              values=", ".join(DECISIONS + ("resubmit",)))]
    if errors:
        invalid(errors)
    if action not in actions:
        _refuse_as_the_engine_would(task, Action(action, task=task.key), me)
        fail(403, _("您不能对此任务进行该操作。"))
    spec = wf.spec_of_instance(instance)
    no_reason = {"comment": [_("请填写理由：驳回、退回和异议都需要说明原因。")]} \
        if not comment and needs_comment(spec, task, action) else {}
    data = None
    if action == "resubmit":
        data = uploads.store(_resubmitted(instance, payload.get("data", {}), files), me) or None
    elif action in form_actions(spec, task):
        try:
            clean = _validated(action_form(spec, task, action), payload.get("data", {}),
                               files, form_context(instance))
        except ApiError as exc:  # a reject without its reason either: both said at once
            exc.fields = {**no_reason, **(exc.fields or {})}
            raise
        if not no_reason:
            data = uploads.store(clean, me) or None
    elif payload.get("data"):
        invalid({**no_reason, "data": [_("此操作不接受表单数据。")]})
    if no_reason:
        invalid(no_reason)
    wf.perform(instance.id, Action(action, task=task.key, comment=comment, data=data, to=to,
                                   expected_version=version), me)
    if data:
        uploads.attach(instance.id, data, me)
    return _commit(present.instance(instance, me))


@route("/tasks/<int:task_id>/delegates", "GET", summary="Who the caller may hand the task to",
       tag="tasks", responses={200: "DelegateList"}, errors=(403, 409))
def delegates(task_id: int):
    task = _task(task_id)
    me = user()
    if task.status != "open":
        fail(409, _("此任务已办结。"), code="already_decided")
    if "delegate" not in task_actions(task.instance, task, me):
        fail(403, _("只有任务的处理人可以转办。"))
    return {"items": [{"username": p.username, "display_name": p.display_name,
                       "unit": present.unit(p.unit)}
                      for p in delegate_candidates(task.instance, task, me)]}


def _resubmitted(instance: Instance, data, files) -> dict:
    """The start form's clean data for a returned request sent back: a file field left
    out, or sent as records of the files it has, keeps them (``services.resubmission``);
    records of any other file are a 422 on their field, with the form's own."""
    keeping = resubmission.keep_files(wf.spec_of_instance(instance).start.form, instance,
                                      data, files)
    try:
        clean = _validated(keeping.form, keeping.data, files)
    except ApiError as exc:
        exc.fields = {**(exc.fields or {}), **keeping.errors}
        raise
    if keeping.errors:
        invalid(keeping.errors)
    return keeping.restore(clean)


@route("/tasks/<int:task_id>/delegate", "POST", summary="Hand a task to someone eligible",
       tag="tasks", body="DelegateRequest", responses={200: "Instance"}, errors=(403, 409))
def delegate(task_id: int):
    task, me = _open_task_for("delegate", task_id, _("只有任务的处理人可以转办。"))
    payload, _files = body()
    errors: dict = {}
    to = text_field(payload, "to", required=True, max_length=64, errors=errors)
    comment = text_field(payload, "comment", errors=errors)
    target = find_user(to) if to else None
    if to and target is None:
        errors["to"] = [_("找不到该用户，请核对用户名。")]
    if errors:
        invalid(errors)
    try:
        wf.perform(task.instance_id, Action("delegate", task=task.key, user=target.id,
                                            comment=comment), me)
    except (InvalidInput, NotAllowed) as exc:
        # Someone who may not take the task, or who holds it already (the caller too):
        # the value of "to" is wrong — the caller may delegate, just not to them.
        if exc.code not in NOT_A_DELEGATE:
            raise
        invalid({"to": [exc.message(current_locale_short())]})
    return _commit(present.instance(task.instance, me))


NOT_A_DELEGATE = ("not_eligible", "already_assignee", "user_required")


@route("/tasks/<int:task_id>/urge", "POST", summary="Press a task's holders to act (催办)",
       tag="tasks", body="UrgeRequest", responses={200: "Instance"}, errors=(403, 409))
def urge(task_id: int):
    task, me = _open_task_for("urge", task_id, _("只有督办人或负责该范围的管理员可以催办。"),
                              explain=True)  # pressed a moment ago: 409 urged_recently
    payload, _files = body()
    errors: dict = {}
    comment = text_field(payload, "comment", max_length=500, errors=errors)
    if errors:
        invalid(errors)
    wf.perform(task.instance_id, Action("urge", task=task.key, comment=comment), me)
    return _commit(present.instance(task.instance, me))


def _open_task_for(action: str, task_id: int, refused: str, *, explain: bool = False):
    """The open task a route of its own acts on (read locked) and the caller: 409 when it
    is closed, 403 ``refused`` when the caller may not ``action`` it — or, ``explain``,
    the engine's own conflict when that is why."""
    task = _task(task_id, lock=True)
    me = user()
    if task.status != "open":
        fail(409, _("此任务已办结。"), code="already_decided")
    if action not in task_actions(task.instance, task, me):
        if explain:
            _refuse_as_the_engine_would(task, Action(action, task=task.key), me)
        fail(403, refused)
    return task, me


# Actions a task lists that are not decisions: each has its own route.
OWN_ROUTES = ("delegate", "claim", "urge")


# ---------------------------------------------------------------------------- notifications

@route("/notifications", "GET", summary="The caller's in-app notifications, newest first",
       tag="notifications", responses={200: "NotificationPage"},
       query=(Param("unread", {"type": "string", "enum": ["0", "1"], "default": "0"}),
              *page_params()))
def notifications():
    me = user()
    stmt = select(Notification).where(Notification.user_id == me.id)
    if request.args.get("unread") == "1":
        stmt = stmt.where(Notification.read_at.is_(None))
    page = _page(stmt.order_by(Notification.id.desc()), lambda n: n)
    titles = dict(db.session.execute(select(Instance.id, Instance.title_column(
        current_locale_short())).where(
        Instance.id.in_({n.instance_id for n in page["items"] if n.instance_id}))).all())
    page["items"] = [present.notification(n, titles.get(n.instance_id)) for n in page["items"]]
    return page


@route("/notifications/<int:notification_id>/read", "POST", summary="Mark a notification read",
       tag="notifications", responses={200: "Notification"})
def read_notification(notification_id: int):
    me = user()
    row = db.session.get(Notification, notification_id)
    if row is None or row.user_id != me.id:
        fail(404, _("找不到该通知。"))
    body()  # takes no members: anything sent is refused, not ignored
    if row.read_at is None:
        row.read_at = utcnow()
        db.session.commit()
    title = db.session.scalar(select(Instance.title_column(current_locale_short()))
                              .where(Instance.id == row.instance_id)) \
        if row.instance_id else None
    return present.notification(row, title)


# ---------------------------------------------------------------------------- stations

@route("/stations", "GET", summary="The station directory", tag="stations",
       responses={200: "StationPage"},
       query=(Param("district", {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                    "a district's id (GET /api/v1/districts, or a station's district_id)"),
              Param("service", {"type": "array", "items": {
                  "type": "string", "enum": sorted(SERVICES.keys() | SERVICE_ALIASES.keys())}},
                    "services the station must all offer (repeat the argument): the names of "
                    "a station's services (car_parking, charging_piles, …) or the short "
                    "parking, charging"),
              Param("q", {"type": "string", "maxLength": 50},
                    "words the name, English name, address or landmark must hold, each "
                    "(\"驿站\" and \"station\" need not be in the name)"),
              Param("open", {"type": "string", "enum": ["0", "1"]}, "1: open ones only"),
              *page_params()))
def station_list():
    user()  # the arguments were checked against the declared schema already
    q = (request.args.get("q") or "").strip()
    stmt = stations.search(q, id_arg("district"), request.args.getlist("service"),
                           request.args.get("open") == "1")
    return _page(stmt, present.station)


@route("/districts", "GET", summary="The districts (区县): the ids the station directory "
       "filters by", tag="stations", responses={200: "DistrictPage"}, query=page_params())
def district_list():
    user()
    return _page(stations.districts(), present.district)
