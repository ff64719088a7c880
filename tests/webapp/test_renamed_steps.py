"""A version that renames a step: requests still on the old step (they finish on their
own version) are listed under that step's name, not its id, in 事项查询, its download
and the steps report."""
from __future__ import annotations

import csv
import io

from webapp.extensions import db
from webapp.services import workflow as wf
from tests.webapp.test_pages import login  # noqa: F401
from tests.webapp.test_workflow_service import DEFINITIONS, NOW, demo, wish_data  # noqa: F401


def test_a_request_on_a_step_the_newest_version_renamed_keeps_its_step_s_name(login, demo):
    old = wf.start_instance("micro_wish", demo["rider1"], wish_data(), now=NOW)
    db.session.commit()
    assert old.steps == "verify"
    text = (DEFINITIONS / "micro_wish.yaml").read_text(encoding="utf-8")
    renamed = text.replace("  verify:\n", "  station_check:\n", 1).replace(
        "name: 驿站核实", "name: 驿站审核", 1)
    assert renamed != text and wf.publish_text(renamed, "micro_wish.yaml").created
    db.session.commit()
    newer = wf.start_instance("micro_wish", demo["courier1"], wish_data(), now=NOW)
    db.session.commit()
    assert newer.steps == "station_check"

    client = login("yuzhong_admin")
    listed = client.get("/admin/instances?process=micro_wish").get_data(as_text=True)
    assert "驿站核实" in listed and "驿站审核" in listed
    assert ">verify<" not in listed and "station_check" not in listed
    rows = list(csv.reader(io.StringIO(client.get(
        "/admin/instances?process=micro_wish&format=csv").get_data(as_text=True).lstrip("\ufeff"))))
    steps = {row[0]: row[5] for row in rows[1:]}
    assert steps[str(old.id)] == "驿站核实" and steps[str(newer.id)] == "驿站审核"
    report = client.get("/reports/steps").get_data(as_text=True)
    assert "微心愿 · 驿站核实" in report and "微心愿 · verify" not in report
