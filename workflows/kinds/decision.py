"""``decision``: route on form data — the first branch whose condition holds, else default."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workflows.expr import Expr
from workflows.kinds.base import StepKind, StepReader
from workflows.yamlio import line_of

if TYPE_CHECKING:
    from workflows.runtime import Run
    from workflows.spec import StepSpec


@dataclass(frozen=True)
class Branch:
    when: Expr
    go: str
    label: str | None = None
    line: int | None = None
    label_en: str | None = None

    def shown(self, locale: str = "zh") -> str:
        """The branch's name on a diagram: its label in the locale (English falls back to
        the Chinese label), else its condition."""
        if str(locale).startswith("en") and self.label_en:
            return self.label_en
        return self.label or self.when.source


@dataclass(frozen=True)
class DecisionConfig:
    branches: tuple[Branch, ...]
    default: str | None


class DecisionKind(StepKind):
    name = "decision"
    label, label_en = "条件分支", "Decision"
    keys = frozenset({"branches", "default"})
    outcomes = ()
    required_outcomes = ()

    def parse(self, reader: StepReader) -> DecisionConfig:
        raw = reader.require("branches")
        branches: list[Branch] = []
        if raw is not None and (not isinstance(raw, list) or not raw):
            reader.bad("branches", "'branches' must be a list of {when: ..., go: ...}",
                       "branches（分支）应是一个列表，每项写成 {when: 条件, go: 去向}")
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            branch = self._branch(reader, item, line_of(raw, index))
            if branch is not None:
                branches.append(branch)
        default = reader.require("default")
        if default is not None and not isinstance(default, str):
            reader.bad("default", "'default' must be a step or end id",
                       "default（其他情况的去向）应是一个环节或结束的 id")
            default = None
        return DecisionConfig(tuple(branches), default)

    def _branch(self, reader: StepReader, item: object, line: int | None) -> Branch | None:
        if not isinstance(item, dict) or "when" not in item or not isinstance(item.get("go"), str):
            reader.log.add(line, f"{reader.where}: each branch needs 'when' (a condition) and "
                           "'go' (a step or end id)",
                           f"{reader.where.zh}：每个分支都要有 when（条件）和 go（环节或结束的 id）")
            return None
        for key in set(item) - {"when", "go", "label", "label_en"}:
            reader.log.add(line_of(item, key), f"{reader.where}: unknown key '{key}' in a branch",
                           f"{reader.where.zh}：分支里不认识的设置项“{key}”（可用 when、go、label、label_en）")
        when = reader.expression(item["when"], line_of(item, "when") or line, "branch 'when'",
                                 "的分支条件 when")
        if when is None:
            return None
        label, label_en = item.get("label"), item.get("label_en")
        return Branch(when, item["go"], None if label is None else str(label), line,
                      None if label_en is None else str(label_en))

    def targets(self, step: StepSpec) -> dict[str, str]:
        out: dict[str, str] = {}
        for branch in step.config.branches:
            label = branch.shown()
            while label in out:
                label += " "
            out[label] = branch.go
        if step.config.default is not None:
            out["default"] = step.config.default
        return out

    def target_label(self, step: StepSpec, label: str, locale: str) -> str | None:
        for branch in step.config.branches:
            if branch.shown() == label.rstrip(" "):
                return branch.shown(locale)
        return None

    def enter(self, run: Run, step: StepSpec) -> None:
        for branch in step.config.branches:
            if run.holds(branch.when):
                run.log("route", step=step.id, when=branch.when.source, to=branch.go)
                run.goto(branch.go)
                return
        run.log("route", step=step.id, when="default", to=step.config.default)
        run.goto(step.config.default)
