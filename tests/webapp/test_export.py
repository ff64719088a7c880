"""Downloads of lists and reports: CSV and XLSX parse back, formulas are neutralised, the
viewer's scope holds, headers follow the reader's language, and 100,000 rows stream
through in bounded memory."""
from __future__ import annotations

import csv
import io
import tempfile
import tracemalloc
import zipfile
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import openpyxl
import pytest
from sqlalchemy import insert

from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models import Instance
from webapp.services import export
from webapp.services import workflow as wf

DANGEROUS = "=HYPERLINK(\"http://evil.example\",\"点我\")"


@pytest.fixture
def tree(org, make_unit, make_user):
    """Two districts; an administrator of each and of the city; a unit with a name a
    spreadsheet would run as a formula."""
    org["evil"] = make_unit("cq-yz-evil", "enterprise", org["street"], name=DANGEROUS)
    org["minus"] = make_unit("cq-yz-minus", "enterprise", org["street"], name="-2+3")
    org["jb_co"] = make_unit("cq-jb-co", "enterprise", org["jb_street"], name="江北某公司")
    users = {
        "city": make_user("city_boss", ("city_admin", org["city"]), unit=org["city"]),
        "yz": make_user("yz_admin", ("district_admin", org["yz"]), unit=org["yz"]),
        "jb": make_user("jb_admin", ("district_admin", org["jb"]), unit=org["jb"]),
        "en": make_user("en_admin", ("district_admin", org["yz"]), unit=org["yz"]),
    }
    users["en"].locale = "en"
    db.session.commit()
    return org, users


def sign_in(client, username):
    client.post("/auth/logout")
    response = client.post("/auth/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def csv_rows(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def xlsx_rows(response) -> tuple[list[list], openpyxl.worksheet.worksheet.Worksheet]:
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()), read_only=False)
    sheet = book.worksheets[0]
    return [[c.value for c in row] for row in sheet.iter_rows()], sheet


