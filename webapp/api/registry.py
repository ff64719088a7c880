"""Each API route is declared once, with what the OpenAPI document says about it.

The decorator registers the Flask rule *and* its description, so the document is
generated from the code that serves the route and cannot drift from it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint

from webapp.pagination import MAX_PAGE

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Binary:
    """A response of bytes to save or show (a download), in one of ``media_types``."""

    media_types: tuple[str, ...]


@dataclass(frozen=True)
class RouteDoc:
    rule: str
    method: str
    endpoint: str
    summary: str
    tag: str
    auth: bool = True
    body: str | None = None  # schema name of the JSON request body
    query: tuple[Param, ...] = ()
    headers: tuple[Param, ...] = ()  # request headers the route reads
    # status -> schema name of a JSON answer, Binary for a download, None for no body
    responses: dict[int, str | Binary | None] = field(default_factory=dict)
    errors: tuple[int, ...] = ()  # error statuses beyond the ones every route can give
    multipart: bool = False  # the body may also come as multipart/form-data with files


ROUTES: list[RouteDoc] = []
BY_ENDPOINT: dict[str, RouteDoc] = {}


def route(rule: str, method: str, *, summary: str, tag: str,
          responses: dict[int, str | Binary | None],
          auth: bool = True, body: str | None = None, query: tuple[Param, ...] = (),
          errors: tuple[int, ...] = (), multipart: bool = False,
          headers: tuple[Param, ...] = ()) -> Callable:
    def decorator(view: Callable) -> Callable:
        bp.add_url_rule(rule, view.__name__, view, methods=[method])
        doc = RouteDoc(rule=rule, method=method.lower(), endpoint=view.__name__,
                       summary=summary, tag=tag, auth=auth, body=body, query=query,
                       headers=headers, responses=responses, errors=errors,
                       multipart=multipart)
        ROUTES.append(doc)
        BY_ENDPOINT[f"{bp.name}.{view.__name__}"] = doc
        return view
    return decorator


_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def openapi_path(rule: str) -> tuple[str, list[tuple[str, str]]]:
    """``/tasks/<int:task_id>/claim`` → ``/tasks/{task_id}/claim`` and its parameters."""
    params = [(name, conv or "string") for conv, name in _CONVERTER.findall(rule)]
    return _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule), params


def page_params() -> tuple[Param, ...]:
    return (Param("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
                  "page number"),
            Param("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                  "items per page"))


def query_problems(doc: RouteDoc, args) -> dict[str, str]:
    """Query arguments that break the route's declared schema: name → what is wrong.

    The document promises these limits, so the route keeps them: a bad or unknown
    argument is a 422 (as unknown body fields are), never silently read as something else
    — except one whose name starts with "_" (``?_=1733011200``: the cache-buster some HTTP
    stacks and web views add), which no route takes and every route ignores.
    """
    problems = {}
    known = {param.name for param in doc.query}
    for name in args:
        if name not in known and not name.startswith("_"):
            problems[name[:40]] = "unknown"
    for param in doc.query:
        # A repeatable argument (an array, sent as ?service=a&service=b) checks each value.
        schema = param.schema.get("items", param.schema)
        for raw in args.getlist(param.name):
            problem = _value_problem(schema, raw)
            if problem:
                problems[param.name] = problem
                break
    return problems


def _value_problem(schema: dict[str, Any], raw: str) -> str | None:
    if schema.get("type") == "integer":
        text = raw.strip()
        if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 12:
            return "integer"
        value = int(text)
        if ("minimum" in schema and value < schema["minimum"]) or (
                "maximum" in schema and value > schema["maximum"]):
            return "range"
        return None
    if "enum" in schema and raw not in schema["enum"]:
        return "enum"
    if "maxLength" in schema and len(raw) > schema["maxLength"]:
        return "length"
    return None
