"""Working-day deadlines (``3wd``) are counted in China's days, whatever the server's clock."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from tests.webapp.test_reports_charts import demand
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.services import workflow as wf


def test_a_demands_working_day_deadlines_are_china_working_days(demo):  # noqa: F811
    """Sent on Friday at 07:00 in China (Thursday in UTC): reminded on Monday and
    escalated on Tuesday at 07:00, China time — not on Saturday and Sunday."""
    from zoneinfo import ZoneInfo

    from webapp.models import Timer

    china = ZoneInfo("Asia/Shanghai")
    friday = datetime(2026, 12, 4, 7, 0, tzinfo=china).astimezone(timezone.utc)
    made = wf.start_instance("worker_demand", demo["rider1"], demand(), now=friday)
    db.session.commit()
    due = {purpose: at.astimezone(china) if at.tzinfo else at.replace(
        tzinfo=timezone.utc).astimezone(china) for purpose, at in db.session.execute(
        select(Timer.purpose, Timer.fire_at).where(Timer.instance_id == made.id,
                                                   Timer.status == "pending"))}
    assert due["remind"] == datetime(2026, 12, 7, 7, 0, tzinfo=china), due
    assert due["escalate"] == datetime(2026, 12, 8, 7, 0, tzinfo=china), due
