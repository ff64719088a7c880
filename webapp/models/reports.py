"""Counters kept for reports, so a report reads a few summary rows, not every open item.

``OpenDemandDay``: how many workers' demands are open (submitted, waiting for dispatch,
acknowledgement or answer) per district, category and day of submission (China's
calendar day).  The open-demands report sums these rows by age class (the age is counted
in calendar days, so a day's row is all in one class) instead of counting every open
demand: its cost is bounded by districts × categories × days, not by how many demands
are open.  The rows are kept by triggers on ``instances`` (migration e2a7c5d10b64), in the
transaction that opens, moves or closes a demand, whatever statement does it; a day's
row is deleted when its last demand closes.  What counts is fixed there as in
``webapp/services/demand_report.py`` (process ``worker_demand``, status ``running``,
steps dispatch / acknowledge / answer, a station whose district is known): a change to
one needs a migration for the other (``tests/webapp/test_report_counters.py`` checks they
agree).  A station's district is set when it is made and never changed by the app.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db


class OpenDemandDay(db.Model):
    __tablename__ = "open_demand_days"

    district_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(200), primary_key=True)  # "" for none
    opened_on: Mapped[date] = mapped_column(Date, primary_key=True)
    demands: Mapped[int] = mapped_column(Integer)
