"""A small whitelisted expression language for conditions in definitions.

Text is parsed with ``ast.parse(mode="eval")`` and translated, node by node, into a tree
of plain tuples; any construct not on the whitelist is an ``ExpressionError``.  Nothing
is ever handed to ``eval``/``exec``/``compile``, so a definition cannot run Python.

Allowed: ``and or not``, unary ``-``, ``+ - * /``, comparisons ``== != < <= > >= in
not in`` (chains too), constants (strings, numbers, ``true/false/null`` and their
Python spellings), list/tuple literals, dotted names (``form.category``) and calls of
the functions in ``FUNCTIONS``.

Evaluation never raises on data: a missing name is ``None``, a comparison between
values that cannot be compared is ``False``, arithmetic on them is ``None``.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from workflows.errors import ExpressionError

MAX_LENGTH = 2000  # a condition longer than this is a mistake
MAX_DEPTH = 60     # evaluation recurses once per level; real conditions are shallow
# Whole days (days_since, days_until, year) are counted on the union's calendar: a moment
# is the day it is in China, not in UTC (00:30 on 1 May in Chongqing is 1 May).
CALENDAR = ZoneInfo("Asia/Shanghai")

_ALIASES = {"true": True, "false": False, "null": None, "True": True, "False": False,
            "None": None}

_COMPARE_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
                ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in"}
# Plain words for the constructs people most often try, for the error message.
_CONSTRUCT_NAMES = {"IfExp": "'a if b else c'", "Subscript": "indexing with [...]",
                    "Lambda": "lambda", "JoinedStr": "an f-string", "Dict": "a {...} mapping",
                    "Set": "a {...} set", "ListComp": "a comprehension",
                    "GeneratorExp": "a comprehension", "DictComp": "a comprehension",
                    "SetComp": "a comprehension", "NamedExpr": "':='", "Await": "await",
                    "Starred": "'*'", "Slice": "a slice"}
_CONSTRUCT_NAMES_ZH = {"IfExp": "“a if b else c”", "Subscript": "下标 [...]", "Lambda": " lambda",
                       "JoinedStr": " f 字符串", "Dict": "映射 {...}", "Set": "集合 {...}",
                       "ListComp": "推导式", "GeneratorExp": "推导式", "DictComp": "推导式",
                       "SetComp": "推导式", "NamedExpr": " :=", "Await": " await",
                       "Starred": " *", "Slice": "切片"}
_BIN_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


# ---------------------------------------------------------------------------- values
def _as_date(value: Any) -> date | datetime | None:
    if isinstance(value, (date, datetime)):
        return value
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":
        try:
            if len(value) == 10:
                return date.fromisoformat(value)
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _as_number(value: Any) -> int | float | Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _align_dates(a: Any, b: Any) -> tuple[Any, Any]:
    # A date and a datetime (or an aware and a naive datetime) do not compare in
    # Python; for conditions comparing the calendar day is what people mean.
    if isinstance(a, datetime) and isinstance(b, datetime):
        if (a.tzinfo is None) != (b.tzinfo is None):
            return a.replace(tzinfo=None), b.replace(tzinfo=None)
        return a, b
    if isinstance(a, datetime):
        return a.date(), b
    if isinstance(b, datetime):
        return a, b.date()
    return a, b


def _coerce_pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring two operands to comparable types where the intent is clear."""
    if isinstance(a, (date, datetime)) or isinstance(b, (date, datetime)):
        da, db = _as_date(a), _as_date(b)
        if da is not None and db is not None:
            return _align_dates(da, db)
        return a, b
    numeric = (int, float, Decimal)
    a_num = isinstance(a, numeric) and not isinstance(a, bool)
    b_num = isinstance(b, numeric) and not isinstance(b, bool)
    if a_num != b_num and (isinstance(a, str) or isinstance(b, str)):
        na, nb = _as_number(a), _as_number(b)
        if na is not None and nb is not None:
            a, b = na, nb
            a_num = b_num = True
    if a_num and b_num and (isinstance(a, Decimal) or isinstance(b, Decimal)):
        # Decimal and float refuse to mix in arithmetic; Decimal keeps money exact.
        return _to_decimal(a), _to_decimal(b)
    return a, b


def _to_decimal(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else value
    if isinstance(value, int):
        return Decimal(value)
    return value


def _compare(op: str, a: Any, b: Any) -> bool:
    if op in ("in", "not in"):
        try:
            found = _contains(b, a)
        except TypeError:
            found = False
        return found if op == "in" else not found
    a, b = _coerce_pair(a, b)
    try:
        if op == "==":
            return bool(a == b)
        if op == "!=":
            return bool(a != b)
        if a is None or b is None:
            return False
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except (TypeError, ValueError, ArithmeticError):
        return False


def _contains(container: Any, item: Any) -> bool:
    if container is None:
        return False
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, Mapping):
        return item in container
    if isinstance(container, (list, tuple, set, frozenset)):
        return any(_compare("==", item, element) for element in container)
    raise TypeError("not a container")


