"""Reading requests and answering errors the way API.md says, whatever comes in."""
from __future__ import annotations

import json
from typing import Any

from flask import abort, request
from flask_babel import gettext as _
from flask_login import current_user

from webapp.api.registry import BY_ENDPOINT
from webapp.api.schemas import SCHEMAS
from webapp.errors import error_response
from webapp.extensions import db
from webapp.i18n import current_locale_short, punctuation
from workflows.errors import InvalidInput, WorkflowError


class ApiError(Exception):
    """An answer in the error shape: status, message, and per-field messages for 422."""

    def __init__(self, status: int, message: str | None = None,
                 fields: dict[str, list[str]] | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.fields, self.error_code = status, message, fields, code
        self.headers = headers


def fail(status: int, message: str | None = None, fields: dict | None = None,
         code: str | None = None, headers: dict[str, str] | None = None):
    raise ApiError(status, message, fields, code, headers)


def invalid(fields: dict[str, list[str]]):
    fail(422, _("提交的内容有误，请检查后重试。"), fields)


def receive() -> None:
    """Read the whole request body now (a multipart form's files spooled), checking
    nothing: a request about to lock a row takes the lock after a slow phone's upload
    has arrived, not while it is arriving.  ``body`` then parses what was read."""
    if request.mimetype == "multipart/form-data":
        request.files  # noqa: B018 - parsing the form is the point
    else:
        request.get_data(cache=True)


def body() -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON object sent (and any files, for multipart requests with a ``json`` part).

    Not JSON at all: 400.  JSON, but not an object: 400 as well (there is nothing to
    read fields from).  An empty body is an empty object.  A member the route's
    declared body does not have (a typo such as ``comments``) is a 422 naming it: read
    as absent, it would do something else than was meant, silently.
    """
    multipart = request.mimetype == "multipart/form-data"
    if multipart:
        raw, files = request.form.get("json", "{}"), request.files.to_dict(flat=False)
    else:
        raw, files = request.get_data(cache=True, as_text=False), {}
    if isinstance(raw, bytes):
        if not raw.strip():
            return {}, files
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            fail(400, _("请求体不是有效的 UTF-8 JSON。"), code="malformed_json")
    try:
        value = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):
        fail(400, _("请求体不是有效的 JSON。"), code="malformed_json")
    if not isinstance(value, dict):
        fail(400, _("请求体应为 JSON 对象，例如 {\"data\": {...}}。"), code="not_an_object")
    sent = {str(k) for k in value}
    if multipart:
        # A part may come without a name (``None``): it is no member either.  (Asked
        # only here: ``request.form`` of a JSON request would parse the body once more.)
        sent |= {str(k) for k in request.form if k != "json"}
    unknown = sorted(sent - _members())
    if unknown:
        invalid({name[:40]: [_("没有这个字段。")] for name in unknown})
    return value, files


def _members() -> set[str]:
    """The members the route's declared request body has (none when it declares none)."""
    doc = BY_ENDPOINT.get(request.endpoint or "")
    schema = SCHEMAS.get(doc.body) if doc is not None and doc.body else None
    return set(schema["properties"]) if schema else set()


def text_field(payload: dict, name: str, *, required: bool = False, max_length: int = 2000,
               errors: dict | None = None) -> str | None:
    """A string member, trimmed; wrong type, too long or missing go into ``errors``."""
    value = payload.get(name)
    errors = errors if errors is not None else {}
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = [_("此项必填。")]
        return None
    if not isinstance(value, str):
        errors[name] = [_("应为文本。")]
        return None
    if len(value) > max_length or "\x00" in value:
        errors[name] = [_("不能超过 %(n)s 个字符，且不能含控制字符。", n=max_length)]
        return None
    return value.strip()


def int_arg(name: str, default: int, least: int, most: int) -> int:
    """A whole-number query argument clamped into range; anything odd is the default."""
    value = request.args.get(name, type=int)
    if value is None:
        return default
    return max(least, min(most, value))


def user():
    if not current_user.is_authenticated:
        abort(401)
    return current_user._get_current_object()


def init_errors(bp) -> None:
    @bp.errorhandler(ApiError)
    def api_error(exc: ApiError):
        db.session.rollback()
        return shaped(exc.status, exc.error_code, exc.message, exc.fields, exc.headers)

    @bp.errorhandler(WorkflowError)
    def workflow_error(exc: WorkflowError):
        db.session.rollback()
        if exc.http_status >= 500:  # a broken definition or state: our fault, logged as such
            raise exc
        locale = current_locale_short()
        if exc.http_status == 422:
            return _invalid_input(exc, locale)
        # One code per status where clients branch on the status alone (a 404 is a 404,
        # whatever was not there); 409s keep theirs (already decided, claimed, full ...).
        code = "not_found" if exc.http_status == 404 else exc.code
        return shaped(exc.http_status, code, exc.message(locale))


def _invalid_input(exc: WorkflowError, locale: str):
    """A definition rule's refusal answered like a form's: code "invalid", the usual top
    message and each field's own messages; a refusal naming no field is the message."""
    fields = exc.field_messages(locale) if isinstance(exc, InvalidInput) else {}
    whole = fields.pop("", [])
    if whole or not fields:
        message = punctuation(locale)["clause_sep"].join(whole or [exc.message(locale)])
    else:
        message = _("提交的内容有误，请检查后重试。")
    return shaped(422, "invalid", message, fields or None)


def shaped(status: int, code: str | None = None, message: str | None = None,
           fields: dict | None = None, headers: dict[str, str] | None = None):
    """The error shape of API.md: ``{"error": {"code", "message", "fields"?}}``."""
    return error_response(status, message, fields, code, headers)


__all__ = ["ApiError", "fail", "invalid", "body", "text_field", "int_arg", "user", "shaped"]
