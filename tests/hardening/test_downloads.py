"""Every download names its file in a Content-Disposition that no name can break (RFC 6266):
``filename`` plain ASCII letters, digits, ``- _ .``, and ``filename*`` (RFC 5987) the real
name in UTF-8, percent-encoded — no quote, semicolon, CR or LF loose, no path separator,
no mark that reorders text.  Checked on the header builder with hostile names, on an
uploaded file whose stored name is hostile, on every export (CSV/XLSX, both languages,
with a course and a retreat batch given hostile names), the stations template and the
training certificate."""
from __future__ import annotations

import re
import zlib
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from tests.hardening.test_page_matrix import _rules
from tests.webapp.test_pages import PNG, login, task_id_of, wish_form  # noqa: F401
from tests.webapp.test_training import (course_named, decide, end_the_course,
                                        move_into_the_past, register)
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import Course, OrgUnit, RetreatBatch, StoredFile
from webapp.services.export import content_disposition
from webapp.services.users import find_user

PASSWORD = "demo-pass-2026"
HEADER = re.compile(r"""^(attachment|inline); filename="([A-Za-z0-9_.-]+)"; """
                    r"""filename\*=UTF-8''([A-Za-z0-9%._~-]+)$""")
HOSTILE = ['"; x=y\r\nSet-Cookie: a=b', 'report"; x=y\r\nSet-Cookie: a=b.csv',
           "../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd.xlsx",
           "a;b,c=d.csv", "名单\n第二行.xlsx", "\u202egnp.exe.png", "...", "", " ",
           "x" * 600 + ".pdf", 'Five "ones" progress 2026.csv', "报表 2026.xlsx",
           "a\x00b.csv", "tab\there.csv", "%0d%0aSet-Cookie: a=b.csv"]


def check(header: str, inline: bool = False) -> tuple[str, str]:
    """The header is one well-formed line; returns (ASCII name, real name)."""
    found = HEADER.match(header)
    assert found, header
    assert found.group(1) == ("inline" if inline else "attachment"), header
    ascii_name, real = found.group(2), unquote(found.group(3), errors="strict")
    assert ascii_name.strip(".") and real.strip(". "), header
    assert not re.search("[\x00-\x1f\x7f/\\\\\u202a-\u202e\u2066-\u2069]", real), header
    assert len(real) <= 150, header
    return ascii_name, real


@pytest.mark.parametrize("name", HOSTILE)
def test_no_name_breaks_the_header(name):
    ascii_name, real = check(content_disposition(name))
    if name.endswith((".csv", ".xlsx", ".pdf", ".png")):
        assert real.endswith(name.rsplit(".", 1)[1]) and ascii_name.endswith(
            name.rsplit(".", 1)[1]), (name, ascii_name, real)


def test_plain_names_come_through_whole():
    for name in ("报表 2026.xlsx", 'Five "ones" progress 2026.csv', "a;b,c=d.csv",
                 "头盔照片(1).png"):
        assert check(content_disposition(name))[1] == name
    assert check(content_disposition("头盔.png", fallback="download", inline=True),
                 inline=True) == ("download.png", "头盔.png")


def test_an_uploaded_files_hostile_stored_name_cannot_break_its_download(login, demo):
    """Names are cleaned at upload; one stored before that, or by another path, still
    cannot break the header (it made a 500: Werkzeug refuses a CR/LF in a header)."""
    client = login("rider1")
    import io

    r = client.post("/processes/micro_wish/start", data={
        **wish_form(), "photo": (io.BytesIO(PNG), "p.png")}, content_type="multipart/form-data")
    assert r.status_code == 302
    stored = db.session.scalar(select(StoredFile))
    for name in HOSTILE:
        if "\x00" in name:
            continue  # PostgreSQL stores no NUL: such a name cannot be a stored one
        stored.name = name[:255]
        db.session.commit()
        with client.get(f"/files/{stored.key}") as response:
            assert response.status_code == 200, name
            check(response.headers["Content-Disposition"], inline=True)
            assert "Set-Cookie" not in response.headers and "x" not in response.headers, name
    stored.mime = "application/pdf"  # not a picture: offered as an attachment
    db.session.commit()
    with client.get(f"/files/{stored.key}") as response:
        check(response.headers["Content-Disposition"])


def test_every_export_template_and_certificate_names_its_file_safely(app, login, demo):
    course = db.session.scalar(select(Course).where(Course.title != "电工技能提升班")
                               .order_by(Course.id))
    course.title = HOSTILE[1]
    batch = db.session.scalar(select(RetreatBatch).order_by(RetreatBatch.id))
    batch.name = HOSTILE[2]
    db.session.commit()
    checked = 0
    for who, locale in (("admin", "zh_CN"), ("admin", "en"), ("city_admin", "en")):
        client = login(who)
        client.post("/auth/locale", data={"locale": locale})
        for rule in _rules(app, "GET"):
            if rule.arguments or rule.rule.startswith("/api/"):
                continue
            with client.get(rule.rule) as page:
                if rule.endpoint == "admin.stations_template":
                    check(page.headers["Content-Disposition"])
                    checked += 1
                html = page.get_data(as_text=True) if page.mimetype == "text/html" else ""
            if "format=csv" not in html:
                continue
            for fmt in ("csv", "xlsx"):
                with client.get(f"{rule.rule}?format={fmt}") as answer:
                    assert answer.status_code == 200, (rule.rule, fmt)
                    _, real = check(answer.headers["Content-Disposition"])
                    assert real.endswith("." + fmt) and "Set-Cookie" not in answer.headers
                    answer.get_data()
                checked += 1
    assert checked > 20, checked
    # The training certificate, for a trainee, a course and a unit with hostile names:
    # drawn all the same, the names only as glyphs (fpdf2 writes glyph ids and escapes
    # them; the metadata as UTF-16 hex), never as PDF syntax of their own.
    training = course_named("电工技能提升班")
    passed = register(login, "rider1", training)
    move_into_the_past(training)
    end_the_course()
    decide(login("unit_admin"), training, {passed: 10})
    nasty = '<script>x()</script>") Tj ET BT (\\'
    training.title, training.venue = nasty + "培训", nasty + "\r\n地点"
    db.session.get(OrgUnit, training.unit_id).name = nasty + "工会"
    find_user("rider1").display_name = nasty + "\u202e马超 😀"
    db.session.commit()
    with login("rider1").get(f"/instances/{passed}/certificate.pdf") as response:
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        pdf = response.get_data()
        ascii_name, real = check(response.headers["Content-Disposition"])
    assert ascii_name == real == f"certificate-PX{training.starts_on:%Y}{training.id:04d}" \
                                 f"{passed:06d}.pdf"
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Author <feff" in pdf  # the unit's name, as hex
    streams = [zlib.decompress(m.group(1)) for m in re.finditer(
        rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S) if m.group(1)[:1] == b"x"]
    assert streams and not any(b"<script>" in s or b") Tj ET BT (" in s for s in streams)
