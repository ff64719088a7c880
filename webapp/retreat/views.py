from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from webapp.database import write_lock
from webapp.extensions import db
from webapp.i18n import current_locale_short
from webapp.models import OrgUnit, RetreatBatch
from webapp.retreat import bp
from webapp.services import quotas


class AllocateForm(FlaskForm):
    amount = IntegerField(_l("名额"), validators=[
        InputRequired(message=_l("请填写名额数。")),
        NumberRange(min=0, max=100000, message=_l("名额应为 0 到 100000 之间的整数。"))])


class ReturnForm(FlaskForm):
    """Only the CSRF token: giving back takes no input."""


def _viewer_may_see() -> None:
    if not quotas.may_view(current_user):
        abort(403)


def _batch(batch_id: int) -> RetreatBatch:
    batch = db.session.get(RetreatBatch, batch_id)
    if batch is None:
        abort(404)
    return batch


@bp.route("/retreat/quotas")
@login_required
def index():
    _viewer_may_see()
    batches = db.session.scalars(select(RetreatBatch).order_by(RetreatBatch.starts_on.desc(),
                                                               RetreatBatch.id.desc())).all()
    if len(batches) == 1:
        return redirect(url_for("retreat.batch", batch_id=batches[0].id))
    return render_template("retreat/index.html", batches=batches)


@bp.route("/retreat/quotas/<int:batch_id>")
@login_required
def batch(batch_id: int):
    _viewer_may_see()
    row_batch = _batch(batch_id)
    return _page(row_batch, {})


def _page(batch: RetreatBatch, forms: dict, status: int = 200):
    rows = quotas.quota_rows(batch, current_user)
    for row in rows:
        if row.may_allocate and row.unit.id not in forms:
            forms[row.unit.id] = AllocateForm(formdata=None, amount=row.amount or 0,
                                              prefix=f"u{row.unit.id}")
    return render_template("retreat/batch.html", batch=batch, rows=rows, forms=forms,
                           return_form=ReturnForm(), locale=current_locale_short()), status


def _unit(unit_id: int) -> OrgUnit:
    unit = db.session.get(OrgUnit, unit_id)
    if unit is None:
        abort(404)
    return unit


@bp.route("/retreat/quotas/<int:batch_id>/units/<int:unit_id>", methods=["POST"])
@login_required
def allocate(batch_id: int, unit_id: int):
    _viewer_may_see()
    batch, unit = _batch(batch_id), _unit(unit_id)
    if not quotas.may_allocate(current_user, batch, unit):
        abort(403)
    form = AllocateForm(prefix=f"u{unit.id}")
    if not form.validate_on_submit():
        return _page(batch, {unit.id: form}, 422)
    try:
        with write_lock():
            quotas.allocate_quota(batch, unit, form.amount.data, actor=current_user)
        db.session.commit()
    except quotas.QuotaError as exc:
        db.session.rollback()
        form.amount.errors = [exc.message(current_locale_short())]
        return _page(batch, {unit.id: form}, 409)
    flash(_("已将 %(unit)s 的名额设为 %(n)s 个。", unit=unit.label(current_locale_short()),
            n=form.amount.data), "success")
    return redirect(url_for("retreat.batch", batch_id=batch.id) + f"#unit-{unit.id}")


@bp.route("/retreat/quotas/<int:batch_id>/units/<int:unit_id>/return", methods=["POST"])
@login_required
def give_back(batch_id: int, unit_id: int):
    _viewer_may_see()
    batch, unit = _batch(batch_id), _unit(unit_id)
    if not quotas.may_return(current_user, batch, unit):
        abort(403)
    if not ReturnForm().validate_on_submit():
        abort(400)
    with write_lock():
        returned = quotas.return_unused_quota(batch, unit, actor=current_user)
    db.session.commit()
    if returned:
        flash(_("%(unit)s 退回了 %(n)s 个未使用的名额。", unit=unit.label(current_locale_short()),
                n=returned), "success")
    else:
        flash(_("%(unit)s 没有未使用的名额可退回。", unit=unit.label(current_locale_short())),
              "info")
    return redirect(url_for("retreat.batch", batch_id=batch.id) + f"#unit-{unit.id}")
