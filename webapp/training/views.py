from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from webapp.extensions import db
from webapp.pagination import as_id
from webapp.i18n import current_locale_short
from webapp.models import Course, CourseSession, Instance, OrgUnit
from webapp.services import access, export, training
from webapp.services.privacy import mask_name
from webapp.services.activities import CHINA
from webapp.training import bp
from webapp.training.forms import CorrectionForm, CourseForm, SessionForm
from webapp.errors import error_response
from workflows.errors import WorkflowError


@bp.route("/courses")
@login_required
def courses():
    """The courses whose attendance the signed-in person keeps; someone who runs no
    course (a worker) is shown the courses open to them instead."""
    may_create = bool(training.course_units(current_user, limit=1))
    rows = [(course, len(training.trainees(course)))
            for course in training.courses_for(current_user)]
    if not rows and not may_create:
        return redirect(url_for("training.open_courses"))
    return render_template("training/courses.html", rows=rows, may_create=may_create,
                           may_manage=lambda course: training.may_manage(current_user, course))


@bp.route("/courses/open")
@login_required
def open_courses():
    """The courses a worker may register for (or soon may), with what decides whether to."""
    return render_template("training/open_courses.html", offers=training.offered_courses(),
                           may_register=training.may_register(current_user),
                           process_key=training.REGISTRATION_PROCESS,
                           organiser=current_user.has_role(*training.ORGANISER_ROLES))


@bp.route("/courses/<int:course_id>")
@login_required
def course(course_id: int):
    """One course as a worker weighs it: what it teaches, when and where (the timetable),
    for whom, whether it is reviewed, places left — and 报名 with it chosen."""
    course = db.session.get(Course, course_id)
    if course is None:
        abort(404)
    return render_template("training/course.html", offer=training.offer_of(course), tz=CHINA,
                           may_register=training.may_register(current_user),
                           mine=training.own_registration(current_user, course),
                           may_manage=training.may_manage(current_user, course),
                           process_key=training.REGISTRATION_PROCESS)


def _managed(course_id: int) -> Course:
    course = db.session.get(Course, course_id)
    if course is None or not training.may_manage(current_user, course):
        abort(404)
    return course


def _unit_choices(form: CourseForm, course: Course | None) -> dict[int, OrgUnit]:
    units = {u.id: u for u in training.course_units(current_user)}
    if course is not None:
        units.setdefault(course.unit.id, course.unit)
    locale = current_locale_short()
    form.unit.choices = [SelectChoice(u.id, u.label(locale)) for u in units.values()]
    return units


@bp.route("/courses/new", methods=["GET", "POST"])
@login_required
def new_course():
    """A new course, by an administrator of the unit that runs it."""
    form = CourseForm()
    units = _unit_choices(form, None)
    if not units:
        abort(403)
    if form.validate_on_submit() and _registration_ahead(form):
        course = training.save_course(None, current_user, units[form.unit.data],
                                      **form.course_fields())
        db.session.commit()
        flash(_("课程已创建。请排好课表，职工即可在报名期内报名。"), "success")
        return redirect(url_for("training.edit_course", course_id=course.id))
    return render_template("training/course_form.html", form=form, course=None,
                           session_form=None), (422 if form.errors else 200)


def _registration_ahead(form: CourseForm) -> bool:
    """A new course nobody could ever register for (its registration already closed) is
    a typo in a date, not a course."""
    if form.closes_on.data < datetime.now(CHINA).date():
        form.closes_on.errors.append(_("报名截止日期已经过去，职工将无法报名。请检查日期。"))
        return False
    return True


@bp.route("/courses/<int:course_id>/edit", methods=["GET", "POST"])
@login_required
def edit_course(course_id: int):
    course = _managed(course_id)
    form = CourseForm(obj=course) if request.method == "GET" else CourseForm()
    if request.method == "GET":
        form.unit.data = course.unit_id
        form.occupations.data = course.occupation_keys
    units = _unit_choices(form, course)
    if form.validate_on_submit():
        try:
            training.save_course(course, current_user, units[form.unit.data],
                                 **form.course_fields())
        except training.SessionsOutsideDates as outside:
            db.session.rollback()
            _sessions_outside(form, outside.days)
        except training.CourseChangeError as taken:
            db.session.rollback()
            form.capacity.errors.append(
                _("已录取 %(n)s 人，招收人数不能少于 %(n)s。", n=taken.args[0]))
        else:
            db.session.commit()
            flash(_("课程已保存。"), "success")
            return redirect(url_for("training.edit_course", course_id=course.id))
    return _course_page(course, form, SessionForm(prefix="session"))


