"""The vocabulary of the organisation tree and of roles, shared by engine and web layer."""
from __future__ import annotations

from typing import NamedTuple


class Term(NamedTuple):
    key: str
    zh: str
    en: str


# Levels of the union organisation tree, top to bottom.  A station or party branch hangs
# below a street / enterprise union (or directly below a district).
UNIT_KINDS: tuple[Term, ...] = (
    Term("federation", "总工会", "Federation"),
    Term("city", "市总工会", "City federation"),
    Term("district", "区县总工会", "District federation"),
    Term("street", "街道工会", "Street union"),
    Term("enterprise", "企业工会", "Enterprise union"),
    Term("branch", "党支部", "Party branch"),
    Term("station", "工会驿站", "Rest station"),
)
UNIT_KIND_KEYS: frozenset[str] = frozenset(t.key for t in UNIT_KINDS)

ROLES: tuple[Term, ...] = (
    Term("worker", "职工", "Worker"),
    Term("volunteer", "志愿者（党员）", "Volunteer (party member)"),
    Term("branch_secretary", "支部书记", "Branch secretary"),
    Term("station_head", "站长", "Station head"),
    Term("unit_admin", "基层工会管理员", "Unit administrator"),
    Term("district_admin", "区县工会管理员", "District administrator"),
    Term("city_admin", "市总工会管理员", "City administrator"),
    Term("platform_admin", "平台管理员", "Platform administrator"),
    Term("supervisor", "监督（只读）", "Supervisor (read-only)"),
)
ROLE_KEYS: frozenset[str] = frozenset(t.key for t in ROLES)

# Roles that administer a part of the tree, and may see and act on what is inside it.
STAFF_ROLES: frozenset[str] = frozenset(
    {"branch_secretary", "station_head", "unit_admin", "district_admin", "city_admin",
     "platform_admin", "supervisor"}
)


def term(terms: tuple[Term, ...], key: str, locale: str = "zh") -> str:
    """The label of ``key`` in ``locale`` ("zh" or "en"); the key itself if unknown."""
    for t in terms:
        if t.key == key:
            return t.en if locale.startswith("en") else t.zh
    return key


# Which kinds of unit may hang directly below which (None: the top of the tree).  The
# web layer enforces it when units are created; the engine uses it to tell whether an
# approver rule could ever match anybody.
UNIT_CHILDREN: dict[str | None, frozenset[str]] = {
    None: frozenset({"federation", "city"}),
    "federation": frozenset({"city"}),
    "city": frozenset({"district", "enterprise"}),
    "district": frozenset({"street", "enterprise", "branch", "station"}),
    "street": frozenset({"enterprise", "branch", "station"}),
    "enterprise": frozenset({"branch", "station"}),
    "branch": frozenset(),
    "station": frozenset(),
}

# The kinds of unit at which each role is normally held.
ROLE_UNIT_KINDS: dict[str, frozenset[str]] = {
    "worker": UNIT_KIND_KEYS,
    "volunteer": frozenset({"district", "street", "enterprise", "branch", "station"}),
    "branch_secretary": frozenset({"branch"}),
    "station_head": frozenset({"station"}),
    "unit_admin": frozenset({"street", "enterprise", "branch", "station"}),
    "district_admin": frozenset({"district"}),
    "city_admin": frozenset({"city"}),
    "platform_admin": frozenset({"federation", "city"}),
    "supervisor": frozenset({"federation", "city", "district"}),
}


def kinds_below(kind: str) -> frozenset[str]:
    """Every kind that can lie (at any depth) below a unit of ``kind``."""
    found: set[str] = set()
    todo = list(UNIT_CHILDREN.get(kind, ()))
    while todo:
        child = todo.pop()
        if child not in found:
            found.add(child)
            todo.extend(UNIT_CHILDREN.get(child, ()))
    return frozenset(found)


def kinds_above(kind: str) -> frozenset[str]:
    """Every kind that can lie (at any depth) above a unit of ``kind``."""
    return frozenset(k for k in UNIT_KIND_KEYS if kind in kinds_below(k))
