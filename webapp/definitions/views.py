from __future__ import annotations

import base64

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.definitions import bp
from webapp.definitions.forms import ConfirmForm, SourceForm
from webapp.definitions.reference import reference_html
from webapp.extensions import db, login_manager
from webapp.i18n import current_locale_short
from webapp.services import definitions as defs
from webapp.services.workflow import spec_of
from workflows.diagram import render_svg


# A definition is at most MAX_SOURCE_BYTES; the page or an upload carries it (perhaps
# twice) plus a few fields.  Anything far bigger is refused before it is read (413).
MAX_REQUEST_BYTES = 4 * defs.MAX_SOURCE_BYTES + 64 * 1024


@bp.before_request
def only_platform_admins():
    request.max_content_length = MAX_REQUEST_BYTES
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not defs.may_edit(current_user):
        abort(403)
    return None


def _diagram_uri(spec) -> str | None:
    if spec is None:
        return None
    svg = render_svg(spec, locale=current_locale_short()).encode("utf-8")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


@bp.route("/")
def index():
    return render_template("definitions/index.html", rows=defs.definition_rows(),
                           confirm=ConfirmForm())


@bp.route("/reference")
def reference():
    """The definition format (docs/definitions.md) as a page: the editor's help links here."""
    return render_template("definitions/reference.html", html=reference_html(),
                           locale=current_locale_short())


@bp.route("/<key>")
def show(key: str):
    row = defs.definition_row(key)
    return render_template("definitions/show.html", row=row, confirm=ConfirmForm())


@bp.route("/<key>/versions/<int:number>")
def version(key: str, number: int):
    definition = defs.get_definition(key)
    return render_template("definitions/version.html", definition=definition,
                           version=defs.get_version(definition, number))


@bp.route("/<key>/versions/<int:number>/diagram.svg")
def diagram(key: str, number: int):
    version = defs.get_version(defs.get_definition(key), number)
    response = Response(render_svg(spec_of(version), locale=current_locale_short()),
                        mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@bp.route("/<key>/diff")
def diff(key: str):
    definition = defs.get_definition(key)
    numbers = [v.version for v in definition.versions]
    if not numbers:
        abort(404)
    new = request.args.get("b", type=int) or numbers[-1]
    old = request.args.get("a", type=int) or max(new - 1, numbers[0])
    older, newer = defs.get_version(definition, old), defs.get_version(definition, new)
    return render_template("definitions/diff.html", definition=definition, older=older,
                           newer=newer, rows=defs.diff(older.source, newer.source),
                           numbers=numbers)


@bp.route("/<key>/edit", methods=["GET", "POST"])
def edit(key: str):
    definition = defs.get_definition(key)
    form = SourceForm()
    if request.method == "GET":
        form.source.data = definition.latest.source if definition.latest else ""
    return _editor(form, key=key, definition=definition)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = SourceForm()
    template = request.args.get("template") or "simple_approval"
    if template not in defs.TEMPLATES:
        template = "simple_approval"
    if request.method == "GET":
        form.source.data = defs.template_text(template)
    return _editor(form, new=True, template=template)


def _editor(form: SourceForm, *, key: str | None = None, new: bool = False,
            definition=None, template: str | None = None):
    locale = current_locale_short()
    checked, status = None, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        text = form.source.data or ""
        upload = form.upload.data
        if upload and upload.filename:
            loaded, problems = defs.decode_upload(
                upload.read(defs.MAX_SOURCE_BYTES + 1), locale)
            if loaded is None:  # keep what is in the editor, say why the file was not taken
                return _render(form, key, new, definition, template,
                               defs.Checked(None, problems), 422)
            text = form.source.data = loaded
        if request.form.get("action") == "publish":
            result = defs.publish(text, current_user, key=key, new=new, locale=locale)
            if result.published is not None:
                db.session.commit()
                version = result.published.version
                if result.published.created:
                    flash(_("已发布“%(name)s”第 %(n)s 版。", name=version.definition.name,
                            n=version.version), "success")
                else:
                    flash(_("内容与第 %(n)s 版相同，没有发布新版本。", n=version.version), "info")
                return redirect(url_for("definitions.show", key=version.definition.key))
            checked = result.checked
        else:
            checked = defs.check(text, key=key, new=new, locale=locale)
        status = 200 if checked.ok else 422
    return _render(form, key, new, definition, template, checked, status)


def _render(form, key, new, definition, template, checked, status):
    locale = current_locale_short()
    return render_template("definitions/edit.html", form=form, key=key, new=new,
                           definition=definition, template=template,
                           templates=defs.TEMPLATES, checked=checked,
                           diagram=_diagram_uri(checked.spec if checked else None),
                           max_kb=defs.MAX_SOURCE_BYTES // 1024, locale=locale), status


@bp.route("/check", methods=["POST"])
def check():
    """The live check of the editor: the problems, or the diagram, of the posted text."""
    key = request.form.get("key") or None
    checked = defs.check(request.form.get("source", ""), key=key,
                         new=request.form.get("new") == "1", locale=current_locale_short())
    return jsonify({
        "ok": checked.ok,
        "problems": [{"line": p.line, "message": p.message, "excerpt": p.excerpt}
                     for p in checked.problems],
        "svg": render_svg(checked.spec, locale=current_locale_short()) if checked.ok else None,
    })


@bp.route("/<key>/retire", methods=["POST"])
def retire(key: str):
    return _set_retired(key, True)


@bp.route("/<key>/restore", methods=["POST"])
def restore(key: str):
    return _set_retired(key, False)


def _set_retired(key: str, retired: bool):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    definition = defs.get_definition(key)
    defs.set_retired(definition, retired, current_user)
    db.session.commit()
    if retired:
        flash(_("已停用“%(name)s”：不能再发起，进行中的事项照常办完。", name=definition.name),
              "success")
    else:
        flash(_("已恢复“%(name)s”，可以发起了。", name=definition.name), "success")
    return redirect(url_for("definitions.show", key=key))
