"""One page of a list: which page was asked for, and its rows with the total count.

Lists of what is open now (an inbox, the wish wall) can be long in a city; counting all
of them on every view grew with their number.  ``paginate(..., limit_count=True)``
counts at most ``COUNT_LIMIT`` rows (setting ``UNIONFLOW_COUNT_LIMIT``, 1,000 by
default) and the page then says "1,000+" (``Page.capped``), GitLab-style; whether there
is a next page is known from the page's own rows (one more than shown is read).
"""
from __future__ import annotations

from typing import NamedTuple

from flask import current_app, request
from werkzeug.routing import IntegerConverter
from sqlalchemy import func, select

from webapp.extensions import db


class Page(NamedTuple):
    rows: list
    total: int  # with ``capped``: the count stopped here, there are more
    page: int
    per_page: int
    capped: bool = False
    more: bool = False  # rows after this page


DEFAULT_COUNT_LIMIT = 1000


MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL: anything bigger names nothing
MAX_PAGE = 100_000


class IdConverter(IntegerConverter):
    """``<int:…>`` for ids: 1 to MAX_ID, so an absurd number is a 404, not a database error."""

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = 1,
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def page_arg(name: str = "page") -> int:
    """The page number in the query string; anything odd (0, -3, "abc", 10**30) is
    page 1 or the last page we would ever count to."""
    return min(MAX_PAGE, max(1, request.args.get(name, 1, type=int) or 1))


def as_id(text) -> int | None:
    """An id sent as form text: plain ASCII digits from 1 to MAX_ID, else None (so "²",
    "-1" or 10**30 name nothing instead of failing in the database)."""
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def id_arg(name: str) -> int | None:
    """An id in the query string, or None for anything that cannot be one."""
    value = request.args.get(name, type=int)
    return value if value is not None and 0 < value <= MAX_ID else None


def count_limit() -> int:
    """How many rows a limited count counts before it says "N+"."""
    return max(1, int(current_app.config.get("COUNT_LIMIT", DEFAULT_COUNT_LIMIT)))


def paginate(stmt, per_page: int, name: str = "page", *, tuples: bool = False,
             limit_count: bool = False, past_end: str = "last") -> Page:
    """Rows of ``stmt`` (already ordered) for the asked page — the last one when the
    asked page is past the end — and how many there are.

    ``tuples``: the statement selects several entities; rows are tuples of them.
    ``limit_count``: count at most ``count_limit()`` rows (``Page.capped`` says when
    there are more): the cost of the count no longer grows with the list.
    ``past_end="empty"``: a page past the end is that page, with no rows — what an app
    that loads page after page until one comes back empty needs (the API); a person
    following an old link is better shown the last page.
    """
    page = page_arg(name)
    counted = stmt.order_by(None)
    limit = count_limit() if limit_count else None
    if limit is not None:
        counted = counted.limit(limit + 1)
    total = db.session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    capped = limit is not None and total > limit
    if not capped and past_end == "last":
        # a page past the end (an old link, a typed number) shows the last one
        page = min(page, max(1, -(-total // per_page)))
    # A limited count may not reach this page: read one row more to know if one follows.
    window = stmt.limit(per_page + (1 if capped else 0)).offset((page - 1) * per_page)
    rows = (db.session.execute(window).all() if tuples
            else db.session.scalars(window).all())
    more = len(rows) > per_page if capped else page * per_page < total
    return Page(list(rows[:per_page]), limit if capped else total, page, per_page,
                capped, more)
