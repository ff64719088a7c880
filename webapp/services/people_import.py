"""Importing units and users from a CSV or XLSX file, with a report of every row.

Which of the two a file holds is told by its header (a ``username`` column: users;
otherwise ``kind``: units).  Every row is checked first — a dry run stops there, so it
writes nothing and costs no password hashing — and a real import then creates the rows
that passed, in file order.  Rejected rows are reported with their row number and every
reason, in Chinese and English.  An existing user or unit is never changed by an import:
its row is rejected as "exists".  Columns: docs/people.md.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from dataclasses import dataclass, field

from sqlalchemy import select

from webapp.extensions import db
from webapp.i18n import punctuation
from webapp.models import OrgUnit, User
from webapp.services import audit, people, xlsx
from webapp.services.org import unit_by_code
from webapp.services.station_import import (StationFileError, _reader, decode, encoding_label,
                                            unread_header)
from webapp.services.users import USERNAME_RE, find_user
from workflows.org import ROLE_KEYS, ROLES, UNIT_CHILDREN, UNIT_KIND_KEYS, UNIT_KINDS, term

Message = tuple[str, str]  # (zh, en)

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_USER_ROWS_WEB = 500  # each new user costs a password hash: bigger files go by the CLI
PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{2,19}$")
# The mailbox (before the @) in ASCII: one in another script needs SMTPUTF8, which the
# mail sender does not speak; a domain in Chinese (工会.中国) is sent punycoded.
EMAIL_RE = re.compile(r"^[!-?A-~]{1,64}@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    required: bool = False
    max_length: int = 200


UNIT_COLUMNS = (
    Column("code", "编码", "code", True, 64), Column("name", "名称", "name", True, 200),
    Column("kind", "类型", "kind", True, 40), Column("parent", "上级单位编码", "parent code", False, 64),
)
USER_COLUMNS = (
    Column("username", "用户名", "username", True, 64),
    Column("display_name", "姓名", "display name", True, 100),
    Column("unit", "单位编码", "unit code", True, 64), Column("role", "角色", "role", False, 40),
    Column("phone", "电话", "phone", False, 20), Column("email", "邮箱", "e-mail", False, 254),
)
_ALIASES = {"parent_code": "parent", "unit_code": "unit", "name_zh": "name", "姓名/名称": "name",
            "显示名": "display_name", "手机": "phone", "手机号": "phone", "电子邮箱": "email",
            "e-mail": "email", "上级编码": "parent", "单位类型": "kind"}


class ImportFileError(StationFileError):
    """The file as a whole cannot be read (format, encoding, header, size)."""


@dataclass
class RowProblem:
    line: int
    key: str
    reasons: list[Message]
    cells: list[str] = field(default_factory=list)  # the row as the file has it

    def text(self, locale: str) -> str:
        index = 1 if locale.startswith("en") else 0
        return ("; " if index else "；").join(r[index] for r in self.reasons)


@dataclass
class Accepted:
    line: int
    key: str
    values: dict
    cells: list[str] = field(default_factory=list)  # the row as the file has it


@dataclass
class ImportReport:
    kind: str = ""  # "users" | "units"
    file_format: str = ""  # "CSV" | "XLSX"
    encoding: str = ""  # a CSV's: "UTF-8", "UTF-8 (BOM)", "GBK", "UTF-16"
    dry_run: bool = True
    rows: int = 0
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[RowProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)  # the file's first row, as it is
    passwords: list[tuple[str, str]] = field(default_factory=list)  # shown once, never stored

    @property
    def created(self) -> int:
        return 0 if self.dry_run else len(self.accepted)

    def format_text(self, locale: str) -> str:
        """The file's format as a person reads it: XLSX, CSV，UTF-8，带 BOM, CSV, GBK."""
        if not self.encoding:
            return self.file_format
        sep = ", " if locale.startswith("en") else "，"
        return f"{self.file_format}{sep}{encoding_label(self.encoding, locale)}"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# ------------------------------------------------------------------------------ reading

