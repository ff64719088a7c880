"""The definitions reference (docs/definitions.md) as a page for definition editors.

The editor's help points to it; a browser user cannot open a file of the repository.
The markdown is rendered on the server by markdown-it-py (CommonMark with tables; raw
HTML in the file is escaped, never passed through), and headings get GitHub-style ids
so the document's own ``[People](#people)`` links work.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from markdown_it import MarkdownIt

DOC = Path(__file__).resolve().parents[2] / "docs" / "definitions.md"


def _slug(text: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def _with_ids(md: MarkdownIt) -> MarkdownIt:
    def heading_ids(state) -> None:
        seen: dict[str, int] = {}
        tokens = state.tokens
        for index, token in enumerate(tokens):
            if token.type != "heading_open":
                continue
            slug = _slug(tokens[index + 1].content)
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            token.attrSet("id", slug if not count else f"{slug}-{count}")
    md.core.ruler.push("heading_ids", heading_ids)
    return md


_MD = _with_ids(MarkdownIt("commonmark", {"html": False}).enable("table"))


@lru_cache(maxsize=4)
def _render(mtime_ns: int) -> str:
    return _MD.render(DOC.read_text(encoding="utf-8"))


def reference_html() -> str:
    """The reference as HTML (escaped: the file's own HTML is shown as text), re-read when
    the file changes."""
    return _render(DOC.stat().st_mtime_ns)
