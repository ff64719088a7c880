"""One page of a list: which page was asked for, and its rows with the total count."""
from __future__ import annotations

from typing import NamedTuple

from flask import request
from sqlalchemy import func, select

from webapp.extensions import db


class Page(NamedTuple):
    rows: list
    total: int
    page: int
    per_page: int


def page_arg(name: str = "page") -> int:
    """The page number in the query string; anything odd (0, -3, "abc") is page 1."""
    return max(1, request.args.get(name, 1, type=int) or 1)


def paginate(stmt, per_page: int, name: str = "page", *, tuples: bool = False) -> Page:
    """Rows of ``stmt`` (already ordered) for the asked page, and how many there are.

    ``tuples``: the statement selects several entities; rows are tuples of them.
    """
    page = page_arg(name)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    window = stmt.limit(per_page).offset((page - 1) * per_page)
    rows = (db.session.execute(window).all() if tuples
            else db.session.scalars(window).all())
    return Page(rows, total or 0, page, per_page)
