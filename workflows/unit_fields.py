"""Which units an ``org_unit`` field takes: its kinds, its area, and someone to act there.

A field may say ``unit_kinds`` (which kinds of unit) and ``within`` (a unit target, e.g.
``form.station.district``: only that unit and the units below it).  When a step's
approvers or assignee are named by the field (``{role: unit_admin, of:
form.responsible_unit}``), the unit must also have someone who holds that role — else
the step would open with nobody to do it.  The engine checks all three whenever the
field is filled in (``unit_errors``); the web layer lists the same units.
"""
from __future__ import annotations

from typing import Any, Mapping

from workflows.directory import UnitId
from workflows.fields import FieldSpec, FormSpec
from workflows.org import ROLES, UNIT_KINDS, kinds_below, term
from workflows.problems import ProblemLog, Where
from workflows.rules import (PersonRule, RuleContext, UnitRef, parse_ref, ref_kinds,
                             resolve_people, resolve_unit)

Message = tuple[str, str]


def area_ref(field: FieldSpec, fields: Mapping[str, FieldSpec]) -> UnitRef | None:
    """The parsed ``within`` of a field (None without one; the loader has checked it)."""
    if not field.within:
        return None
    return parse_ref(field.within, ProblemLog("<within>"), Where("", ""), None, fields)


def area_of(field: FieldSpec, ctx: RuleContext) -> tuple[bool, UnitId | None]:
    """(whether the field is limited to an area, the unit heading that area).  The unit
    is None when the target names no unit for this instance (then nothing is in it)."""
    ref = area_ref(field, ctx.fields)
    if ref is None:
        return False, None
    return True, resolve_unit(ref, ctx)


def acting_rules(steps: Any, name: str) -> tuple[PersonRule, ...]:
    """The approver / assignee rules of ``steps`` that the field ``name`` names."""
    found = []
    for step in steps:
        for key in ("approvers", "assignee"):
            rule = getattr(step.config, key, None)
            if rule is not None and rule.of is not None and rule.of.base == "form" \
                    and rule.of.arg == name and rule not in found:
                found.append(rule)
    return tuple(found)


def unit_errors(form: FormSpec, cleaned: Mapping[str, Any], steps: Any,
                ctx: RuleContext) -> dict[str, list[Message]]:
    """Field errors for the org_unit values of ``cleaned`` that the definition does not
    let be chosen; ``ctx.data`` is the instance's data with ``cleaned`` in it."""
    errors: dict[str, list[Message]] = {}
    for field in form.fields:
        value = cleaned.get(field.name)
        if field.type != "org_unit" or value is None:
            continue
        rules = acting_rules(steps, field.name)
        if not (field.within or field.unit_kinds or rules):
            continue
        message = _unit_error(field, value, rules, ctx)
        if message is not None:
            errors[field.name] = [message]
    return errors


def _unit_error(field: FieldSpec, value: Any, rules: tuple[PersonRule, ...],
                ctx: RuleContext) -> Message | None:
    directory = ctx.directory
    unit = directory.unit(value)
    if unit is None:
        return ("没有这个单位，请从列表中选择", "There is no such unit; choose one from the list")
    if field.unit_kinds and unit.kind not in field.unit_kinds:
        zh = "、".join(term(UNIT_KINDS, k, "zh") for k in field.unit_kinds)
        en = ", ".join(term(UNIT_KINDS, k, "en") for k in field.unit_kinds)
        return (f"请选择{zh}", f"Choose one of: {en}")
    limited, root = area_of(field, ctx)
    if limited and (root is None or root not in {u.id for u in directory.ancestors(value)}):
        area = directory.unit(root) if root is not None else None
        if area is None:
            return ("无法确定可选单位的范围，请联系管理员",
                    "The area to choose from is not known; ask an administrator")
        area_en = area.name_en or area.name
        return (f"请选择{area.name}范围内的单位", f"Choose a unit within {area_en}")
    for rule in rules:
        if not resolve_people(rule, ctx):
            zh, en = term(ROLES, rule.role or "", "zh"), term(ROLES, rule.role or "", "en")
            return (f"该单位暂无{zh}，请选择其他单位",
                    f"This unit has no {en.lower()}; choose another unit")
    return None


def check_within(field: FieldSpec, fields: Mapping[str, FieldSpec], log: ProblemLog,
                 where: Where, start_fields: frozenset[str] = frozenset()) -> None:
    """Report a ``within`` that names no unit target, whose area can never hold a unit
    of the field's ``unit_kinds``, or that would not be known when the field's list is
    drawn: ``form.X`` must be a start-form field and limit a step's field (a field of
    the same or a later form has no value yet, and the list would be empty)."""
    if not field.within:
        return
    where = where.then(f"field '{field.name}' within", f"的字段“{field.name}”的 within")
    ref = parse_ref(field.within, log, where, field.line, fields)
    if ref is None:
        return
    if ref.base == "form" and ref.arg == field.name:
        log.add(field.line, f"{where}: a field cannot be limited by its own value",
                f"{where.zh}：字段的可选范围不能取决于它自己的值")
        return
    if ref.base == "form" and (ref.arg not in start_fields or field.name in start_fields):
        log.add(field.line, f"{where}: '{ref.text}' must be a start-form field limiting a "
                "step's field — it is known then; a field filled in the same or a later "
                "form has no value when the list is drawn",
                f"{where.zh}：“{ref.text}”须是发起表单的字段，且只能用来限定环节表单里的字段——"
                "同一张或更晚的表单里的字段，在列出可选单位时还没有值")
        return
    kinds = ref_kinds(ref, fields)
    if not kinds:
        log.add(field.line, f"{where}: '{ref.text}' can never name a unit",
                f"{where.zh}：“{ref.text}”永远指不到任何单位")
        return
    area = set(kinds).union(*(kinds_below(k) for k in kinds))
    if field.unit_kinds and not area & set(field.unit_kinds):
        log.add(field.line, f"{where}: no {'/'.join(field.unit_kinds)} unit can lie within "
                f"'{ref.text}' (a {'/'.join(sorted(kinds))})",
                f"{where.zh}：“{ref.text}”（{'、'.join(term(UNIT_KINDS, k) for k in sorted(kinds))}）"
                f"范围内不会有{'、'.join(term(UNIT_KINDS, k) for k in field.unit_kinds)}")
