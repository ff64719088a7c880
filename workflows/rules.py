"""Rules that say who may do something: approvers, assignees, claim pools, starters.

A rule is written in a definition as one of

* ``applicant`` / ``claimer`` / ``anyone`` (anyone signed in);
* ``{role: R}`` — anyone holding R anywhere (only for who may start or object);
* ``{role: R, of: REF}`` — who holds R at the unit REF points to, or above it (a role
  covers the units below); ``exact: true`` keeps only holders at that very unit;
* ``{role: R, within: REF}`` — anyone holding R at REF or any unit below it (a pool).

REF names a unit relative to the instance: ``applicant`` (the applicant's unit),
``form.<field>`` (an org_unit / station field), ``record.<field>.<attribute>`` (a unit
id held by a record, e.g. a course's organiser), or ``{code: CODE}``; followed by any of
``.parent`` (one level up), ``.paired`` (the paired branch/station) or ``.<kind>`` (the
nearest unit of that kind at or above, e.g. ``applicant.district``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from workflows.directory import Directory, UnitId, UserId
from workflows.fields import FieldSpec
from workflows.org import (ROLE_KEYS, ROLE_UNIT_KINDS, ROLES, UNIT_KIND_KEYS, UNIT_KINDS,
                           kinds_above, kinds_below, term)
from workflows.problems import ProblemLog, Where
from workflows.yamlio import line_of

SPECIAL = ("applicant", "claimer", "anyone")
_UNIT_FIELD_TYPES = ("org_unit", "station")


@dataclass(frozen=True)
class UnitRef:
    """A path to a unit: a base (applicant, form field, record attribute, code) + steps."""

    base: str                 # "applicant" | "form" | "record" | "code"
    arg: str | None = None    # field name, or the code
    attr: str | None = None   # record attribute
    path: tuple[str, ...] = ()  # "parent", "paired" or a unit kind
    text: str = ""

    def up(self) -> UnitRef:
        return replace(self, path=self.path + ("parent",), text=f"{self.text}.parent")


@dataclass(frozen=True)
class PersonRule:
    special: str | None = None      # "applicant" | "claimer" | "anyone"
    role: str | None = None
    of: UnitRef | None = None
    within: UnitRef | None = None
    exact: bool = False
    line: int | None = field(default=None, compare=False)

    @property
    def listable(self) -> bool:
        """Whether the people can be listed (and notified) rather than only checked."""
        return self.special in ("applicant", "claimer") or self.of is not None

    def one_level_up(self) -> PersonRule | None:
        """The same role one level higher: the default escalation target."""
        if self.role is None or self.of is None:
            return None
        return replace(self, of=self.of.up(), exact=False)

    def describe(self, locale: str = "zh", fields: Mapping[str, FieldSpec] | None = None,
                 unit: str | None = None) -> str:
        """Who, in words: "责任单位（解放碑街道工会）的基层工会管理员".  ``fields`` gives the
        labels of the fields the rule reads; ``unit`` names the unit it resolved to."""
        en = str(locale).startswith("en")
        if self.special:
            return {"applicant": ("申请人", "the applicant"), "claimer": ("认领人", "the claimer"),
                    "anyone": ("任何登录用户", "anyone signed in")}[self.special][en]
        role = term(ROLES, self.role or "", locale)
        ref = self.of or self.within
        if ref is None:
            return role
        where = describe_ref(ref, locale, fields)
        if unit:
            where = f"{where} ({unit})" if en else f"{where}（{unit}）"
        if en:
            return f"{role} {'within' if self.within else 'of'} {where}"
        return f"{where}{'范围内' if self.within else ''}的{role}"


def describe_ref(ref: UnitRef, locale: str = "zh",
                 fields: Mapping[str, FieldSpec] | None = None) -> str:
    en = str(locale).startswith("en")
    spec = (fields or {}).get(ref.arg or "") if ref.base in ("form", "record") else None
    named = spec.label_in(locale) if spec is not None else ref.arg
    base = {"applicant": ("申请人单位", "the applicant's unit"),
            "form": ((named if spec else f"表单“{ref.arg}”"),
                     (named if spec else f"form field {ref.arg}")),
            "record": (f"{named}的{ref.attr}", f"{named}'s {ref.attr}"),
            "code": (f"单位 {ref.arg}", f"unit {ref.arg}")}[ref.base][en]
    for step in ref.path:
        if step == "parent":
            base = f"the level above {base}" if en else f"{base}的上级"
        elif step == "paired":
            base = f"the unit paired with {base}" if en else f"{base}的结对单位"
        else:
            kind = term(UNIT_KINDS, step, locale)
            base = f"{kind} of {base}" if en else f"{base}所在{kind}"
    return base


# ---------------------------------------------------------------------------- parsing
def parse_rule(raw: Any, log: ProblemLog, where: Where, line: int | None, *,
               fields: Mapping[str, FieldSpec], purpose: str) -> PersonRule | None:
    """Read and check a rule; ``purpose`` is "assignee", "pool" or "start"."""
    if isinstance(raw, str):
        if raw not in SPECIAL:
            log.add(line, f"{where}: unknown person {raw!r} (use applicant, claimer, anyone "
                    "or a mapping like {role: unit_admin, of: applicant})",
                    f"{where.zh}：不认识的人员“{raw}”（可写 applicant 申请人、claimer 认领人、"
                    "anyone 任何人，或 {role: unit_admin, of: applicant} 这样的规则）")
            return None
        return PersonRule(special=raw, line=line)
    if not isinstance(raw, dict):
        log.add(line, f"{where}: a rule must be applicant, claimer, anyone or a mapping "
                "like {role: unit_admin, of: applicant}",
                f"{where.zh}：人员规则应写 applicant、claimer、anyone，"
                "或 {role: unit_admin, of: applicant} 这样的设置")
        return None
    line = line_of(raw) or line
    for key in set(raw) - {"role", "of", "within", "exact"}:
        log.add(line_of(raw, key), f"{where}: unknown key '{key}' in a rule "
                "(use role, of, within, exact)",
                f"{where.zh}：人员规则里不认识的设置项“{key}”（可用 role、of、within、exact）")
    role = raw.get("role")
    if not isinstance(role, str) or role not in ROLE_KEYS:
        log.add(line_of(raw, "role") or line, f"{where}: unknown role {role!r} "
                f"(known: {', '.join(sorted(ROLE_KEYS))})",
                (f"{where.zh}缺少 role（角色）" if role is None
                 else f"{where.zh}：不认识的角色“{role}”")
                + f"（可用：{'、'.join(sorted(ROLE_KEYS))}）")
        role = None
    exact = raw.get("exact", False)
    if not isinstance(exact, bool):
        log.add(line_of(raw, "exact"), f"{where}: 'exact' must be true or false",
                f"{where.zh}：exact 应为 true 或 false")
        exact = False
    if "of" in raw and "within" in raw:
        log.add(line, f"{where}: give either 'of' or 'within', not both",
                f"{where.zh}：of 和 within 只能写其中一个")
    of = _parse_ref(raw["of"], log, where, line_of(raw, "of"), fields) if "of" in raw else None
    within = _parse_ref(raw["within"], log, where, line_of(raw, "within"), fields) \
        if "within" in raw and "of" not in raw else None
    if role is None or ("of" in raw and of is None) or ("within" in raw and within is None):
        return None
    rule = PersonRule(role=role, of=of, within=within, exact=exact, line=line)
    _check_purpose(rule, log, where, line, purpose)
    _check_possible(rule, log, where, line, fields)
    return rule


def _check_purpose(rule: PersonRule, log: ProblemLog, where: Where, line: int | None,
                   purpose: str) -> None:
    if purpose == "assignee" and rule.of is None:
        log.add(line, f"{where}: say whose {rule.role} it is, e.g. of: applicant.district "
                "(a role without 'of' would reach every holder in the city)",
                f"{where.zh}：请用 of 写明是哪个单位的{term(ROLES, rule.role or '')}，"
                "如 of: applicant.district（不写 of 会找到全市所有担任这一角色的人）")
    if purpose == "pool" and rule.of is None and rule.within is None:
        log.add(line, f"{where}: say where the pool is, e.g. within: applicant.district",
                f"{where.zh}：请写明在哪个范围内认领，如 within: applicant.district")


def parse_ref(raw: Any, log: ProblemLog, where: Where, line: int | None,
              fields: Mapping[str, FieldSpec]) -> UnitRef | None:
    """A unit target (``form.station.district``, ``applicant``, {code: X}) read and checked
    against the definition's fields; None (and a problem logged) when it is wrong."""
    return _parse_ref(raw, log, where, line, fields)


