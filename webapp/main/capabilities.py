"""What each role can do, as cards on the home page.

A card names the page it leads to; cards whose page is not part of this installation,
or would refuse the person, are left out, so the home page never offers a dead link.
"""
from __future__ import annotations

from typing import NamedTuple

from flask_babel import lazy_gettext as _l

from webapp.auth.login import may_open


class Capability(NamedTuple):
    endpoint: str
    title: object
    description: object
    roles: frozenset[str]
    # What a supervisor (纪检监督, read-only everywhere) finds there instead.
    read_only: object = None


ADMIN_ROLES = frozenset({"unit_admin", "district_admin", "city_admin", "platform_admin",
                         "supervisor"})
EVERYONE = frozenset({"worker", "volunteer", "branch_secretary", "station_head", "unit_admin",
                      "district_admin", "city_admin", "platform_admin", "supervisor"})

CAPABILITIES: tuple[Capability, ...] = (
    Capability("processes.index", _l("办事"),
               _l("提交微心愿、反映诉求、报名培训、报名当一日站长等。"), EVERYONE),
    Capability("stations.index", _l("找驿站"), _l("按区县、停车、充电等服务查找附近的工会驿站。"), EVERYONE),
    Capability("stations.wall", _l("心愿墙"), _l("看看大家的微心愿，志愿者可以在这里认领。"), EVERYONE),
    Capability("training.open_courses", _l("技能培训"),
               _l("正在报名的培训课程：时间、地点、课表和报名对象，看好了再报名。"),
               frozenset({"worker", "volunteer", "branch_secretary", "station_head"})),
    Capability("processes.notices", _l("公示栏"),
               _l("正在公示的推荐名单等事项，有异议可以实名提出。"), EVERYONE),
    Capability("processes.mine", _l("我的申请"), _l("查看您提交的事项、进度和处理记录。"), EVERYONE),
    Capability("tasks.inbox", _l("待办与认领"),
               _l("处理交给您的事项，认领心愿墙等待认领的事项。"), EVERYONE),
    Capability("admin.instances", _l("事项查询"),
               _l("按流程、状态、时间查询您负责范围内的全部事项。"), ADMIN_ROLES),
    Capability("admin.unassigned", _l("待指派任务"),
               _l("没有人可以办理的任务（缺少相应角色或需申请人回避），以及已超时、上级无人可接收督办的任务：指派给符合条件的人员。"),
               frozenset({"unit_admin", "district_admin", "city_admin", "platform_admin"})),
    Capability("admin.units", _l("组织架构"),
               _l("您负责范围内的各级工会、党支部和驿站：新建、改名、停用。"), ADMIN_ROLES,
               _l("查看各级工会、党支部和驿站（只读）。")),
    Capability("admin.users", _l("人员与角色"),
               _l("您负责范围内的人员及其角色：新建、修改、停用账号，重置密码，批量导入。"),
               ADMIN_ROLES, _l("查看人员及其角色（只读）。")),
    Capability("retreat.index", _l("疗休养名额"),
               _l("查看各级疗休养名额的下拨和使用，向下级下拨、退回未用名额。"), ADMIN_ROLES,
               _l("查看各级疗休养名额的下拨和使用（只读）。")),
    Capability("reports.index", _l("统计报表"),
               _l("各流程、环节用时、微心愿、培训、疗休养名额等统计图表，可导出 CSV 和 Excel。"),
               ADMIN_ROLES),
    Capability("reports.five_ones_index", _l("“五个一”进度"),
               _l("各党支部本年度一日站长“五个一”完成情况。"),
               frozenset({"branch_secretary", "unit_admin", "district_admin", "city_admin",
                          "platform_admin", "supervisor"})),
    Capability("reports.demands", _l("职工诉求办理情况"),
               _l("各区县未办结的职工诉求，按类别和等待时间统计，超期一目了然。"),
               frozenset({"district_admin", "city_admin", "platform_admin", "supervisor"})),
    Capability("admin.import_stations", _l("导入驿站"),
               _l("上传 CSV 或 XLSX 文件批量新增或更新工会驿站，逐行报告结果。"),
               frozenset({"platform_admin", "city_admin"})),
    Capability("training.courses", _l("培训出勤"),
               _l("登记培训课程每次课的出勤，课程结束后判定结业。"),
               frozenset({"unit_admin", "district_admin", "city_admin", "platform_admin"})),
    Capability("definitions.index", _l("流程定义"),
               _l("查看各流程的版本和进行中的事项，在线编辑、检查、发布新版本，新建或停用流程。"),
               frozenset({"platform_admin"})),
    Capability("admin.deliveries", _l("消息投递"), _l("查看发送失败的邮件和机器人消息，并重新发送。"),
               frozenset({"platform_admin", "city_admin"})),
    Capability("admin.calendar", _l("工作日历"),
               _l("登记法定节假日和调休上班日，按工作日计算的期限据此顺延。"),
               frozenset({"platform_admin", "city_admin"})),
    Capability("admin.audit", _l("审计日志"),
               _l("谁在什么时候改了什么：每项操作的前后内容，只增不改、防篡改。"),
               frozenset({"district_admin", "city_admin", "platform_admin", "supervisor"})),
    Capability("main.account", _l("我的账户"),
               _l("查看您的身份与所属单位，切换界面语言。"), EVERYONE),
)


def capabilities_for(user) -> list[Capability]:
    """The cards for ``user``: meant for one of their roles, and a page that would open
    for them (the view's own check, ``may_open``), never one ending in 403."""
    cards = []
    for c in CAPABILITIES:
        held = c.roles & user.roles
        if held and may_open(c.endpoint, user):
            # Only the supervisor's role opens it: it is there to read.
            cards.append(c._replace(description=c.read_only) if c.read_only is not None
                         and held == {"supervisor"} else c)
    return cards
