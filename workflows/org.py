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
