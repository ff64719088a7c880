"""Process definitions as platform administrators manage them in the browser: list them
with their versions and running requests, check edited text, publish it as a new version,
compare versions, retire and restore a process.

Every write takes the acting user and refuses anyone but a platform administrator, so
the rule holds whichever page or command calls it.  Publishing goes through
``workflow.publish_text``: running requests stay on the version they started with.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlalchemy import case, func, select

from webapp.extensions import db
from webapp.models import User
from webapp.models.workflow import DefinitionVersion, Instance, ProcessDefinition
from webapp.services import workflow as wf
from workflows.errors import NotAllowed, NotFound
from workflows.loader import IDENT
from workflows.problems import ProblemLog
from workflows.spec import ProcessSpec
from workflows.yamlio import line_of, load_yaml

EDITOR_ROLE = "platform_admin"
# The shipped definitions are 4–9 KB; a definition a hundred times that is a mistake.
# (The engine refuses 512 KB; the editor says so earlier, in the person's language.)
MAX_SOURCE_BYTES = 100 * 1024
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "definitions" / "templates"
# Example starting points offered by "new process" (file stem → labels).
TEMPLATES = {
    "simple_approval": ("最简单的审批流程", "A minimal approval process"),
    "innovation_award": ("职工技术创新成果奖（推荐 → 评审 → 公示）",
                         "Worker innovation award (recommend → review → publicity)"),
}
# Templates whose key and names are placeholders to be replaced (新流程, my_process): a
# process published with them unchanged would reach every worker as "新流程".
PLACEHOLDER_TEMPLATES = ("simple_approval",)
# Words the editor's own addresses use (/admin/definitions/new, …/check, …/reference).
RESERVED_KEYS = frozenset({"new", "check", "reference"})
LEADING_TAB = re.compile(r"^[ ]*\t")


@dataclass(frozen=True)
class EditorProblem:
    """A problem to show beside a line of the text (line None: the whole text)."""

    line: int | None
    message: str
    excerpt: str = ""


@dataclass
class Checked:
    spec: ProcessSpec | None
    problems: list[EditorProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.spec is not None and not self.problems


@dataclass
class VersionRow:
    version: DefinitionVersion
    running: int
    total: int


@dataclass
class DefinitionRow:
    definition: ProcessDefinition
    versions: list[VersionRow]

    @property
    def running(self) -> int:
        return sum(v.running for v in self.versions)

    @property
    def latest(self) -> DefinitionVersion | None:
        return self.definition.latest


def _say(locale: str, zh: str, en: str) -> str:
    return en if locale.startswith("en") else zh


def may_edit(actor: User | None) -> bool:
    return actor is not None and actor.has_role(EDITOR_ROLE)


def _require_editor(actor: User | None) -> None:
    if not may_edit(actor):
        raise NotAllowed("只有平台管理员可以修改流程定义",
                         "Only platform administrators may change process definitions")


# ---------------------------------------------------------------------------- reading

def definition_rows() -> list[DefinitionRow]:
    """Every process with its versions and how many requests run on each (two queries)."""
    counts: dict[int, tuple[int, int]] = {}
    running = func.sum(case((Instance.closed_at.is_(None), 1), else_=0))
    for version_id, total, open_ in db.session.execute(
            select(Instance.version_id, func.count(), running)
            .where(Instance.status != "starting").group_by(Instance.version_id)):
        counts[version_id] = (int(total), int(open_ or 0))
    rows = []
    for definition in db.session.scalars(select(ProcessDefinition)
                                         .order_by(ProcessDefinition.id)):
        rows.append(DefinitionRow(definition, [
            VersionRow(v, counts.get(v.id, (0, 0))[1], counts.get(v.id, (0, 0))[0])
            for v in reversed(definition.versions)]))
    return rows


def definition_row(key: str) -> DefinitionRow:
    for row in definition_rows():  # few processes: one small query beats a second path
        if row.definition.key == key:
            return row
    raise NotFound("找不到该流程", f"No process {key!r}", code="no_process")


def get_definition(key: str) -> ProcessDefinition:
    definition = db.session.scalar(select(ProcessDefinition)
                                   .where(ProcessDefinition.key == key))
    if definition is None:
        raise NotFound("找不到该流程", f"No process {key!r}", code="no_process")
    return definition


def get_version(definition: ProcessDefinition, number: int) -> DefinitionVersion:
    for version in definition.versions:
        if version.version == number:
            return version
    raise NotFound("找不到该版本", f"No version {number}", code="no_version")


def template_text(name: str) -> str:
    if name not in TEMPLATES:
        raise NotFound("找不到该模板", f"No template {name!r}", code="no_template")
    return (TEMPLATES_DIR / f"{name}.yaml").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- checking

def _precheck(text: str, locale: str) -> list[EditorProblem]:
    """What the YAML reader would answer obscurely, said plainly and at its line."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        return [EditorProblem(None, _say(
            locale, f"内容太长（{size // 1024} KB），流程定义最多 {MAX_SOURCE_BYTES // 1024} KB",
            f"The text is too long ({size // 1024} KB); a definition may be at most "
            f"{MAX_SOURCE_BYTES // 1024} KB"))]
    if not text.strip():
        return [EditorProblem(None, _say(locale, "内容是空的", "The text is empty"))]
    problems = []
    for number, line in enumerate(text.split("\n"), start=1):
        if "\ufffd" in line or any(0xD800 <= ord(ch) <= 0xDFFF for ch in line):
            problems.append(EditorProblem(number, _say(
                locale, "这一行有无法识别的字符：内容须为 UTF-8 编码的文字",
                "This line has characters that cannot be read: the text must be UTF-8"),
                _excerpt(line)))
        elif LEADING_TAB.match(line):
            problems.append(EditorProblem(number, _say(
                locale, "这一行用制表符（Tab）缩进；YAML 只能用空格缩进",
                "This line is indented with a tab; YAML indents with spaces only"),
                _excerpt(line)))
    return problems


