from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from webapp import notifications
from webapp.extensions import db
from webapp.i18n import current_locale_short, punctuation
from webapp.labels import action_label, decision_label
from webapp.models import Instance, Task
from webapp.pagination import as_id, paginate
from webapp.processes.helpers import (OBJECTION, applicant_of, display_rows, form_class,
                                      history_rows, return_reason, said, sent_back,
                                      show_errors, spec_for, task_label)
from webapp.processes.views import FIND_STATION
from webapp.services import access, deadlines, resubmission, training, uploads
from webapp.services import workflow as wf
from webapp.services.decisions import (DECISIONS, action_form, already_decided,
                                      delegate_candidates, form_actions, form_context,
                                      needs_comment, reason_field, step_form, task_actions)
from webapp.services.progress import next_text, step_label
from webapp.services.users import find_user
from webapp.tasks import bp
from workflows.errors import Conflict, InvalidInput, WorkflowError
from workflows.runtime import Action

PER_PAGE = 20


@bp.route("/inbox")
@login_required
def inbox():
    # Each row shows its request, its process version and who asked: load them with the
    # page (three queries) rather than one by one (three per row).
    rows = selectinload(Task.instance).options(selectinload(Instance.applicant),
                                               selectinload(Instance.version))
    # Counted up to COUNT_LIMIT ("1000+" beyond): what is open can be long in a city.
    mine = paginate(wf.assigned_tasks_query(current_user).options(rows), PER_PAGE,
                    limit_count=True)
    pool = paginate(wf.pool_tasks_query(current_user).options(rows), PER_PAGE, "pool_page",
                    limit_count=True)
    locale = current_locale_short()

    marks = deadlines.flags(list(mine.rows) + list(pool.rows))

    def describe(task: Task) -> dict:
        spec = spec_for(task.instance)
        return {"task": task, "instance": task.instance, "spec": spec,
                "step": task_label(spec, task, locale),
                "process": spec.name_en if locale == "en" and spec.name_en else spec.name,
                "bulk": _bulk_approvable(spec, task), "flags": marks.get(task.id)}

    return render_template("tasks/inbox.html", mine=[describe(t) for t in mine.rows],
                           mine_total=mine.total, mine_capped=mine.capped, mine_more=mine.more,
                           pool=[describe(t) for t in pool.rows], pool_total=pool.total,
                           pool_capped=pool.capped, pool_more=pool.more,
                           page=mine.page, pool_page=pool.page,
                           per_page=PER_PAGE, unassigned=_unassigned_count())


def _bulk_approvable(spec, task: Task) -> bool:
    """An approval that asks nothing to be filled in may be approved from the list with
    others; one whose step asks for a value (a unit to hand a demand to) is opened."""
    if task.kind != "approval":
        return False
    return "approve" not in form_actions(spec, task) or not any(
        f.required for f in action_form(spec, task, "approve").fields)


def _unassigned_count() -> int | None:
    """How many tasks nobody holds this administrator could reassign (None: not theirs)."""
    from sqlalchemy import func, select

    from webapp.services.unassigned import may_reassign, unassigned_tasks_query

    if not may_reassign(current_user):
        return None
    query = unassigned_tasks_query(current_user).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(query))


def _task(task_id: int) -> tuple[Task, Instance]:
    # A decision locks the request's row with this read (the step reads it no second
    # time); the form has been read by then.  The station finder decides nothing.
    deciding = request.method == "POST" and not request.form.get(FIND_STATION)
    task = access.task_for(current_user, task_id, lock=deciding)
    if task is None or not access.can_view(current_user, task.instance):
        abort(404)
    return task, task.instance


def _step_form(spec, task: Task, instance: Instance, keeping=None):
    if task.kind == "revise":
        # The start form again: its station select narrowed as on the start page, with
        # the station the request names kept (and its district shown) however far away;
        # a file field with files needs none chosen (``keeping``: they stay).
        form_spec = keeping.form if keeping is not None else step_form(spec, task)
        _keep_chosen_stations(form_spec, instance)
        return form_class(form_spec, narrowed=True)
    return form_class(step_form(spec, task), context=form_context(instance), instance=instance)


