"""A server-side SVG diagram of a definition, with the current step(s) highlighted.

Layered top to bottom by distance from the first step; ends share the bottom row.
Forward transitions are straight arrows; transitions back up (returns, timeouts to an
earlier step, re-opening) are dashed curves on the right.  Pure Python, no scripts,
every text XML-escaped.
"""
from __future__ import annotations

from typing import Iterable
from xml.sax.saxutils import escape

from workflows.graph import edges, layers
from workflows.kinds import StepKind, kind_of
from workflows.spec import ProcessSpec, status_label

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 168, 52, 36, 76, 24
LANE, LABEL_ROOM = 12, 70  # spacing of side lanes; room for their labels
FONT = "system-ui, -apple-system, 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif"

# Outcomes that read the same whichever kind of step has them; a kind's own
# ``outcome_labels`` come first (see outcome_label).
OUTCOME_LABELS = {
    "approve": ("通过", "Approved"), "reject": ("驳回", "Rejected"), "done": ("", ""),
    "granted": ("获得名额", "Place granted"), "refused": ("名额已满", "No place"),
    "timeout": ("超时", "Timed out"), "default": ("其他情况", "Otherwise"),
}
END_COLOURS = {"completed": "#2e7d32", "approved": "#2e7d32", "rejected": "#c62828",
               "withdrawn": "#757575", "cancelled": "#757575", "expired": "#ef6c00"}


def _attr(text: str) -> str:
    return escape(str(text), {'"': "&quot;", "'": "&#39;"})


def _text_width(text: str, size: float) -> float:
    return sum(size if ord(ch) > 0x2E80 else size * 0.55 for ch in text)


def _fit(text: str, size: float, width: float) -> str:
    if _text_width(text, size) <= width:
        return text
    while text and _text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def outcome_label(kind: StepKind, label: str, locale: str) -> str:
    """How the way out ``label`` of a step of ``kind`` reads on a diagram in ``locale``."""
    en = str(locale).startswith("en")
    if label.startswith("return:"):
        return "Returned" if en else "退回"
    words = kind.outcome_labels.get(label) or OUTCOME_LABELS.get(label)
    if words is not None:
        return words[en]
    return label.strip()


def _layout(spec: ProcessSpec):
    """Where everything goes: the links (all, long ones down the left, those back up on
    the right), the box column's left edge and width, the size, each node's corner."""
    rows = layers(spec)
    row_of = {node: depth for depth, row in enumerate(rows) for node in row}
    links = [(step.id, label, target) for step in spec.steps
             for label, target in edges(spec, step) if step.id in row_of and target in row_of]
    long_links = [l for l in links if row_of[l[2]] - row_of[l[0]] > 1]
    back_links = [l for l in links if row_of[l[2]] < row_of[l[0]]]
    left_pad = LANE * len(long_links) + (LABEL_ROOM if long_links else 0)
    right_pad = LANE * len(back_links) + (LABEL_ROOM if back_links else 0)
    inner = max(len(r) for r in rows) * (BOX_W + GAP_X) - GAP_X
    width = inner + 2 * MARGIN + left_pad + right_pad
    height = len(rows) * (BOX_H + GAP_Y) - GAP_Y + 2 * MARGIN + 40
    pos: dict[str, tuple[float, float]] = {}
    for depth, row in enumerate(rows):
        row_w = len(row) * (BOX_W + GAP_X) - GAP_X
        left = MARGIN + left_pad + (inner - row_w) / 2
        for index, node in enumerate(row):
            pos[node] = (left + index * (BOX_W + GAP_X), MARGIN + 40 + depth * (BOX_H + GAP_Y))
    return links, long_links, back_links, MARGIN + left_pad, inner, width, height, pos


def focus(spec: ProcessSpec, current: Iterable[str]) -> float | None:
    """Where across the diagram (0 = left edge, 1 = right) the first current step's box
    is centred: a phone showing the diagram at its natural size scrolls there."""
    *_rest, width, _height, pos = _layout(spec)
    for node in current:
        if node in pos:
            return round((pos[node][0] + BOX_W / 2) / width, 3)
    return None


def render_svg(spec: ProcessSpec, current: Iterable[str] = (), locale: str = "zh") -> str:
    """The diagram as an SVG document string; ids in ``current`` are highlighted."""
    highlight = set(current)
    links, long_links, back_links, box_left, inner, width, height, pos = _layout(spec)
    box_right = box_left + inner
    title = spec.label(locale)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{_attr(title)}" '
           f'font-family="{_attr(FONT)}">',
           f"<title>{escape(title)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
           'fill="#546e7a"/></marker></defs>']
    out += _start_marker(spec, pos, locale)
    for source, label, target in links:
        kind = kind_of(spec.step(source))
        text = (kind.target_label(spec.step(source), label, locale)
                or outcome_label(kind, label, locale))
        if (source, label, target) in long_links:
            index = long_links.index((source, label, target))
            lane = box_left - LANE * (index + 1)
            # Several long links may leave one box: stack their labels.
            stack = sum(1 for other in long_links[:index] if other[0] == source)
            out += _lane_edge(pos[source], pos[target], text, lane, side="left", stack=stack)
        elif (source, label, target) in back_links:
            lane = box_right + LANE * (back_links.index((source, label, target)) + 1)
            out += _lane_edge(pos[source], pos[target], text, lane, side="right")
        else:
            out += _edge(pos[source], pos[target], text)
    for step in spec.steps:
        if step.id in pos:
            kind = kind_of(step)
            out += _box(pos[step.id], step.label(locale),
                        kind.label_en if str(locale).startswith("en") else kind.label,
                        step.id in highlight, rounded=6, colour="#1565c0")
    for end in spec.ends:
        if end.id in pos:
            out += _box(pos[end.id], end.label(locale), status_label(end.status, locale),
                        end.id in highlight, rounded=BOX_H / 2,
                        colour=END_COLOURS.get(end.status, "#455a64"))
    out.append("</svg>")
    return "\n".join(out)


