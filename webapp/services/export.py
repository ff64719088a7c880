"""Any list or report as a download: CSV or XLSX, streamed row by row.

Memory stays bounded whatever the number of rows: rows come from the database in
batches (``yield_per``: a server-side cursor on PostgreSQL), each is turned into bytes
and sent, and nothing keeps the whole file.

* CSV: UTF-8 with a byte-order mark (so Excel reads Chinese correctly), CRLF line ends.
  A cell that starts with ``= + - @``, a tab or a carriage return gets a leading
  apostrophe, so a spreadsheet never runs it as a formula (CSV injection).
* XLSX: a zip written to a non-seekable stream (``zipfile`` then writes data
  descriptors after each member), the sheet XML generated one row at a time with inline
  strings — a string cell is never a formula there, so it is written as it is; one that
  starts like a formula also gets the "quote prefix" style (what Excel gives a cell typed
  with a leading apostrophe, which is not shown), so editing the cell and pressing Enter
  keeps it text instead of running it.

``response()`` wraps either in a Flask streaming response with the file name, dated, in
both ``filename`` (ASCII fallback) and ``filename*`` (RFC 5987, UTF-8) forms.
"""
from __future__ import annotations

import base64
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Iterable, Iterator, Sequence
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response, stream_with_context

FORMATS = ("csv", "xlsx")
BATCH = 1000
CHINA = ZoneInfo("Asia/Shanghai")
# What a spreadsheet may take for the start of a formula (OWASP's list, a line feed, and
# the full-width signs a Chinese input method types), after any leading spaces: some
# spreadsheets drop those on import (LibreOffice's "trim spaces").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_LEADING_SPACE = " \u3000\u00a0"


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula."""
    return text.lstrip(_LEADING_SPACE).startswith(_FORMULA_START)
# Characters XML 1.0 does not allow; they would make the sheet unreadable.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Column:
    """One column of an export: its header (already in the reader's language) and how
    to read its value from a row."""

    header: str
    get: Callable[[Any], Any]


def wanted_format(args) -> str | None:
    """``csv`` / ``xlsx`` when the query string asks for a download, else None."""
    value = (args.get("format") or "").lower()
    return value if value in FORMATS else None


def batched(session, stmt, size: int = BATCH) -> Iterator[Any]:
    """Rows of ``stmt`` fetched ``size`` at a time (a server-side cursor on PostgreSQL)."""
    result = session.execute(stmt.execution_options(yield_per=size))
    for partition in result.partitions(size):
        yield from partition


def cell_text(value: Any) -> Any:
    """A value as a spreadsheet should show it: numbers stay numbers, times in China
    time, booleans as ✓ / empty, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else ""
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(CHINA)
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_safe(value: Any) -> Any:
    """Neutralise a cell a spreadsheet would take for a formula."""
    if isinstance(value, str) and formula_like(value):
        return "'" + value
    return value


# ------------------------------------------------------------------------------ CSV

def csv_stream(columns: Sequence[Column], rows: Iterable[Any],
               flush_every: int = 200) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_safe(c.header) for c in columns])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    buffer.seek(0), buffer.truncate()
    for n, row in enumerate(rows, start=1):
        writer.writerow([csv_safe(cell_text(c.get(row))) for c in columns])
        if n % flush_every == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0), buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


# ------------------------------------------------------------------------------ XLSX

class _Sink:
    """A write-only, non-seekable file: what zipfile writes is collected until taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _xml(text: str) -> str:
    text = _XML_ILLEGAL.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _column_name(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


QUOTED = 2  # the cell style (cellXfs index) with quotePrefix: text, even once edited
DATE_STYLE, MOMENT_STYLE = 3, 4  # yyyy-mm-dd, yyyy-mm-dd hh:mm
_EPOCH = datetime(1899, 12, 30)  # day 0 of a spreadsheet's serial dates


class _Serial(float):
    """A date or moment as a spreadsheet keeps it (days since its epoch), with the cell
    style that shows it as one: sorting and date filters then work on the column."""

    style = DATE_STYLE


class _Moment(_Serial):
    style = MOMENT_STYLE


def xlsx_value(value: Any) -> Any:
    """``cell_text`` for a workbook: dates and moments (China time) stay dates."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(CHINA).replace(tzinfo=None)
        value = value.replace(second=0, microsecond=0)
        return _Moment((value - _EPOCH).total_seconds() / 86400)
    if isinstance(value, date):
        return _Serial((value - _EPOCH.date()).days)
    return cell_text(value)


def _xlsx_row(number: int, values: Sequence[Any], style: int = 0) -> str:
    cells = []
    s = f' s="{style}"' if style else ""
    for i, value in enumerate(values):
        ref = f"{_column_name(i)}{number}"
        if isinstance(value, _Serial):
            cells.append(f'<c r="{ref}" s="{value.style}"><v>{float(value)!r}</v></c>')
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            cells.append(f'<c r="{ref}"{s}><v>{value}</v></c>')
        elif value != "":
            text = str(value)
            own = f' s="{QUOTED}"' if not style and formula_like(text) else s
            cells.append(f'<c r="{ref}"{own} t="inlineStr"><is><t xml:space="preserve">'
                         f'{_xml(text)}</t></is></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '</Types>')
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '</Relationships>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    '</Relationships>')
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
    'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetData>')


def _workbook(sheet_name: str) -> str:
    # Excel refuses []:*?/\ in a sheet name, more than 31 characters, an apostrophe at
    # either end.  The name is an attribute: its quotes are escaped too (the English
    # title "Five ones" progress had made the workbook unreadable).
    name = re.sub(r"[\[\]:*?/\\]", " ", sheet_name)[:31].strip("'") or "Sheet1"
    name = _xml(name).replace('"', "&quot;")
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>')


