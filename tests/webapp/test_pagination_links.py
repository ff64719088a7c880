"""The pager's links: a page with two paged lists (the inbox: mine and the pool) keeps the
other list's page and moves only its own."""
from __future__ import annotations

import re


def render_pager(app, **args):
    with app.test_request_context("/inbox"):
        template = app.jinja_env.from_string(
            "{% from '_pagination.html' import pager %}" + args.pop("call"))
        return template.render(**args)


def links(html):
    return re.findall(r'href="([^"]+)"', html.replace("&amp;", "&"))


def test_the_pool_pager_moves_the_pool_page_and_keeps_mine(app):
    html = render_pager(app, call="{{ pager(2, 20, 65, 'tasks.inbox', param='pool_page', "
                                   "keep={'page': 3}) }}")
    prev, nxt = links(html)
    assert "pool_page=1" in prev and "page=3" in prev.replace("pool_page", "")
    assert "pool_page=3" in nxt and "page=3" in nxt.replace("pool_page", "")
    assert "2 / 4" in html


def test_the_plain_pager_still_passes_its_filters(app):
    html = render_pager(app, call="{{ pager(1, 20, 45, 'tasks.inbox', pool_page=2) }}")
    prev, nxt = links(html)
    assert "page=2" in nxt.replace("pool_page", "") and "pool_page=2" in nxt