def _arith(op: str, a: Any, b: Any) -> Any:
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    a, b = _coerce_pair(_as_number(a), _as_number(b))
    if a is None or b is None:
        return None
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return a / b
    except (TypeError, ArithmeticError):
        return None


# ---------------------------------------------------------------------------- functions
def _fn_len(value: Any) -> int | None:
    try:
        return len(value) if value is not None and not isinstance(value, (int, float)) else None
    except TypeError:
        return None


def _fn_lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _fn_upper(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) else None


def _day(value: Any) -> date | None:
    parsed = _as_date(value)
    if isinstance(parsed, datetime):
        return (parsed.astimezone(CALENDAR) if parsed.tzinfo else parsed).date()
    return parsed


def _fn_days_since(value: Any, now: Any = None) -> int | None:
    then, today = _day(value), _day(now)
    if then is None or today is None:
        return None
    return (today - then).days


def _fn_days_until(value: Any, now: Any = None) -> int | None:
    since = _fn_days_since(value, now)
    return None if since is None else -since


def _fn_year(value: Any) -> int | None:
    day = _day(value)
    return day.year if day is not None else None


def _birth_date(value: Any) -> date | None:
    """A date, or the birth date inside an 18-digit resident ID (digits 7-14)."""
    if isinstance(value, str) and len(value) == 18 and value[:17].isdigit():
        try:
            return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            return None
    return _day(value)


def _fn_age(value: Any, now: Any = None) -> int | None:
    """Whole years from a birth date (or a resident ID's) to ``now``."""
    born, today = _birth_date(value), _day(now)
    if born is None or today is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _fn_number(value: Any) -> Any:
    return _as_number(value)


def as_number(value: Any) -> int | float | Decimal | None:
    """``value`` as a number the way conditions read one ("12" → 12), or None."""
    return _as_number(value)


# name -> (function, min args, max args, whether a missing last arg is context["now"])
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int, bool]] = {
    "len": (_fn_len, 1, 1, False),
    "lower": (_fn_lower, 1, 1, False),
    "upper": (_fn_upper, 1, 1, False),
    "number": (_fn_number, 1, 1, False),
    "year": (_fn_year, 1, 1, False),
    "days_since": (_fn_days_since, 1, 2, True),
    "days_until": (_fn_days_until, 1, 2, True),
    "age": (_fn_age, 1, 2, True),
}


# ---------------------------------------------------------------------------- parsing
def _translate(node: ast.AST) -> tuple:
    """The AST of one node as a tuple tree, or ExpressionError if it is not allowed."""
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, (str, bool, int, float)):
            return ("const", value)
        raise ExpressionError(f"constant {value!r} is not allowed", f"不允许的常量 {value!r}")
    if isinstance(node, (ast.Name, ast.Attribute)):
        return _translate_name(node)
    if isinstance(node, ast.BoolOp):
        op = "and" if isinstance(node.op, ast.And) else "or"
        return (op, tuple(_translate(v) for v in node.values))
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return ("not", _translate(node.operand))
        if isinstance(node.op, ast.USub):
            return ("neg", _translate(node.operand))
        raise ExpressionError("only 'not' and '-' may stand before a value",
                              "只允许在值前使用 not 或 -")
    if isinstance(node, ast.Compare):
        ops = []
        for op in node.ops:
            if type(op) not in _COMPARE_OPS:
                raise ExpressionError("'is' is not allowed; use == or !=",
                                      "不允许 is，请用 == 或 !=")
            ops.append(_COMPARE_OPS[type(op)])
        operands = (node.left, *node.comparators)
        return ("cmp", tuple(ops), tuple(_translate(o) for o in operands))
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BIN_OPS:
            raise ExpressionError("only + - * / are allowed as arithmetic",
                                  "只允许 + - * / 运算")
        return ("bin", _BIN_OPS[type(node.op)], _translate(node.left), _translate(node.right))
    if isinstance(node, (ast.List, ast.Tuple)):
        return ("list", tuple(_translate(e) for e in node.elts))
    if isinstance(node, ast.Call):
        return _translate_call(node)
    what = _CONSTRUCT_NAMES.get(type(node).__name__, type(node).__name__)
    what_zh = _CONSTRUCT_NAMES_ZH.get(type(node).__name__, type(node).__name__)
    raise ExpressionError(f"{what} is not allowed in a condition", f"条件中不允许使用{what_zh}")


