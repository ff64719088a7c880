"""A table that scrolls sideways on a phone can be scrolled from the keyboard: its box is
focusable and named (WCAG 2.1.1; axe's scrollable-region-focusable), on every page —
checked in the templates, since a sweep only sees the boxes that overflow in its data."""
from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "templates"
BOX = re.compile(r"<div\b[^>]*class=\"[^\"]*\btable-responsive\b[^\"]*\"[^>]*>")


def test_every_scrolling_table_box_is_focusable_and_named():
    boxes = [(path.relative_to(TEMPLATES), tag) for path in sorted(TEMPLATES.rglob("*.html"))
             for tag in BOX.findall(path.read_text(encoding="utf-8"))]
    assert len(boxes) > 10  # the check sees the templates
    missing = [(str(path), tag) for path, tag in boxes
               if 'tabindex="0"' not in tag or 'role="region"' not in tag
               or not re.search(r"aria-label(ledby)?=", tag)]
    assert missing == []

