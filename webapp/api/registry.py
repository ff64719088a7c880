"""Each API route is declared once, with what the OpenAPI document says about it.

The decorator registers the Flask rule *and* its description, so the document is
generated from the code that serves the route and cannot drift from it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    description: str = ""


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
    responses: dict[int, str | None] = field(default_factory=dict)  # status -> schema name
    errors: tuple[int, ...] = ()  # error statuses beyond the ones every route can give
    multipart: bool = False  # the body may also come as multipart/form-data with files


ROUTES: list[RouteDoc] = []


def route(rule: str, method: str, *, summary: str, tag: str, responses: dict[int, str | None],
          auth: bool = True, body: str | None = None, query: tuple[Param, ...] = (),
          errors: tuple[int, ...] = (), multipart: bool = False) -> Callable:
    def decorator(view: Callable) -> Callable:
        bp.add_url_rule(rule, view.__name__, view, methods=[method])
        ROUTES.append(RouteDoc(rule=rule, method=method.lower(), endpoint=view.__name__,
                               summary=summary, tag=tag, auth=auth, body=body, query=query,
                               responses=responses, errors=errors, multipart=multipart))
        view.api_public = not auth
        return view
    return decorator


_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def openapi_path(rule: str) -> tuple[str, list[tuple[str, str]]]:
    """``/tasks/<int:task_id>/claim`` → ``/tasks/{task_id}/claim`` and its parameters."""
    params = [(name, conv or "string") for conv, name in _CONVERTER.findall(rule)]
    return _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule), params


def page_params() -> tuple[Param, ...]:
    return (Param("page", {"type": "integer", "minimum": 1, "default": 1}, "page number"),
            Param("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                  "items per page"))