def _keep_chosen_stations(form_spec, instance: Instance) -> None:
    from webapp.services.choices import station_filter

    data = instance.state.get("data", {})
    for field in form_spec.fields:
        if field.type == "station" and data.get(field.name) is not None:
            station_filter(field.name, current_locale_short()).keep(data[field.name])


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int):
    task, instance = _task(task_id)
    if request.method == "GET":
        notifications.read_about(current_user, instance.id)
    spec = spec_for(instance)
    locale = current_locale_short()
    actions = task_actions(instance, task, current_user)
    # A browser cannot send a stored file back: what the request has stays unless replaced.
    keeping = resubmission.keep_files(step_form(spec, task), instance) \
        if task.kind == "revise" else None
    FormClass = _step_form(spec, task, instance, keeping)
    back = sent_back(instance, task)
    data = instance.state.get("data", {}) if task.kind == "revise" else \
        _earlier_answers(spec, task, instance) if back else None
    form = FormClass(data=data) if request.method == "GET" else FormClass()
    status = 200
    comment = (request.form.get("comment") or "").strip()
    comment_error = None  # shown beside the comment, which gets the focus
    # The station filter's button (a returned request's form): the page again with what
    # was typed and the stations found — no decision taken.
    finding = request.method == "POST" and bool(request.form.get(FIND_STATION))
    if request.method == "POST" and not finding:
        action = request.form.get("action", "")
        if action not in actions or action not in DECISIONS + ("resubmit",):
            form.form_errors = [already_decided(instance, task)]
            status = 409
        else:
            # The form and the reason are checked together: a reject that sends the
            # form and lacks both is told of both at once.
            sends_form = action in form_actions(spec, task)
            checked = _checked(spec, task, instance, action, form) if sends_form else None
            if not comment and needs_comment(spec, task, action):
                comment_error = _("请填写理由：驳回、退回和异议都需要说明原因。")
                status = 422
            elif sends_form and checked is None:
                status = 422
            else:
                result = _decide(instance, task, action, form, comment, keeping, checked)
                if result is None:
                    return redirect(url_for("processes.instance", instance_id=instance.id))
                status = result
    rows = display_rows(instance, spec)
    return render_template("tasks/task.html", task=task, instance=instance, spec=spec,
                           form=form, actions=actions, rows=rows,
                           declaration=_declaration(spec, task, instance, rows, locale),
                           escalated=_escalated_to_me(instance, task),
                           step_name=task_label(spec, task, locale), comment=comment,
                           comment_error=comment_error,
                           returned=return_reason(instance) if task.kind == "revise" else None,
                           returned_to_me="resubmit" in actions, sent_back=back,
                           return_targets=_return_targets(spec, task),
                           attendance=_attendance(spec, task, instance),
                           delegates=delegate_candidates(instance, task, current_user)
                           if "delegate" in actions else [],
                           objections=_objections(spec, instance, task),
                           deadline_notes=deadlines.task_notes(spec, task, locale),
                           next_line=next_text(spec, instance, locale),
                           reason_field=_reason_field_label(spec, task, locale),
                           description=_description(spec, task, locale),
                           step_label=lambda s: step_label(spec, s, locale) if s else "",
                           **_about(spec, instance)), status


def _about(spec, instance: Instance) -> dict:
    """Who asked (name and unit, masked as the request's page masks them) and the
    decisions so far with what was said — the request page's history lines, withheld
    as there — so a reviewer sees what the levels below said before deciding."""
    who = applicant_of(instance, spec, current_user)
    lines = history_rows(instance, who["named"], current_user, insider=who["may_see"])
    return {"applicant_name": who["name"], "applicant_unit": who["unit"],
            "history": said(lines), "history_total": len(lines)}


def _reason_field_label(spec, task: Task, locale: str) -> str | None:
    """The label of the field that serves as a rejection's reason, if the step has one."""
    field = reason_field(spec, task)
    if field is None:
        return None
    return field.label_en if locale == "en" and field.label_en else field.label


def _description(spec, task: Task, locale: str) -> str | None:
    """What the step tells the one doing it (the rules to acknowledge), if anything —
    not to an applicant correcting a returned request, which is another job."""
    step = spec.step(task.step)
    return step.describe(locale) if step is not None and task.kind != "revise" else None


