"""Importing rest stations (工会驿站) from a CSV file, with a report of every row.

Valid rows are created (new code) or updated (known code); rejected rows are reported
with their line number and every reason, and nothing of them is saved.  A dry run does
the same work inside a savepoint and rolls it back, so its report is exactly what a real
import would do.  The columns are documented in docs/stations-csv.md.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import OrgUnit, Station, User
from webapp.models.org import subtree_range
from webapp.services import audit, xlsx
from webapp.services.export import formula_like
from webapp.services.org import create_unit
from webapp.services.station_values import hours_problem, phone_problem

Message = tuple[str, str]  # (zh, en)

MAX_ROWS = 20_000
MAX_COUNT = 10_000  # charging piles or parking places at one station
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
IMPORT_ROLES = ("platform_admin", "city_admin")
KEEP = object()  # a column the file does not have: the value saved stays


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    kind: str  # text | bool | count
    max_length: int = 0
    required: bool = False
    default: object = None
    # A text column's own check of a filled cell: None, or why it is refused (zh, en),
    # given the column's label (zh, en).
    check: Callable[[str, Message], Message | None] | None = None


COLUMNS: tuple[Column, ...] = (
    Column("code", "编码", "text", 64, required=True),
    Column("name", "名称", "text", 200, required=True),
    Column("name_en", "英文名称", "text", 200),
    Column("district", "区县", "text", 200, required=True),
    Column("parent", "上级单位编码", "text", 64),
    Column("address", "地址", "text", 300),
    Column("landmark", "地标", "text", 200),
    Column("hours", "开放时间", "text", 100, check=hours_problem),
    Column("phone", "电话", "text", 30, check=phone_problem),
    Column("water", "饮水", "bool", default=True),
    Column("toilet", "卫生间", "bool", default=False),
    Column("microwave", "微波炉", "bool", default=False),
    Column("charging_piles", "充电桩", "count"),
    Column("car_parking", "汽车车位", "count"),
    Column("motorcycle_parking", "电动车摩托车车位", "count"),
    Column("open", "是否开放", "bool", default=True),
)
_BY_HEADER = {name.lower(): c for c in COLUMNS for name in (c.key, c.zh)}
_TRUE = {"是", "有", "1", "y", "yes", "true", "t", "√", "✓", "开放"}
_FALSE = {"否", "无", "没有", "0", "n", "no", "false", "f", "×", "✗", "关闭", "停用"}
# Station attribute of each column, for creating and for telling an update from no change.
ATTRS = {"address": "address", "landmark": "landmark", "hours": "opening_hours",
         "phone": "phone", "water": "has_water", "toilet": "has_toilet",
         "microwave": "has_microwave", "charging_piles": "charging_piles",
         "car_parking": "car_parking", "motorcycle_parking": "motorcycle_parking",
         "open": "is_open"}


class StationFileError(ValueError):
    """The file as a whole cannot be read (encoding, header, size)."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en

    def message(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.zh


@dataclass
class RowProblem:
    line: int
    code: str
    reasons: list[Message]

    def text(self, locale: str) -> str:
        index = 1 if locale.startswith("en") else 0
        return ("; " if index else "；").join(r[index] for r in self.reasons)


# How an encoding reads to a person: "UTF-8 (BOM)" inside the report's brackets read
# "CSV (UTF-8 (BOM))".
_ENCODING_WORDS = {"UTF-8 (BOM)": ("UTF-8，带 BOM", "UTF-8 with BOM")}


def encoding_label(encoding: str, locale: str) -> str:
    """``encoding`` (as ``decode`` names it) in words of ``locale``."""
    words = _ENCODING_WORDS.get(encoding)
    return words[1 if locale.startswith("en") else 0] if words else encoding


@dataclass
class ImportReport:
    encoding: str = ""
    dry_run: bool = False
    rows: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[RowProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)

    def encoding_text(self, locale: str) -> str:
        return encoding_label(self.encoding, locale)


# --------------------------------------------------------------------------- reading

def decode(data: bytes) -> tuple[str, str]:
    """The text of an uploaded file and the encoding it was read with.

    UTF-8 (with or without the BOM Excel writes), UTF-16 with a BOM (Excel's "Unicode
    text"), and GBK/GB18030 (Excel's "CSV" on a Chinese Windows) are understood.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _decode(data[len(codecs.BOM_UTF8):], "UTF-8"), "UTF-8 (BOM)"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode(data, "UTF-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "GBK"
    except UnicodeDecodeError:
        raise StationFileError("无法识别文件编码：请在 Excel 中“另存为 CSV UTF-8（逗号分隔）”后重新上传",
                           "The file's encoding is not recognised: save it from Excel as "
                           "'CSV UTF-8 (comma delimited)' and upload it again") from None


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise StationFileError(f"文件声明为 {encoding} 编码，但内容有误，请重新导出",
                           f"The file says it is {encoding} but is not; export it again") \
            from None


def _reader(text: str):
    first = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count) if first else ","
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def unread_header(cells: list[str]) -> tuple[str, str]:
    """What to add when not one column of a header is known: the header as it was read
    (garbled characters show a wrong encoding) and what to do about it."""
    shown = "、".join(c.strip()[:20] for c in cells[:6] if c.strip())
    shown_en = ", ".join(c.strip()[:20] for c in cells[:6] if c.strip())
    return ((f"。读到的表头是：{shown or '（空）'}。若是乱码，文件可能不是 UTF-8 或 GBK 编码"
             "（例如繁体的 Big5）：请在 Excel 中“另存为 CSV UTF-8（逗号分隔）”后重新上传，"
             "或直接上传 XLSX 文件"),
            (f". The header reads: {shown_en or '(empty)'}. If that is garbled, the file is "
             "in neither UTF-8 nor GBK (Big5, for instance): save it from Excel as 'CSV UTF-8 "
             "(comma delimited)' and upload it again, or upload the XLSX file"))


def _header(cells: list[str], report: ImportReport) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = cell.strip().lstrip("\ufeff").lower()
        column = _BY_HEADER.get(name)
        if column is None:
            if name:
                report.ignored_columns.append(cell.strip())
            continue
        if column.key in positions:
            raise StationFileError(f"表头中“{cell.strip()}”一列出现了两次",
                               f"The column '{cell.strip()}' appears twice in the header")
        positions[column.key] = index
    missing = [c for c in COLUMNS if c.required and c.key not in positions]
    if missing:
        zh, en = unread_header(cells) if not positions else ("", "")
        raise StationFileError(
            "表头缺少必需的列：" + "、".join(f"{c.zh}（{c.key}）" for c in missing) + zh,
            "The header lacks required columns: " + ", ".join(c.key for c in missing) + en)
    return positions


# --------------------------------------------------------------------------- checking

def _value(column: Column, raw: str, problems: list[Message]):
    raw = raw.strip()
    label = f"{column.zh}（{column.key}）"
    if column.kind == "text":
        if raw.startswith("'") and (formula_like(raw[1:]) or column.check is not None):
            # The apostrophe our downloads put before a formula-like cell, or the one a
            # spreadsheet user types to keep '023… or '09:00 as written.
            raw = raw[1:]
        if column.required and not raw:
            problems.append((f"缺少{column.zh}", f"missing {column.key}"))
        elif column.max_length and len(raw) > column.max_length:
            problems.append((f"{label}超过 {column.max_length} 字",
                             f"{column.key} is longer than {column.max_length} characters"))
        elif raw and column.check is not None:
            problem = column.check(raw, (label, column.key))
            if problem:
                problems.append(problem)
        return raw
    if not raw:
        return column.default if column.kind == "bool" else 0
    if column.kind == "bool":
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        problems.append((f"{label}应填“是”或“否”，而不是“{raw[:20]}”",
                         f"{column.key} should be yes or no, not '{raw[:20]}'"))
        return None
    try:
        number = int(raw)
    except ValueError:
        number = None
    if number is None or not 0 <= number <= MAX_COUNT:
        problems.append((f"{label}应为 0 到 {MAX_COUNT} 的整数，而不是“{raw[:20]}”",
                         f"{column.key} should be a whole number from 0 to {MAX_COUNT}, "
                         f"not '{raw[:20]}'"))
    return number


def _scope_paths(actor: User | None) -> list[str] | None:
    """Paths the actor may import below; None for everywhere (the system, platform admins)."""
    if actor is None or actor.has_role("platform_admin"):
        return None
    return [m.unit.path for m in actor.memberships if m.role in IMPORT_ROLES]


def _in_scope(path: str, scope: list[str] | None) -> bool:
    return scope is None or any(path.startswith(p) for p in scope)


class _Districts:
    """Districts in the importer's scope, found by name ("渝中区" or "渝中区总工会") or code."""

    def __init__(self, scope: list[str] | None):
        stmt = select(OrgUnit).where(OrgUnit.kind == "district", OrgUnit.active.is_(True))
        if scope is not None:
            from sqlalchemy import false, or_

            stmt = stmt.where(or_(*[subtree_range(OrgUnit.path, p) for p in scope])
                              if scope else false())
        self.by_key: dict[str, OrgUnit | None] = {}
        for unit in db.session.scalars(stmt):
            keys = {unit.code, unit.name, unit.name.removesuffix("总工会")}
            if unit.name_en:
                keys.add(unit.name_en.lower())
            for key in keys:
                # The same name twice in scope (two cities' 朝阳区): ambiguous, ask for the code.
                self.by_key[key] = None if key in self.by_key and \
                    self.by_key[key] is not unit else unit

    def find(self, text: str) -> tuple[OrgUnit | None, Message | None]:
        key = text.strip()
        if key in self.by_key or key.lower() in self.by_key:
            unit = self.by_key.get(key, self.by_key.get(key.lower()))
            if unit is None:
                return None, (f"区县“{key}”不止一个，请填写区县编码",
                              f"more than one district is called '{key}'; use its code")
            return unit, None
        return None, (f"未知的区县“{key[:30]}”（或不在您的管理范围内）",
                      f"unknown district '{key[:30]}' (or not in your part of the tree)")


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """(line, cells) of every CSV row, the header first; at most MAX_ROWS data rows
    that are not blank."""
    rows = _reader(text)
    table: list[tuple[int, list[str]]] = []
    filled = 0
    try:
        for cells in rows:
            table.append((rows.line_num, cells))
            filled += any(cell.strip() for cell in cells)
            if filled > MAX_ROWS + 1:
                break  # the caller says there are too many
    except csv.Error as exc:
        raise StationFileError(f"第 {rows.line_num} 行不是有效的 CSV：{exc}",
                               f"Line {rows.line_num} is not valid CSV: {exc}") from None
    return table


# --------------------------------------------------------------------------- importing

def import_stations(data: bytes, actor: User | None, *, dry_run: bool = False) -> ImportReport:
    """Import the CSV or XLSX ``data`` as ``actor`` (None: the system, e.g. the demo seed).

    Raises ``StationFileError`` when the file as a whole cannot be read; otherwise returns
    the report.  Writes go into the caller's transaction (the caller commits); a dry
    run rolls its own work back before returning.
    """
    if xlsx.looks_like(data):  # our own XLSX download, edited, or any workbook
        try:
            table, encoding = xlsx.sheet_rows(data, MAX_ROWS + 1), "XLSX"
        except xlsx.SheetError as exc:
            raise StationFileError(exc.zh, exc.en) from None
    else:
        text, encoding = decode(data)
        table = _csv_rows(text)
    report = ImportReport(encoding=encoding, dry_run=dry_run)
    if not table:
        raise StationFileError("文件是空的", "The file is empty")
    positions = _header(table[0][1], report)
    parsed = [(line, cells) for line, cells in table[1:] if any(c.strip() for c in cells)]
    if len(parsed) > MAX_ROWS:
        raise StationFileError(f"一次最多导入 {MAX_ROWS} 行，请分批导入",
                               f"At most {MAX_ROWS} rows per import; split the file")
    report.rows = len(parsed)
    savepoint = db.session.begin_nested()
    try:
        _import_rows(parsed, positions, actor, report)
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return report


def _import_rows(parsed, positions, actor, report: ImportReport) -> None:
    scope = _scope_paths(actor)
    districts = _Districts(scope)
    codes = {cells[positions["code"]].strip() for _, cells in parsed
             if positions["code"] < len(cells)}
    parent_codes = {cells[positions["parent"]].strip() for _, cells in parsed
                    if "parent" in positions and positions["parent"] < len(cells)}
    known = _units_by_code(codes | parent_codes)
    seen: dict[str, int] = {}
    for line, cells in parsed:
        problems: list[Message] = []
        values = {c.key: _value(c, cells[positions[c.key]] if c.key in positions
                                and positions[c.key] < len(cells) else "", problems)
                  for c in COLUMNS}
        if "name_en" not in positions:
            values["name_en"] = KEEP  # an older file: the English names it never had stay
        code = values["code"]
        if code and not CODE_RE.match(code):
            problems.append(("编码只能由字母、数字和 _ . : - 组成",
                             "the code may only hold letters, digits and _ . : -"))
        elif code in seen:
            problems.append((f"编码与第 {seen[code]} 行重复", f"duplicate code (line {seen[code]})"))
        elif code:
            seen[code] = line
        district = parent = None
        if values["district"]:
            district, problem = districts.find(values["district"])
            if problem:
                problems.append(problem)
        if district is not None:
            parent, problem = _parent(values["parent"], district, known)
            if problem:
                problems.append(problem)
        existing = known.get(code)
        if existing is not None and not problems:
            problem = _check_existing(existing, parent, scope)
            if problem:
                problems.append(problem)
        if problems:
            report.rejected.append(RowProblem(line, code, problems))
        elif existing is None:
            known[code] = _create(values, parent, district, actor)
            report.created.append(code)
        elif _update(existing, values, district, actor):
            report.updated.append(code)
        else:
            report.unchanged.append(code)
    db.session.flush()


def _units_by_code(codes: set[str]) -> dict[str, OrgUnit]:
    codes = [c for c in codes if c]
    found: dict[str, OrgUnit] = {}
    for start in range(0, len(codes), 500):
        chunk = codes[start:start + 500]
        found.update({u.code: u for u in db.session.scalars(
            select(OrgUnit).where(OrgUnit.code.in_(chunk)))})
    return found


def _parent(code: str, district: OrgUnit, known: dict[str, OrgUnit]
            ) -> tuple[OrgUnit | None, Message | None]:
    if not code:
        return district, None
    unit = known.get(code)
    if unit is None or unit.kind not in ("street", "enterprise") or \
            not unit.path.startswith(district.path):
        return None, (f"上级单位“{code[:30]}”不是{district.name}下的街道或企业工会",
                      f"parent '{code[:30]}' is not a street or enterprise union of "
                      f"{district.name_en or district.name}")
    return unit, None


def _check_existing(unit: OrgUnit, parent: OrgUnit, scope) -> Message | None:
    if unit.kind != "station":
        return ("该编码已被另一个单位（不是驿站）使用", "the code belongs to a unit that is not a station")
    if not _in_scope(unit.path, scope):
        return ("该驿站不在您的管理范围内", "that station is outside your part of the tree")
    if unit.parent_id != parent.id:
        return ("导入不能更改驿站的所属区县或上级单位，请在组织架构中调整",
                "an import cannot move a station to another district or parent")
    return None


def _create(values: dict, parent: OrgUnit, district: OrgUnit, actor: User | None) -> OrgUnit:
    unit = create_unit(values["code"], values["name"], "station", parent,
                       name_en=_name_en(values, None))
    db.session.add(Station(unit=unit, district_id=district.id,
                           **{attr: values[key] for key, attr in ATTRS.items()}))
    audit.record(actor, "station.import", unit, {}, _audited(unit, values))
    return unit


def _name_en(values: dict, current: str | None) -> str | None:
    """The English name a row gives: an empty cell clears it, no such column keeps it."""
    given = values["name_en"]
    return current if given is KEEP else (given or None)


def _audited(unit: OrgUnit, values) -> dict:
    """A station's imported values as the audit log records them (by column key)."""
    get = values.get if isinstance(values, dict) else (lambda k: getattr(values, ATTRS[k]))
    return {"name": unit.name, "name_en": unit.name_en, **{key: get(key) for key in ATTRS}}


def _update(unit: OrgUnit, values: dict, district: OrgUnit, actor: User | None) -> bool:
    before = _audited(unit, unit.station) if unit.station is not None else {}
    station = unit.station
    name_en = _name_en(values, unit.name_en)
    changed = unit.name != values["name"] or unit.name_en != name_en
    if station is None:  # a station unit made without its data (by hand, or older data)
        station = Station(unit=unit, district_id=district.id)
        db.session.add(station)
        changed = True
    unit.name = values["name"]
    unit.name_en = name_en
    for key, attr in ATTRS.items():
        if getattr(station, attr) != values[key]:
            setattr(station, attr, values[key])
            changed = True
    if changed:
        audit.record(actor, "station.import", unit, before, _audited(unit, values))
    return changed
