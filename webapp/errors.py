"""Every error a person can meet gets a page (or, under /api/, the JSON error shape) in
their language; the operator gets the traceback in the log, the person never does."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.logs import request_id

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid",
         429: "too_many_requests", 500: "server_error"}


def _message(status: int) -> str:
    return {
        400: _("请求有误，请检查后重试。"),
        401: _("请先登录。"),
        403: _("您没有权限进行此操作。"),
        404: _("找不到您要的页面或内容。"),
        405: _("不支持这种请求方式。"),
        409: _("操作冲突：内容已被他人更改，请刷新后再试。"),
        413: _("上传的内容太大。"),
        422: _("提交的内容有误，请检查后重试。"),
        429: _("尝试次数过多，请稍后再试。"),
        500: _("服务器出了点问题，我们已记录下来，请稍后再试。"),
    }.get(status, _("请求未能完成。"))


def error_response(status: int, message: str | None = None, fields: dict | None = None,
                   code: str | None = None, headers: dict[str, str] | None = None):
    """The error page, or under /api/ the JSON error shape; ``headers`` go with either
    (``Allow`` on a 405, ``Retry-After`` on a 429, ...).  A 500 carries the request's id,
    for the person to quote and the operator to find in the log."""
    message = message or _message(status)
    headers = dict(headers or {})
    reference = request_id() if status >= 500 else None
    if request.path.startswith("/api/"):
        code = code or CODES.get(status, "error")
        body = {"error": {"code": code, "message": message}}
        if fields:
            body["error"]["fields"] = fields
        if reference:
            body["error"]["request_id"] = reference
        if status == 401:  # RFC 9110: a 401 names the scheme that would succeed
            headers.setdefault("WWW-Authenticate", 'Bearer error="invalid_token"'
                               if code == "invalid_token" else "Bearer")
        return jsonify(body), status, headers
    return (render_template("error.html", status=status, message=message, reference=reference),
            status, headers)


def init_app(app: Flask) -> None:
    from workflows.errors import WorkflowError

    @app.errorhandler(WorkflowError)
    def workflow_error(exc: WorkflowError):
        from webapp.i18n import current_locale_short

        return error_response(exc.http_status, exc.message(current_locale_short()))

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(400, _("页面已过期或来源不明（安全校验失败），请刷新页面后重新提交。"))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, InternalServerError):
            return internal_error(exc)
        # Werkzeug's own headers of the status (Allow, WWW-Authenticate, Retry-After),
        # but not its Content-Type: the answer is our page or our JSON.
        headers = {name: value for name, value in exc.get_headers()
                   if name.lower() != "content-type"}
        return error_response(exc.code or 500, headers=headers)

    @app.errorhandler(Exception)
    def internal_error(exc):
        from flask_login import current_user

        try:  # the id, not get_id(): that is the session token
            user = current_user.id if current_user.is_authenticated else None
        except Exception:  # noqa: BLE001 - loading the user may be what failed
            user = "?"
        app.logger.exception("unhandled error on %s %s (request %s, user %s)", request.method,
                             request.path, request_id(), user or "-")
        try:
            from webapp.extensions import db

            db.session.rollback()
        except Exception:  # the database itself may be what failed
            app.logger.exception("rollback after error failed")
        return error_response(500)