def _sessions_outside(form: CourseForm, days) -> None:
    """Say which sessions the new dates would leave out, beside the date that does."""
    separator = ", " if current_locale_short() == "en" else "、"
    for field, left_out in ((form.starts_on, [d for d in days if d < form.starts_on.data]),
                            (form.ends_on, [d for d in days if d > form.ends_on.data])):
        if left_out:
            field.errors.append(_(
                "已有课次在 %(days)s，不在新的开课日期范围内；请先调整或删除这些课次"
                "（可先放宽日期，排好新课次后再删除旧课次）。",
                days=separator.join(f"{d:%m-%d}" for d in left_out)))


def _course_page(course: Course, form: CourseForm, session_form: SessionForm):
    status = 422 if form.errors or session_form.errors else 200
    return render_template("training/course_form.html", form=form, course=course,
                           session_form=session_form, tz=CHINA,
                           enrolled=training.enrolled_count(course),
                           now=training.utcnow()), status


@bp.route("/courses/<int:course_id>/sessions", methods=["POST"])
@login_required
def add_session(course_id: int):
    course = _managed(course_id)
    session_form = SessionForm(prefix="session")
    if session_form.validate_on_submit():
        day = session_form.day.data
        if not course.starts_on <= day <= course.ends_on:
            session_form.day.errors.append(_("上课日期应在开课和结课日期之间（%(a)s 至 %(b)s）。",
                                             a=course.starts_on, b=course.ends_on))
        else:
            starts = datetime.combine(day, session_form.starts.data, tzinfo=CHINA)
            ends = datetime.combine(day, session_form.ends.data, tzinfo=CHINA)
            try:
                training.add_session(course, current_user, starts, ends,
                                     session_form.topic.data or "")
            except training.CourseChangeError:
                db.session.rollback()
                session_form.starts.errors.append(_("这个时间已经有一次课了。"))
            else:
                db.session.commit()
                flash(_("已加入课表。"), "success")
                return redirect(url_for("training.edit_course", course_id=course.id))
    form = CourseForm(obj=course, formdata=None)
    form.unit.data = course.unit_id
    form.occupations.data = course.occupation_keys
    _unit_choices(form, course)
    return _course_page(course, form, session_form)


@bp.route("/courses/<int:course_id>/sessions/<int:session_id>/delete", methods=["POST"])
@login_required
def remove_session(course_id: int, session_id: int):
    course = _managed(course_id)
    session = db.session.get(CourseSession, session_id)
    if session is None or session.course_id != course.id:
        abort(404)
    try:
        training.remove_session(course, current_user, session)
    except training.CourseChangeError as why:
        db.session.rollback()
        flash(_("这次课已经开始或已登记出勤，不能删除。") if why.args[0] == "held"
              else _("课表至少要保留一次课。"), "error")
    else:
        db.session.commit()
        flash(_("已从课表删除。"), "success")
    return redirect(url_for("training.edit_course", course_id=course.id))


def _course(course_id: int) -> Course:
    course = db.session.get(Course, course_id)
    if course is None or not training.may_record(current_user, course):
        abort(404)
    return course