def read_table(data: bytes) -> tuple[list[tuple[int, list[str]]], str, str]:
    """Rows (row number, cells) of a CSV or XLSX file, header first, its format ("CSV"
    or "XLSX") and a CSV's encoding."""
    if not data or not data.strip():
        raise ImportFileError("文件是空的", "The file is empty")
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"文件超过 {MAX_BYTES // 1024 // 1024} MB，请分批导入",
                              f"The file is larger than {MAX_BYTES // 1024 // 1024} MB; split it")
    if xlsx.looks_like(data):
        try:
            return xlsx.sheet_rows(data, MAX_ROWS + 1), "XLSX", ""
        except xlsx.SheetError as exc:
            raise (_too_many() if exc.too_many else ImportFileError(exc.zh, exc.en)) from None
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError("无法读取：请上传 CSV 或 XLSX 文件",
                              "Cannot read it: upload a CSV or XLSX file")
    try:
        text, encoding = decode(data)
    except StationFileError as exc:
        raise ImportFileError(exc.zh, exc.en) from None
    reader = _reader(text)
    rows = []
    try:
        for cells in reader:
            rows.append((reader.line_num, cells))
            if len(rows) > MAX_ROWS + 1:
                raise _too_many()
    except Exception as exc:  # csv.Error: a broken quote, a NUL byte
        if isinstance(exc, ImportFileError):
            raise
        raise ImportFileError(f"第 {reader.line_num} 行不是有效的 CSV",
                              f"Line {reader.line_num} is not valid CSV") from None
    return rows, "CSV", encoding


def _too_many() -> ImportFileError:
    return ImportFileError(f"一次最多导入 {MAX_ROWS} 行，请分批导入",
                           f"At most {MAX_ROWS} rows per import; split the file")


# ------------------------------------------------------------------------------ the header

def _positions(header: list[str], report: ImportReport) -> dict[str, int]:
    names = {}
    for index, cell in enumerate(header):
        name = cell.strip().lstrip("\ufeff").lower()
        names.setdefault(_ALIASES.get(name, name), index)
    by_name = {}
    for columns in (USER_COLUMNS, UNIT_COLUMNS):
        for c in columns:
            for alias in (c.key, c.zh, c.en):
                by_name.setdefault(alias.lower(), c.key)
    found = {by_name.get(n, n) for n in names}
    if "username" in found or "用户名" in names:
        report.kind, columns = "users", USER_COLUMNS
    elif "kind" in found:
        report.kind, columns = "units", UNIT_COLUMNS
    else:
        zh, en = unread_header(header) if not found & set(by_name.values()) else ("", "")
        raise ImportFileError(
            "看不出这是人员还是单位文件：表头应含“用户名”（人员）或“类型”（单位）" + zh,
            "Cannot tell whether the file holds users or units: the header needs 'username' "
            "(users) or 'kind' (units)" + en)
    keys = {c.key for c in columns}
    positions: dict[str, int] = {}
    for index, cell in enumerate(header):
        raw = cell.strip().lstrip("\ufeff")
        lowered = raw.lower()
        key = _ALIASES.get(lowered) or by_name.get(lowered)
        if key not in keys:
            if raw:
                report.ignored_columns.append(raw[:40])
            continue
        if key in positions:
            raise ImportFileError(f"表头中“{raw[:40]}”一列出现了两次",
                                  f"The column '{raw[:40]}' appears twice in the header")
        positions[key] = index
    missing = [c for c in columns if c.required and c.key not in positions]
    if missing:
        raise ImportFileError("表头缺少必需的列：" + "、".join(f"{c.zh}（{c.key}）" for c in missing),
                              "The header lacks required columns: "
                              + ", ".join(c.key for c in missing))
    return positions