def test_csv_of_units_parses_back_with_formulas_neutralised(client, tree):
    org, users = tree
    response = sign_in(client, "city_boss").get("/admin/units?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = csv_rows(response)
    assert rows[0] == ["名称", "类型", "编码", "上级单位", "启用"]
    names = [r[0] for r in rows[1:]]
    assert "'" + DANGEROUS in names and DANGEROUS not in names
    assert "'-2+3" in names
    assert ["江北某公司", "企业工会", "cq-jb-co", "cq-jb-gyq", "✓"] in rows
    assert len(rows) == 1 + 11  # every unit of the tree, not one page of them


def test_xlsx_of_units_has_strings_never_formulas(client, tree):
    response = sign_in(client, "city_boss").get("/admin/units?format=xlsx")
    assert response.mimetype == export.MIMETYPES["xlsx"]
    rows, sheet = xlsx_rows(response)
    assert rows[0] == ["名称", "类型", "编码", "上级单位", "启用"]
    cell = next(row[0] for row in sheet.iter_rows(min_row=2) if row[2].value == "cq-yz-evil")
    assert cell.value == DANGEROUS and cell.data_type == "s"  # shown as text, never run
    # ... and marked as typed with a leading apostrophe: edited, it stays text.
    assert cell.quotePrefix is True
    assert [c.quotePrefix for c in sheet["A"] if c.value == "江北某公司"] == [False]
    minus = next(row[0] for row in sheet.iter_rows(min_row=2) if row[2].value == "cq-yz-minus")
    assert minus.value == "-2+3" and minus.quotePrefix is True
    # The zip was written to a stream: its members carry data descriptors (flag bit 3).
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.testzip() is None
    assert archive.getinfo("xl/worksheets/sheet1.xml").flag_bits & 0x08


def test_exports_stay_in_the_viewers_scope(client, tree, app):
    org, users = tree
    sign_in(client, "yz_admin")
    for fmt in ("csv", "xlsx"):
        response = client.get(f"/admin/units?format={fmt}")
        rows = csv_rows(response) if fmt == "csv" else xlsx_rows(response)[0]
        codes = {r[2] for r in rows[1:]}
        assert "cq-yz-evil" in codes and "cq-jb-co" not in codes and "cq-jb" not in codes
    users_csv = csv_rows(client.get("/admin/users?format=csv"))
    names = {r[0] for r in users_csv[1:]}
    assert "yz_admin" in names and "jb_admin" not in names and "city_boss" not in names


def test_instances_export_respects_scope_and_filters(client, tree, make_user):
    org, users = tree
    wf.publish_file(wf.shipped_definitions()[0].parent / "micro_wish.yaml")
    db.session.commit()
    version = wf.latest_version("micro_wish")
    now = datetime(2025, 6, 2, 2, 0, tzinfo=timezone.utc)
    rows = [dict(version_id=version.id, process_key="micro_wish", applicant_id=users["city"].id,
                 unit_id=unit.id, unit_path=unit.path, status=status, steps="verify",
                 title=title, state={}, lock_version=0, created_at=now, updated_at=now)
            for unit, status, title in ((org["company"], "running", "渝中的心愿"),
                                        (org["company"], "completed", "@SUM(A1)"),
                                        (org["jb_co"], "running", "江北的心愿"))]
    db.session.execute(insert(Instance), rows)
    db.session.commit()
    sign_in(client, "yz_admin")
    found = csv_rows(client.get("/admin/instances?format=csv"))
    assert found[0] == ["#", "流程", "标题", "申请人", "状态", "当前环节", "提交时间", "办结时间"]
    titles = [r[2] for r in found[1:]]
    assert sorted(titles) == ["'@SUM(A1)", "渝中的心愿"]  # never 江北's
    assert found[1][1] == "微心愿" and found[1][5] == "驿站核实"
    assert found[1][6] == "2025-06-02 10:00"  # China time
    running = csv_rows(client.get("/admin/instances?format=csv&status=running"))
    assert [r[2] for r in running[1:]] == ["渝中的心愿"]
    # In a workbook a time is a date cell (China time), which sorts and filters as one.
    rows, sheet = xlsx_rows(client.get("/admin/instances?format=xlsx"))
    submitted = sheet.cell(row=2, column=7)
    assert submitted.is_date and submitted.value == datetime(2025, 6, 2, 10, 0)
    assert submitted.number_format == "yyyy-mm-dd hh:mm"


def test_headers_in_the_readers_language_and_filename_encoded(client, tree):
    response = sign_in(client, "en_admin").get("/admin/units?format=csv")
    assert csv_rows(response)[0] == ["Name", "Kind", "Code", "Parent unit", "Active"]
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    before = datetime.now(export.CHINA).date()
    response = sign_in(client, "yz_admin").get("/admin/units?format=xlsx")
    disposition = response.headers["Content-Disposition"]
    # Dated (China time), so a second download of the same list does not collide (L5).
    assert any(f"filename*=UTF-8''{quote(f'组织架构_{day:%Y-%m-%d}.xlsx')}" in disposition
               and f'filename="export_{day:%Y-%m-%d}.xlsx"' in disposition
               for day in (before, datetime.now(export.CHINA).date()))
    assert xlsx_rows(response)[1].title == "组织架构"  # the sheet is named without it


def test_download_names_carry_the_china_date(monkeypatch):
    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):  # 23:30 in UTC is already the next day in China
            return datetime(2026, 3, 31, 23, 30, tzinfo=timezone.utc).astimezone(tz)
    monkeypatch.setattr(export, "datetime", Clock)
    real = 'Five "ones" progress 2026_2026-04-01.csv'
    assert export.dated('Five "ones" progress 2026', "csv") == real
    disposition = export.content_disposition(real)
    assert 'filename="Five_ones_progress_2026_2026-04-01.csv"' in disposition
    assert f"filename*=UTF-8''{quote(real, safe='')}" in disposition
    long = export.dated("出勤登记 " + "很长的课程名" * 40, "xlsx")
    assert long.endswith("长的_2026-04-01.xlsx") and len(long) <= export.NAME_MAX
    assert export.dated("../名单\r\n", "csv") == "_名单__2026-04-01.csv"


def test_csv_cells_are_neutralised_only_where_a_formula_could_start():
    assert [export.csv_safe(v) for v in ("=1", "+1", "-1", "@a", "\tx", "\rx", "a=1", 5, -3)] \
        == ["'=1", "'+1", "'-1", "'@a", "'\tx", "'\rx", "a=1", 5, -3]
    # A line feed, leading spaces (some spreadsheets trim them on import) and the
    # full-width signs of a Chinese input method.
    tricky = ("\n=1", " =1", "\u3000+1", "\u00a0@a", "＝1+1", "＋1", "－1", "＠SUM(A1)")
    assert [export.csv_safe(v) for v in tricky] == ["'" + v for v in tricky]
    assert [export.csv_safe(v) for v in ("a =1", " a", "中＝文", "1－2")] \
        == ["a =1", " a", "中＝文", "1－2"]


