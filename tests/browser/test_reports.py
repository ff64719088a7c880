"""Report charts in a real browser: drawn, readable at 360 px without sideways scrolling,
a data table beside each chart, and no serious accessibility violation."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_micro_wish import serious_violations, sign_in
from tests.webapp.test_reports_charts import JUNE, wishes  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401

pytestmark = pytest.mark.browser
STEPS = "/reports/steps?since={since}&until={until}".format(**JUNE)
WISHES = "/reports/wishes?since={since}&until={until}".format(**JUNE)


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_report_charts_read_on_phone_and_desktop(request, live_server, wishes, device):
    page = request.getfixturevalue(device)
    width = 360 if device == "phone" else 1280
    sign_in(page, live_server, "city_admin")
    for path, name in ((STEPS, "steps"), (WISHES, "wishes")):
        page.goto(live_server + path)
        chart = page.locator("svg.uf-chart").first
        expect(chart).to_be_visible()
        assert chart.get_attribute("role") == "img"
        expect(page.locator("table.uf-chart-data").first).to_be_visible()
        expect(page.get_by_role("link", name="导出 Excel").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        box = chart.bounding_box()
        assert 0 < box["width"] <= width
        if device == "desktop":  # wider than the phone's strip (30rem = 480 px)
            assert box["width"] > 560, box
            table = page.locator("table.uf-chart-data").first.bounding_box()
            assert table["width"] > 700, table
        assert serious_violations(page) == []
        screenshot(page, f"report-{name}-{width}")
