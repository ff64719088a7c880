"""Every list's download, fetched from a live server as a browser does: the file is
written after the view returned (streamed), in the response's own context, so nothing
it reads may hang on the request's session (the audit log's broke after its header)."""
from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from tests.browser.test_micro_wish import sign_in
from tests.webapp.test_workflow_service import NOW, act, demo, wish_data  # noqa: F401
from webapp.extensions import db
from webapp.services import workflow as wf

pytestmark = pytest.mark.browser

PAGES = ["/admin/audit", "/admin/units", "/admin/users", "/admin/instances",
         "/admin/deliveries", "/admin/unassigned", "/stations", "/reports/steps",
         "/reports/wishes", "/reports/processes", "/reports/demands", "/reports/courses",
         "/reports/five-ones"]


@pytest.mark.parametrize("username", ["admin", "city_admin", "yuzhong_admin"])
def test_every_download_arrives_whole(desktop, live_server, demo, username):
    instance = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    act(instance, "approve", demo["station_head"], comment="核实无误，同意上墙")
    sign_in(desktop, live_server, username)
    links = set()
    for path in PAGES:
        page = desktop.request.get(live_server + path)
        if page.status != 200:
            continue  # not theirs
        links |= {href.replace("&amp;", "&")
                  for href in re.findall(r'href="([^"]*format=(?:csv|xlsx)[^"]*)"', page.text())}
    assert any("/admin/audit" in link for link in links)
    for link in sorted(links):
        got = desktop.request.get(live_server + link if link.startswith("/") else link)
        assert got.status == 200, link
        body = got.body()  # raises if the server dropped the connection half-way
        if "format=csv" in link:
            rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        else:
            rows = list(load_workbook(io.BytesIO(body), read_only=True).active.values)
        assert rows and rows[0], link  # the header, at least
        if "/admin/audit" in link:
            assert len(rows) > 5, link  # the demo's entries, every one after the header