def decode_upload(data: bytes, locale: str = "zh") -> tuple[str | None, list[EditorProblem]]:
    """The text of an uploaded definition file, or why it cannot be read."""
    if len(data) > MAX_SOURCE_BYTES:
        return None, [EditorProblem(None, _say(
            locale, f"文件太大：流程定义最多 {MAX_SOURCE_BYTES // 1024} KB",
            f"The file is too large: a definition may be at most "
            f"{MAX_SOURCE_BYTES // 1024} KB"))]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return None, [EditorProblem(line, _say(
            locale, "文件不是 UTF-8 编码（从这一行起无法识别）；请在编辑器里另存为 UTF-8 后再上传",
            "The file is not UTF-8 (it cannot be read from this line on); save it as UTF-8 "
            "and upload it again"))]


def _excerpt(line: str) -> str:
    line = line.rstrip("\r").replace("\t", "    ")
    return line if len(line) <= 120 else line[:117] + "…"


def check(text: str, *, key: str | None = None, new: bool = False,
          locale: str = "zh") -> Checked:
    """Every problem of ``text`` with its line; ``key``: the process it must stay;
    ``new``: it must be a process that does not exist yet."""
    text = text.replace("\r\n", "\n")
    problems = _precheck(text, locale)
    if problems:
        return Checked(None, problems)
    lines = text.split("\n")
    filename = f"{key or 'definition'}.yaml"
    spec, found = wf.validate_text(text, filename)
    out = [EditorProblem(p.line, p.text(locale),
                         _excerpt(lines[p.line - 1]) if p.line and p.line <= len(lines) else "")
           for p in found]
    if spec is not None and not found:
        data = load_yaml(text, ProblemLog("<key>"))
        out += _key_problems(data, spec, key, new, locale, lines)
        if not out:
            out += _name_problems(data, spec, new, locale, lines)
    return Checked(spec if not out else None, out)


def check_file(text: str, *, locale: str = "zh") -> Checked:
    """The editor's checks for a definition that comes whole, as a file does to
    ``flask workflows validate|publish``: a process not published yet is checked as a new
    one (a key and names of its own, not the template's), else as its next version."""
    text = text.replace("\r\n", "\n")
    if _precheck(text, locale):
        return check(text, locale=locale)
    data = load_yaml(text, ProblemLog("<key>"))
    key = data.get("key") if isinstance(data, dict) else None
    new = not isinstance(key, str) or db.session.scalar(select(ProcessDefinition.id).where(
        ProcessDefinition.key == key)) is None
    return check(text, new=new, locale=locale)


@lru_cache(maxsize=1)
def _placeholders() -> dict[str, frozenset[str]]:
    """The key, name and name_en the placeholder templates start with."""
    found: dict[str, set[str]] = {"key": set(), "name": set(), "name_en": set()}
    for name in PLACEHOLDER_TEMPLATES:
        data = load_yaml(template_text(name), ProblemLog("<template>")) or {}
        for field_name, values in found.items():
            if isinstance(data.get(field_name), str):
                values.add(data[field_name].strip())
    return {field_name: frozenset(values) for field_name, values in found.items()}


