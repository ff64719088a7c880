"""Markup typed into any text field comes back as text on every page that shows it."""
from __future__ import annotations

from tests.webapp.test_pages import login, submit_wish, task_id_of  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401

PAYLOADS = ('<script>alert("x")</script>', '"><img src=x onerror=alert(1)>',
            "javascript:alert(1)//", "{{ 7*7 }}")


def test_payloads_in_a_wish_render_inert_everywhere(login, demo):
    rider = login("rider1")
    instance_id = submit_wish(rider, title=PAYLOADS[1][:40], story=PAYLOADS[0] + " 想要一个头盔",
                              contact_name=PAYLOADS[3])
    rider.post(f"/instances/{instance_id}/comments", data={"text": PAYLOADS[0] + PAYLOADS[2]})
    pages = [rider.get(f"/instances/{instance_id}"), rider.get("/requests")]
    head = login("station_head")
    pages += [head.get("/inbox"), head.get(f"/tasks/{task_id_of(instance_id)}")]
    head.post(f"/tasks/{task_id_of(instance_id)}", data={"action": "approve",
                                                        "comment": PAYLOADS[1]})
    volunteer = login("volunteer1")
    pages += [volunteer.get("/wishes"), volunteer.get(f"/instances/{instance_id}"),
              login("yuzhong_admin").get("/admin/instances?q=img")]
    for page in pages:
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, page.request.path
    # Template syntax is text too: never evaluated.
    assert "{{ 7*7 }}" in rider.get(f"/instances/{instance_id}").get_data(as_text=True)
    shown = volunteer.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in shown or \
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in shown
