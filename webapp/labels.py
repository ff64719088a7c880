"""Words for engine actions and statuses, through the translation catalogue."""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

ACTION_LABELS = {
    "submit": _l("提交申请"), "approve": _l("通过"), "reject": _l("驳回"),
    "return": _l("退回修改"), "resubmit": _l("重新提交"), "complete": _l("提交"),
    "withdraw": _l("撤回"), "cancel": _l("取消"), "call_off": _l("驿站取消"),
    "delegate": _l("转办"),
    "reassign": _l("改派"), "urge": _l("催办"), "claim": _l("认领"), "unclaim": _l("放弃认领"),
    "comment": _l("留言"), "object": _l("提出异议"), "fire": _l("到期处理"),
    "promote": _l("候补转正"), "enter": _l("进入环节"), "route": _l("自动分流"),
    "end": _l("办结"), "remind": _l("提醒"), "escalate": _l("督办升级"),
    "timeout": _l("超时流转"), "timer_passed": _l("等待期满"), "retime": _l("日期调整"), "reserve": _l("占用名额"),
    "released": _l("释放名额"), "claim_released": _l("认领已释放"),
    "claim_promoted": _l("候补认领成功"), "claim_waitlisted": _l("进入认领候补"),
    "unassigned": _l("无人可处理，待管理员指派"),
    "recuse": _l("回避：申请人本人，由其他人处理"),
    "recuse_escalate": _l("回避：申请人本人，转由上级处理"),
    "recuse_starter": _l("回避：代为申请的人，由其他人处理"),
    "recuse_starter_escalate": _l("回避：代为申请的人，转由上级处理"),
    "no_timeout": _l("未填写日期，不设期限"),
    "correct": _l("更正结果"),
}

# Lines the engine writes by itself while someone acts (a step entered, a branch taken,
# a place taken, the end reached): the timeline shows them as the system's, not as the
# doing of the person whose action set them off (their own line is just before).
AUTOMATIC_ACTIONS = frozenset({"enter", "route", "end", "reserve", "released", "unassigned",
                               "recuse", "recuse_escalate", "recuse_starter",
                               "recuse_starter_escalate", "claim_promoted",
                               "claim_released", "timer_passed", "no_timeout"})

# The decisions a definition may word itself (an approval step's ``action_labels``).
DEFINED_DECISIONS = frozenset({"approve", "reject", "return"})

STATUS_STYLES = {"running": "primary", "returned": "warning", "waitlisted": "info",
                 "completed": "success", "approved": "success", "rejected": "danger",
                 "withdrawn": "secondary", "cancelled": "secondary", "expired": "dark"}

STATUS_LABELS = {
    "running": _l("办理中"), "returned": _l("待修改"), "waitlisted": _l("候补中"),
    "completed": _l("已办结"), "approved": _l("已通过"), "rejected": _l("未通过"),
    "withdrawn": _l("已撤回"), "cancelled": _l("已取消"), "expired": _l("已过期"),
}


# A place asked for (``reserve``) has three outcomes the history must not confuse: one
# who got on the waiting list did not take a place.
RESERVE_RESULTS = {"granted": _l("占用名额"), "waitlisted": _l("名额已满，进入候补"),
                   "refused": _l("名额已满，未能报名")}
# An escalation that found nobody at the level above (no such role there) brought no one
# in: its line must not read as if someone had been.
ESCALATED_TO_NOBODY = _l("督办升级未送达：上级无人可接收")
# A request someone started for its applicant (``start.on_behalf``): the line is theirs.
SUBMITTED_ON_BEHALF = _l("代申请人提交")
# A timer whose date was left empty did not wait: not the same as a date that passed.
TIMER_WITHOUT_DATE = _l("未填写日期，不等待")


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def decision_label(spec, step_id: str | None, action: str) -> str:
    """What ``action`` at step ``step_id`` is called: the words the definition gives the
    step's decisions (an approval's ``action_labels``: 异议成立，取消推荐 rather than 驳回),
    else the usual ones."""
    step = spec.step(step_id) if spec is not None and step_id else None
    words = getattr(getattr(step, "config", None), "action_label", None)
    named = words(action, str(get_locale() or "")) if words is not None else None
    return named or action_label(action)


def history_label(action: str, details: Mapping | None,
                  words: dict[str, str] | None = None, spec=None, step: str | None = None
                  ) -> str:
    """The words for one line of a request's history: its action, told apart by its
    result where that matters (a place granted, or only a spot on the waiting list).
    ``words``: ``history_words()``, asked once for a whole history.  With the request's
    ``spec`` and the line's ``step``, a decision the definition words its own way
    (``action_labels``) reads as its button did."""
    if spec is not None and step and action in DEFINED_DECISIONS:
        return decision_label(spec, step, action)
    words = words if words is not None else history_words()
    if action == "escalate" and not (details or {}).get("to"):
        return words["escalate:nobody"]
    if action == "submit" and (details or {}).get("on_behalf_of"):
        return words["submit:on_behalf"]
    if action == "timer_passed" and (details or {}).get("no_date"):
        return words["timer_passed:no_date"]
    if action == "reserve":
        result = (details or {}).get("result")
        if result in RESERVE_RESULTS:
            return words["reserve:" + result]
    return words.get(action, action)


def history_words() -> dict[str, str]:
    """Every history word in the request's language."""
    return _history_words(str(get_locale() or ""))


@lru_cache(maxsize=8)
def _history_words(locale: str) -> dict[str, str]:
    """Every history word in ``locale`` (the request's), translated once per process: an
    API answer words each line of the history, and each lazy string would look up the
    catalogue again."""
    words = {key: str(label) for key, label in ACTION_LABELS.items()}
    words.update({"reserve:" + key: str(label) for key, label in RESERVE_RESULTS.items()})
    words["escalate:nobody"] = str(ESCALATED_TO_NOBODY)
    words["timer_passed:no_date"] = str(TIMER_WITHOUT_DATE)
    words["submit:on_behalf"] = str(SUBMITTED_ON_BEHALF)
    return words


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def process_name(process) -> str:
    """A process's name (a definition, a spec) in the request's language: its ``name_en``
    for a reader using English, where the definition gives one."""
    english = str(get_locale() or "").startswith("en")
    return (process.name_en if english and process.name_en else process.name) or ""


def init_app(app) -> None:
    app.jinja_env.globals.update(action_label=action_label, status_label=status_label,
                                 decision_label=decision_label,
                                 history_label=history_label, process_name=process_name,
                                 STATUS_STYLES=STATUS_STYLES)