def _values(columns, positions, cells, problems: list[Message]) -> dict[str, str]:
    values = {}
    for c in columns:
        index = positions.get(c.key)
        raw = (cells[index] if index is not None and index < len(cells) else "").strip()
        if c.required and not raw:
            problems.append((f"缺少{c.zh}", f"missing {c.en}"))
        elif len(raw) > c.max_length:
            problems.append((f"{c.zh}超过 {c.max_length} 字",
                             f"{c.en} is longer than {c.max_length} characters"))
            raw = raw[:c.max_length]
        values[c.key] = raw
    return values


def _plain(text: str) -> str:
    """A label as people type it: case, spaces and the width of brackets do not count."""
    return "".join(text.lower().replace("（", "(").replace("）", ")").split())


def _short(label: str) -> str:
    """A label without its bracketed note: 志愿者 for 志愿者（党员）, Supervisor for
    Supervisor (read-only)."""
    return re.split(r"\s*[（(]", label, maxsplit=1)[0]


def _term_key(terms, keys, text: str) -> str | None:
    """The key a cell names — by its key, its Chinese or English label, or the label
    without its bracketed note ("志愿者" for 志愿者（党员）, "Supervisor" for its read-only
    note), as a spreadsheet typed by hand has it."""
    lowered = text.strip().lower()
    if lowered in keys:
        return lowered
    typed = _plain(text)
    for t in terms:
        if typed in {_plain(t.zh), _plain(t.en), _plain(_short(t.zh)), _plain(_short(t.en))}:
            return t.key
    return None


def cell_choices(terms, locale: str) -> str:
    """The labels a cell may hold, for a refusal to list."""
    return punctuation(locale)["list_sep"].join(
        _short(t.en if locale == "en" else t.zh) for t in terms)


# ------------------------------------------------------------------------------ importing

def import_people(data: bytes, actor: User | None, *, dry_run: bool = True,
                  max_user_rows: int | None = None) -> ImportReport:
    """Check every row of ``data`` as ``actor`` (None: the system); unless ``dry_run``,
    create the accepted ones in the caller's transaction.  Raises ``ImportFileError``
    when the file as a whole cannot be read."""
    table, file_format, encoding = read_table(data)
    report = ImportReport(file_format=file_format, encoding=encoding, dry_run=dry_run)
    table = [(n, cells) for n, cells in table if any(c.strip() for c in cells)]
    if not table:
        raise ImportFileError("文件是空的", "The file is empty")
    positions = _positions(table[0][1], report)
    report.header = [cell.strip().lstrip("\ufeff") for cell in table[0][1]]
    body = table[1:]
    report.rows = len(body)
    if not body:
        raise ImportFileError("文件只有表头，没有数据行", "The file has a header but no rows")
    if report.kind == "users" and max_user_rows and len(body) > max_user_rows:
        raise ImportFileError(f"网页上一次最多导入 {max_user_rows} 个人员，请分批导入或使用命令行",
                              f"At most {max_user_rows} users per upload; split the file or use "
                              "the command line")
    if report.kind == "units":
        _check_units(body, positions, actor, report)
    else:
        _check_users(body, positions, actor, report)
    if not dry_run:
        _create(report, actor, hashlib.sha256(data).hexdigest())
    return report


