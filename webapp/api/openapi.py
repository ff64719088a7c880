"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 document, generated from the routes.

Every route declared with ``registry.route`` is described from that declaration; each
published process also gets its own start path whose body is its start form's JSON
Schema, so clients (and schemathesis) know exactly what ``data`` each one takes.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from forms import json_schema
from webapp.api.registry import ROUTES, Binary, RouteDoc, openapi_path, route
from webapp.api.schemas import SCHEMAS
from webapp.extensions import db
from webapp.models import ProcessDefinition
from webapp.pagination import MAX_ID
from webapp.services.workflow import spec_of

ERROR_TEXT = {400: "malformed request: JSON that does not parse, a body that is not an "
                   "object, a NUL character",
              401: "no, expired or revoked token", 403: "not allowed",
              404: "unknown, or not visible to the caller",
              409: "conflict: already done, stale, capacity or quota exhausted, claimed",
              410: "gone: issued once, since withdrawn (a completion certificate whose "
                   "result was corrected)",
              413: "the request is larger than the server takes",
              422: "invalid input, with per-field messages (an unknown query argument too)",
              429: "too many requests"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_statuses(doc: RouteDoc, has_path_params: bool) -> set[int]:
    # 400: e.g. a NUL in the query string; 422: an unknown query argument, on any route.
    statuses = set(doc.errors) | {400, 422}
    if doc.auth:
        statuses.add(401)
    if doc.body or doc.method in ("post", "put", "patch"):
        statuses.add(413)
    if has_path_params:
        statuses.add(404)
    return statuses


def _operation(doc: RouteDoc, body_schema: dict | None = None, *, suffix: str = "",
               fixed: dict[str, str] | None = None) -> dict[str, Any]:
    path, params = openapi_path(doc.rule)
    params = [(n, c) for n, c in params if n not in (fixed or {})]
    op: dict[str, Any] = {"operationId": doc.endpoint + suffix, "summary": doc.summary,
                          "tags": [doc.tag], "responses": {}}
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID} if conv == "int"
                   else {"type": "string"}} for name, conv in params]
    parameters += [{"name": p.name, "in": "query", "required": False, "schema": p.schema,
                    # an array is the argument repeated: ?service=a&service=b
                    **({"style": "form", "explode": True}
                       if p.schema.get("type") == "array" else {}),
                    **({"description": p.description} if p.description else {})}
                   for p in doc.query]
    parameters += [{"name": p.name, "in": "header", "required": False, "schema": p.schema,
                    **({"description": p.description} if p.description else {})}
                   for p in doc.headers]
    if parameters:
        op["parameters"] = parameters
    if doc.auth:
        op["security"] = [{"bearer": []}]
    else:
        op["security"] = []
    if doc.body:
        schema = body_schema or _ref(doc.body)
        content = {"application/json": {"schema": schema}}
        if doc.multipart:
            content["multipart/form-data"] = {"schema": {
                "type": "object", "properties": {"json": {"type": "string",
                                                          "description": "the JSON body"}},
                "additionalProperties": {"type": "string", "format": "binary"}}}
        op["requestBody"] = {"required": doc.body not in ("StartRequest", "WithdrawRequest"),
                             "content": content}
    for status, schema in doc.responses.items():
        answer: dict[str, Any] = {"description": "success"}
        if isinstance(schema, Binary):
            answer["description"] = "the file (Content-Disposition names it)"
            answer["content"] = {media: {"schema": {"type": "string", "format": "binary"}}
                                 for media in schema.media_types}
            answer["headers"] = {"Content-Disposition": {
                "description": "attachment or inline, with the file's name",
                "schema": {"type": "string"}}}
        elif schema:
            answer["content"] = {"application/json": {"schema": _ref(schema)}}
        op["responses"][str(status)] = answer
    for status in sorted(_error_statuses(doc, bool(params))):
        op["responses"][str(status)] = {
            "description": ERROR_TEXT.get(status, "error"),
            "content": {"application/json": {"schema": _ref("Error")}}}
    return op


def _process_start_paths(doc: RouteDoc) -> dict[str, Any]:
    """One concrete path per published process, its body the start form's schema."""
    paths = {}
    for definition in db.session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.retired.is_(False)).order_by(ProcessDefinition.key)):
        if definition.latest is None:
            continue
        spec = spec_of(definition.latest)
        body = {"type": "object", "properties": {"data": json_schema(spec.start.form)},
                "required": ["data"], "additionalProperties": False}
        path = openapi_path(doc.rule)[0].replace("{key}", definition.key)
        op = _operation(doc, body, suffix="_" + definition.key, fixed={"key": definition.key})
        op["summary"] = f"Start {spec.name_en or spec.name} ({spec.name})"
        paths[path] = {"post": op}
    return paths


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for doc in ROUTES:
        path = openapi_path(doc.rule)[0]
        paths.setdefault("/api/v1" + path, {})[doc.method] = _operation(doc)
        if doc.endpoint == "start":
            for fixed, item in _process_start_paths(doc).items():
                paths["/api/v1" + fixed] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "UnionFlow API", "version": "1",
                 "description": "Union processes for apps and integrations. Errors are "
                                "{\"error\": {\"code\", \"message\", \"fields\"}}; "
                                "messages follow Accept-Language (zh-CN default, en)."},
        "servers": [{"url": current_app.config.get("API_SERVER_URL") or "/"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "POST /api/v1/tokens"}}},
    }


@route("/openapi.json", "GET", summary="This document", tag="meta", auth=False,
       responses={200: None})
def openapi():
    return document()