def _translate_name(node: ast.AST) -> tuple:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise ExpressionError("a dotted name must start with a plain name",
                              "点号名称必须以普通名称开头")
    parts.append(node.id)
    parts.reverse()
    if len(parts) == 1 and parts[0] in _ALIASES:
        return ("const", _ALIASES[parts[0]])
    if any(p.startswith("_") for p in parts):
        raise ExpressionError("names may not start with '_'", "名称不能以下划线开头")
    return ("name", ".".join(parts))


def _translate_call(node: ast.Call) -> tuple:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        allowed = ", ".join(sorted(FUNCTIONS))
        raise ExpressionError(f"only these functions may be called: {allowed}",
                              f"只能调用以下函数：{allowed}")
    if node.keywords:
        raise ExpressionError("functions take no named arguments", "函数不接受命名参数")
    name = node.func.id
    _, least, most, _ = FUNCTIONS[name]
    if not least <= len(node.args) <= most:
        count = str(least) if least == most else f"{least}–{most}"
        raise ExpressionError(f"{name}() takes {count} argument(s)",
                              f"{name}() 需要 {count} 个参数")
    return ("call", name, tuple(_translate(a) for a in node.args))


def _children(tree: tuple) -> tuple:
    kind = tree[0]
    if kind in ("and", "or", "list"):
        return tree[1]
    if kind in ("not", "neg"):
        return (tree[1],)
    if kind == "cmp":
        return tree[2]
    if kind == "bin":
        return (tree[2], tree[3])
    if kind == "call":
        return tree[2]
    return ()


def _collect_names(tree: tuple, out: set[str]) -> None:
    if tree[0] == "name":
        out.add(tree[1])
    for child in _children(tree):
        _collect_names(child, out)


def _literal_comparisons(tree: tuple, out: list[tuple[str, tuple[Any, ...]]]) -> None:
    if tree[0] == "cmp":
        operands = tree[2]
        for op, left, right in zip(tree[1], operands, operands[1:]):
            if op in ("in", "not in") and left[0] == "name" and right[0] == "list" \
                    and all(e[0] == "const" for e in right[1]):
                values = tuple(e[1] for e in right[1] if e[1] is not None)
                if values:
                    out.append((left[1], values))
                continue
            if op in ("in", "not in"):
                left, right = right, left  # 'legal' in form.skills reads the name on the right
            if {left[0], right[0]} == {"name", "const"}:
                name, const = (left, right) if left[0] == "name" else (right, left)
                if const[1] is not None:
                    out.append((name[1], (const[1],)))
    for child in _children(tree):
        _literal_comparisons(child, out)


def equal(a: Any, b: Any) -> bool:
    """Whether a condition's ``a == b`` holds ("12" and 12 are equal, as in conditions)."""
    return _compare("==", a, b)


@dataclass(frozen=True)
class Expr:
    """A parsed condition: immutable, hashable, safe to evaluate on any data."""

    source: str
    tree: tuple

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        """The value of the expression with dotted names looked up in ``context``."""
        return _eval(self.tree, context)

    def holds(self, context: Mapping[str, Any]) -> bool:
        """Truth of the expression in ``context`` (what conditions use)."""
        return bool(self.evaluate(context))

    def names(self) -> frozenset[str]:
        """The dotted names the expression reads, e.g. ``{"form.category"}``."""
        found: set[str] = set()
        _collect_names(self.tree, found)
        return frozenset(found)

    def literal_comparisons(self) -> list[tuple[str, tuple[Any, ...]]]:
        """(dotted name, the constants it is compared with) for each comparison of a name
        with constants: ``form.x == 'a'``, ``'a' != form.x``, ``form.x in ['a', 'b']``,
        ``'a' in form.x`` — what the loader checks against a choice field's values."""
        found: list[tuple[str, tuple[Any, ...]]] = []
        _literal_comparisons(self.tree, found)
        return found

    def __str__(self) -> str:
        return self.source


def problem_zh(exc: ExpressionError) -> str:
    """What is wrong with a condition, in Chinese, for a definition's problem list."""
    text = exc.message("zh")
    return text if text.startswith("条件") else f"条件有误：{text}"


