from __future__ import annotations

import secrets

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from webapp import notifications
from webapp.extensions import db
from webapp.i18n import current_locale_short
from webapp.labels import STATUS_LABELS
from webapp.models import Instance
from webapp.pagination import as_id, paginate
from webapp.processes import bp
from webapp.processes.helpers import (display_rows, end_reason, file_visible, form_class,
                                      history_rows, on_notice, return_reason, show_errors,
                                      spec_for, task_label, viewable_instance)
from webapp.services import access, training, uploads
from webapp.services.privacy import mask_name
from webapp.services import workflow as wf
from webapp.services.progress import next_text, step_label
from workflows import engine
from workflows.diagram import focus, render_svg
from workflows.errors import InvalidInput, WorkflowError
from workflows.runtime import Action

PER_PAGE = 20


@bp.route("/processes")
@login_required
def index():
    return render_template("processes/index.html",
                           processes=wf.startable_processes(current_user))


@bp.route("/processes/<key>/start", methods=["GET", "POST"])
@login_required
def start(key: str):
    version = wf.current_version(key)  # NotFound → 404 page
    spec = wf.spec_of(version)
    for_self = engine.can_start(spec, current_user.id, wf.DbDirectory())
    # Those ``start.on_behalf`` names fill the form in for someone (代为推荐): it asks whom.
    for_others = wf.starts_for_others(spec, current_user)
    if not for_self and not for_others:
        abort(403)
    if request.method == "GET" and not for_others \
            and (open_id := wf.open_request_of(spec, current_user)):
        return render_template("processes/start.html", spec=spec, open_id=open_id)
    form = form_class(spec.start.form, narrowed=True)()
    if unavailable := _nothing_to_choose(form, spec.start.form):
        # A required list with nothing in it (nominations closed, no course open): say
        # so, rather than a form nobody can send.
        return (render_template("processes/start.html", spec=spec, unavailable=unavailable),
                200 if request.method == "GET" else 409)
    status, holder = 200, None
    behalf = {"for_self": for_self, "username": (request.form.get(ON_BEHALF, "").strip()
                                                 if request.method == "POST" else ""),
              "person": None, "error": None,
              "candidates": wf.applicants_for(spec, current_user) if for_others else []} \
        if for_others else None
    # This form's one-time key, made when it is first shown and sent back with it:
    # the same form sent twice starts one request (see ``Submission``).
    nonce = request.form.get(SUBMISSION) if request.method == "POST" else None
    once = wf.submission_key(current_user.id, nonce)
    if once is None:
        nonce = secrets.token_urlsafe(16)
    # The station filter's button: the same form again, what was typed kept and the
    # stations it finds listed — nothing checked or saved yet.
    finding = request.method == "POST" and bool(request.form.get(FIND_STATION))
    if finding:
        _forget_slot_of_another_station(form, spec.start.form)
    elif form.validate_on_submit() & _applicant_named(spec, for_self, for_others, behalf):
        first = wf.submitted(once)
        if first is not None:
            return _already_submitted(first)
        try:
            data = uploads.store(form.clean_data(), current_user)
            other = behalf["person"] if behalf else None
            instance = wf.start_instance(spec.key, other or current_user, data,
                                         version=version, submission=once,
                                         by=current_user if other else None)
            uploads.attach(instance.id, data, current_user)
            db.session.commit()
        except wf.AlreadySubmitted as exc:
            db.session.rollback()
            return _already_submitted(exc.instance_id)
        except InvalidInput as exc:
            db.session.rollback()
            show_errors(form, exc)
            status = 422
        except WorkflowError as exc:
            db.session.rollback()
            form.form_errors = [exc.message(current_locale_short())]
            status = exc.http_status
            holder = _holder_of(spec, exc, behalf["person"] if behalf else None)
        else:
            flash(_("已提交“%(name)s”。", name=spec.name if current_locale_short() == "zh"
                    else spec.name_en or spec.name) + " " + next_text(
                spec, instance, current_locale_short()), "success")
            return redirect(url_for("processes.instance", instance_id=instance.id))
    elif request.method == "POST":
        status = 422
    else:
        _preselect(form, spec.start.form)
    return (render_template("processes/start.html", spec=spec, form=form, submission=nonce,
                            holder=holder, courses=_course_offers(spec, form),
                            behalf=behalf), status)


