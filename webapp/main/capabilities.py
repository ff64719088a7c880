"""What each role can do, as cards on the home page.

A card names the page it leads to; cards whose page is not part of this installation
are left out, so the home page never offers a dead link.
"""
from __future__ import annotations

from typing import NamedTuple

from flask import current_app
from flask_babel import lazy_gettext as _l


class Capability(NamedTuple):
    endpoint: str
    title: object
    description: object
    roles: frozenset[str]


ADMIN_ROLES = frozenset({"unit_admin", "district_admin", "city_admin", "platform_admin",
                         "supervisor"})
EVERYONE = frozenset({"worker", "volunteer", "branch_secretary", "station_head", "unit_admin",
                      "district_admin", "city_admin", "platform_admin", "supervisor"})

CAPABILITIES: tuple[Capability, ...] = (
    Capability("admin.units", _l("组织架构"),
               _l("查看您负责范围内的各级工会、党支部和驿站。"), ADMIN_ROLES),
    Capability("admin.users", _l("人员与角色"),
               _l("查看您负责范围内的人员及其在各单位的角色。"), ADMIN_ROLES),
    Capability("main.account", _l("我的账户"),
               _l("查看您的身份与所属单位，切换界面语言。"), EVERYONE),
)


def capabilities_for(roles: set[str]) -> list[Capability]:
    available = current_app.view_functions
    return [c for c in CAPABILITIES if c.roles & roles and c.endpoint in available]
