from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import String, cast, literal, select
from sqlalchemy.orm import selectinload

from forms import mask_data
from webapp.database import write_lock
from webapp.extensions import db
from webapp.i18n import current_locale_short
from webapp.models import Instance, OrgUnit, Pairing, Station, Task, User
from webapp.pagination import as_id, id_arg, paginate
from webapp.services import duty_roster, export, pairings, stations
from webapp.services.activities import CHINA
from webapp.services.stations import SERVICES
from webapp.services.workflow import (latest_version, may_start, pool_tasks_query, spec_of,
                                      spec_of_instance)
from workflows.errors import NotFound, WorkflowError
from webapp.stations import bp

PER_PAGE = 20


def _districts() -> list[OrgUnit]:
    return db.session.scalars(select(OrgUnit).where(OrgUnit.kind == "district")
                              .order_by(OrgUnit.path)).all()


@bp.route("/stations")
@login_required
def index():
    q = (request.args.get("q") or "").strip()[:50]
    district = id_arg("district")
    services = [s for s in request.args.getlist("service") if s in SERVICES]
    open_only = request.args.get("open") == "1"
    if fmt := export.wanted_format(request.args):
        from webapp.admin import exports
        return exports.stations(fmt, stations.search(q, district, services, open_only),
                                current_locale_short())
    # Each row shows its station's name: load the page's units with it (one query), not
    # one by one.
    found = paginate(stations.search(q, district, services, open_only)
                     .options(selectinload(Station.unit)), PER_PAGE)
    return render_template("stations/index.html", rows=found.rows, total=found.total,
                           page=found.page, per_page=PER_PAGE, q=q, district=district,
                           services=services, open_only=open_only, districts=_districts())


@bp.route("/stations/<int:unit_id>")
@login_required
def station(unit_id: int):
    row = db.session.get(Station, unit_id)
    if row is None or not row.unit.active:
        abort(404)
    pairs = pairings.active_pairings(row.unit)
    paired_ids = {p.branch_id for p in pairs}
    return render_template(
        "stations/station.html", station=row, pairings=pairs,
        past_pairings=pairings.past_pairings(row.unit),
        can_end={p.id for p in pairs if pairings.may_manage(current_user, p.branch)},
        my_branches=[b for b in pairings.branches_for(current_user) if b.id not in paired_ids],
        pair_form=FlaskForm())


@bp.route("/stations/<int:unit_id>/pairings", methods=["POST"])
@login_required
def pair(unit_id: int):
    """The branch secretary pairs their branch with this station (结对)."""
    row = db.session.get(Station, unit_id)
    branch = db.session.get(OrgUnit, as_id(request.form.get("branch")) or 0)
    if row is None or not row.unit.active:
        abort(404)
    if not FlaskForm().validate_on_submit() or branch is None:
        abort(400)
    locale = current_locale_short()
    current = [p for p in pairings.branch_pairings(branch) if p.station_id != row.unit_id]
    if current and request.form.get("confirmed") != "1" and pairings.may_manage(current_user,
                                                                                 branch):
        # Pairing here ends the branch's pairing with another station: say which first.
        return render_template(
            "stations/pairing_confirm.html", station=row,
            action=url_for("stations.pair", unit_id=unit_id), fields={"branch": branch.id},
            what=_("%(branch)s 将与%(station)s结对。", branch=branch.label(locale),
                   station=row.unit.label(locale)),
            ends=_("它与%(other)s的结对（自 %(day)s 起）将同时解除。",
                   other=current[0].station.label(locale), day=current[0].since),
            confirm_label=_("确认结对"))
    return _pairing_change(unit_id, lambda: pairings.pair(
        branch, row.unit, current_user, datetime.now(CHINA).date()),
        _("%(branch)s 已与本驿站结对。", branch=branch.label(current_locale_short())))


@bp.route("/stations/<int:unit_id>/pairings/<int:pairing_id>/end", methods=["POST"])
@login_required
def end_pairing(unit_id: int, pairing_id: int):
    pairing = db.session.get(Pairing, pairing_id)
    if pairing is None or pairing.station_id != unit_id:
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    if request.form.get("confirmed") != "1" and pairing.active and pairings.may_manage(
            current_user, pairing.branch):
        locale = current_locale_short()
        return render_template(
            "stations/pairing_confirm.html", station=db.session.get(Station, unit_id),
            action=url_for("stations.end_pairing", unit_id=unit_id, pairing_id=pairing_id),
            fields={}, ends=None,
            what=_("将解除%(branch)s与%(station)s的结对（自 %(day)s 起）。",
                   branch=pairing.branch.label(locale), station=pairing.station.label(locale),
                   day=pairing.since),
            confirm_label=_("确认解除"))
    return _pairing_change(
        unit_id, lambda: pairings.end(pairing, current_user, datetime.now(CHINA).date()),
        _("已解除 %(branch)s 与本驿站的结对。", branch=pairing.branch.label(current_locale_short())))


