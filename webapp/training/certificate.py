"""The completion certificate (结业证书) as a PDF, drawn with fpdf2.

The Chinese fonts are committed (``fonts/``: OpenType subsets of Noto Sans CJK SC under
the SIL OFL, made by ``scripts/build_certificate_font.py``), so any machine with the
Python packages can print; fpdf2 embeds only the glyphs used.  ``CertSans-SC.otf`` (GB
2312's 6,763 hanzi and the project's own text) prints most certificates; a name, unit,
title or venue with a character beyond it (a rarer name: 䶮, 𠮷) also loads the one of
``CertSans-SC-ext-*.otf`` that holds it — together they have every hanzi Noto Sans CJK
SC has (the CJK Unified Ideographs block, Extension A, 2,365 of Extensions B on: 𠮷)
and its other letters and symbols, and a certificate parses only the few thousand
glyphs it may need (all of them at once: ~45–90 MB more for the worker).  Text is
printed in its composed form (NFC), without the invisible characters no font draws
(variation selectors, zero-width joiners); a character no font has (another script)
prints as □ — fpdf2 would leave it out unseen — and is logged.
"""
from __future__ import annotations

import functools
import logging
import re
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo

from fontTools.ttLib import TTFont
from fpdf import FPDF

from webapp.services.training import CertificateFacts

FONT = Path(__file__).resolve().parent / "fonts" / "CertSans-SC.otf"
# The first and last code point an extra font holds, as its name says
# (``CertSans-SC-ext-4547-53AC.otf``): a character is looked for in that file only.
_EXTRA_NAME = re.compile(r"CertSans-SC-ext-([0-9A-F]{4,6})-([0-9A-F]{4,6})\.otf")
EXTRA_SPANS = tuple(sorted(
    (int(match[1], 16), int(match[2], 16), path) for path in FONT.parent.iterdir()
    if (match := _EXTRA_NAME.fullmatch(path.name))))
EXTRA_FONTS = tuple(path for _first, _last, path in EXTRA_SPANS)
PLACEHOLDER = "□"  # in the main font (GB 2312)
# What no font draws: variation selectors (one may follow a hanzi in a name, choosing a
# form of it), zero-width spaces and joiners, the byte order mark.
_INVISIBLE = dict.fromkeys([*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0), 0x200B,
                            0x200C, 0x200D, 0x2060, 0xFEFF])
CHINA = ZoneInfo("Asia/Shanghai")
RED = (179, 38, 30)
GREY = (90, 90, 90)
log = logging.getLogger(__name__)


@functools.cache
def _characters(path: str) -> frozenset[int]:
    """The code points a font file has (its cmap only is read; kept per process)."""
    font = TTFont(path, lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


def _printable(pdf: FPDF, texts: list[str], number: str) -> list[str]:
    """``texts`` as the certificate prints them, with the extra fonts added that hold
    the characters the main font lacks: composed (NFC: "José" typed as e + accent has
    one glyph), control characters as spaces, invisible ones left out, and any
    character no font has as □, logged with the certificate's number."""
    texts = ["".join(" " if unicodedata.category(ch) == "Cc" else ch
                     for ch in unicodedata.normalize("NFC", text).translate(_INVISIBLE))
             for text in texts]
    missing = {ord(ch) for text in texts for ch in text} - {0x20} - _characters(str(FONT))
    if not missing:
        return texts
    names = []
    for first, last, path in EXTRA_SPANS:
        if not any(first <= code <= last for code in missing):
            continue  # not this file's range: its character map is not even read
        has = missing & _characters(str(path))
        if has:
            name = f"fallback{len(names)}"
            pdf.add_font(name, fname=str(path))
            names.append(name)
            missing -= has
    if names:
        pdf.set_fallback_fonts(names)
    if missing:
        log.warning("certificate %s: no font has %s; printed as %s", number,
                    " ".join(f"{chr(c)} (U+{c:04X})" for c in sorted(missing)), PLACEHOLDER)
        boxes = dict.fromkeys(missing, PLACEHOLDER)
        texts = [text.translate(boxes) for text in texts]
    return texts


def _hours(value: float) -> str:
    return f"{value:g}"


def render(facts: CertificateFacts) -> bytes:
    """An A4 landscape certificate in Chinese with an English line under each part."""
    course = facts.course
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.add_font("cert", fname=str(FONT))
    name, id_card, unit_name, title, venue = _printable(
        pdf, [facts.name, facts.id_card, facts.unit_name, course.title, course.venue or ""],
        facts.number)
    pdf.set_title(f"结业证书 {facts.number}")
    pdf.set_author(unit_name)
    pdf.set_creator("UnionFlow")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    width = pdf.w - 40

    pdf.set_draw_color(*RED)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_line_width(0.3)
    pdf.rect(13, 13, pdf.w - 26, pdf.h - 26)

    pdf.set_xy(20, 28)
    pdf.set_text_color(*RED)
    pdf.set_font("cert", size=34)
    pdf.cell(width, 16, "结 业 证 书", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cert", size=12)
    pdf.set_x(20)
    pdf.cell(width, 8, "Certificate of Completion", align="C", new_x="LMARGIN", new_y="NEXT")

    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cert", size=16)
    starts, ends = course.starts_on, course.ends_on
    body = (f"{name} 同志（身份证号 {id_card}）：" if id_card else f"{name} 同志：")
    body += (f"于 {starts:%Y年%m月%d日} 至 {ends:%Y年%m月%d日} 参加{unit_name}举办的"
             f"“{title}”培训，共 {facts.total} 次课、{_hours(facts.hours)} 学时，"
             f"出勤 {facts.attended} 次，出勤率达到结业要求，准予结业。特发此证。")
    pdf.set_xy(35, 62)
    pdf.multi_cell(pdf.w - 70, 11, body, align="L")
    pdf.ln(3)
    pdf.set_x(35)
    pdf.set_font("cert", size=11)
    pdf.set_text_color(*GREY)
    english = (f"This certifies that {name} attended the course \"{title}\" "
               f"held by {unit_name} from {starts:%d %B %Y} to {ends:%d %B %Y} "
               f"({facts.total} sessions, {_hours(facts.hours)} teaching hours; attended "
               f"{facts.attended}) and has completed it.")
    pdf.multi_cell(pdf.w - 70, 6.5, english, align="L")

    issued = facts.issued_on.astimezone(CHINA)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cert", size=14)
    pdf.set_xy(pdf.w - 135, pdf.h - 62)
    pdf.cell(110, 9, unit_name, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(pdf.w - 135)
    pdf.cell(110, 9, f"{issued:%Y年%m月%d日}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_xy(30, pdf.h - 40)
    pdf.set_font("cert", size=10)
    pdf.set_text_color(*GREY)
    pdf.cell(160, 6, f"证书编号 Certificate No.: {facts.number}", new_x="LMARGIN",
             new_y="NEXT")
    pdf.set_x(30)
    pdf.cell(160, 6, f"培训地点 Venue: {venue}" if venue.strip() else "")
    return bytes(pdf.output())