def xlsx_stream(columns: Sequence[Column], rows: Iterable[Any], sheet_name: str = "Sheet1",
                flush_every: int = 200) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _ROOT_RELS),
                           ("xl/workbook.xml", _workbook(sheet_name)),
                           ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
                           ("xl/styles.xml", _STYLES)):
            archive.writestr(name, text)
        yield sink.take()
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_SHEET_HEAD.encode())
            sheet.write(_xlsx_row(1, [c.header for c in columns], style=1).encode("utf-8"))
            pending: list[str] = []
            for number, row in enumerate(rows, start=2):
                pending.append(_xlsx_row(number, [xlsx_value(c.get(row)) for c in columns]))
                if len(pending) >= flush_every:
                    sheet.write("".join(pending).encode("utf-8"))
                    pending = []
                    chunk = sink.take()
                    if chunk:
                        yield chunk
            sheet.write(("".join(pending) + "</sheetData></worksheet>").encode("utf-8"))
    yield sink.take()


# ------------------------------------------------------------------------------ response

MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


# Never in a file name: control characters (CR/LF would end the header), path separators
# (a name is a name, not a place), and the marks that reorder text ("gnp.exe").
_NAME_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f/\\\\\u200e\u200f\u202a-\u202e\u2066-\u2069]+")
NAME_MAX = 150  # characters of the real name; the header stays short


def _split(name: str) -> tuple[str, str]:
    """Stem and extension (up to ten ASCII letters or digits after the last dot)."""
    stem, dot, ext = name.rpartition(".")
    if dot and stem and re.fullmatch(r"[A-Za-z0-9]{1,10}", ext):
        return stem, ext
    return name, ""


def download_name(filename: str, fallback: str = "download") -> str:
    """``filename`` as a download may be called: one line, no path, at most NAME_MAX
    characters (the extension kept), never empty or only dots."""
    name = _NAME_UNSAFE.sub("_", unicodedata.normalize("NFC", str(filename))).strip(" .")
    stem, ext = _split(name)
    stem = stem[:NAME_MAX - len(ext) - 1].strip(" .")
    return (stem or fallback) + ("." + ext if ext else "")


def content_disposition(filename: str, fallback: str = "export", inline: bool = False) -> str:
    """``attachment`` (or ``inline``) with the name in two forms (RFC 6266): ``filename``,
    plain ASCII letters, digits, ``- _ .`` only (``fallback`` when nothing is left), for
    old clients, and ``filename*`` (RFC 5987), the real name in UTF-8, percent-encoded.
    Neither can end the header or add a parameter: no quote, semicolon, CR or LF gets
    through unencoded, and no path separator at all."""
    name = download_name(filename, fallback)
    stem, ext = _split(name)
    ascii_stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")
    if not re.search("[A-Za-z]", ascii_stem):  # nothing but a date or a number was ASCII
        ascii_stem = f"{fallback}_{ascii_stem}" if ascii_stem else fallback
    ascii_name = ascii_stem + ("." + ext if ext else "")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def dated(filename: str, fmt: str) -> str:
    """``filename`` (without extension) as a download is called: with today's date in
    China time and ``fmt`` as extension — 工会驿站_2026-04-01.csv — so the same list
    downloaded on another day does not overwrite the first.  A long name is shortened
    before the date, never the date."""
    day = datetime.now(CHINA).strftime("%Y-%m-%d")
    room = NAME_MAX - len(day) - len(fmt) - 2
    return f"{download_name(filename)[:room].rstrip(' .')}_{day}.{fmt}"


def response(fmt: str, filename: str, columns: Sequence[Column], rows: Iterable[Any],
             sheet_name: str | None = None) -> Response:
    """A streamed download of ``rows``; ``filename`` without extension or date (the
    download's date is added, see ``dated``).

    ``rows`` may be a generator that reads the database: it runs while the response is
    sent, inside the request's context (stream_with_context), so the session is alive.
    """
    body = (csv_stream(columns, rows) if fmt == "csv"
            else xlsx_stream(columns, rows, sheet_name or filename))
    out = Response(stream_with_context(body), content_type=MIMETYPES[fmt])
    out.headers["Content-Disposition"] = content_disposition(dated(filename, fmt))
    out.headers["Cache-Control"] = "no-store"
    out.headers["X-Content-Type-Options"] = "nosniff"
    return out


# A link that carries its file: the browser's limit on an address (Chromium's is 2 MB).
DATA_URI_MAX = 2 * 1024 * 1024 - 1024


def csv_data_uri(columns: Sequence[Column], rows: Iterable[Any]) -> str | None:
    """A small CSV as a ``data:`` address, for a link with the ``download`` attribute:
    the file travels inside the page that shows it and is never kept on the server
    (one-time passwords).  The same bytes as a CSV download — UTF-8 with a BOM for
    Excel, formulas neutralised — in base64, which a Chinese file needs a third of
    the room of percent-encoding for.  None when it would be too long for a browser."""
    body = b"".join(csv_stream(columns, rows))
    uri = "data:text/csv;charset=utf-8;base64," + base64.b64encode(body).decode("ascii")
    return uri if len(uri) <= DATA_URI_MAX else None


__all__ = ["Column", "csv_data_uri", "FORMATS", "wanted_format", "batched", "response", "csv_stream",
           "xlsx_stream", "csv_safe", "cell_text", "content_disposition", "download_name", "dated"]
