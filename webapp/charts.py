"""Charts drawn on the server as inline SVG: horizontal bars (plain or stacked) and lines.

No JavaScript and no inline ``style``: colours are presentation attributes, sizes come
from classes in app.css.  Each chart is a ``role="img"`` with a <title> and <desc>, every
bar and point carries its number as text, and series differ by lightness *and* by a
pattern (solid, hatched, dotted), so they can be told apart in greyscale.  The template
macro ``chart`` in ``_charts.html`` puts the same numbers in a table under the chart.

Horizontal bars put each category's label on its own line above the bar, so long
Chinese names fit a 360 px phone; the drawing scales with its box (``viewBox``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Sequence

from markupsafe import Markup, escape

WIDTH = 360
FONT = 14
# Dark, light, middle, …: neighbours differ in lightness (survives greyscale printing).
COLOURS = ("#1f4e79", "#f0a830", "#5b9bd5", "#7f2704", "#9e9e9e", "#2e7d32")
PATTERNS = ("solid", "hatch", "solid", "dots", "hatch", "solid")
_ids = itertools.count(1)


@dataclass
class Series:
    label: str
    values: list[float]


@dataclass
class Chart:
    """What a chart shows: categories (rows / x positions) × series, with a title."""

    title: str
    desc: str
    categories: list[str]
    series: list[Series]
    kind: str = "bar"  # bar | stacked | line
    unit: str = ""  # appended to the numbers (e.g. "%", " h")
    axis: float = 0  # the bars' full length at least this (100 for a percentage)
    zero: str = ""  # said instead of "no data" when there are categories, every one 0
    id: str = field(default_factory=lambda: f"chart-{next(_ids)}")

    @property
    def empty(self) -> bool:
        return not self.categories or not any(any(s.values) for s in self.series)

    def svg(self) -> Markup:
        if self.kind == "line":
            return _line(self)
        return _bars(self, stacked=self.kind == "stacked")


def _num(value: float, unit: str = "") -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return f"{text}{unit}"


def _defs(chart: Chart) -> tuple[str, list[str]]:
    """<defs> with one fill per series; returns the markup and each series' fill."""
    parts, fills = [], []
    for i, _ in enumerate(chart.series):
        colour, pattern = COLOURS[i % len(COLOURS)], PATTERNS[i % len(PATTERNS)]
        if pattern == "solid":
            fills.append(colour)
            continue
        pid = f"{chart.id}-p{i}"
        if pattern == "hatch":
            body = (f'<rect width="6" height="6" fill="{colour}"/>'
                    f'<path d="M0 6 L6 0" stroke="#ffffff" stroke-width="1.5"/>')
        else:
            body = (f'<rect width="6" height="6" fill="{colour}"/>'
                    f'<circle cx="3" cy="3" r="1.2" fill="#ffffff"/>')
        parts.append(f'<pattern id="{pid}" width="6" height="6" patternUnits="userSpaceOnUse">'
                     f'{body}</pattern>')
        fills.append(f"url(#{pid})")
    return (f"<defs>{''.join(parts)}</defs>" if parts else ""), fills


def _open(chart: Chart, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="uf-chart" id="{chart.id}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" '
            f'aria-labelledby="{chart.id}-title {chart.id}-desc" font-size="{FONT}">'
            f'<title id="{chart.id}-title">{escape(chart.title)}</title>'
            f'<desc id="{chart.id}-desc">{escape(chart.desc)}</desc>')


def _legend(chart: Chart, fills: list[str], y: int) -> tuple[str, int]:
    """Swatches and labels, wrapped onto as many lines as the width needs."""
    if len(chart.series) < 2:
        return "", y
    out, x = [], 0
    for s, fill in zip(chart.series, fills):
        width = 22 + _text_width(s.label) + 14
        if x and x + width > WIDTH:
            x, y = 0, y + FONT + 8
        out.append(f'<rect x="{x}" y="{y}" width="14" height="14" fill="{fill}" '
                   f'stroke="#333333" stroke-width="0.5"/>'
                   f'<text x="{x + 20}" y="{y + 12}" fill="#212529">{escape(s.label)}</text>')
        x += width
    return "".join(out), y + FONT + 10


def _text_width(text: str) -> int:
    # Wide (CJK) characters take a full em, others about half of one.
    return sum(FONT if ord(c) > 0x2E80 else FONT * 0.55 for c in text).__int__()


