"""The shape of a definition: which steps lead where, what is reachable."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflows.spec import ProcessSpec, StepSpec


def edges(spec: ProcessSpec, step: StepSpec, *, include_returns: bool = True
          ) -> list[tuple[str, str]]:
    """(label, target) of every way out of ``step``: transitions, timeout, returns."""
    from workflows.kinds import kind_of

    out = [(label, target) for label, target in kind_of(step).targets(step).items()
           if include_returns or not label.startswith("return:")]
    if step.timeout is not None:
        out.append(("timeout", step.timeout.go))
    return out


def reachable_from(spec: ProcessSpec, start: str, *, include_returns: bool = True) -> set[str]:
    """Every step or end id reachable from ``start`` (itself included)."""
    seen = {start}
    todo = [start]
    while todo:
        step = spec.step(todo.pop())
        if step is None:
            continue
        for _, target in edges(spec, step, include_returns=include_returns):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def reaches_an_end(spec: ProcessSpec) -> set[str]:
    """Every step id from which some end can be reached."""
    good = {e.id for e in spec.ends}
    changed = True
    while changed:
        changed = False
        for step in spec.steps:
            if step.id not in good and any(t in good for _, t in edges(spec, step)):
                good.add(step.id)
                changed = True
    return good


def layers(spec: ProcessSpec) -> list[list[str]]:
    """Steps and ends in top-to-bottom layers by shortest distance from the first step."""
    first = spec.start.first
    depth = {first: 0}
    order = [first]
    for node in order:
        step = spec.step(node)
        if step is None:
            continue
        for _, target in edges(spec, step, include_returns=False):
            if target not in depth and (spec.step(target) or spec.end(target)):
                depth[target] = depth[node] + 1
                order.append(target)
    ends = [e.id for e in spec.ends]
    bottom = max((depth[n] for n in order if n not in ends), default=0) + 1
    for node in [s.id for s in spec.steps] + ends:
        if node in ends:
            depth[node] = bottom  # ends share the bottom row, so they read as outcomes
        depth.setdefault(node, bottom - 1 if bottom else 0)
    rows: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for node in [s.id for s in spec.steps] + ends:
        rows[depth[node]].append(node)
    return [row for row in rows if row]