@bp.route("/courses/<int:course_id>/attendance", methods=["GET", "POST"])
@login_required
def attendance(course_id: int):
    course = _course(course_id)
    if request.method == "POST":
        action = request.form.get("action")
        if action == "decide_confirmed":
            # The register was saved when the decision was asked for; what the
            # confirmation page showed is what is decided.
            result = training.decide_completion(course, current_user,
                                                current_locale_short())
            db.session.commit()
            for message in result.errors:
                flash(message, "error")
            flash(_("已判定 %(n)s 人：%(passed)s 人结业，%(failed)s 人出勤不足。",
                    n=result.passed + result.failed, passed=result.passed,
                    failed=result.failed), "success")
            return redirect(url_for("training.attendance", course_id=course.id))
        ticked = set()
        for name in request.form.getlist("present"):
            session_id, _sep, instance_id = (as_id(part) for part in name.partition("-"))
            if session_id and instance_id:
                ticked.add((session_id, instance_id))
        changed = training.save_register(course, current_user, ticked)
        db.session.commit()
        if action == "decide":
            # A decision ends each request for good: say whom it fails before it does.
            outlook = training.completion_outlook(course, current_user)
            if outlook.passing or outlook.failing:
                return render_template("training/decide.html", course=course,
                                       outlook=outlook, changed=changed)
        flash(_("出勤已保存（%(n)s 处改动）。", n=changed), "success")
        return redirect(url_for("training.attendance", course_id=course.id))
    held = {s.id for s in training.held_sessions(course)}
    people = training.trainees(course)
    total = len(course.schedule)
    rate = training.course_pass_rate()
    if fmt := export.wanted_format(request.args):
        return _register_download(fmt, course, people, held, rate)
    # Each decided trainee's result may be corrected (更正) for a while after the course.
    now = training.utcnow()
    open_for_correction = now < training.correction_deadline(course)
    correctable = {p.instance.id for p in people if p.decided and open_for_correction
                   and training.may_correct(current_user, course, p.instance, now)}
    # Certificates to read (those who completed) or withdrawn by a correction: for the
    # course's administrators, every trainee's; for one only given a task, those of the
    # trainees they oversee.
    manages = training.may_manage(current_user, course)
    readable = [p for p in people if p.decided and (
        manages or training.may_have_certificate(current_user, p.instance, course))]
    certificates = {p.instance.id for p in readable if p.result == "passed"}
    withdrawn = {p.instance.id: w for p in readable if p.result == "failed"
                 for w in [training.withdrawal_of(p.instance, course)] if w}
    return render_template("training/attendance.html", course=course, people=people,
                           held=held, total=total, tz=CHINA, pass_rate=rate,
                           correctable=correctable, certificates=certificates,
                           withdrawn=withdrawn,
                           correct_until=training.correction_deadline(course)
                           - timedelta(days=1),
                           deciding=any(p.deciding for p in people),
                           # What 保存出勤 could change (``save_register``): the marks of
                           # trainees not yet decided, for sessions already held.
                           editable=bool(held) and any(not p.decided for p in people),
                           all_decided=all(p.decided for p in people),
                           on_track=lambda p: len(p.present) * 100 >= rate * total)


@bp.route("/courses/<int:course_id>/attendance/<int:instance_id>/correct",
          methods=["GET", "POST"])