def _bars(chart: Chart, *, stacked: bool) -> Markup:
    defs, fills = _defs(chart)
    legend, top = _legend(chart, fills, 0)
    bar = FONT + 2  # room for the number beside each bar
    totals = [sum(s.values[i] for s in chart.series) for i in range(len(chart.categories))]
    values = totals if stacked else [v for s in chart.series for v in s.values]
    # A percentage's axis is 0–100 %: one 10 % bar is a tenth of the width, not all of it.
    peak = max(max(values, default=0), chart.axis) or 1
    label_room = _text_width(_num(peak, chart.unit)) + 8
    span = WIDTH - label_room
    body = []
    y = top
    for i, category in enumerate(chart.categories):
        body.append(f'<text x="3" y="{y + FONT}" fill="#212529">{escape(category)}</text>')
        y += FONT + 6
        if stacked:
            x = 0.0
            parts = []
            for s, fill in zip(chart.series, fills):
                w = s.values[i] / peak * span
                if w > 0:
                    parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" '
                                 f'fill="{fill}"><title>{escape(s.label)}: '
                                 f'{_num(s.values[i], chart.unit)}</title></rect>')
                x += w
            body.extend(parts)
            body.append(f'<text x="{x + 4:.1f}" y="{y + bar - 3}" fill="#212529" '
                        f'font-weight="bold">{_num(totals[i], chart.unit)}</text>')
            y += bar
        else:
            for s, fill in zip(chart.series, fills):
                w = s.values[i] / peak * span
                body.append(f'<rect x="0" y="{y}" width="{max(w, 0):.1f}" height="{bar}" '
                            f'fill="{fill}"><title>{escape(s.label)}: '
                            f'{_num(s.values[i], chart.unit)}</title></rect>'
                            f'<text x="{w + 4:.1f}" y="{y + bar - 2}" fill="#212529">'
                            f'{_num(s.values[i], chart.unit)}</text>')
                y += bar
        y += 10
    body.append(f'<line x1="0.5" y1="{top}" x2="0.5" y2="{y - 10}" stroke="#6c757d"/>')
    return Markup(_open(chart, y) + defs + legend + "".join(body) + "</svg>")


def _line(chart: Chart) -> Markup:
    defs, fills = _defs(chart)
    legend, top = _legend(chart, fills, 0)
    plot_top, plot_h = top + FONT + 6, 160  # room for a number above the highest point
    bottom = plot_top + plot_h
    n = len(chart.categories)
    peak = max((v for s in chart.series for v in s.values), default=0) or 1
    left, right = 4, WIDTH - 4
    step = (right - left) / max(n - 1, 1)
    xs = [left + i * step if n > 1 else WIDTH / 2 for i in range(n)]
    out = [f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#6c757d"/>']
    dashes = ("", ' stroke-dasharray="6 3"', ' stroke-dasharray="2 3"')
    placed: list[tuple[float, float, float, float]] = []  # the value labels' boxes so far
    labels: list[str] = []
    for k, (s, fill) in enumerate(zip(chart.series, fills)):
        colour = COLOURS[k % len(COLOURS)]
        points = [(xs[i], bottom - v / peak * plot_h) for i, v in enumerate(s.values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"'
                   f'{dashes[k % len(dashes)]}/>')
        for (x, y), v in zip(points, s.values):
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}" '
                       f'stroke="#ffffff"><title>{escape(s.label)}: '
                       f'{_num(v, chart.unit)}</title></circle>')
            label = _value_label(x, y, _num(v, chart.unit), placed, top, bottom)
            if label:
                labels.append(label)
    out.extend(labels)  # over every line, so no line crosses a number
    # Category labels below the axis: every one when few, else a sparse selection — the
    # last always, and none where it would touch its neighbour.
    every = max(1, -(-n // 6))
    spans: list[tuple[float, float]] = []
    for i in sorted({*range(0, n, every), n - 1}, key=lambda i: (i != n - 1, i)):
        width = _text_width(chart.categories[i]) * (FONT - 1) / FONT
        anchor = "end" if i == n - 1 and n > 1 else ("start" if i == 0 else "middle")
        start = xs[i] - width if anchor == "end" else (
            xs[i] if anchor == "start" else xs[i] - width / 2)
        if any(start < b + 6 and a < start + width + 6 for a, b in spans):
            continue
        spans.append((start, start + width))
        out.append(f'<text x="{xs[i]:.1f}" y="{bottom + FONT + 4}" text-anchor="{anchor}" '
                   f'fill="#212529" font-size="{FONT - 1}">{escape(chart.categories[i])}'
                   f'</text>')
    height = bottom + FONT + 10
    return Markup(_open(chart, height) + defs + legend + "".join(out) + "</svg>")


def _value_label(x: float, y: float, text: str, placed: list, top: float, bottom: float
                 ) -> str:
    """A point's number above it, else below it, where it overlaps no number written
    before; nothing where both would (many months, or lines on the same values) — the
    point's own <title> and the table under the chart still give it."""
    size = FONT - 2
    width = _text_width(text) * size / FONT
    anchor = "end" if x > WIDTH - 20 else ("start" if x < 20 else "middle")
    left = x - width if anchor == "end" else (x if anchor == "start" else x - width / 2)
    for baseline in (y - 7, y + 7 + size):
        box = (left - 1, baseline - size, left + width + 1, baseline + 2)
        if box[1] < top or box[3] > bottom + 2:
            continue  # into the legend or under the axis
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
               for b in placed):
            continue
        placed.append(box)
        return (f'<text x="{x:.1f}" y="{baseline:.1f}" text-anchor="{anchor}" '
                f'fill="#212529" font-size="{size}">{text}</text>')
    return ""


def table_rows(chart: Chart) -> list[tuple[str, list[str]]]:
    """The chart's numbers as table rows: (category, [value per series])."""
    return [(c, [_num(s.values[i], chart.unit) for s in chart.series])
            for i, c in enumerate(chart.categories)]


def bar(title: str, desc: str, categories: Sequence[str], series: list[Series], *,
        stacked: bool = False, unit: str = "", axis: float = 0, zero: str = "") -> Chart:
    return Chart(title, desc, list(categories), series, "stacked" if stacked else "bar", unit,
                 axis, zero)


def line(title: str, desc: str, categories: Sequence[str], series: list[Series], *,
         unit: str = "") -> Chart:
    return Chart(title, desc, list(categories), series, "line", unit)
