from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.extensions import db
from webapp.i18n import current_locale_short
from webapp.models import Course, Instance
from webapp.services import training
from webapp.services.activities import CHINA
from webapp.training import bp


@bp.route("/courses")
@login_required
def courses():
    """The courses whose attendance the signed-in person keeps."""
    rows = [(course, len(training.trainees(course)))
            for course in training.courses_for(current_user)]
    return render_template("training/courses.html", rows=rows)


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
        ticked = set()
        for name in request.form.getlist("present"):
            session_id, _sep, instance_id = name.partition("-")
            if session_id.isdigit() and instance_id.isdigit():
                ticked.add((int(session_id), int(instance_id)))
        changed = training.save_register(course, current_user, ticked)
        if request.form.get("action") == "decide":
            result = training.decide_completion(course, current_user,
                                                current_locale_short())
            db.session.commit()
            for message in result.errors:
                flash(message, "error")
            flash(_("出勤已保存。已判定 %(n)s 人：%(passed)s 人结业，%(failed)s 人出勤不足。",
                    n=result.passed + result.failed, passed=result.passed,
                    failed=result.failed), "success")
        else:
            db.session.commit()
            flash(_("出勤已保存（%(n)s 处改动）。", n=changed), "success")
        return redirect(url_for("training.attendance", course_id=course.id))
    held = {s.id for s in training.held_sessions(course)}
    people = training.trainees(course)
    total = len(course.schedule)
    rate = training.course_pass_rate()
    return render_template("training/attendance.html", course=course, people=people,
                           held=held, total=total, tz=CHINA, pass_rate=rate,
                           deciding=any(p.deciding for p in people),
                           on_track=lambda p: len(p.present) * 100 >= rate * total)


@bp.route("/instances/<int:instance_id>/certificate.pdf")
@login_required
def certificate(instance_id: int):
    """The trainee's own certificate; nobody else's, and only once they completed."""
    instance = db.session.get(Instance, instance_id)
    facts = training.certificate_facts(instance, current_user) if instance else None
    if facts is None:
        abort(404)
    # fpdf (with fontTools) is ~30 MB a process: only the workers that draw one load it.
    from webapp.training.certificate import render

    response = Response(render(facts), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="certificate-{facts.number}.pdf"')
    response.headers["Cache-Control"] = "private, no-store"
    return response