def _checked(spec, task: Task, instance: Instance, action: str, form):
    """The submitted form validated as ``action`` sends it, or None with its errors on
    the page's ``form``.  A field required for some actions only (``required:
    [approve]``) is checked as required for those; the page itself shows it as the step
    defines it, marked with the action that needs it, whichever button was pressed."""
    action_spec = action_form(spec, task, action)
    if action_spec is step_form(spec, task):  # the same for every action (most steps)
        return form if form.validate_on_submit() else None
    checked = form_class(action_spec, context=form_context(instance), instance=instance)()
    if checked.validate_on_submit():
        return checked
    for name, errors in checked.errors.items():
        field = getattr(form, name, None) if name else None
        if field is not None and hasattr(field, "errors"):
            field.errors = list(errors)
    form.form_errors = list(getattr(checked, "form_errors", None) or [])
    return None


def _earlier_answers(spec, task: Task, instance: Instance) -> dict:
    """A step sent back to be done again starts from what was given the first time (a
    browser cannot send a stored file back: those are chosen again)."""
    data = instance.state.get("data", {})
    return {f.name: data[f.name] for f in step_form(spec, task).fields
            if f.name in data and f.type != "file"}


def _objections(spec, instance: Instance, task: Task) -> list:
    """The objections to a request that was on public notice — who, when, why — for the
    open task of one who may read them (the 异议核查 step decides on them)."""
    if task.status != "open" or not any(s.kind == "publicity" for s in spec.steps):
        return []
    if not access.may_read_objections(current_user, instance):
        return []
    return [(entry, name) for entry, name in history_rows(instance, True, current_user)
            if entry.action == OBJECTION]


def _declaration(spec, task: Task, instance: Instance, rows: list, locale: str):
    """For a reviewer (an approval step) of a training registration: the occupation the
    worker stated, which the course's eligibility was checked against — their word
    only, so put before the reviewer rather than left among the other answers."""
    step = next((s for s in spec.steps if s.id == task.step), None)
    shown = next((r.get("text") for r in rows if r["name"] == "occupation"), None)
    if step is None or step.kind != "approval" or shown is None:
        return None
    return training.declaration(instance, shown, locale)


def _attendance(spec, task: Task, instance: Instance) -> dict | None:
    """For an attendance step: the counts so far and the register to keep them in."""
    step = next((s for s in spec.steps if s.id == task.step), None)
    if step is None or step.kind != "attendance":
        return None
    return training.attendance_summary(instance)


def _escalated_to_me(instance: Instance, task: Task) -> bool:
    """Whether the viewer was brought in by escalation (and so decides the step alone)."""
    entry = next((t for t in instance.state.get("tasks", []) if t.get("id") == task.key), {})
    return task.kind == "approval" and current_user.id in (entry.get("escalated") or [])


def _return_targets(spec, task: Task) -> list[tuple[str, str]]:
    step = next((s for s in spec.steps if s.id == task.step), None)
    targets = getattr(getattr(step, "config", None), "return_to", ()) or ()
    locale = current_locale_short()
    return [(t, _("申请人") if t == "applicant" else step_label(spec, t, locale)) for t in targets]


def _decide(instance: Instance, task: Task, action: str, form, comment: str,
            keeping=None, checked=None) -> int | None:
    """Perform the decision; None on success (the caller redirects), else an HTTP status.
    ``keeping``: a returned request's files that stay where no new one was chosen;
    ``checked``: the form validated as the action sends it (None: it sends none)."""
    data = None
    if checked is not None:
        clean = checked.clean_data()
        if action == "resubmit" and keeping is not None:
            clean = keeping.restore(clean)
        data = uploads.store(clean, current_user) or None
    expected = request.form.get("version", type=int)
    to = request.form.get("to") or None
    try:
        wf.perform(instance.id, Action(action if action != "resubmit" else "resubmit",
                                       task=task.key, comment=comment or None, data=data,
                                       to=to, expected_version=expected), current_user)
        if data:
            uploads.attach(instance.id, data, current_user)
        db.session.commit()
    except InvalidInput as exc:
        db.session.rollback()
        show_errors(form, exc)
        return 422
    except Conflict as exc:
        db.session.rollback()
        db.session.expire_all()
        form.form_errors = [_("此任务已由他人处理，您的操作未执行。") + " " +
                            exc.message(current_locale_short())]
        return 409
    except WorkflowError as exc:
        db.session.rollback()
        form.form_errors = [exc.message(current_locale_short())]
        return exc.http_status
    spec = spec_for(instance)
    named = decision_label(spec, task.step, action)
    done = _("已%(action)s。", action=named) if named == action_label(action) else \
        _("已办理：%(action)s。", action=named)  # the definition's own words
    flash(done + " " +
          next_text(spec, instance, current_locale_short()), "success")
    return None


