"""Reading the first worksheet of an XLSX file into rows of text, with the standard
library: what the people and the station importers both take (a station download in
XLSX goes back in as it is).  No formula is evaluated — a formula cell gives its last
computed value, as Excel saved it — no entity is expanded, and a zip bomb stops at
``MAX_UNPACKED``."""
from __future__ import annotations

import io
import re
import zipfile
from xml.etree import ElementTree

MAX_UNPACKED = 50 * 1024 * 1024
_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


class SheetError(ValueError):
    """The workbook cannot be read as a whole; ``too_many``: it has more rows than asked."""

    def __init__(self, zh: str, en: str, too_many: bool = False):
        super().__init__(en)
        self.zh, self.en, self.too_many = zh, en, too_many


def looks_like(data: bytes) -> bool:
    """Whether ``data`` is a zip (an XLSX file) rather than text."""
    return data[:4] == b"PK\x03\x04"


def sheet_rows(data: bytes, max_rows: int) -> list[tuple[int, list[str]]]:
    """The first worksheet's rows as (row number, cells); ``SheetError`` when the file
    cannot be read or holds more than ``max_rows`` rows."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            if sum(i.file_size for i in book.infolist()) > MAX_UNPACKED:
                raise SheetError("XLSX 文件解压后过大，请分批导入",
                                 "The XLSX file is too large once unpacked; split it")
            names = set(book.namelist())
            strings = _shared_strings(book) if "xl/sharedStrings.xml" in names else []
            sheet = _first_sheet(book, names)
            root = _parse(book.read(sheet))
    except SheetError:
        raise
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError, OSError,
            IndexError):
        raise SheetError("无法读取这个 XLSX 文件，请在 Excel 中重新保存后上传",
                         "This XLSX file cannot be read; save it again in Excel") from None
    rows = []
    for row in root.iterfind("m:sheetData/m:row", _NS):
        cells: dict[int, str] = {}
        for cell in row.iterfind("m:c", _NS):
            ref = cell.get("r", "")
            column = _column_index(ref) if ref else len(cells)
            if column > 200:
                continue
            cells[column] = _cell_text(cell, strings)
        width = max(cells, default=-1) + 1
        number = int(row.get("r") or len(rows) + 1)
        rows.append((number, [cells.get(i, "") for i in range(width)]))
        if len(rows) > max_rows:
            raise SheetError(f"一次最多导入 {max_rows - 1} 行，请分批导入",
                             f"At most {max_rows - 1} rows per import; split the file",
                             too_many=True)
    return rows


def _parse(xml: bytes):
    if b"<!DOCTYPE" in xml[:2048] or b"<!ENTITY" in xml:  # no entity expansion, ever
        raise ValueError("DTD in a worksheet")
    return ElementTree.fromstring(xml)


def _shared_strings(book: zipfile.ZipFile) -> list[str]:
    root = _parse(book.read("xl/sharedStrings.xml"))
    return ["".join(t.text or "" for t in si.iter(f"{{{_NS['m']}}}t"))
            for si in root.iterfind("m:si", _NS)]


def _first_sheet(book: zipfile.ZipFile, names: set[str]) -> str:
    try:
        workbook = _parse(book.read("xl/workbook.xml"))
        rel_id = workbook.find("m:sheets/m:sheet", _NS).get(_REL)
        rels = _parse(book.read("xl/_rels/workbook.xml.rels"))
        for rel in rels:
            if rel.get("Id") == rel_id:
                target = rel.get("Target", "").lstrip("/")
                path = target if target.startswith("xl/") else "xl/" + target
                if path in names:
                    return path
    except (KeyError, AttributeError):
        pass
    if "xl/worksheets/sheet1.xml" in names:
        return "xl/worksheets/sheet1.xml"
    raise KeyError("no worksheet")


def _column_index(ref: str) -> int:
    index = 0
    for char in ref:
        if not char.isalpha():
            break
        index = index * 26 + (ord(char.upper()) - 64)
    return index - 1


def _cell_text(cell, strings: list[str]) -> str:
    kind = cell.get("t")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{{{_NS['m']}}}t"))
    value = cell.find("m:v", _NS)
    text = value.text if value is not None and value.text else ""
    if kind == "s":
        return strings[int(text)] if text.isdigit() and int(text) < len(strings) else ""
    if kind in (None, "n") and re.fullmatch(r"-?\d+\.0+", text):
        return text.split(".")[0]  # a phone number typed into a number cell
    return text
