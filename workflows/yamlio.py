"""Reading YAML while keeping the line of every mapping, key and list item.

PyYAML's safe loader drops positions and silently keeps the last of duplicate keys.
This loader builds ``LineMap``/``LineList`` (plain ``dict``/``list`` subclasses that
also carry line numbers) and reports duplicate keys.  Mapping keys are always kept as
the text written: YAML 1.1 would otherwise turn a choice value ``yes`` into ``True``.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import re

import yaml

from workflows.problems import ProblemLog

MAX_BYTES = 512 * 1024      # a definition is a page or two; anything bigger is a mistake
MAX_EXPANDED_NODES = 50_000  # aliases can multiply a small file ("billion laughs")


class LineMap(dict):
    """A dict from YAML, with ``line`` (of the mapping) and ``key_lines``."""

    line: int | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.key_lines: dict[str, int] = {}


class LineList(list):
    """A list from YAML, with ``line`` (of the list) and ``item_lines``."""

    line: int | None = None

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.item_lines: list[int] = []


def line_of(container: Any, key: Any = None) -> int | None:
    """The line of ``container[key]`` (or of the container); None for plain data."""
    if key is not None:
        if isinstance(container, LineMap) and key in container.key_lines:
            return container.key_lines[key]
        if isinstance(container, LineList) and isinstance(key, int) \
                and 0 <= key < len(container.item_lines):
            return container.item_lines[key]
    return getattr(container, "line", None)


class _Loader(yaml.SafeLoader):
    log: ProblemLog


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            if key_node.value in seen:
                loader.log.add(_line(key_node), f"duplicate key '{key_node.value}' "
                               f"(first at line {seen[key_node.value]}); YAML would keep only the last",
                               f"“{key_node.value}”重复了（第一次出现在第 {seen[key_node.value]} 行）；"
                               "YAML 只会保留最后一个")
            else:
                seen[key_node.value] = _line(key_node)
    loader.flatten_mapping(node)  # resolves "<<: *anchor" merges
    mapping = LineMap()
    mapping.line = _line(node)
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            loader.log.add(_line(key_node), "a key must be plain text",
                           "“键: 值”里的键必须是普通文字，不能是列表或映射")
            continue
        key = key_node.value
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = _line(key_node)
    return mapping


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    items = LineList(loader.construct_object(child, deep=True) for child in node.value)
    items.line = _line(node)
    items.item_lines = [_line(child) for child in node.value]
    return items


def _checked(construct: Any) -> Any:
    """A scalar constructor whose ValueError (2025-02-30, an integer of thousands of
    digits) becomes a YAML error with the line of the value."""
    def checked(loader: _Loader, node: yaml.Node) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, OverflowError):
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value {shown!r}", node.start_mark) from None
    return checked


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
for _tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"):
    _Loader.add_constructor(_tag, _checked(yaml.SafeLoader.yaml_constructors[_tag]))


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    if id(node) in memo:
        return memo[id(node)]
    memo[id(node)] = 1  # a cycle counts once; the constructor rejects real recursion
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = size
    return size


# What PyYAML's (English) complaints mean, said in Chinese for the editor.  Anything not
# listed gets the general hint: a Chinese reader is never shown the English sentence.
_YAML_PROBLEMS_ZH: tuple[tuple[str, str], ...] = (
    (r"mapping values are not allowed here",
     "这里不能出现“键: 值”：常见原因是缩进不对，或值里有冒号却没加引号"),
    (r"expected <block end>, but found",
     "缩进不一致：这一行没有和上面同一层的内容对齐"),
    (r"could not find expected ':'", "缺少冒号“:”：常见原因是上一行缩进不对，或键后漏了冒号"),
    (r"found unexpected end of stream", "引号没有配对：文字在结束引号之前就到了文件末尾"),
    (r"expected ',' or '\]'", "方括号 […] 没有正确闭合，或其中的项之间缺少逗号"),
    (r"expected ',' or '\}'", "花括号 {…} 没有正确闭合，或其中的项之间缺少逗号"),
    (r"found undefined alias '(.*)'", "用到了没有定义的别名 *{0}"),
    (r"could not determine a constructor for the tag '(.*)'", "不支持标签 {0}"),
    (r"but found another document", "一个文件只能写一份流程定义（不要用 --- 分成几份）"),
    (r"found character '\\t' that cannot start any token",
     "这里有制表符（Tab）：YAML 只能用空格缩进"),
    (r"found character '(.*)' that cannot start any token",
     "字符“{0}”不能出现在值的开头：请给这个值加上引号"),
    (r"found unhashable key", "键不能是列表或映射"),
    (r"found unknown escape character '(.*)'", "双引号里的“\\{0}”不是有效的转义，"
     "请改用单引号或去掉反斜杠"),
    (r"second occurrence", "同一个锚点（&名称）定义了两次"),
    (r"cannot read the value '(.*)'", "无法读取值“{0}”（可能是不存在的日期，或位数过多的数字）"),
    (r"unacceptable character", "有不能使用的控制字符"),
)


def _yaml_problem_zh(problem: str) -> str:
    for pattern, zh in _YAML_PROBLEMS_ZH:
        match = re.search(pattern, problem)
        if match:
            return zh.replace("{0}", match.group(1)) if match.groups() else zh
    return "格式有误，常见原因是缩进不一致、冒号后缺少空格，或引号、括号不成对"


# A key followed by a full-width colon (a Chinese input method's “：”), at the start of a
# line, after a list's "- " or inside {…}: YAML sees no key there.
_FULL_WIDTH_KEY = re.compile(r"(?:^\s*(?:-\s+)?|[{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*：")
_BLOCK_SCALAR = re.compile(r":\s*[|>][-+0-9]*\s*(?:#.*)?$")


def full_width_colons(text: str) -> list[tuple[int, str]]:
    """(line, key) of each key written with a full-width colon “：”, outside block text
    (``description: |``), where it is only words."""
    found, block = [], None
    for number, line in enumerate(text.splitlines(), 1):
        indent = len(line) - len(line.lstrip())
        if block is not None and (not line.strip() or indent > block):
            continue
        block = indent if _BLOCK_SCALAR.search(line) else None
        if line.lstrip().startswith("#"):
            continue
        match = _FULL_WIDTH_KEY.search(line.split(" #")[0])
        if match:
            found.append((number, match.group(1)))
    return found


def _full_width_problems(log: ProblemLog, colons: list[tuple[int, str]]) -> None:
    for line, key in colons:
        log.add(line, f"'{key}' is followed by a full-width colon '：'; write the ASCII "
                f"colon ':' ({key}: ...)",
                f"用了中文冒号“：”（在“{key}”之后），请改成英文冒号“:”（{key}: …）")


def _not_yaml(log: ProblemLog, line: int | None, problem: str) -> None:
    log.add(line, f"not valid YAML: {problem}", f"不是有效的 YAML：{_yaml_problem_zh(problem)}")


def load_yaml(text: str, log: ProblemLog) -> Any:
    """The YAML document in ``text`` as LineMap/LineList data; problems go to ``log``."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        log.add(None, f"the file is larger than {MAX_BYTES // 1024} KB",
                f"文件超过 {MAX_BYTES // 1024} KB")
        return None
    loader = None
    try:
        loader = _Loader(text)  # the reader refuses control characters right away
        loader.log = log
        node = loader.get_single_node()
        if node is None:
            log.add(None, "the file is empty", "文件是空的")
            return None
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            log.add(_line(node), "the document is too large once its aliases (*name) are expanded",
                    "用别名（*名称）展开之后内容过大，不能读取：一份流程定义不会有这么多内容，"
                    "请检查 & 和 * 的用法")
            return None
        data = loader.construct_document(node)
        if data is None:
            log.add(_line(node), "the file is empty", "文件是空的")
        colons = full_width_colons(text)
        if colons:  # read as text where a key was meant: what follows would only confuse
            _full_width_problems(log, colons)
            return None
        return data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        # A full-width colon on or before the line YAML stumbled on is the cause (YAML
        # itself points at the line after it): say that, at its own line.
        colons = [c for c in full_width_colons(text) if line is None or c[0] <= line]
        if colons:
            _full_width_problems(log, colons[:1])
        else:
            _not_yaml(log, line, str(exc.problem or exc.context))
        return None
    except RecursionError:
        log.add(None, "not valid YAML: it is nested too deeply",
                "不是有效的 YAML：嵌套的层数太多")
        return None
    except yaml.YAMLError as exc:
        _not_yaml(log, None, str(exc))
        return None
    except (ValueError, OverflowError) as exc:  # any other value the constructors refuse
        _not_yaml(log, None, str(exc))
        return None
    finally:
        if loader is not None:
            loader.dispose()


def plain(data: Any) -> Any:
    """A JSON-ready copy of YAML data: plain dicts and lists, dates as ISO text."""
    if isinstance(data, dict):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [plain(v) for v in data]
    if isinstance(data, (date, datetime)):
        return data.isoformat()
    if isinstance(data, bytes):
        return data.hex()
    return data
