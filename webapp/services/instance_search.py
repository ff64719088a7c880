"""事项查询: the staff's search over every request in their part of the tree.

The page and its download run the same statement.  The time range and the unit are the
reports' filters (``reports.parse_filters``: days in China time, a unit and everything
below it, only within the viewer's scope); a filter that cannot be used gets a message
and the search finds nothing rather than a guess.  A request is found by its number
("24" or "#24") as well as by its title or applicant, and what is typed is searched for
as it is: ``%`` and ``_`` are not wildcards.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, or_, select

from webapp.extensions import db
from webapp.i18n import punctuation
from webapp.models import Instance, ProcessDefinition, User
from webapp.pagination import MAX_ID
from webapp.services import reports
from webapp.services.access import staff_instances_clause

STATUSES = ("running", "returned", "waitlisted", "completed", "approved", "rejected",
            "withdrawn", "cancelled", "expired")
# "24", "#24", "＃24" (a Chinese keyboard's #): the request's number.
_NUMBER = re.compile(r"^[#＃]?\s*(\d{1,10})$")


@dataclass
class Search:
    q: str
    process: str | None
    status: str | None
    filters: reports.Filters

    @property
    def errors(self) -> dict:
        return self.filters.errors


def parse(args: Mapping[str, str], viewer: User) -> Search:
    """What was asked for, with a message for each filter that cannot be used."""
    search = Search(q=(args.get("q") or "").replace("\x00", "").strip()[:100],
                    process=(args.get("process") or "").strip()[:64] or None,
                    status=(args.get("status") or "").strip()[:32] or None,
                    filters=reports.parse_filters(args, viewer))
    if search.process and db.session.scalar(select(ProcessDefinition.id).where(
            ProcessDefinition.key == search.process)) is None:
        search.errors["process"] = _l("没有这个流程")
    return search


def statement(search: Search, viewer: User):
    """SELECT of the requests found, newest first."""
    stmt = (select(Instance).join(User, User.id == Instance.applicant_id)
            .where(staff_instances_clause(viewer), Instance.status != "starting"))
    if search.errors:
        return stmt.where(false()).order_by(Instance.id.desc())
    if search.process:
        stmt = stmt.where(Instance.process_key == search.process)
    if search.status:
        stmt = stmt.where(Instance.status == search.status)
    if search.q:
        stmt = stmt.where(text_clause(search.q))
    if search.filters.unit is not None:
        # A request is the unit's when its applicant or the station it names lies there:
        # a district's demands include those at its stations (the demand report's
        # district), whoever raised them.
        unit = search.filters.unit
        stmt = stmt.where(or_(unit.subtree_clause(Instance.unit_path),
                              unit.subtree_clause(Instance.station_path)))
    stmt = stmt.where(*search.filters.window(Instance.created_at))
    return stmt.order_by(Instance.id.desc())


def text_clause(q: str):
    """WHERE clause: the request numbered ``q`` ("24", "#24") or one whose title or
    applicant contains what was typed, wildcards and all (autoescape: ``%`` is a percent
    sign, on SQLite and PostgreSQL alike)."""
    found = _NUMBER.match(q)
    number = int(found.group(1)) if found else None
    by_number = Instance.id == number if number is not None and 0 < number <= MAX_ID \
        else false()
    if found and q[0] in "#＃":
        return by_number
    return or_(by_number, Instance.title.contains(q, autoescape=True),
               Instance.title_en.contains(q, autoescape=True),
               User.display_name.contains(q, autoescape=True),
               User.username.contains(q, autoescape=True))


def current_steps(instances, locale: str) -> dict[int, str]:
    """Each request's current step(s) as people read them, by request id."""
    keys = {i.process_key for i in instances}
    labels = reports.step_labels(keys, locale)
    sep = punctuation(locale)["list_sep"]
    return {i.id: sep.join(labels.get((i.process_key, s), s)
                           for s in (i.steps or "").split(",") if s) for i in instances}
