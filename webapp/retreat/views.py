from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from webapp.database import write_lock
from webapp.extensions import db
from webapp.i18n import current_locale_short
from webapp.models import OrgUnit, RetreatBatch
from webapp.retreat import bp
from webapp.services import quotas, retreat_batches


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


def _clean(value):
    return value.strip() if isinstance(value, str) else value


class BatchForm(FlaskForm):
    name = StringField(_l("批次名称"), filters=[_clean], validators=[
        DataRequired(_l("请填写批次名称")), Length(max=100, message=_l("最多 100 个字"))],
        description=_l("如：2027年第二期劳模疗休养（武隆仙女山）"))
    name_en = StringField(_l("英文名称"), filters=[_clean], validators=[
        Optional(), Length(max=100, message=_l("最多 100 个字"))],
        description=_l("英文页面、下载文件和推荐表中显示；不填则显示中文名称。"))
    site = StringField(_l("疗休养地点"), filters=[_clean], validators=[
        DataRequired(_l("请填写疗休养地点")), Length(max=200, message=_l("最多 200 个字"))])
    site_en = StringField(_l("英文地点"), filters=[_clean], validators=[
        Optional(), Length(max=200, message=_l("最多 200 个字"))])
    # Not sent when the person has one city to choose (the page then shows no select).
    city = SelectField(_l("组织单位"), coerce=int, validate_choice=True,
                       validators=[Optional()])
    starts_on = DateField(_l("开始日期"), validators=[InputRequired(_l("请选择日期"))])
    ends_on = DateField(_l("结束日期"), validators=[InputRequired(_l("请选择日期"))])
    nominations_close_on = DateField(_l("推荐截止日期"), validators=[
        InputRequired(_l("请选择日期"))], description=_l("当天仍可推荐，之后推荐表不再列出本批次。"))
    capacity = IntegerField(_l("名额总数"), validators=[
        InputRequired(_l("请填写名额总数")),
        NumberRange(1, 100000, _l("名额总数应在 1 到 100000 之间"))],
        description=_l("全部名额先归市总工会，再逐级下拨。"))

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.city.data is None:
            self.city.errors.append(_l("请选择组织单位"))
        if self.ends_on.data < self.starts_on.data:
            self.ends_on.errors.append(_l("结束日期不能早于开始日期"))
        if self.nominations_close_on.data > self.starts_on.data:
            self.nominations_close_on.errors.append(_l("推荐截止日期不能晚于开始日期"))
        return not any(field.errors for field in self)

    def batch_fields(self) -> dict:
        return {name: getattr(self, name).data for name in retreat_batches.FIELDS}


@bp.route("/retreat/quotas")
@login_required
def index():
    _viewer_may_see()
    return render_template("retreat/index.html", batches=retreat_batches.batches(),
                           today=retreat_batches.today(), locale=current_locale_short(),
                           may_create=retreat_batches.may_manage(current_user))


@bp.route("/retreat/quotas/<int:batch_id>")
@login_required
def batch(batch_id: int):
    _viewer_may_see()
    row_batch = _batch(batch_id)
    return _page(row_batch, {})


def _city_choices(form: BatchForm, batch: RetreatBatch | None) -> dict[int, OrgUnit]:
    cities = {u.id: u for u in retreat_batches.cities_for(current_user)}
    if batch is not None:
        cities = {batch.owner_unit_id: batch.owner_unit}  # a batch stays with its city
    locale = current_locale_short()
    form.city.choices = [(u.id, u.label(locale)) for u in cities.values()]
    if len(cities) == 1 and not form.city.data:
        form.city.data = next(iter(cities))
    return cities


def _save(form: BatchForm, batch: RetreatBatch | None, cities: dict[int, OrgUnit]):
    """The batch saved, or None with the reason beside its field."""
    try:
        with write_lock():
            saved = retreat_batches.save_batch(batch, current_user, cities[form.city.data],
                                               **form.batch_fields())
        db.session.commit()
        return saved
    except (retreat_batches.BatchError, quotas.QuotaError) as exc:
        db.session.rollback()
        field = getattr(form, getattr(exc, "field", "capacity"))
        field.errors = list(field.errors) + [exc.message(current_locale_short())]
        return None


@bp.route("/retreat/batches/new", methods=["GET", "POST"])
@login_required
def new_batch():
    """A new batch, by an administrator who sets the city's own quota."""
    form = BatchForm()
    cities = _city_choices(form, None)
    if not cities:
        abort(403)
    if form.validate_on_submit():
        made = _save(form, None, cities)
        if made is not None:
            flash(_("已新建批次“%(name)s”，%(n)s 个名额已归入%(city)s，可以下拨了。",
                    name=made.label(current_locale_short()), n=made.capacity,
                    city=made.owner_unit.label(current_locale_short())), "success")
            return redirect(url_for("retreat.batch", batch_id=made.id))
    return _form_page(form, None)


@bp.route("/retreat/batches/<int:batch_id>/edit", methods=["GET", "POST"])
@login_required
def edit_batch(batch_id: int):
    row = _batch(batch_id)
    if not retreat_batches.may_manage(current_user, row):
        abort(403)
    form = BatchForm(obj=row) if request.method == "GET" else BatchForm()
    cities = _city_choices(form, row)
    if form.validate_on_submit():
        dates = (row.starts_on, row.ends_on)
        if _save(form, row, cities) is not None:
            moved = retreat_batches.open_nominations(row) \
                if (row.starts_on, row.ends_on) != dates else 0
            if moved:
                flash(_("批次已保存。%(n)s 份正在办理的推荐已按新日期办理，推荐人和经办人已收到通知。",
                        n=moved), "success")
            else:
                flash(_("批次已保存。"), "success")
            return redirect(url_for("retreat.batch", batch_id=row.id))
    return _form_page(form, row)


def _form_page(form: BatchForm, batch: RetreatBatch | None):
    use = retreat_batches.city_use(batch) if batch is not None else None
    running = retreat_batches.open_nominations(batch) if batch is not None else 0
    return render_template("retreat/batch_form.html", form=form, batch=batch, use=use,
                           running=running, locale=current_locale_short()), \
        (422 if any(field.errors for field in form) else 200)


def _page(batch: RetreatBatch, forms: dict, status: int = 200):
    rows = quotas.quota_rows(batch, current_user)
    for row in rows:
        if row.may_allocate and row.unit.id not in forms:
            forms[row.unit.id] = AllocateForm(formdata=None, amount=row.amount or 0,
                                              prefix=f"u{row.unit.id}")
    return render_template("retreat/batch.html", batch=batch, rows=rows, forms=forms,
                           return_form=ReturnForm(), locale=current_locale_short(),
                           status=batch.status(retreat_batches.today()),
                           may_edit=retreat_batches.may_manage(current_user, batch)), status


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