def test_xlsx_cells_that_look_like_formulas_get_the_quote_prefix():
    columns = [export.Column("文本", lambda r: r[0])]
    values = ["＝1+1", " =1", "\n@a", "plain"]
    xml = b"".join(export.xlsx_stream(columns, [(v,) for v in values], "表"))
    book = openpyxl.load_workbook(io.BytesIO(xml))
    cells = [row[0] for row in book.worksheets[0].iter_rows(min_row=2)]
    assert [c.value for c in cells] == values
    assert [c.quotePrefix for c in cells] == [True, True, True, False]


def test_stream_writers_round_trip_awkward_text():
    columns = [export.Column("文本", lambda r: r[0]), export.Column("数", lambda r: r[1])]
    data = [("a<b>&\"c\"", 1), ("换\n行,逗号", 2.5), ("bad\x01char", None)]
    text = b"".join(export.csv_stream(columns, data)).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text, newline="")))[1:] == [
        ["a<b>&\"c\"", "1"], ["换\n行,逗号", "2.5"], ["bad\x01char", ""]]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(export.xlsx_stream(columns, data, "表"))))
    assert [[c.value for c in r] for r in book.worksheets[0].iter_rows()] == [
        ["文本", "数"], ["a<b>&\"c\"", 1], ["换\n行,逗号", 2.5], ["badchar", None]]
    assert book.sheetnames == ["表"]


@pytest.mark.parametrize("title, sheet", [
    ('"Five ones" progress 2026', '"Five ones" progress 2026'),  # the English report title
    ("a<b>&c", "a<b>&c"), ("'quoted'", "quoted"), ("x/y:z*[1]?", "x y z  1  "),
    ("长" * 40, "长" * 31)])
def test_sheet_names_are_escaped_and_as_excel_allows(title, sheet):
    columns = [export.Column("文本", lambda r: r[0])]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(export.xlsx_stream(columns, [("a",)],
                                                                         title))))
    assert book.sheetnames == [sheet]


# ------------------------------------------------------------------------------ 100,000 rows

ROWS = 100_000
# Far below what holding the rows would take: 100,000 ORM rows or the whole file in memory
# are tens of megabytes (the CSV alone is about 8 MB, the XML of the sheet about 25 MB).
MEMORY_BOUND = 6 * 1024 * 1024


def _bulk_instances(users, unit):
    wf.publish_file(wf.shipped_definitions()[0].parent / "micro_wish.yaml")
    db.session.commit()
    version = wf.latest_version("micro_wish")
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    for first in range(0, ROWS, 10_000):
        db.session.execute(insert(Instance), [
            dict(version_id=version.id, process_key="micro_wish",
                 applicant_id=users["city"].id, unit_id=unit.id, unit_path=unit.path,
                 status="running", steps="verify", title=f"心愿 {i}", state={}, lock_version=0,
                 created_at=start + timedelta(minutes=i), updated_at=start)
            for i in range(first, first + 10_000)])
    db.session.commit()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_100000_rows_stream_in_bounded_memory(client, tree, fmt):
    org, users = tree
    _bulk_instances(users, org["company"])
    sign_in(client, "city_boss")
    with tempfile.TemporaryFile() as sink:
        size, peak = _stream(client, fmt, sink)
        assert peak < MEMORY_BOUND, f"peak {peak / 1e6:.1f} MB while streaming {size / 1e6:.1f} MB"
        sink.seek(0)
        if fmt == "csv":
            text = io.TextIOWrapper(sink, encoding="utf-8-sig", newline="")
            assert sum(1 for _ in text) == 1 + ROWS
            text.detach()
            assert size > MEMORY_BOUND  # the file is bigger than what was ever held
        else:
            assert _sheet_rows(sink) == 1 + ROWS


def _stream(client, fmt: str, sink) -> tuple[int, int]:
    """Read the download chunk by chunk into ``sink``; its size and the peak of memory
    allocated meanwhile."""
    tracemalloc.start()
    try:
        response = client.get(f"/admin/instances?format={fmt}", buffered=False)
        assert response.status_code == 200
        tracemalloc.reset_peak()
        size = 0
        for chunk in response.iter_encoded():
            size += len(chunk)
            sink.write(chunk)  # to disk, as a browser would: the test holds nothing either
        response.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, peak


def _sheet_rows(sink) -> int:
    """Rows in the sheet, counted while unzipping it a block at a time."""
    with zipfile.ZipFile(sink) as archive, archive.open("xl/worksheets/sheet1.xml") as xml:
        assert archive.getinfo(xml.name).file_size > MEMORY_BOUND  # bigger than ever held
        count, tail = 0, b""
        while block := xml.read(1 << 16):
            count += (tail + block).count(b"<row ") - tail.count(b"<row ")
            tail = block[-8:]
    return count