# The start form's field naming whom the request is for (``start.on_behalf``).
ON_BEHALF = "on_behalf_of"


def _applicant_named(spec, for_self: bool, for_others: bool, behalf: dict | None) -> bool:
    """Read the start form's "for whom" (a username): sets ``behalf["person"]``, or
    ``behalf["error"]`` and False when it names nobody the user may start it for.  Left
    empty, it is the user's own request if they may start one."""
    if not for_others or request.method != "POST":
        return True
    username = behalf["username"]
    if not username:
        if for_self:
            return True
        behalf["error"] = _("请填写被代办人的用户名，或从列表中选择。")
        return False
    try:
        person = wf.applicant_for(spec, current_user, username)
    except WorkflowError as exc:
        behalf["error"] = exc.message(current_locale_short())
        return False
    behalf["person"] = None if person.id == current_user.id else person
    return True


def _holder_of(spec, exc: WorkflowError, applicant=None):
    """The request a refused duplicate clashes with (its ``unique`` key: the same slot,
    the same batch…) — the newest open one, else the newest ended one that still counts
    — if the person may open it; else None.  ``applicant``: whom the form was for, if
    not the user."""
    key = exc.details.get("unique_key") if exc.code == "duplicate" else None
    if not key:
        return None
    found = db.session.scalar(
        select(Instance).where(Instance.process_key == spec.key,
                               Instance.applicant_id == (applicant or current_user).id,
                               Instance.unique_key == key, Instance.status != "starting")
        .order_by(Instance.closed_at.is_(None).desc(), Instance.id.desc()).limit(1))
    return found if found is not None and access.can_view(current_user, found) else None


def _course_offers(spec, form) -> dict | None:
    """For a form that chooses a course: each listed course's facts (dates, venue, who
    may join, review, places left), the chosen one shown — so the eligibility is known
    before the rest of the form is filled in."""
    field = next((f for f in spec.start.form.fields
                  if f.type == "record" and f.source == "course"), None)
    bound = getattr(form, field.name, None) if field is not None else None
    if bound is None:
        return None
    ids = [i for i in (as_id(str(value)) for value, *_rest in bound.choices or []) if i]
    return {"field": bound, "offers": training.offers_of(ids),
            "chosen": as_id(str(bound.data)) if bound.data else None}


def _nothing_to_choose(form, form_spec) -> list[str]:
    """Why the start form cannot be sent: for each required record field shown whatever
    is filled in and offering no record, its source's own words (``RECORD_EMPTY``:
    "nominations are closed"), else "目前没有可选的<field>"."""
    from webapp.services.display import RECORD_EMPTY
    from workflows.rules import record_source

    locale = current_locale_short()
    out = []
    for field in form_spec.fields:
        bound = getattr(form, field.name, None)
        if (field.type != "record" or not field.required or field.show_if is not None
                or bound is None or getattr(bound, "allowed", None)):
            continue
        explain = RECORD_EMPTY.get(record_source(field) or "")
        label = field.label_en if locale == "en" and field.label_en else field.label
        out.append(explain(field, locale) if explain else
                   _("目前没有可选的%(field)s，暂时无法提交这份申请。", field=label))
    return out


# The start form's one-time key (see ``wf.submission_key``).
SUBMISSION = "_submission"


def _already_submitted(instance_id: int):
    flash(_("这份表单已经提交过了，没有重复提交。下面就是那份申请。"), "info")
    return redirect(url_for("processes.instance", instance_id=instance_id))


# The station filter's button (see _form.html): redraws the form, submits nothing.
FIND_STATION = "_find_station"
# Fields a link may preselect (?station=12): choices from the database, never free text.
PRESELECTABLE = ("station", "org_unit", "slot", "record")


def _preselect(form, form_spec) -> None:
    """A link from a station's page opens the form with that station chosen (its own
    duty slots are then listed); a value that is not an option is simply not selected."""
    for field in form_spec.fields:
        value = request.args.get(field.name)
        bound = getattr(form, field.name, None)
        if value and field.type in PRESELECTABLE and bound is not None:
            bound.data = value