def _same_name(a: str | None, b: str | None) -> bool:
    return bool(a and b) and " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _name_problems(data, spec, new, locale, lines) -> list[EditorProblem]:
    """A new process must be named, not called by a template's placeholder; and no two
    processes may share a name, which workers pick processes by."""
    def at(field_name: str, zh: str, en: str) -> EditorProblem:
        line = line_of(data, field_name) or line_of(data, "key")
        return EditorProblem(line, _say(locale, zh, en),
                             _excerpt(lines[line - 1]) if line else "")

    placeholders = _placeholders()
    named = {"key": spec.key, "name": spec.name, "name_en": spec.name_en}
    unchanged = [f for f in ("key", "name", "name_en") if (new or f != "key")
                 and (named[f] or "").strip() in placeholders[f]]
    if unchanged:
        shown = "、".join(f"{f}“{named[f]}”" for f in unchanged)
        return [at(unchanged[0],
                   f"{shown}是模板里的占位文字，职工会看到“{spec.name}”这样的名称：请给这个流程"
                   "起一个自己的名字后再发布（如 key: parking_demand，name: 停车难诉求）",
                   f"{', '.join(f'{f} {named[f]!r}' for f in unchanged)}: the template's "
                   "placeholder; workers would see it as the process's name. Give the process "
                   "its own name before publishing (e.g. key: parking_demand, name: 停车难诉求)")]
    out = []
    others = db.session.execute(select(ProcessDefinition.key, ProcessDefinition.name,
                                       ProcessDefinition.name_en, ProcessDefinition.retired)
                                .where(ProcessDefinition.key != spec.key)).all()
    for other_key, other_name, other_name_en, retired in others:
        state = _say(locale, "（已停用）", " (retired)") if retired else ""
        if _same_name(spec.name, other_name):
            out.append(at("name", f"已有流程“{other_name}”（key：{other_key}）{state}用了这个名称，"
                                  "职工在流程列表里会分不清：请换一个名称",
                          f"The process '{other_key}'{state} is already called '{other_name}': "
                          "workers could not tell them apart; choose another name"))
        if _same_name(spec.name_en, other_name_en):
            out.append(at("name_en", f"已有流程“{other_name}”（key：{other_key}）{state}的英文名称"
                                     f"也是“{other_name_en}”：请换一个英文名称",
                          f"The process '{other_key}'{state} is already called "
                          f"'{other_name_en}' in English: choose another English name"))
    return out


def _key_problems(data, spec, key, new, locale, lines) -> list[EditorProblem]:
    line = line_of(data, "key")
    excerpt = _excerpt(lines[line - 1]) if line else ""
    if key is not None and spec.key != key:
        return [EditorProblem(line, _say(
            locale, f"这里编辑的是流程“{key}”，key 不能改；要新建流程请用“新建流程”",
            f"This edits the process '{key}': its key cannot change; use 'New process' "
            "to make another one"), excerpt)]
    if new and spec.key in RESERVED_KEYS:
        return [EditorProblem(line, _say(
            locale, f"“{spec.key}”是保留字，不能作为流程的 key",
            f"'{spec.key}' is reserved and cannot be a process key"), excerpt)]
    if new and db.session.scalar(select(ProcessDefinition.id).where(
            ProcessDefinition.key == spec.key)) is not None:
        return [EditorProblem(line, _say(
            locale, f"已有 key 为“{spec.key}”的流程，请换一个 key，或去编辑那个流程",
            f"A process with the key '{spec.key}' exists already: choose another key, or "
            "edit that process"), excerpt)]
    return []


# ---------------------------------------------------------------------------- writing

@dataclass
class PublishResult:
    checked: Checked
    published: wf.Published | None = None


def publish(text: str, actor: User, *, key: str | None = None, new: bool = False,
            locale: str = "zh") -> PublishResult:
    """Publish ``text`` as the next version of ``key`` (or, ``new``, a new process).

    Nothing is saved unless it validates; text with the same content as the latest
    version publishes nothing (``published.created`` is False)."""
    _require_editor(actor)
    checked = check(text, key=key, new=new, locale=locale)
    if not checked.ok:
        return PublishResult(checked)
    text = text.replace("\r\n", "\n")
    published = wf.publish_text(text, f"{checked.spec.key}.yaml", actor)
    return PublishResult(checked, published)


def set_retired(definition: ProcessDefinition, retired: bool, actor: User) -> None:
    """Retire (no new starts; running requests finish on their version) or restore."""
    _require_editor(actor)
    wf.set_retired(definition.key, retired, actor)  # audited there


# ---------------------------------------------------------------------------- comparing

@dataclass(frozen=True)
class DiffLine:
    kind: str            # "same" | "del" | "add" | "gap"
    old: int | None      # line number in the older text
    new: int | None      # line number in the newer text
    text: str


def diff(old: str, new: str, context: int = 3) -> list[DiffLine]:
    """A unified diff as rows (escaped by the template); "gap" rows stand for unchanged
    lines left out."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffLine] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        if rows:
            rows.append(DiffLine("gap", None, None, "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [DiffLine("same", i1 + n + 1, j1 + n + 1, a[i1 + n])
                         for n in range(i2 - i1)]
                continue
            rows += [DiffLine("del", i + 1, None, a[i]) for i in range(i1, i2)]
            rows += [DiffLine("add", None, j + 1, b[j]) for j in range(j1, j2)]
    return rows


def valid_key(key: str) -> bool:
    return bool(IDENT.match(key or ""))


__all__ = ["definition_rows", "definition_row", "get_definition", "get_version", "check",
           "publish", "set_retired", "decode_upload", "diff", "template_text", "TEMPLATES", "may_edit",
           "MAX_SOURCE_BYTES", "Checked", "EditorProblem"]