def _start_marker(spec: ProcessSpec, pos: dict, locale: str) -> list[str]:
    if spec.start.first not in pos:
        return []
    x, y = pos[spec.start.first]
    cx = x + BOX_W / 2
    label = "start" if str(locale).startswith("en") else "发起"
    return [f'<circle cx="{cx:.1f}" cy="{MARGIN + 6}" r="6" fill="#546e7a"/>',
            f'<line x1="{cx:.1f}" y1="{MARGIN + 12}" x2="{cx:.1f}" y2="{y - 2:.1f}" '
            'stroke="#546e7a" stroke-width="1.5" marker-end="url(#arrow)"/>',
            f'<text x="{cx + 10:.1f}" y="{MARGIN + 10}" font-size="12" fill="#546e7a">'
            f"{escape(label)}</text>"]


def _label(x: float, y: float, label: str, anchor: str = "start") -> list[str]:
    if not label:
        return []
    return [f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" fill="#37474f" '
            f'text-anchor="{anchor}"><title>{escape(label)}</title>'
            f"{escape(_fit(label, 11, LABEL_ROOM + 40))}</text>"]


def _edge(src: tuple[float, float], dst: tuple[float, float], label: str) -> list[str]:
    """A straight arrow to the next row down, or sideways within a row."""
    (sx, sy), (dx, dy) = src, dst
    if dy > sy:
        x1, y1, x2, y2 = sx + BOX_W / 2, sy + BOX_H, dx + BOX_W / 2, dy
    elif dx > sx:
        x1, y1, x2, y2 = sx + BOX_W, sy + BOX_H / 2, dx, dy + BOX_H / 2
    else:
        x1, y1, x2, y2 = sx, sy + BOX_H / 2, dx + BOX_W, dy + BOX_H / 2
    line = (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            'stroke="#546e7a" stroke-width="1.5" marker-end="url(#arrow)"/>')
    if dy == sy:
        return [line] + _label((x1 + x2) / 2, y1 - 5, label, anchor="middle")
    return [line] + _label((x1 + x2) / 2 + 5, (y1 + y2) / 2, label)


def _lane_edge(src: tuple[float, float], dst: tuple[float, float], label: str, lane: float,
               *, side: str, stack: int = 0) -> list[str]:
    """An arrow routed along a vertical lane beside the boxes (long or backward links)."""
    (sx, sy), (dx, dy) = src, dst
    if side == "left":
        # Drop out of the bottom of the box first, so the line never crosses a
        # neighbour in the same row, then run down the lane beside everything.
        stub = sx + BOX_W / 2 - 24 - 16 * stack
        below = sy + BOX_H + 16 + 10 * stack
        turn = dy - GAP_Y / 3
        points = [(stub, sy + BOX_H), (stub, below), (lane, below), (lane, turn),
                  (dx + BOX_W / 2 - 20, turn), (dx + BOX_W / 2 - 20, dy)]
        style = 'stroke="#546e7a" stroke-width="1.3"'
        label_at = _label(stub - 4, below + 12, label, anchor="end")
    else:
        x1, y1 = sx + BOX_W, sy + BOX_H / 2 + 8
        points = [(x1, y1), (lane, y1), (lane, dy + BOX_H / 2 - 8), (dx + BOX_W, dy + BOX_H / 2 - 8)]
        style = 'stroke="#90a4ae" stroke-width="1.3" stroke-dasharray="5 4"'
        label_at = _label(lane + 4, (y1 + dy + BOX_H / 2) / 2, label)
    d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))
    return [f'<path d="{d}" fill="none" {style} marker-end="url(#arrow)"/>'] + label_at


def _box(at: tuple[float, float], name: str, caption: str, current: bool, *,
         rounded: float, colour: str) -> list[str]:
    x, y = at
    stroke, stroke_w = ("#ff6f00", 3.5) if current else (colour, 1.5)
    fill = "#fff8e1" if current else "#ffffff"
    css = ' class="current"' if current else ""
    return [f'<g{css}><title>{escape(name)}</title>',
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="{rounded:.1f}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{stroke_w}"/>',
            f'<text x="{x + BOX_W / 2:.1f}" y="{y + 22:.1f}" font-size="14" text-anchor="middle" '
            f'fill="#212121">{escape(_fit(name, 14, BOX_W - 12))}</text>',
            f'<text x="{x + BOX_W / 2:.1f}" y="{y + 40:.1f}" font-size="11" text-anchor="middle" '
            f'fill="{colour}">{escape(_fit(caption, 11, BOX_W - 12))}</text>', "</g>"]