@login_required
def correct(course_id: int, instance_id: int):
    """Correct one decided trainee's result (更正): their row of the register and the
    result it should give, with a reason; asked, then confirmed."""
    course = _course(course_id)
    trainee = training.decided_trainee(course, instance_id)
    if trainee is None:
        if instance_id not in {t.instance.id for t in training.trainees(course)}:
            abort(404)
        return error_response(409, _("该学员尚未判定结业，不能更正；请在出勤登记中判定。"))
    refused = training.correction_refusal(course, current_user, trainee.instance)
    if refused is not None:
        return error_response(refused.http_status, refused.message(current_locale_short()))
    form = CorrectionForm()
    held = training.held_sessions(course)
    held_ids = {s.id for s in held}
    if request.method == "GET":
        form.outcome.data = "failed" if trainee.result == "passed" else "passed"
        form.version.data = str(trainee.instance.lock_version)
        present = set(trainee.present)
    else:
        present = {i for i in (as_id(v) for v in request.form.getlist("present"))
                   if i in held_ids}
    total = len(course.schedule)
    rate = _pass_rate(trainee.instance)
    passes = len(present) * 100 >= rate * total
    confirming, problem = False, None
    if request.method == "POST" and form.validate_on_submit():
        if form.outcome.data != ("passed" if passes else "failed"):
            form.outcome.errors.append(
                _("按勾选的出勤（%(a)s/%(t)s 次），结果应为“%(result)s”；请核对出勤或结果。",
                  a=len(present), t=total,
                  result=_("结业") if passes else _("未结业")))
        elif request.form.get("action") == "confirm":
            try:
                training.correct_completion(
                    course, current_user, trainee.instance.id, present, form.outcome.data,
                    form.reason.data, expected_version=as_id(form.version.data))
            except WorkflowError as exc:
                db.session.rollback()
                locale = current_locale_short()
                if exc.http_status != 422:
                    return error_response(exc.http_status, exc.message(locale))
                problem = exc.message(locale)
            else:
                db.session.commit()
                flash(_("已更正 %(name)s 的结业结果，并已通知学员。", name=trainee.name), "success")
                return redirect(url_for("training.attendance", course_id=course.id))
        else:
            confirming = request.form.get("action") != "edit"  # 返回修改: the form again
    status = 422 if form.errors or problem else 200
    return render_template("training/correct.html", course=course, trainee=trainee, form=form,
                           problem=problem,
                           present=present, held=held_ids, total=total, rate=rate,
                           passes=passes, confirming=confirming, tz=CHINA,
                           deadline=training.correction_deadline(course) - timedelta(days=1)
                           ), status


def _pass_rate(instance: Instance) -> int:
    found = training.register_of(instance)
    return found[0].config.pass_rate if found else training.course_pass_rate()


def _register_download(fmt: str, course: Course, people: list, held: set[int], rate: int):
    """The register as the page shows it, one trainee a row: each session held is 到 or
    缺, one still to come is blank; then sessions attended, sessions in all and whether that reaches the pass
    rate — for the organiser's files and the training provider's claim."""
    total = len(course.schedule)
    present, absent = _("到"), _("缺")

    def mark(session_id: int):
        return lambda p: (present if session_id in p.present
                          else absent if session_id in held else "")
    columns = [export.Column(_("学员"), lambda p: p.name)]
    columns += [export.Column(_("第%(n)s次", n=n) + " " + s.starts_at.astimezone(CHINA)
                              .strftime("%Y-%m-%d"), mark(s.id))
                for n, s in enumerate(course.schedule, start=1)]
    # Two numbers, not "3/5": a spreadsheet would read that as a date.
    results = {"passed": _("已结业"), "failed": _("未结业")}
    columns += [export.Column(_("出勤次数"), lambda p: len(p.present)),
                export.Column(_("总课次"), lambda p: total),
                export.Column(_("达标"), lambda p: len(p.present) * 100 >= rate * total),
                export.Column(_("结果"), lambda p: results.get(p.result)
                              or (_("待判定") if p.deciding else ""))]
    return export.response(fmt, _("出勤登记") + " " + course.title, columns, people,
                           sheet_name=_("出勤登记"))


@bp.route("/instances/<int:instance_id>/certificate.pdf")
@login_required
def certificate(instance_id: int):
    """A trainee's certificate, once they completed: for them, and for the
    administrators over the request or the course to read (``may_have_certificate``);
    nobody else's — and one withdrawn by a correction says so (410), with when and why."""
    instance = db.session.get(Instance, instance_id)
    response = training.certificate_download(instance, current_user)
    if response is not None:
        return response
    withdrawn = training.certificate_withdrawal(instance, current_user)
    if withdrawn is None:
        abort(404)
    # Not a dead end: whose certificate it was, of which course, and the way back — to
    # the request, and to the course's register for those who keep it.
    own = instance.applicant_id == current_user.id
    course = training.register_of(instance)[1]
    name = instance.applicant.display_name
    if not (own or training.may_manage(current_user, course)
            or access.can_see_private(current_user, instance)):
        name = mask_name(name)
    return render_template("training/certificate_withdrawn.html", instance=instance,
                           withdrawn=withdrawn, tz=CHINA, own=own, course=course,
                           trainee=name,
                           request_page=access.can_view(current_user, instance),
                           register=training.may_record(current_user, course)), 410
