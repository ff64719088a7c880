"""The condition language: what it computes, what it refuses, and that it never raises."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from workflows.errors import ExpressionError
from workflows.expr import parse

FORM = {"form": {"category": "goods", "amount": 120, "price": Decimal("9.50"),
                 "start": "2025-05-01", "end": date(2025, 5, 3), "tags": ["a", "b"],
                 "nested": {"unit": {"code": "cq"}}, "text_number": "15", "flag": True},
        "now": datetime(2025, 5, 10, 8, 0)}

VALUES = [
    ("form.category == 'goods'", True),
    ("form.category != 'goods'", False),
    ("form.amount > 100 and form.amount <= 120", True),
    ("form.amount < 100 or form.category == 'goods'", True),
    ("not form.flag", False),
    ("-form.amount", -120),
    ("form.amount * 2 - 40 / 4", 230),
    ("form.price * 2", Decimal("19.00")),
    ("form.price > 9.4", True),
    ("form.text_number > 10", True),      # numbers typed into text compare as numbers
    ("form.end >= form.start", True),     # a date and an ISO string
    ("form.start < '2025-06-01'", True),
    ("'a' in form.tags", True),
    ("'z' not in form.tags", True),
    ("form.category in ['goods', 'service']", True),
    ("form.category in ('x', 'y')", False),
    ("1 < form.amount < 200", True),
    ("form.nested.unit.code == 'cq'", True),
    ("form.missing", None),
    ("form.missing.deeper == null", True),
    ("form.missing < 3", False),          # None never orders
    ("'a' < 2", False),                   # neither do mixed types
    ("form.missing in form.tags", False),
    ("'x' in form.missing", False),
    ("'x' not in form.missing", True),
    ("form.category + 1", None),
    ("form.amount / 0", None),
    ("len(form.tags) == 2", True),
    ("len(form.amount)", None),
    ("lower('ABC') == 'abc' and upper('x') == 'X'", True),
    ("lower(5)", None),
    ("number('3.5') > 3", True),
    ("days_since(form.start) == 9", True),
    ("days_since(form.start, '2025-05-02')", 1),
    ("days_until('2025-05-12') == 2", True),
    ("days_since('not a date')", None),
    ("year(form.end) == 2025", True),
    ("true and not false and null == None", True),
    ("True or False", True),
]


@pytest.mark.parametrize("source, expected", VALUES)
def test_evaluates(source, expected):
    assert parse(source).evaluate(FORM) == expected


REFUSED = [
    ("__import__('os').system('ls')", "only these functions may be called"),
    ("form.__class__", "names may not start with '_'"),
    ("open('x')", "only these functions may be called"),
    ("len(x=1)", "functions take no named arguments"),
    ("len()", "len() takes 1 argument(s)"),
    ("form.x()", "only these functions may be called"),
    ("(lambda: 1)()", "only these functions may be called"),
    ("lambda: 1", "lambda is not allowed"),
    ("a if b else c", "'a if b else c' is not allowed"),
    ("form['x']", "indexing with [...] is not allowed"),
    ("{'a': 1}", "a {...} mapping is not allowed"),
    ("[x for x in y]", "a comprehension is not allowed"),
    ("f'{x}'", "an f-string is not allowed"),
    ("x is None", "'is' is not allowed; use == or !="),
    ("2 ** 8", "only + - * / are allowed"),
    ("~1", "only 'not' and '-' may stand"),
    ("b'x'", "constant b'x' is not allowed"),
    ("len(x)[0]", "indexing with [...] is not allowed"),
    ("len(x).y", "a dotted name must start with a plain name"),
    ("x ==", "syntax error"),
    ("", "the condition is empty"),
    ("x" * 2001, "longer than 2000 characters"),
    ("-" * 100 + "1", "nested too deeply"),
    ("1" + "+1" * 999, "nested too deeply"),
    ("a\x00b", "syntax error"),
]


@pytest.mark.parametrize("source, words", REFUSED)
def test_refuses_with_a_plain_message(source, words):
    with pytest.raises(ExpressionError) as err:
        parse(source)
    assert words in err.value.message("en")
    assert err.value.message("zh")  # a Chinese message too


def test_non_text_is_refused():
    with pytest.raises(ExpressionError):
        parse(["form.x"])


def test_names_lists_dotted_names():
    expr = parse("form.category == 'goods' and len(form.tags) > days_since(form.start) "
                 "or -form.amount in [form.other, 1]")
    assert expr.names() == frozenset({"form.category", "form.tags", "form.start",
                                      "form.amount", "form.other"})


def test_immutable_hashable_and_keeps_its_source():
    a, b = parse("form.a == 1"), parse("form.a == 1")
    assert a == b and hash(a) == hash(b) and a.source == "form.a == 1"
    with pytest.raises(AttributeError):
        a.source = "x"  # type: ignore[misc]


def test_missing_context_never_raises():
    assert parse("form.a.b.c > 1 and days_since(form.d)").evaluate({}) is False
    assert parse("form.a").evaluate({"form": "not a mapping"}) is None


def test_aware_and_naive_times_compare_by_value():
    aware = datetime.fromisoformat("2025-05-01T10:00:00+08:00")
    assert parse("form.a < form.b").evaluate(
        {"form": {"a": aware, "b": datetime(2025, 5, 1, 11)}}) is True


def test_whole_days_are_counted_on_the_china_calendar():
    """Between 00:00 and 08:00 China time the UTC date is still yesterday: a registration
    window that opens today must already be open then, and a year turns at China's
    midnight."""
    from datetime import timezone

    early = {"now": datetime(2026, 11, 28, 17, 30, tzinfo=timezone.utc)}  # 01:30 on 29 Nov
    assert parse("days_until('2026-11-29')").evaluate(early) == 0
    assert parse("days_since('2026-11-28')").evaluate(early) == 1
    new_year = {"when": "2026-12-31T16:30:00+00:00"}                    # 00:30 on 1 Jan
    assert parse("year(when)").evaluate(new_year) == 2027
    # Naive moments are taken as they are written.
    assert parse("days_since('2026-11-28', '2026-11-28T23:59:00')").evaluate({}) == 0
