"""Default Chinese and English titles for ``Notify`` effects.

The web layer may use its own catalogue (``Notify.title_key`` is stable); these are the
defaults, filled from ``Notify.params``.
"""
from __future__ import annotations

from typing import Any, Mapping

from workflows.spec import status_label

TITLES: dict[str, tuple[str, str]] = {
    "task_assigned": ("您有一项待办：{process_name}·{step_name}",
                      "New task: {process_name_en} – {step_name_en}"),
    "reminder": ("提醒：{process_name}·{step_name} 仍待您处理",
                 "Reminder: {process_name_en} – {step_name_en} is waiting for you"),
    "escalated": ("督办：{process_name}·{step_name} 已超时，请协助处理",
                  "Escalated: {process_name_en} – {step_name_en} is overdue"),
    "escalated_watch": ("督办：{process_name}·{step_name} 已超时仍无人认领，请协调推动认领",
                        "Escalated: nobody has taken up {process_name_en} – {step_name_en}; "
                        "please help find someone who will"),
    "stalled": ("待指派：{process_name}·{step_name} 已超时，上级无人可接收，请改派办理人",
                "Needs reassigning: {process_name_en} – {step_name_en} is overdue and nobody "
                "above can take it"),
    "sent_back": ("退回重新办理：{process_name}·{step_name}（理由：{comment}）",
                  "Sent back to you: {process_name_en} – {step_name_en} (reason: {comment})"),
    "urged": ("催办：{process_name}·{step_name} 请尽快处理",
              "Pressed for: please deal with {process_name_en} – {step_name_en} soon"),
    "returned": ("您的{process_name}被退回修改：{comment}",
                 "Your {process_name_en} was returned for changes: {comment}"),
    "ended": ("您的{process_name}{status_zh}", "Your {process_name_en} is {status_en}"),
    "withdrawn": ("{process_name} 已被申请人撤回", "{process_name_en} was withdrawn"),
    "objection": ("{process_name} 公示收到异议", "An objection to {process_name_en}"),
    "publicity_started": ("您的{process_name}已进入公示", "Your {process_name_en} is now on public notice"),
    # To each objector once the objections are reviewed: the result, nothing more than
    # the notice showed (not the finding, nor who reviewed it).
    "objection_reviewed": ("您对{process_name}公示提出的异议已核查：{result_zh}",
                           "Your objection to the public notice of {process_name_en} was "
                           "reviewed: {result_en}"),
    "promoted": ("候补成功：{process_name}", "A place is yours: {process_name_en}"),
    "waitlisted": ("名额已满，您已进入候补：{process_name}",
                   "Full – you are on the waiting list: {process_name_en}"),
    "claimed": ("您的{process_name}已被认领", "Your {process_name_en} has been claimed"),
    "released": ("{process_name} 的认领已释放", "The claim on {process_name_en} was released"),
    "comment": ("{process_name} 有新留言：{comment}", "New comment on {process_name_en}: {comment}"),
    "retimed": ("您的{process_name}时间有变：{step_name}的日期已调整",
                "The dates of your {process_name_en} changed: {step_name_en} was moved"),
    # What a request is for moved (a retreat batch postponed), said to its applicant and
    # to whoever has a task on it, whether or not a timer of its followed.
    "dates_moved": ("日期调整为 {starts_on} 至 {ends_on}（原为 {old_starts_on} 至 {old_ends_on}）："
                    "{record}",
                    "Dates moved to {starts_on} – {ends_on} (was {old_starts_on} – "
                    "{old_ends_on}): {record_en}"),
    "corrected": ("您的{process_name}结果已更正：{before_name} → {end_name}（原因：{comment}）",
                  "The result of your {process_name_en} was corrected: {before_name_en} → "
                  "{end_name_en} (reason: {comment})"),
    # A request someone else started for its applicant (a unit union's nomination).
    "started_for_you": ("已有人代您提交了{process_name}，请查看并核对",
                        "A {process_name_en} was started on your behalf; please check it"),
    "step_entered": ("{process_name} 已进入：{step_name}",
                     "{process_name_en} is now at: {step_name_en}"),
}


# With a note (a task handed over "because I am away"): the title carries it.
WITH_COMMENT: dict[str, tuple[str, str]] = {
    "task_assigned": ("您有一项待办：{process_name}·{step_name}（附言：{comment}）",
                      "New task: {process_name_en} – {step_name_en} (note: {comment})"),
    "urged": ("催办：{process_name}·{step_name} 请尽快处理（附言：{comment}）",
              "Pressed for: please deal with {process_name_en} – {step_name_en} soon "
              "(note: {comment})"),
}


# How an objection review ended, as its objectors are told.
OBJECTION_RESULTS = {
    "upheld": ("异议成立，该事项已终止", "the objection was upheld and the request has ended"),
    "not_upheld": ("异议不成立，该事项继续办理", "the objection was not upheld and the request "
                   "goes ahead"),
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


# A request that reached a named end: the end's name says what happened.
ENDED_NAMED = ("您的{process_name}已结束：{end_name}", "Your {process_name_en} has ended: {end_name_en}")


# A duty the station called off (``call_off`` with what it was): which, where, by whom.
CALLED_OFF = ("驿站已取消您 {slot_when} 在 {station_name} 的值守",
              "The station called off your duty on {slot_when} at {station_name_en}")


def render_title(kind: str, params: Mapping[str, Any], locale: str = "zh") -> str:
    """The title of a notification of ``kind`` in ``locale``; missing params are blank."""
    named = kind == "ended" and params.get("end_name") and params.get("end_name") != \
        status_label(params.get("status") or "", "zh")  # "未通过" says it already
    called_off = kind == "ended" and params.get("slot_when") and params.get("station_name")
    zh, en = (WITH_COMMENT[kind] if params.get("comment") and kind in WITH_COMMENT
              else CALLED_OFF if called_off
              else ENDED_NAMED if named
              else TITLES.get(kind, ("{process_name}", "{process_name_en}")))
    values = _Blank(params)
    result = OBJECTION_RESULTS.get(params.get("result"))
    if result:
        values["result_zh"], values["result_en"] = result
    if called_off and not params.get("station_name_en"):
        values["station_name_en"] = params["station_name"]
    status = params.get("status")
    if status:
        values["status_zh"] = status_label(status, "zh")
        values["status_en"] = status_label(status, "en").lower()
    if kind == "ended" and params.get("comment"):
        # The decision that ended it said why (a rejection's reason): the applicant reads
        # it in the title, and so in the e-mail, not only far down the request's history.
        reason = status in ("rejected", "cancelled", "expired")
        zh += "（原因：{comment}）" if reason else "（附言：{comment}）"
        en += " (reason: {comment})" if reason else " (note: {comment})"
    template = en if str(locale).startswith("en") else zh
    return template.format_map(values)
