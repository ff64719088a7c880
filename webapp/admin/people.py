"""Managing people and units: accounts, roles at units, units, and imports from files.

Thin views over ``webapp.services.people``: an administrator manages only what lies in
their part of the tree; anything else is "not found" (404), so the pages do not tell
what exists elsewhere.
"""
from __future__ import annotations

import secrets
import time
from pathlib import Path

from flask import (abort, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from webapp.admin import bp
from webapp.admin.people_forms import (ActionForm, ConfirmImportForm, GrantForm, PasswordForm,
                                       PeopleImportForm, UnitCreateForm, UnitEditForm,
                                       UserCreateForm, UserEditForm)
from webapp.auth.login import roles_required
from webapp.database import write_lock
from webapp.extensions import db
from webapp.i18n import current_locale_short, punctuation
from webapp.main.capabilities import ADMIN_ROLES
from webapp.models import Membership, OrgUnit, User
from webapp.services import people, people_list
from webapp.services.org import unit_by_code
from webapp.services.people_import import (MAX_BYTES, MAX_USER_ROWS_WEB, UNIT_COLUMNS,
                                           USER_COLUMNS, ImportFileError, import_people)
from workflows.org import ROLES, UNIT_KINDS, term

MANAGERS = tuple(sorted(people.MANAGER_ROLES))
# The roles separation of duties is about: the supervisor and the administrators.
DUTY_ROLES = people.MANAGER_ROLES | {people.SUPERVISOR_ROLE}
IMPORT_TTL = 3600  # seconds a checked file waits for its confirmation


@bp.context_processor
def _people_helpers():
    def may_manage(obj) -> bool:
        if not current_user.is_authenticated or not current_user.has_role(*MANAGERS):
            return False
        if isinstance(obj, User):
            return people.may_manage_user(current_user, obj)
        return people.unit_in_scope(current_user, obj)
    return {"may_manage": may_manage}


def _actor() -> User:
    return current_user._get_current_object()


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not people.may_manage_user(current_user, user):
        abort(404)
    return user


def _unit_or_404(unit_id: int) -> OrgUnit:
    unit = db.session.get(OrgUnit, unit_id)
    if unit is None or not people.unit_in_scope(current_user, unit):
        abort(404)
    return unit


def _unit_field(field) -> OrgUnit | None:
    """The unit a code field names, if the viewer manages it; else an error beside it."""
    unit = unit_by_code((field.data or "").strip())
    if unit is None or not people.unit_in_scope(current_user, unit):
        field.errors.append(_("没有这个单位编码，或该单位不在您的管理范围内"))
        return None
    return unit


def _all_role_choices() -> list[SelectChoice]:
    locale = current_locale_short()
    top = max((people.ROLE_RANK[r] for r in current_user.roles if r in people.MANAGER_ROLES),
              default=-1)
    return [SelectChoice(t.key, term(ROLES, t.key, locale)) for t in ROLES
            if people.ROLE_RANK[t.key] <= top]


def _refused(exc: people.PeopleError) -> str:
    return exc.message(current_locale_short())


# ------------------------------------------------------------------------------ units to pick

@bp.route("/units/search.json")
@roles_required(*ADMIN_ROLES)
def unit_search():
    """Up to 20 units matching ``q`` (name or code) for a unit field's suggestions:
    ``scope=manage`` those the viewer may place people and roles at (active, in the part
    of the tree they administer), otherwise those they may look at (the list's filter).
    Only the viewer's part of the tree is ever answered."""
    manage = request.args.get("scope") == "manage"
    roles = people.MANAGER_ROLES if manage else people_list.VIEW_ROLES
    locale = current_locale_short()
    found = people_list.unit_options(current_user, request.args.get("q", ""), roles,
                                     active_only=manage)
    parents = {u.id: u for u in db.session.scalars(select(OrgUnit).where(
        OrgUnit.id.in_({u.parent_id for u in found if u.parent_id})))} if found else {}
    p = punctuation(locale)

    def label(unit: OrgUnit) -> str:
        parent = parents.get(unit.parent_id)
        where = f"{p['paren_open']}{parent.label(locale)}{p['paren_close']}" if parent else ""
        return f"{unit.label(locale)}{where}"
    return jsonify({"units": [{"code": u.code, "name": u.label(locale), "label": label(u),
                               "active": u.active} for u in found]})


# ------------------------------------------------------------------------------ users

@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def new_user():
    form = UserCreateForm()
    # Always a role at the home unit: the list of people is the list of role holders.
    form.role.choices = _all_role_choices()
    if request.method == "GET":
        form.unit.data = request.args.get("unit", "")[:64]
        form.role.data = "worker"
    shown = None
    if form.validate_on_submit():
        unit = _unit_field(form.unit)
        if unit is not None:
            try:
                with write_lock():
                    user, password = people.add_user(
                        _actor(), username=form.username.data, display_name=form.display_name.data,
                        unit=unit, role=form.role.data or "worker", phone=form.phone.data,
                        email=form.email.data, locale=form.locale.data,
                        password=form.password.data or None)
                db.session.commit()
            except people.PeopleError as exc:
                db.session.rollback()
                form.form_errors.append(_refused(exc))
            else:
                if form.password.data:
                    flash(_("已新建用户 %(name)s。", name=user.username), "success")
                    return redirect(url_for("admin.user", user_id=user.id))
                shown = {"user": user, "password": password}
    if shown:  # answered in this response, never put in the session or a redirect
        return render_template("admin/password_shown.html", **shown, created=True)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_new.html", form=form), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def user(user_id: int):
    target = _user_or_404(user_id)
    form = _edit_form(target) if request.method == "GET" else UserEditForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            unit = target.unit if target.unit and form.unit.data.strip() == target.unit.code \
                else _unit_field(form.unit)
            if unit is not None:
                try:
                    with write_lock():
                        changed = people.update_user(
                            _actor(), target, display_name=form.display_name.data, unit=unit,
                            phone=form.phone.data, email=form.email.data,
                            locale=form.locale.data)
                    db.session.commit()
                except people.PeopleError as exc:
                    db.session.rollback()
                    form.form_errors.append(_refused(exc))
                else:
                    flash(_("已保存。") if changed else _("没有改动。"), "success")
                    return redirect(url_for("admin.user", user_id=target.id))
    return _user_page(target, form, GrantForm(formdata=None), status)


def _edit_form(target: User) -> UserEditForm:
    form = UserEditForm(formdata=None, obj=target)
    form.unit.data = target.unit.code if target.unit else ""
    return form


def _user_page(target: User, form, grant_form, status: int, duties: dict | None = None):
    """The person's page.  ``duties``: a grant (role, unit) waiting for the confirmation
    that one person may be supervisor and administrator at once."""
    grant_form.role.choices = _all_role_choices()
    locale = current_locale_short()
    sep = punctuation(locale)["list_sep"]
    conflict = people.holds_conflicting_duties(target.roles)
    duty_roles = sep.join(term(ROLES, t.key, locale) for t in ROLES
                          if t.key in target.roles & DUTY_ROLES)
    return render_template("admin/user.html", target=target, form=form, grant_form=grant_form,
                           action_form=ActionForm(), ROLES=ROLES, term=term,
                           revocable={m.id for m in target.memberships
                                      if people.ROLE_RANK[m.role] <= people.rank_at(
                                          current_user, m.unit)},
                           conflict=conflict, duty_roles=duty_roles,
                           duties=duties), status


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@roles_required(*MANAGERS)
def deactivate_user(user_id: int):
    return _set_active(user_id, False)


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@roles_required(*MANAGERS)
def reactivate_user(user_id: int):
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool):
    target = _user_or_404(user_id)
    return _switch(lambda: people.set_active(_actor(), target, active),
                   _("账号已恢复。") if active
                   else _("账号已停用：该用户已被退出登录，API 令牌已撤销。"),
                   url_for("admin.user", user_id=target.id))


