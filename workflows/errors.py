"""Typed errors of the engine.

Each error carries a stable ``code`` (for the JSON API and for tests), a message in
Chinese and one in English (``err.message(locale)``), and optional structured details.
The web layer maps them to HTTP statuses with ``http_status``; nothing here is meant to
reach a user as a traceback.
"""
from __future__ import annotations

from typing import Any, Mapping


class WorkflowError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "workflow_error"
    http_status = 400
    default_zh = "操作失败"
    default_en = "The action failed"

    def __init__(self, zh: str | None = None, en: str | None = None, *,
                 code: str | None = None, details: Mapping[str, Any] | None = None):
        self.zh = zh or self.default_zh
        self.en = en or self.default_en
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(self.en)

    def message(self, locale: str = "zh") -> str:
        """The message in ``locale`` ("zh…" or "en…"); Chinese unless English is asked."""
        return self.en if str(locale).lower().startswith("en") else self.zh

    def to_dict(self, locale: str = "zh") -> dict[str, Any]:
        """A JSON-ready description for API responses."""
        out: dict[str, Any] = {"code": self.code, "message": self.message(locale)}
        if self.details:
            out["details"] = self.details
        return out


class ExpressionError(WorkflowError, ValueError):
    """A condition that does not parse or uses something the language does not allow."""

    code = "bad_expression"
    default_zh = "条件表达式有误"
    default_en = "Bad expression"

    def __init__(self, en: str, zh: str | None = None):
        super().__init__(zh or f"条件表达式有误：{en}", en)


class NotAllowed(WorkflowError):
    """The actor may not do this action here (not an assignee, wrong role, …)."""

    code = "not_allowed"
    http_status = 403
    default_zh = "您无权执行此操作"
    default_en = "You are not allowed to do this"


class NotFound(WorkflowError):
    """A task, step or person the action names does not exist."""

    code = "not_found"
    http_status = 404
    default_zh = "未找到"
    default_en = "Not found"


class Conflict(WorkflowError):
    """The instance moved on: the task is closed, the process ended, the version changed."""

    code = "conflict"
    http_status = 409
    default_zh = "该事项已被处理，请刷新后重试"
    default_en = "This has already been handled; please reload"


class AlreadyDecided(Conflict):
    """Someone (perhaps the same person) already decided this task."""

    code = "already_decided"
    default_zh = "该任务已处理"
    default_en = "This task has already been decided"


class InvalidInput(WorkflowError):
    """Form data or an action argument is missing or wrong.

    ``field_errors`` maps a field name (or "" for the whole form) to a list of
    ``(zh, en)`` messages, so the form layer can show them beside the fields.
    """

    code = "invalid_input"
    http_status = 422
    default_zh = "填写内容有误"
    default_en = "Some input is missing or wrong"

    def __init__(self, zh: str | None = None, en: str | None = None, *,
                 field_errors: Mapping[str, list[tuple[str, str]]] | None = None,
                 code: str | None = None):
        self.field_errors = {k: list(v) for k, v in (field_errors or {}).items()}
        details = {"fields": {k: [{"zh": z, "en": e} for z, e in v]
                              for k, v in self.field_errors.items()}} if field_errors else None
        super().__init__(zh, en, code=code, details=details)

    def field_messages(self, locale: str = "zh") -> dict[str, list[str]]:
        english = str(locale).lower().startswith("en")
        return {k: [e if english else z for z, e in v] for k, v in self.field_errors.items()}


class CapacityExhausted(WorkflowError):
    """No place left and no waiting list to join."""

    code = "capacity_exhausted"
    http_status = 409
    default_zh = "名额已满"
    default_en = "No places left"


class DefinitionError(WorkflowError):
    """A definition with problems was used where a valid one is required."""

    code = "bad_definition"
    http_status = 500
    default_zh = "流程定义有误"
    default_en = "The process definition has problems"


class StateError(WorkflowError):
    """Saved state that cannot be read (unknown schema version, broken data)."""

    code = "bad_state"
    http_status = 500
    default_zh = "流程数据无法读取"
    default_en = "The saved process state cannot be read"