def _pairing_change(unit_id: int, change, done: str):
    try:
        with write_lock():
            change()
        db.session.commit()
    except WorkflowError as exc:
        db.session.rollback()
        if exc.http_status == 403:
            abort(403)
        flash(exc.message(current_locale_short()), "error")
    else:
        flash(done, "success")
    return redirect(url_for("stations.station", unit_id=unit_id) + "#pairings")


# The photo types every browser draws; another (HEIC from an iPhone) is offered as a file.
BROWSER_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@bp.route("/wishes")
@login_required
def wall():
    """Wishes waiting for someone to claim them: what they are, never who wished."""
    district = id_arg("district")
    category = request.args.get("category") or None
    stmt = (select(Instance, Task).join(Task, Task.instance_id == Instance.id)
            .where(Instance.process_key == "micro_wish", Task.status == "open",
                   Task.pool_role.is_not(None)))
    if district:
        stmt = stmt.where(Task.pool_unit_id == district)
    if category:
        stmt = stmt.where(Instance.category == category)
    # Newest request first, by the task's side of the join: the open pooled tasks' own
    # index (ix_tasks_open_pool_instance) gives that order without walking every task.
    # Counted up to COUNT_LIMIT (the pager says "50+" pages beyond): a city's wall is long.
    found = paginate(stmt.order_by(Task.instance_id.desc()), PER_PAGE, tuples=True,
                     limit_count=True)
    rows = found.rows
    locale = current_locale_short()
    cards, categories = [], {}
    # Of this page's tasks, those the viewer may claim (not every claimable one in the
    # city), and the stations the page names, in one query each.
    claimable = set(db.session.scalars(pool_tasks_query(current_user).with_only_columns(
        Task.id).where(Task.id.in_([task.id for _, task in rows])))) if rows else set()
    station_ids = {i.state.get("data", {}).get("station") for i, _ in rows}
    units = {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(
        [s for s in station_ids if isinstance(s, int) and not isinstance(s, bool)])))}
    for instance, task in rows:
        spec = spec_of_instance(instance)
        form = spec.start.form
        data = mask_data(form, instance.state.get("data", {}), False)
        field = form.field("category")
        labels = {c.value: (c.label_en if locale == "en" and c.label_en else c.label)
                  for c in (field.choices if field else ())}
        categories.update(labels)
        station = units.get(data.get("station")) if isinstance(
            data.get("station"), int) else None
        photos = data.get("photo") if form.field("photo") is not None else None
        photo = (photos[0] if isinstance(photos, list) and photos else photos)
        photo = photo if isinstance(photo, dict) else {}
        cards.append({"instance": instance, "task": task, "data": data,
                      "photo": photo.get("key"),
                      # A phone's HEIC photo is kept as sent, but browsers cannot draw it.
                      "photo_shown": photo.get("mime") in BROWSER_IMAGES,
                      "category": labels.get(data.get("category"), ""),
                      "station": station.label(locale) if station else "",
                      "can_claim": task.id in claimable})
    return render_template("stations/wall.html", cards=cards, total=found.total,
                           capped=found.capped, more=found.more, page=found.page,
                           per_page=PER_PAGE, district=district, category=category,
                           districts=_districts(), categories=categories or _categories())


def _categories() -> dict:
    try:
        field = spec_of(latest_version("micro_wish")).start.form.field("category")
    except NotFound:  # the process is not published on this installation
        return {}
    locale = current_locale_short()
    return {c.value: (c.label_en if locale == "en" and c.label_en else c.label)
            for c in (field.choices if field else ())}


SLOT_MANAGERS = ("station_head", "unit_admin", "district_admin", "city_admin", "platform_admin")


def _may_manage(station_unit: OrgUnit) -> bool:
    """A station head (or an administrator) of this station or a unit above it."""
    above = set(station_unit.ancestor_ids)
    return any(m.role in SLOT_MANAGERS and m.unit_id in above for m in current_user.memberships)