def _simple(task_id: int, make_action, done: str, target: str = "instance"):
    task, instance = _task(task_id)
    try:
        wf.perform(instance.id, make_action(task), current_user)
        db.session.commit()
    except WorkflowError as exc:
        db.session.rollback()
        flash(exc.message(current_locale_short()), "error")
        return redirect(request.referrer if _safe_referrer() else
                        url_for("processes.instance", instance_id=instance.id))
    flash(done + " " + next_text(spec_for(instance), instance, current_locale_short()), "success")
    if not access.can_view(current_user, instance):
        # Handed on (delegated): the request is no longer theirs to open, and a "not
        # found" page would swallow the confirmation.
        return redirect(url_for("tasks.inbox"))
    return redirect(url_for("processes.instance", instance_id=instance.id))


def _safe_referrer() -> bool:
    from webapp.security import is_safe_next

    ref = request.referrer or ""
    host = request.host_url.rstrip("/")
    return ref.startswith(host) and is_safe_next(ref[len(host):] or "/")


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: int):
    task = access.task_for(current_user, task_id)
    if task is not None and access.lost_claim(current_user, task):
        # Off their wall because someone took it first (a page loaded before): say so —
        # to the pool it was offered to only — rather than "not found".
        db.session.rollback()
        flash(_("已被他人认领。") + " " + _("请选择其他心愿或任务。"), "error")
        return redirect(request.referrer if _safe_referrer() else url_for("tasks.inbox"))
    return _simple(task_id, lambda t: Action("claim", task=t.key), _("认领成功。"))


@bp.route("/tasks/<int:task_id>/urge", methods=["POST"])
@login_required
def urge(task_id: int):
    note = (request.form.get("comment") or "").strip()[:500] or None
    return _simple(task_id, lambda t: Action("urge", task=t.key, comment=note),
                   _("已催办，办理人会收到提醒。"))


@bp.route("/tasks/<int:task_id>/unclaim", methods=["POST"])
@login_required
def unclaim(task_id: int):
    return _simple(task_id, lambda t: Action("unclaim", task=t.key), _("已放弃认领。"))


@bp.route("/tasks/<int:task_id>/delegate", methods=["POST"])
@login_required
def delegate(task_id: int):
    target = find_user(request.form.get("username", ""))
    if target is None:
        flash(_("找不到该用户，请核对用户名。"), "error")
        return redirect(url_for("tasks.task", task_id=task_id))
    return _simple(task_id, lambda t: Action("delegate", task=t.key, user=target.id,
                                             comment=request.form.get("comment") or None),
                   _("已转办给 %(name)s。", name=target.display_name))


@bp.route("/tasks/bulk", methods=["POST"])
@login_required
def bulk():
    """Approve many similar tasks at once; each one succeeds or fails on its own."""
    ids = [i for i in map(as_id, request.form.getlist("task_ids")) if i is not None][:200]
    done, failed = 0, []
    for task_id in ids:
        task = db.session.get(Task, task_id)
        if task is None or not access.can_view(current_user, task.instance):
            continue
        if not _bulk_approvable(spec_for(task.instance), task):
            failed.append(f"#{task.instance_id} " + _("此环节需要填写内容，请打开任务逐项办理"))
            continue
        try:
            with db.session.begin_nested():
                wf.perform(task.instance_id, Action("approve", task=task.key), current_user)
            done += 1
        except WorkflowError as exc:
            failed.append(f"#{task.instance_id} {exc.message(current_locale_short())}")
    db.session.commit()
    if done:
        flash(_("已批量通过 %(n)s 项。", n=done), "success")
    if failed:
        flash(_("以下 %(n)s 项未能处理：", n=len(failed)) + punctuation(current_locale_short())["clause_sep"].join(failed), "warning")
    if not ids:
        flash(_("请先勾选要通过的任务。"), "warning")
    return redirect(url_for("tasks.inbox"))