def _parse_ref(raw: Any, log: ProblemLog, where: Where, line: int | None,
               fields: Mapping[str, FieldSpec]) -> UnitRef | None:
    if isinstance(raw, dict):
        code = raw.get("code")
        if set(raw) != {"code"} or not isinstance(code, (str, int)) or isinstance(code, bool):
            log.add(line, f"{where}: a named unit is written {{code: UNIT_CODE}}",
                    f"{where.zh}：指定某个单位要写成 {{code: 单位代码}}")
            return None
        return UnitRef("code", str(code), text=f"code:{code}")
    if not isinstance(raw, str) or not raw.strip():
        log.add(line, f"{where}: unknown unit target {raw!r}",
                f"{where.zh}：不认识的单位写法“{raw}”" if raw not in (None, "")
                else f"{where.zh}：没有写明是哪个单位")
        return None
    parts = raw.strip().split(".")
    ref = _ref_base(parts, raw, log, where, line, fields)
    if ref is None:
        return None
    base_len = {"applicant": 1, "form": 2, "record": 3}[ref.base]
    if ref.base == "applicant" and len(parts) > 1 and parts[1] == "unit":
        base_len = 2
    path = tuple(parts[base_len:])
    for step in path:
        if step not in UNIT_KIND_KEYS and step not in ("parent", "paired"):
            log.add(line, f"{where}: unknown unit target {raw!r}: '{step}' is not parent, "
                    f"paired or a unit kind ({', '.join(k.key for k in UNIT_KINDS)})",
                    f"{where.zh}：单位写法“{raw}”有误：“{step}”不是 parent（上级）、"
                    f"paired（结对单位）或单位类型（{'、'.join(k.key for k in UNIT_KINDS)}）")
            return None
    return replace(ref, path=path, text=raw.strip())