def _check_units(body, positions, actor, report: ImportReport) -> None:
    codes = {cells[positions[k]].strip() for _, cells in body for k in ("code", "parent")
             if k in positions and positions[k] < len(cells)}
    known = _units_by_code(codes)
    pending: dict[str, tuple[str, int]] = {}  # code → (kind, row) of rows accepted so far
    for line, cells in body:
        problems: list[Message] = []
        v = _values(UNIT_COLUMNS, positions, cells, problems)
        code = v["code"]
        if code:
            problem = people.check_code(code)
            if problem:
                problems.append((problem.zh, problem.en))
            elif code in pending:
                problems.append((f"编码与第 {pending[code][1]} 行重复",
                                 f"duplicate code (row {pending[code][1]})"))
            elif code in known:
                problems.append((f"编码“{code}”已存在（导入不会修改已有单位）",
                                 f"the code '{code}' exists already (an import never changes a "
                                 "unit)"))
        kind = _term_key(UNIT_KINDS, UNIT_KIND_KEYS, v["kind"]) if v["kind"] else None
        if v["kind"] and kind is None:
            problems.append((f"未知的单位类型“{v['kind'][:30]}”，可填：{cell_choices(UNIT_KINDS, 'zh')}",
                             f"unknown unit kind '{v['kind'][:30]}'; use one of: "
                             f"{cell_choices(UNIT_KINDS, 'en')}"))
        parent_kind = _parent_kind(v["parent"], known, pending, actor, problems)
        if kind and parent_kind is not False and kind not in UNIT_CHILDREN[parent_kind]:
            under = term(UNIT_KINDS, parent_kind) if parent_kind else "顶层"
            under_en = term(UNIT_KINDS, parent_kind, "en") if parent_kind else "the top"
            problems.append((f"{term(UNIT_KINDS, kind)}不能设在{under}之下",
                             f"a {term(UNIT_KINDS, kind, 'en')} cannot be placed under {under_en}"))
        if problems:
            report.rejected.append(RowProblem(line, code, problems, cells))
        else:
            pending[code] = (kind, line)
            report.accepted.append(Accepted(line, code, {**v, "kind": kind}, cells))


def _parent_kind(code: str, known, pending, actor, problems) -> str | None | bool:
    """The parent's kind (None: the top of the tree), or False when the parent is wrong."""
    if not code:
        if actor is not None and not actor.has_role("platform_admin"):
            problems.append(("缺少上级单位编码", "missing parent code"))
            return False
        return None
    if code in pending:
        return pending[code][0]  # a row above, accepted: in scope because its parent is
    unit = known.get(code)
    if unit is None:
        problems.append((f"未知的上级单位“{code[:30]}”（须已存在或在本行之前）",
                         f"unknown parent '{code[:30]}' (it must exist or come in an earlier "
                         "row)"))
        return False
    if not people.unit_in_scope(actor, unit):
        problems.append((f"上级单位“{code[:30]}”不在您的管理范围内",
                         f"the parent '{code[:30]}' is outside your part of the tree"))
        return False
    if not unit.active:
        problems.append((f"上级单位“{code[:30]}”已停用", f"the parent '{code[:30]}' is deactivated"))
        return False
    return unit.kind


