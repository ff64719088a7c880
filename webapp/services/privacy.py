"""Masking what the web layer shows beyond form fields (names of people)."""
from __future__ import annotations


def mask_name(name: str) -> str:
    """"外卖骑手 马超" → "外**": enough to tell entries apart, not to identify anyone."""
    name = (name or "").strip()
    return (name[:1] + "**") if name else "**"