def _ref_base(parts: list[str], raw: str, log: ProblemLog, where: Where, line: int | None,
              fields: Mapping[str, FieldSpec]) -> UnitRef | None:
    head = parts[0]
    if head == "applicant":
        return UnitRef("applicant")
    if head == "form" and len(parts) >= 2:
        spec = fields.get(parts[1])
        if spec is None:
            log.add(line, f"{where}: unknown unit target {raw!r}: there is no field "
                    f"'{parts[1]}'", f"{where.zh}：单位写法“{raw}”有误：没有字段“{parts[1]}”")
            return None
        if spec.type not in _UNIT_FIELD_TYPES:
            log.add(line, f"{where}: field '{parts[1]}' is of type {spec.type}; a unit "
                    "target needs an org_unit or station field",
                    f"{where.zh}：字段“{parts[1]}”是 {spec.type} 类型，"
                    "要指向单位只能用组织单位（org_unit）或驿站（station）字段")
            return None
        return UnitRef("form", parts[1])
    if head == "record" and len(parts) >= 3:
        spec = fields.get(parts[1])
        if spec is None or record_source(spec) is None:
            log.add(line, f"{where}: unknown unit target {raw!r}: '{parts[1]}' is not a "
                    "record, slot or station field",
                    f"{where.zh}：单位写法“{raw}”有误：“{parts[1]}”不是记录（record）、"
                    "值守时段（slot）或驿站（station）字段")
            return None
        return UnitRef("record", parts[1], parts[2])
    log.add(line, f"{where}: unknown unit target {raw!r} (start with applicant, "
            "form.<field>, record.<field>.<attribute> or write {code: UNIT_CODE})",
            f"{where.zh}：不认识的单位写法“{raw}”（应以 applicant、form.字段 或 "
            "record.字段.属性 开头，或写成 {code: 单位代码}）")
    return None


def ref_kinds(ref: UnitRef, fields: Mapping[str, FieldSpec]) -> frozenset[str]:
    """The kinds of unit ``ref`` can point to (all kinds when it cannot be known)."""
    kinds: frozenset[str] = UNIT_KIND_KEYS
    if ref.base == "form":
        spec = fields.get(ref.arg or "")
        if spec is not None and spec.type == "station":
            kinds = frozenset({"station"})
        elif spec is not None and spec.unit_kinds:
            kinds = frozenset(spec.unit_kinds)
    for step in ref.path:
        if step == "parent":
            kinds = frozenset(k for k in UNIT_KIND_KEYS
                              if any(c in kinds for c in _children(k)))
        elif step == "paired":
            paired = {"branch": "station", "station": "branch"}
            kinds = frozenset(paired[k] for k in kinds if k in paired)
        else:
            kinds = frozenset({step}) if step in kinds or kinds & kinds_below(step) \
                else frozenset()
    return kinds


def _children(kind: str) -> frozenset[str]:
    from workflows.org import UNIT_CHILDREN
    return UNIT_CHILDREN.get(kind, frozenset())


