"""Checks shared by several step kinds and actions."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Mapping

from workflows import values
from workflows.errors import AlreadyDecided, InvalidInput, NotAllowed
from workflows.fields import FormSpec, union_today
from workflows.rules import record_source
from workflows.unit_fields import unit_errors

if TYPE_CHECKING:
    from workflows.runtime import Action, Run
    from workflows.state import Task

MAX_COMMENT = 2000


def require_assignee(run: Run, task: Task) -> None:
    if run.actor not in task.assignees:
        raise NotAllowed("这不是您的待办任务", "This task is not assigned to you")


def require_undecided(run: Run, task: Task) -> None:
    if task.decided_by(run.actor) is not None:
        raise AlreadyDecided("您已处理过此任务", "You have already decided this task")


def comment_of(action: Action, *, required: bool, what_zh: str = "意见",
               what_en: str = "a comment") -> str | None:
    """The trimmed comment; InvalidInput when it is required and missing or too long."""
    text = (action.comment or "").strip()
    if values.has_bad_characters(text):
        raise InvalidInput("内容含有无效字符", "The text contains characters that are not "
                           "allowed", code="bad_characters",
                           field_errors={"comment": [("内容含有无效字符", "Invalid characters")]})
    if required and not text:
        raise InvalidInput(f"请填写{what_zh}", f"Please give {what_en}", code="comment_required",
                           field_errors={"comment": [(f"请填写{what_zh}",
                                                      f"Please give {what_en}")]})
    if len(text) > MAX_COMMENT:
        raise InvalidInput(f"内容不能超过 {MAX_COMMENT} 字",
                           f"At most {MAX_COMMENT} characters", code="comment_too_long",
                           field_errors={"comment": [(f"内容不能超过 {MAX_COMMENT} 字",
                                                      f"At most {MAX_COMMENT} characters")]})
    return text or None


def checked_form(run: Run, form: FormSpec, data: Mapping[str, Any] | None,
                 base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Cleaned form data, or InvalidInput carrying the errors beside each field."""
    if data is not None and not isinstance(data, Mapping):
        raise InvalidInput("表单数据格式不正确", "The form data is not a mapping")
    known = values.typed(run.spec.all_forms, run.data) if base is None else base

    def records(field_name: str, attribute: str, current: Mapping[str, Any]) -> Any:
        spec = form.field(field_name) or run.spec.fields.get(field_name)
        source = record_source(spec) if spec is not None else None
        value = current.get(field_name, run.data.get(field_name))
        found = run.directory.record(source, value) if source and value is not None else None
        return found.get(attribute) if found else None

    cleaned, errors = values.clean_form(form, data or {}, known, records,
                                        today=union_today(run.now))
    if not errors:
        ctx = replace(run.rule_context(), data={**run.data, **cleaned})
        errors = unit_errors(form, cleaned, run.spec.steps, ctx)
    if errors:
        raise InvalidInput(field_errors=errors)
    # A field this answer hides (its show_if no longer holds) keeps nothing from an
    # earlier round: 未实现的原因 does not stay beside a later 已实现 (the history keeps it).
    for spec in form.fields:
        if spec.name not in cleaned and not values.is_empty(run.data.get(spec.name)):
            cleaned[spec.name] = None
    return cleaned


def check_start(run: Run) -> None:
    """The definition's ``start.checks`` on the start data (which may read records);
    InvalidInput with each failed check's message beside its field."""
    errors: dict[str, list[tuple[str, str]]] = {}
    for item in run.spec.start.checks:
        if run.holds(item.check):
            continue
        zh = _fill(item.message, run)
        en = _fill(item.message_en, run) if item.message_en is not None else zh
        errors.setdefault(item.field or "", []).append((zh, en))
    if errors:
        first = next(iter(errors.values()))[0]
        raise InvalidInput(*first, code="not_eligible", field_errors=errors)


def _fill(template, run: Run) -> str:
    """The message with its placeholders filled in; a missing value leaves a blank."""
    def value(name: str):
        found = run.lookup_name(name)
        return "-" if found is None or found == "" else found

    return template.render(value)