@bp.route("/stations/<int:unit_id>/slots", methods=["GET", "POST"])
@login_required
def slots(unit_id: int):
    """Duty slots (一日站长) of a station: the head publishes them, and sees who holds each
    and who waits; people see the places, and which ones are theirs."""
    from datetime import timezone

    from webapp.models import CapacityResource, DutySlot
    from webapp.services.activities import create_slot
    from webapp.stations.forms import DutySlotForm

    row = db.session.get(Station, unit_id)
    if row is None or not row.unit.active:
        abort(404)
    manager = _may_manage(row.unit)
    form = DutySlotForm()
    if request.method == "POST":
        if not manager:
            abort(403)
        if form.validate_on_submit():
            starts = datetime.combine(form.day.data, form.starts.data, tzinfo=CHINA)
            ends = datetime.combine(form.day.data, form.ends.data, tzinfo=CHINA)
            taken = db.session.scalar(select(DutySlot.id).where(
                DutySlot.station_id == unit_id, DutySlot.starts_at == starts))
            if taken:
                form.day.errors.append(_("这个时段已经发布过了。"))
            else:
                create_slot(row.unit, starts, ends, form.capacity.data, current_user)
                db.session.commit()
                flash(_("值守时段已发布，志愿者现在可以报名。"), "success")
                return redirect(url_for("stations.slots", unit_id=unit_id))
    upcoming = db.session.execute(
        select(DutySlot, CapacityResource.granted).outerjoin(
            CapacityResource,
            CapacityResource.key == literal("slot:", String) + cast(DutySlot.id, String))
        .where(DutySlot.station_id == unit_id,
               DutySlot.starts_at >= datetime.now(timezone.utc))
        .order_by(DutySlot.starts_at)).all()
    ids = [slot.id for slot, _granted in upcoming]
    return render_template(
        "stations/slots.html", station=row, slots=upcoming, form=form, manager=manager,
        tz=CHINA, may_sign_up=may_start(current_user, "station_master"),
        roster=duty_roster.roster(ids, current_user, _phone_field()) if manager else {},
        mine=duty_roster.my_places(ids, current_user)), (422 if form.errors else 200)


def _phone_field():
    """The sign-up form's phone field (how the request page masks it), if published."""
    try:
        return spec_of(latest_version("station_master")).start.form.field("phone")
    except NotFound:
        return None


def _managed_slot(unit_id: int, slot_id: int):
    """The station and its slot, for someone who may manage its slots (else 404/403)."""
    from webapp.models import DutySlot

    row = db.session.get(Station, unit_id)
    slot = db.session.get(DutySlot, slot_id)
    if row is None or not row.unit.active or slot is None or slot.station_id != unit_id:
        abort(404)
    if not _may_manage(row.unit):
        abort(403)
    return row, slot


@bp.route("/stations/<int:unit_id>/slots/<int:slot_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel_slot(unit_id: int, slot_id: int):
    """Calling a published slot off (the station closes for a storm): a page that says
    what it does to whom and asks for the reason they will be told, then does it."""
    from webapp.stations.forms import CancelSlotForm

    row, slot = _managed_slot(unit_id, slot_id)
    if slot.cancelled_at is not None:
        # Already called off (by another head, or this page reopened): say so at once,
        # with when and why, rather than a form whose only answer is that refusal.
        by = db.session.get(User, slot.cancelled_by_id) if slot.cancelled_by_id else None
        return render_template("stations/slot_cancel.html", station=row, slot=slot,
                               cancelled_by=by, tz=CHINA), \
            (409 if request.method == "POST" else 200)
    form = CancelSlotForm()
    status = 200
    if form.validate_on_submit():
        try:
            ended = duty_roster.cancel_slot(slot, current_user, form.reason.data)
            db.session.commit()
        except WorkflowError as exc:
            db.session.rollback()
            if exc.http_status == 403:
                abort(403)
            form.reason.errors.append(exc.message(current_locale_short()))
            status = exc.http_status
        else:
            flash(_("值守时段已取消，已通知 %(n)s 位报名的志愿者。", n=ended), "success")
            return redirect(url_for("stations.slots", unit_id=unit_id))
    elif request.method == "POST":
        status = 422
    roster = duty_roster.roster([slot.id], current_user, _phone_field())[slot.id]
    return render_template("stations/slot_cancel.html", station=row, slot=slot, form=form,
                           roster=roster, tz=CHINA), status


@bp.route("/stations/<int:unit_id>/slots/<int:slot_id>/places", methods=["POST"])
@login_required
def slot_places(unit_id: int, slot_id: int):
    """A future slot's number of places: more moves those waiting up in order; fewer
    than are given takes no place back."""
    from webapp.stations.forms import SlotPlacesForm

    _row, slot = _managed_slot(unit_id, slot_id)
    form = SlotPlacesForm()
    if not form.validate_on_submit():
        for message in form.capacity.errors or [_("请重新提交。")]:
            flash(message, "error")
        return redirect(url_for("stations.slots", unit_id=unit_id))
    try:
        promoted, beyond = duty_roster.change_places(slot, form.capacity.data)
        db.session.commit()
    except WorkflowError as exc:
        db.session.rollback()
        flash(exc.message(current_locale_short()), "error")
        return redirect(url_for("stations.slots", unit_id=unit_id))
    flash(_("名额已改为 %(n)s。", n=form.capacity.data), "success")
    if promoted:
        flash(_("候补中的 %(n)s 人已按顺序转为报名成功，并已通知本人。", n=len(promoted)), "info")
    if beyond:
        flash(_("已报名的人数比新名额多 %(n)s 人：不会取消任何人的报名，在有人退出前不再接受新的报名。",
                n=beyond), "warning")
    return redirect(url_for("stations.slots", unit_id=unit_id))