def parse(text: str) -> Expr:
    """Parse ``text`` into an ``Expr``; ``ExpressionError`` with a plain message if not."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ExpressionError("a condition must be text", "条件必须是文本")
    source = str(text).strip()
    if not source:
        raise ExpressionError("the condition is empty", "条件为空")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"the condition is longer than {MAX_LENGTH} characters",
                              f"条件超过 {MAX_LENGTH} 个字符")
    try:
        node = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        _full_width(source)
        shown = source if len(source) <= 80 else source[:77] + "..."
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"syntax error{where} in: {shown}",
                              f"语法错误{where.replace(' at column ', '（第 ') + ' 列）' if where else ''}：“{shown}”") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("the condition cannot be read", "无法解析该条件") from None
    try:
        tree = _translate(node.body)
        too_deep = _depth(tree) > MAX_DEPTH
    except RecursionError:
        too_deep = True
    if too_deep:
        raise ExpressionError("the condition is nested too deeply", "条件嵌套过深")
    return Expr(source, tree)


# Punctuation a Chinese input method types where a condition needs ASCII:
# character → (what it is in Chinese, the ASCII to write).
_FULL_WIDTH = {"“": ("引号", "' 或 \""), "”": ("引号", "' 或 \""), "‘": ("引号", "' 或 \""),
               "’": ("引号", "' 或 \""), "（": ("括号", "("), "）": ("括号", ")"),
               "，": ("逗号", ","), "：": ("冒号", ":"), "＝": ("等号", "="),
               "！": ("感叹号", "!"), "＜": ("小于号", "<"), "＞": ("大于号", ">")}
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _full_width(source: str) -> None:
    """Raise a plain ExpressionError for full-width punctuation outside quoted text, the
    likely cause of a syntax error (“form.x == 'a'”, number（form.amount）)."""
    bare = _QUOTED.sub(lambda m: " " * len(m.group(0)), source)
    for column, char in enumerate(bare, 1):
        if char in _FULL_WIDTH:
            what, ascii_ = _FULL_WIDTH[char]
            shown = ascii_.replace(" 或 ", " or ")
            quoted = f" {char} " if what == "引号" else f"“{char}”"
            raise ExpressionError(
                f"full-width '{char}' at column {column}: write the ASCII {shown} instead",
                f"条件里用了中文{what}{quoted}（第 {column} 列），请改成英文{what} {ascii_}")


def _depth(tree: tuple) -> int:
    return 1 + max((_depth(child) for child in _children(tree)), default=0)


# ---------------------------------------------------------------------------- evaluation
def lookup(context: Mapping[str, Any], dotted: str) -> Any:
    """``context["a"]["b"]`` for ``"a.b"``; None wherever a part is missing."""
    value: Any = context
    for part in dotted.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        else:
            value = None
        if value is None:
            return None
    return value


def _truth(value: Any) -> bool:
    return bool(value)


def _eval(tree: tuple, ctx: Mapping[str, Any]) -> Any:
    kind = tree[0]
    if kind == "const":
        return tree[1]
    if kind == "name":
        return lookup(ctx, tree[1])
    if kind == "and":
        result: Any = True
        for part in tree[1]:
            result = _eval(part, ctx)
            if not _truth(result):
                return result
        return result
    if kind == "or":
        result = False
        for part in tree[1]:
            result = _eval(part, ctx)
            if _truth(result):
                return result
        return result
    if kind == "not":
        return not _truth(_eval(tree[1], ctx))
    if kind == "neg":
        return _negate(_as_number(_eval(tree[1], ctx)))
    if kind == "cmp":
        return _eval_compare(tree[1], tree[2], ctx)
    if kind == "bin":
        return _arith(tree[1], _eval(tree[2], ctx), _eval(tree[3], ctx))
    if kind == "list":
        return [_eval(e, ctx) for e in tree[1]]
    if kind == "call":
        return _eval_call(tree[1], tree[2], ctx)
    raise ExpressionError(f"unknown node {kind}")  # unreachable: trees come from _translate


def _negate(number: Any) -> Any:
    try:
        return -number if number is not None else None
    except ArithmeticError:  # a Decimal beyond the context's exponent range overflows
        return None


def _eval_compare(ops: tuple[str, ...], operands: tuple, ctx: Mapping[str, Any]) -> bool:
    left = _eval(operands[0], ctx)
    for op, operand in zip(ops, operands[1:]):
        right = _eval(operand, ctx)
        if not _compare(op, left, right):
            return False
        left = right
    return True


def _eval_call(name: str, args: tuple, ctx: Mapping[str, Any]) -> Any:
    function, _, most, wants_now = FUNCTIONS[name]
    values = [_eval(a, ctx) for a in args]
    if wants_now and len(values) < most:
        values.append(ctx.get("now") if isinstance(ctx, Mapping) else None)
    try:
        return function(*values)
    except (TypeError, ValueError, ArithmeticError):
        return None