def _forget_slot_of_another_station(form, form_spec) -> None:
    """The slot list was asked for again after the station changed (its button, or
    js/slots.js): the slot chosen before was the old station's, so none is chosen."""
    field = form_spec.field(request.form.get(FIND_STATION, ""))
    if field is not None and field.type == "slot":
        getattr(form, field.name).data = None


@bp.route("/processes/<key>/diagram.svg")
@login_required
def process_diagram(key: str):
    spec = wf.spec_of(wf.current_version(key))
    return _svg(render_svg(spec, locale=current_locale_short()))


def _svg(text: str) -> Response:
    response = Response(text, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@bp.route("/notices")
@login_required
def notices():
    """The public notice board (公示栏): requests in a publicity period, open to objection
    by anyone signed in, with their real name and a reason."""
    from webapp.models import Task

    stmt = (select(Instance, Task).join(Task, Task.instance_id == Instance.id)
            .where(Task.status == "open", Task.kind == "publicity")
            .order_by(Task.due_at.is_(None), Task.due_at, Instance.id))
    found = paginate(stmt, PER_PAGE, tuples=True)
    locale = current_locale_short()
    items = [{"instance": inst, "task": task, "spec": spec_for(inst),
              "applicant": inst.applicant.display_name,
              "unit": inst.unit.label(locale) if inst.unit else ""}
             for inst, task in found.rows]
    return render_template("processes/notices.html", items=items, total=found.total,
                           page=found.page, per_page=PER_PAGE, locale=locale)


@bp.route("/requests")
@login_required
def mine():
    status = request.args.get("status") or None
    stmt = select(Instance).where(Instance.applicant_id == current_user.id,
                                  Instance.status != "starting")
    if status:
        stmt = stmt.where(Instance.status == status)
    found = paginate(stmt.order_by(Instance.id.desc()), PER_PAGE)
    items = [(row, spec_for(row)) for row in found.rows]
    from webapp.services.progress import waiting_positions
    positions = waiting_positions(found.rows)  # one query for the page's waiting lists
    # An empty filtered list must not read "you never submitted anything": ask whether
    # the person has any request at all (only then, and only once).
    has_any = bool(found.total) or (status is not None and db.session.scalar(
        select(Instance.id).where(Instance.applicant_id == current_user.id,
                                  Instance.status != "starting").limit(1)) is not None)
    return render_template("processes/mine.html", items=items, total=found.total,
                           page=found.page, has_any=has_any, statuses=list(STATUS_LABELS),
                           positions=positions,
                           per_page=PER_PAGE, status=status, next_text=next_text,
                           locale=current_locale_short())


@bp.route("/instances/<int:instance_id>")
@login_required
def instance(instance_id: int):
    inst = db.session.get(Instance, instance_id)
    if inst is None or not access.can_view(current_user, inst):
        if inst is not None and _objected(inst):
            # An objector follows their notification here once the notice is over: the
            # request is no longer theirs to read (the notification said how it went).
            flash(_("该公示已结束，异议核查结果已通过通知告知您。"), "info")
            return redirect(url_for("processes.notices"))
        abort(404)
    notifications.read_about(current_user, inst.id)
    spec = spec_for(inst)
    locale = current_locale_short()
    available = wf.available_actions(inst, current_user)
    may_see = access.can_see_private(current_user, inst)
    # On public notice (公示) the nominee's name is on the notice board for everyone:
    # the request's page names them too (their personal data stays masked).
    named = may_see or on_notice(inst, spec)
    history = history_rows(inst, named, current_user, insider=may_see)
    my_tasks = _my_tasks(inst, available, spec, locale)
    # On public notice anyone may object: an offer to them, not a task of theirs; and
    # pressing a task's holders (催办) is a way to follow it up, not a task either.
    notice = [t for t in my_tasks if t["actions"] == ["object"]]
    urgeable = [t for t in my_tasks if "urge" in t["actions"]]
    my_tasks = [dict(t, actions=[a for a in t["actions"] if a != "urge"]) for t in my_tasks
                if t not in notice]
    my_tasks = [t for t in my_tasks if t["actions"]]
    return render_template(
        "processes/instance.html", instance=inst, spec=spec, rows=display_rows(inst, spec, may_see),
        history=history, next_line=next_text(spec, inst, locale),
        # An ended request's badge names how it ended (出勤不足未结业), not only the
        # status the definition files it under (已过期).
        end_label=step_label(spec, inst.state.get("end"), locale)
        if inst.closed_at is not None and inst.state.get("end") else None,
        diagram_focus=focus(spec, _current_nodes(inst)),
        step_label=lambda s: step_label(spec, s, locale) if s else "",
        my_tasks=my_tasks, notice=notice, urgeable=urgeable, returned_to_me=True,
        returned=return_reason(inst) if any("resubmit" in t["actions"] for t in my_tasks)
        else None,
        ended_why=end_reason(inst) if may_see else None,
        can_withdraw=any(a.action == "withdraw" for a in available),
        attendance=training.attendance_summary(inst) if may_see else None,
        certificate=training.certificate_facts(inst, current_user) is not None,
        certificate_withdrawn=training.certificate_withdrawal(inst, current_user),
        can_comment=any(a.action == "comment" for a in available),
        applicant_name=inst.applicant.display_name if named else mask_name(
            inst.applicant.display_name))


def _objected(inst: Instance) -> bool:
    """Whether the viewer objected to this request's public notice (one who may not
    open it now the notice is over is told where the notices are, not "not found")."""
    from webapp.models import HistoryEntry
    from webapp.processes.helpers import OBJECTION

    return db.session.scalar(select(HistoryEntry.seq).where(
        HistoryEntry.instance_id == inst.id, HistoryEntry.actor_id == current_user.id,
        HistoryEntry.action == OBJECTION).limit(1)) is not None


def _my_tasks(inst: Instance, available, spec, locale: str) -> list[dict]:
    """The viewer's open tasks on this request, each with what they may do and its name.
    Claiming and resubmitting are the request's own actions (no task named): they
    belong to the pool's task and to the task that returned the request, respectively."""
    from webapp.models import Task

    by_key = {}
    for a in available:
        if a.task is not None or a.action in ("claim", "resubmit"):
            by_key.setdefault(a.task, []).append(a.action)
    instance_wide = by_key.get(None, [])
    tasks = []
    for row in db.session.scalars(select(Task).where(Task.instance_id == inst.id,
                                                     Task.status == "open")):
        actions = by_key.get(row.key, []) + [
            a for a in instance_wide if (a == "claim" and row.pool_role)
            or (a == "resubmit" and row.kind == "revise")]
        if actions:
            tasks.append({"task": row, "actions": actions,
                          "label": task_label(spec, row, locale)})
    return tasks


@bp.route("/instances/<int:instance_id>/diagram.svg")
@login_required
def instance_diagram(instance_id: int):
    inst = viewable_instance(instance_id)
    return _svg(render_svg(spec_for(inst), current=_current_nodes(inst),
                           locale=current_locale_short()))


def _current_nodes(inst: Instance) -> list[str]:
    """The steps a request is at, or the end it reached: what its diagram highlights."""
    return [s for s in inst.steps.split(",") if s] or (
        [inst.state.get("end")] if inst.state.get("end") else [])


@bp.route("/instances/<int:instance_id>/withdraw", methods=["POST"])
@login_required
def withdraw(instance_id: int):
    inst = viewable_instance(instance_id)
    return _instance_action(inst, Action("withdraw", comment=request.form.get("comment")),
                            _("已撤回。"))


@bp.route("/instances/<int:instance_id>/comments", methods=["POST"])
@login_required
def comment(instance_id: int):
    inst = viewable_instance(instance_id)
    text = (request.form.get("text") or "").strip()
    if not text:
        flash(_("留言不能为空。"), "error")
        return redirect(url_for("processes.instance", instance_id=inst.id))
    return _instance_action(inst, Action("comment", comment=text[:2000]), _("留言已发送。"))


def _instance_action(inst: Instance, action: Action, done: str):
    try:
        wf.perform(inst.id, action, current_user)
        db.session.commit()
    except WorkflowError as exc:
        db.session.rollback()
        flash(exc.message(current_locale_short()), "error")
    else:
        flash(done + " " + next_text(spec_for(inst), inst, current_locale_short()), "success")
    return redirect(url_for("processes.instance", instance_id=inst.id))


@bp.route("/files/<key>")
@login_required
def download(key: str):
    stored = uploads.find(key)
    if stored is None or not file_visible(stored):
        abort(404)
    return uploads.send(stored) or abort(404)