def _check_users(body, positions, actor, report: ImportReport) -> None:
    units = _units_by_code({cells[positions["unit"]].strip() for _, cells in body
                            if positions["unit"] < len(cells)})
    names = [cells[positions["username"]].strip().lower() for _, cells in body
             if positions["username"] < len(cells)]
    existing = _existing_usernames(names)
    seen: dict[str, int] = {}
    for line, cells in body:
        problems: list[Message] = []
        v = _values(USER_COLUMNS, positions, cells, problems)
        name = v["username"]
        if name:
            if not USERNAME_RE.match(name):
                problems.append(("用户名为 3–64 个字母、数字或 . _ -",
                                 "the username must be 3–64 letters, digits, '.', '_' or '-'"))
            elif name.lower() in seen:
                problems.append((f"用户名与第 {seen[name.lower()]} 行重复",
                                 f"duplicate username (row {seen[name.lower()]})"))
            elif name.lower() in existing:
                problems.append((f"用户“{name}”已存在（导入不会修改已有用户）",
                                 f"the user '{name}' exists already (an import never changes a "
                                 "user)"))
            else:
                seen[name.lower()] = line
        unit = units.get(v["unit"]) if v["unit"] else None
        if v["unit"] and (unit is None or not people.unit_in_scope(actor, unit)):
            problems.append((f"未知的单位编码“{v['unit'][:30]}”（或不在您的管理范围内）",
                             f"unknown unit code '{v['unit'][:30]}' (or outside your part of "
                             "the tree)"))
            unit = None
        elif unit is not None and not unit.active:
            problems.append((f"单位“{v['unit'][:30]}”已停用",
                             f"the unit '{v['unit'][:30]}' is deactivated"))
            unit = None
        role = _term_key(ROLES, ROLE_KEYS, v["role"]) if v["role"] else "worker"
        if role is None:
            problems.append((f"未知的角色“{v['role'][:30]}”，可填：{cell_choices(ROLES, 'zh')}",
                             f"unknown role '{v['role'][:30]}'; use one of: "
                             f"{cell_choices(ROLES, 'en')}"))
        elif unit is not None:
            problem = people.role_problem(actor, role, unit)
            if problem:
                problems.append((problem.zh, problem.en))
        if v["phone"] and not PHONE_RE.match(v["phone"]):
            problems.append((f"电话“{v['phone'][:20]}”格式不对",
                             f"the phone '{v['phone'][:20]}' is not valid"))
        if v["email"] and not EMAIL_RE.match(v["email"]):
            problems.append((f"邮箱“{v['email'][:40]}”格式不对",
                             f"the e-mail '{v['email'][:40]}' is not valid"))
        if problems:
            report.rejected.append(RowProblem(line, name, problems, cells))
        else:
            report.accepted.append(Accepted(line, name, {**v, "role": role}, cells))


def _units_by_code(codes: set[str]) -> dict[str, OrgUnit]:
    codes_list = [c for c in codes if c]
    found: dict[str, OrgUnit] = {}
    for start in range(0, len(codes_list), 500):
        chunk = codes_list[start:start + 500]
        found.update({u.code: u for u in db.session.scalars(
            select(OrgUnit).where(OrgUnit.code.in_(chunk)))})
    return found


def _existing_usernames(names: list[str]) -> set[str]:
    from sqlalchemy import func

    wanted = sorted({n for n in names if n})
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        found.update(n.lower() for n in db.session.scalars(
            select(User.username).where(func.lower(User.username).in_(chunk))))
    return found


def _create(report: ImportReport, actor: User | None, digest: str) -> None:
    done: list[Accepted] = []
    for row in report.accepted:
        try:
            if report.kind == "units":
                parent = unit_by_code(row.values["parent"]) if row.values["parent"] else None
                people.add_unit(actor, parent=parent, code=row.key, name=row.values["name"],
                                kind=row.values["kind"])
            else:
                v = row.values
                if find_user(row.key) is not None:  # someone added it since the check
                    raise people.PeopleError(f"用户“{row.key}”已存在", f"the user '{row.key}' exists")
                _, password = people.add_user(
                    actor, username=row.key, display_name=v["display_name"],
                    unit=unit_by_code(v["unit"]), role=v["role"], phone=v["phone"],
                    email=v["email"])
                report.passwords.append((row.key, password))
            done.append(row)
        except people.PeopleError as exc:
            report.rejected.append(RowProblem(row.line, row.key, [(exc.zh, exc.en)], row.cells))
    report.accepted = done
    report.rejected.sort(key=lambda p: p.line)
    top = people.manager_units(actor)[0] if actor is not None and people.manager_units(actor) \
        else None
    # The entry is the import: named by its file's digest (the same file imported again
    # shows as such) and the moment, so one person's imports are told apart.
    audit.record(actor, f"{report.kind[:-1]}.import", (f"{report.kind[:-1]}_import",
                                                      f"{digest[:12]}@{utcnow():%Y%m%d%H%M%S}"),
                 {}, {"file_digest": digest, "format": report.format_text("en"),
                      "rows": report.rows,
                      "created": [r.key for r in done][:200], "created_count": len(done),
                      "rejected_count": len(report.rejected)},
                 unit=top.path if top is not None and not actor.has_role("platform_admin")
                 else "")