def _switch(change, done: str, back: str):
    """Deactivate or reactivate (a posted button): the change, or why it was refused."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with write_lock():
            change()
        db.session.commit()
    except people.PeopleError as exc:
        db.session.rollback()
        flash(_refused(exc), "danger")
    else:
        flash(done, "success")
    return redirect(back)


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def reset_password(user_id: int):
    target = _user_or_404(user_id)
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            with write_lock():
                password = people.reset_password(_actor(), target, form.password.data or None)
            db.session.commit()
        except people.PeopleError as exc:
            db.session.rollback()
            form.password.errors.append(_refused(exc))
        else:
            if form.password.data:
                flash(_("已为 %(name)s 设置新密码，其登录和 API 令牌均已失效。",
                        name=target.username), "success")
                return redirect(url_for("admin.user", user_id=target.id))
            return render_template("admin/password_shown.html", user=target, password=password,
                                   created=False)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_password.html", target=target, form=form), status


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
@roles_required(*MANAGERS)
def grant_role(user_id: int):
    target = _user_or_404(user_id)
    form = GrantForm()
    form.role.choices = _all_role_choices()
    if form.validate_on_submit():
        unit = _unit_field(form.unit)
        if unit is not None:
            held = any(m.role == form.role.data and m.unit_id == unit.id
                       for m in target.memberships)
            try:
                with write_lock():
                    people.grant(_actor(), target, form.role.data or "", unit,
                                 duties_confirmed=form.confirm_duties.data == "1")
                db.session.commit()
            except people.DutiesConflict:
                db.session.rollback()
                # Asked, not refused: the page explains and offers to grant all the same.
                return _user_page(target, _edit_form(target), form, 200,
                                  duties={"role": form.role.data, "unit": unit})
            except people.PeopleError as exc:
                db.session.rollback()
                form.role.errors.append(_refused(exc))
            else:
                if held:
                    flash(_("%(name)s 在该单位已有这个角色，没有改动。",
                            name=target.display_name), "info")
                else:
                    flash(_("已授予角色。"), "success")
                return redirect(url_for("admin.user", user_id=target.id))
    return _user_page(target, _edit_form(target), form, 422)


@bp.route("/users/<int:user_id>/roles/<int:membership_id>/revoke", methods=["POST"])
@roles_required(*MANAGERS)
def revoke_role(user_id: int, membership_id: int):
    target = _user_or_404(user_id)
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.user_id != target.id:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with write_lock():
            people.revoke(_actor(), membership)
        db.session.commit()
    except people.PeopleError as exc:
        db.session.rollback()
        flash(_refused(exc), "danger")
    else:
        flash(_("已取消角色。"), "success")
    return redirect(url_for("admin.user", user_id=target.id))


# ------------------------------------------------------------------------------ units

@bp.route("/units/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def new_unit():
    form = UnitCreateForm()
    locale = current_locale_short()
    form.kind.choices = [SelectChoice(t.key, term(UNIT_KINDS, t.key, locale)) for t in UNIT_KINDS]
    if request.method == "GET":
        form.parent.data = request.args.get("parent", "")[:64]
    if form.validate_on_submit():
        parent = _unit_field(form.parent)
        if parent is not None:
            try:
                with write_lock():
                    unit = people.add_unit(_actor(), parent=parent, code=form.code.data,
                                           name=form.name.data, kind=form.kind.data or "",
                                           name_en=form.name_en.data)
                db.session.commit()
            except people.PeopleError as exc:
                db.session.rollback()
                form.form_errors.append(_refused(exc))
            else:
                flash(_("已新建单位 %(name)s。", name=unit.name), "success")
                return redirect(url_for("admin.unit", unit_id=unit.id))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/unit_new.html", form=form), status


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def unit(unit_id: int):
    target = _unit_or_404(unit_id)
    form = UnitEditForm(obj=target) if request.method == "GET" else UnitEditForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                with write_lock():
                    changed = people.update_unit(_actor(), target, name=form.name.data,
                                                 name_en=form.name_en.data)
                db.session.commit()
            except people.PeopleError as exc:
                db.session.rollback()
                form.form_errors.append(_refused(exc))
            else:
                flash(_("已保存。") if changed else _("没有改动。"), "success")
                return redirect(url_for("admin.unit", unit_id=target.id))
    return render_template("admin/unit.html", target=target, form=form,
                           action_form=ActionForm(), child_kinds=people.child_kinds(target),
                           is_own_top=any(target.id == u.id for u in
                                          people.manager_units(current_user))
                           and not current_user.has_role("platform_admin")), status


@bp.route("/units/<int:unit_id>/deactivate", methods=["POST"])
@roles_required(*MANAGERS)
def deactivate_unit(unit_id: int):
    return _set_unit_active(unit_id, False)


@bp.route("/units/<int:unit_id>/reactivate", methods=["POST"])
@roles_required(*MANAGERS)
def reactivate_unit(unit_id: int):
    return _set_unit_active(unit_id, True)


def _set_unit_active(unit_id: int, active: bool):
    target = _unit_or_404(unit_id)
    return _switch(lambda: people.set_unit_active(_actor(), target, active),
                   _("单位已恢复。") if active else _("单位已停用。"),
                   url_for("admin.unit", unit_id=target.id))


# ------------------------------------------------------------------------------ import

def _import_dir() -> Path:
    folder = Path(current_app.instance_path) / "people-imports"
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("*.upload"), *folder.glob("*.claimed")]:  # left behind
        try:
            if old.stat().st_mtime < time.time() - IMPORT_TTL:
                old.unlink(missing_ok=True)
        except FileNotFoundError:  # confirmed or swept by another request meanwhile
            pass
    return folder


def _import_file(token: str) -> Path:
    # The owner's id is part of the name: nobody confirms another person's file.
    return _import_dir() / f"{current_user.id}-{token}.upload"


@bp.route("/people/import", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def import_people_page():
    """Upload a file: every row is checked and reported; nothing is saved yet."""
    request.max_content_length = MAX_BYTES + 64 * 1024  # a bigger upload gets a clear 413
    form = PeopleImportForm()
    report = token = None
    if form.validate_on_submit():
        data = form.file.data.read(MAX_BYTES + 1)
        try:
            report = import_people(data, _actor(), dry_run=True,
                                   max_user_rows=MAX_USER_ROWS_WEB)
        except ImportFileError as exc:
            form.file.errors.append(exc.message(current_locale_short()))
        finally:
            db.session.rollback()
        if report is not None and report.accepted:
            token = secrets.token_urlsafe(24)
            _import_file(token).write_bytes(data)
    status = 422 if form.errors else 200
    return render_template("admin/people_import.html", form=form, report=report,
                           confirm=ConfirmImportForm(token=token) if token else None,
                           preview=_preview(report), downloads=_downloads(report),
                           user_columns=USER_COLUMNS, unit_columns=UNIT_COLUMNS,
                           **_cell_choices()), status


PREVIEW_ROWS = 500


def _preview(report) -> list[dict]:
    """The accepted rows as they will be made, for the person to check before confirming:
    a user's name, unit and role; a unit's name, kind and parent — units by their names
    (a parent made earlier in the same file by the name given there), codes beside them."""
    if report is None or not report.accepted:
        return []
    locale = current_locale_short()
    rows = report.accepted[:PREVIEW_ROWS]
    users = report.kind == "users"
    codes = {a.values["unit" if users else "parent"] for a in rows} - {""}
    names = {u.code: u.label(locale) for u in db.session.scalars(
        select(OrgUnit).where(OrgUnit.code.in_(codes)))} if codes else {}
    if not users:  # a parent that is a row of this file
        names.update({a.key: a.values["name"] for a in report.accepted if a.key not in names})

    def unit(code: str) -> dict | None:
        return {"code": code, "name": names.get(code, "")} if code else None
    if users:
        return [{"line": a.line, "key": a.key, "name": a.values["display_name"],
                 "unit": unit(a.values["unit"]), "what": term(ROLES, a.values["role"], locale)}
                for a in rows]
    return [{"line": a.line, "key": a.key, "name": a.values["name"],
             "what": term(UNIT_KINDS, a.values["kind"], locale),
             "unit": unit(a.values["parent"])} for a in rows]


@bp.route("/people/import/confirm", methods=["POST"])
@roles_required(*MANAGERS)
def confirm_import():
    """Import the file checked a moment ago: the rows that pass now are saved."""
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        abort(400)
    path = _import_file(form.token.data).with_suffix(".claimed")
    try:
        # Renaming claims the file: a second click of the same button finds nothing.
        _import_file(form.token.data).rename(path)
    except FileNotFoundError:
        flash(_("导入已过期或已完成，请重新上传文件。"), "warning")
        return redirect(url_for("admin.import_people_page"))
    data = path.read_bytes()
    try:
        with write_lock():
            report = import_people(data, _actor(), dry_run=False,
                                   max_user_rows=MAX_USER_ROWS_WEB)
        db.session.commit()
    except ImportFileError as exc:
        db.session.rollback()
        flash(exc.message(current_locale_short()), "danger")
        return redirect(url_for("admin.import_people_page"))
    finally:
        path.unlink(missing_ok=True)
    # The one-time passwords go out in this response only (its links carry the file),
    # which no cache keeps (Cache-Control: no-store on every page).
    return render_template("admin/people_import.html", form=PeopleImportForm(formdata=None),
                           report=report, confirm=None, preview=_preview(report),
                           downloads=_downloads(report), user_columns=USER_COLUMNS,
                           unit_columns=UNIT_COLUMNS, **_cell_choices())


def _downloads(report) -> dict:
    from webapp.admin import exports

    return exports.import_downloads(report, current_locale_short()) if report else {}


def _cell_choices() -> dict[str, str]:
    """What the role and kind cells may hold, in the reader's language."""
    from webapp.services.people_import import cell_choices
    from workflows.org import ROLES, UNIT_KINDS

    locale = current_locale_short()
    return {"role_choices": cell_choices(ROLES, locale),
            "kind_choices": cell_choices(UNIT_KINDS, locale)}
