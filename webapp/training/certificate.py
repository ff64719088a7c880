"""The completion certificate (结业证书) as a PDF, drawn with fpdf2.

The Chinese font is committed (``fonts/CertSans-SC.ttf``, a TrueType subset of Noto
Sans CJK SC under the SIL OFL, made by ``scripts/build_certificate_font.py``), so any
machine with the Python packages can print; fpdf2 embeds only the glyphs used.
"""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF

from webapp.services.training import CertificateFacts

FONT = Path(__file__).resolve().parent / "fonts" / "CertSans-SC.ttf"
CHINA = ZoneInfo("Asia/Shanghai")
RED = (179, 38, 30)
GREY = (90, 90, 90)


def _hours(value: float) -> str:
    return f"{value:g}"


def render(facts: CertificateFacts) -> bytes:
    """An A4 landscape certificate in Chinese with an English line under each part."""
    course = facts.course
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(f"结业证书 {facts.number}")
    pdf.set_author(facts.unit_name)
    pdf.set_creator("UnionFlow")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.add_font("cert", fname=str(FONT))
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
    body = (f"{facts.name} 同志（身份证号 {facts.id_card}）：" if facts.id_card else
            f"{facts.name} 同志：")
    body += (f"于 {starts:%Y年%m月%d日} 至 {ends:%Y年%m月%d日} 参加{facts.unit_name}举办的"
             f"“{course.title}”培训，共 {facts.total} 次课、{_hours(facts.hours)} 学时，"
             f"出勤 {facts.attended} 次，出勤率达到结业要求，准予结业。特发此证。")
    pdf.set_xy(35, 62)
    pdf.multi_cell(pdf.w - 70, 11, body, align="L")
    pdf.ln(3)
    pdf.set_x(35)
    pdf.set_font("cert", size=11)
    pdf.set_text_color(*GREY)
    english = (f"This certifies that {facts.name} attended the course \"{course.title}\" "
               f"held by {facts.unit_name} from {starts:%d %B %Y} to {ends:%d %B %Y} "
               f"({facts.total} sessions, {_hours(facts.hours)} teaching hours; attended "
               f"{facts.attended}) and has completed it.")
    pdf.multi_cell(pdf.w - 70, 6.5, english, align="L")

    issued = facts.issued_on.astimezone(CHINA)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cert", size=14)
    pdf.set_xy(pdf.w - 135, pdf.h - 62)
    pdf.cell(110, 9, facts.unit_name, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(pdf.w - 135)
    pdf.cell(110, 9, f"{issued:%Y年%m月%d日}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_xy(30, pdf.h - 40)
    pdf.set_font("cert", size=10)
    pdf.set_text_color(*GREY)
    pdf.cell(160, 6, f"证书编号 Certificate No.: {facts.number}", new_x="LMARGIN",
             new_y="NEXT")
    pdf.set_x(30)
    pdf.cell(160, 6, f"培训地点 Venue: {course.venue}" if course.venue else "")
    return bytes(pdf.output())
