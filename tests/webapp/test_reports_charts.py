"""The report pages: numbers from known data, the viewer's scope, filters, bad filters,
and each chart drawn as SVG with its numbers in a table beside it."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from webapp.extensions import db
from webapp.services import reports
from webapp.services import workflow as wf
from webapp.services.org import unit_by_code
from workflows.runtime import Action
from tests.webapp.test_pages import PASSWORD, login  # noqa: F401
from tests.webapp.test_workflow_service import demo, open_task, wish_data  # noqa: F401

NOW = datetime(2025, 6, 2, 2, 0, tzinfo=timezone.utc)  # a Monday, 10:00 in China
JUNE = {"since": "2025-06-01", "until": "2025-06-30"}


def act(instance, kind, user, at, **kwargs):
    task = open_task(instance)
    wf.perform(instance.id, Action(kind, task=task.key, **kwargs), user, now=at)
    db.session.commit()


@pytest.fixture
def wishes(demo):
    """Three wishes in June 2025 at 解放碑 (渝中区): A verified after 2 h and claimed,
    B verified after 4 h, C never verified (its 5-day escalation passes)."""
    head, vol = demo["station_head"], demo["volunteer1"]
    made = {}
    for name, who in (("A", "rider1"), ("B", "courier1"), ("C", "driver1")):
        made[name] = wf.start_instance("micro_wish", demo[who], wish_data(), now=NOW)
        db.session.commit()
    act(made["A"], "approve", head, NOW + timedelta(hours=2))
    act(made["B"], "approve", head, NOW + timedelta(hours=4))
    act(made["A"], "claim", vol, NOW + timedelta(hours=5))
    return made


def tables(page: str) -> dict[str, list[list[str]]]:
    """Each chart's data table: id → rows of cell texts."""
    out = {}
    for tid, body in re.findall(r'<table class="table table-sm align-middle uf-chart-data" '
                                r'id="([^"]+)-data">(.*?)</table>', page, re.S):
        out[tid] = [[re.sub(r"<[^>]+>", "", c).strip() for c in
                     re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
                    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    return out


def test_smoke(login, wishes):
    client = login("city_admin")
    for url in ("/reports", "/reports/processes", "/reports/steps", "/reports/wishes",
                "/reports/courses", "/reports/quotas", "/reports/five-ones", "/reports/demands",
                "/admin/units", "/admin/users", "/admin/instances", "/admin/audit",
                "/admin/unassigned", "/stations"):
        r = client.get(url)
        assert r.status_code == 200, url
        open(f"/tmp/rep/{url.strip('/').replace('/', '_') or 'root'}.html", "w").write(r.get_data(as_text=True))
        for fmt in ("csv", "xlsx"):
            r = client.get(url + f"?format={fmt}")
            assert r.status_code == 200, (url, fmt)
            r.get_data()