def _check_possible(rule: PersonRule, log: ProblemLog, where: Where, line: int | None,
                    fields: Mapping[str, FieldSpec]) -> None:
    """Report a rule that can match nobody, whatever the organisation looks like."""
    ref = rule.of or rule.within
    if ref is None or rule.role is None:
        return
    kinds = ref_kinds(ref, fields)
    if not kinds:
        log.add(line, f"{where}: '{ref.text}' can never name a unit "
                "(e.g. only branches and stations have a paired unit)",
                f"{where.zh}：“{ref.text}”永远指不到任何单位（例如只有党支部和驿站才有结对单位）")
        return
    held = ROLE_UNIT_KINDS.get(rule.role, UNIT_KIND_KEYS)
    if rule.within is not None:
        reachable = set(kinds).union(*(kinds_below(k) for k in kinds))
    elif rule.exact:
        reachable = set(kinds)
    else:
        reachable = set(kinds).union(*(kinds_above(k) for k in kinds))
    if not held & reachable:
        places = ", ".join(sorted(held))
        kinds_zh = "、".join(term(UNIT_KINDS, k) for k in sorted(kinds))
        never_zh = (f"从不在{kinds_zh}之下" if rule.within else
                    f"从不是{kinds_zh}本级或上级" if not rule.exact else f"从不是{kinds_zh}")
        log.add(line, f"{where}: nobody can match {rule.role} {'within' if rule.within else 'of'} "
                f"{ref.text}: that role is held at {places} units, which never "
                f"{'lie below' if rule.within else 'are at or above' if not rule.exact else 'are'} "
                f"a {'/'.join(sorted(kinds))}",
                f"{where.zh}：按“{ref.text}”找不到任何{term(ROLES, rule.role)}："
                f"这一角色只在{'、'.join(term(UNIT_KINDS, k) for k in sorted(held))}担任，"
                f"而这些单位{never_zh}")


# ---------------------------------------------------------------------------- runtime
@dataclass(frozen=True)
class RuleContext:
    """What rules are resolved against while an instance runs."""

    directory: Directory
    applicant: UserId
    applicant_unit: UnitId | None
    data: Mapping[str, Any]
    fields: Mapping[str, FieldSpec]
    claimers: Sequence[UserId] = ()


def resolve_unit(ref: UnitRef, ctx: RuleContext) -> UnitId | None:
    """The id of the unit ``ref`` points to for this instance, or None."""
    directory = ctx.directory
    if ref.base == "applicant":
        unit_id = ctx.applicant_unit
    elif ref.base == "form":
        unit_id = ctx.data.get(ref.arg or "")
    elif ref.base == "record":
        unit_id = record_value(ctx, ref.arg or "", ref.attr or "")
    else:
        unit = directory.unit_by_code(ref.arg or "")
        unit_id = unit.id if unit else None
    for step in ref.path:
        if unit_id is None:
            return None
        unit_id = _walk(directory, unit_id, step)
    return unit_id


def _walk(directory: Directory, unit_id: UnitId, step: str) -> UnitId | None:
    if step == "paired":
        return directory.paired_unit(unit_id)
    if step == "parent":
        unit = directory.unit(unit_id)
        return unit.parent_id if unit else None
    return next((u.id for u in directory.ancestors(unit_id) if u.kind == step), None)


def record_source(spec: FieldSpec) -> str | None:
    """Where the attributes of a field's value come from: ``record.<field>.<attribute>``."""
    if spec.type == "record":
        return spec.source
    return spec.type if spec.type in ("slot", "station") else None


def record_value(ctx: RuleContext, field_name: str, attr: str) -> Any:
    spec = ctx.fields.get(field_name)
    value = ctx.data.get(field_name)
    source = record_source(spec) if spec is not None else None
    if source is None or value is None:
        return None
    record = ctx.directory.record(source, value)
    return record.get(attr) if record else None


def resolve_people(rule: PersonRule, ctx: RuleContext) -> tuple[UserId, ...]:
    """The people a listable rule names, in a stable order (empty if none)."""
    if rule.special == "applicant":
        return (ctx.applicant,)
    if rule.special == "claimer":
        return tuple(ctx.claimers)
    if rule.of is None or rule.role is None:
        return ()
    unit_id = resolve_unit(rule.of, ctx)
    if unit_id is None:
        return ()
    people = ctx.directory.users_with_role(rule.role, unit_id, inherit=not rule.exact)
    return tuple(dict.fromkeys(people))


def is_eligible(rule: PersonRule, user: UserId, ctx: RuleContext) -> bool:
    """Whether ``user`` satisfies ``rule`` for this instance."""
    if rule.special == "anyone":
        return user is not None
    if rule.special == "applicant":
        return user == ctx.applicant
    if rule.special == "claimer":
        return user in ctx.claimers
    held = [unit for role, unit in ctx.directory.roles_of(user) if role == rule.role]
    if not held:
        return False
    if rule.of is None and rule.within is None:
        return True
    target = resolve_unit(rule.of or rule.within, ctx)  # type: ignore[arg-type]
    if target is None:
        return False
    if rule.of is not None:
        if rule.exact:
            return target in held
        return any(u.id in held for u in ctx.directory.ancestors(target))
    return any(target in {u.id for u in ctx.directory.ancestors(unit)} for unit in held)


def eligible_any(rules: Sequence[PersonRule], user: UserId, ctx: RuleContext) -> bool:
    return any(is_eligible(rule, user, ctx) for rule in rules)


def uses_applicant_unit(rule: PersonRule | None) -> bool:
    ref = None if rule is None else (rule.of or rule.within)
    return ref is not None and ref.base == "applicant"

