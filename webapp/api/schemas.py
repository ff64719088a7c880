"""JSON Schemas (2020-12, as OpenAPI 3.1 uses) of the API's bodies, by component name.

The views build their answers with the functions in ``webapp.api.present``; a test
validates real answers against these schemas, and schemathesis does so for every route.
"""
from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], required: tuple[str, ...] | None = None,
         extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": list(properties if required is None else required),
            "additionalProperties": extra}


def _page(item: str) -> dict[str, Any]:
    return _obj({"items": {"type": "array", "items": _ref(item)},
                 "total": {"type": "integer", "minimum": 0},
                 "page": {"type": "integer", "minimum": 1},
                 "per_page": {"type": "integer", "minimum": 1}})


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
OPT_TIME = {"type": ["string", "null"], "format": "date-time"}
OPT_STR = {"type": ["string", "null"]}
# On a waiting list: 1 is the next to get a place; null when not waiting.
POSITION = {"type": ["integer", "null"], "minimum": 1}
STATUS = {"type": "string", "enum": ["running", "approved", "rejected", "withdrawn",
                                     "cancelled", "expired", "completed"]}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _obj({"error": _obj({
        "code": STR, "message": STR,
        "fields": {"type": "object", "additionalProperties": {"type": "array", "items": STR}},
        "request_id": STR,  # on a 500: the id to quote, as in the X-Request-ID header
    }, required=("code", "message"))}),
    "TokenRequest": _obj({"username": {"type": "string", "minLength": 1, "maxLength": 64},
                          "password": {"type": "string", "minLength": 1, "maxLength": 200},
                          "new_password": {"type": "string", "minLength": 8, "maxLength": 256}},
                         required=("username", "password")),
    "PasswordChange": _obj({"password": {"type": "string", "minLength": 1, "maxLength": 256},
                            "new_password": {"type": "string", "minLength": 8,
                                             "maxLength": 256}}),
    "Token": _obj({"token": STR, "expires_at": TIME}),
    "Unit": _obj({"id": INT, "code": STR, "name": STR, "kind": STR}),
    "Role": _obj({"role": STR, "label": STR, "unit": _ref("Unit")}),
    "Me": _obj({"id": INT, "username": STR, "display_name": STR, "locale": STR,
                "unit": {"anyOf": [_ref("Unit"), {"type": "null"}]},
                "roles": {"type": "array", "items": _ref("Role")}}),
    # A step's or a task's form says which actions send it (``form_on``) and, per field,
    # which of those need it filled (``required_on``); a start form has neither.
    "FormField": _obj({"name": STR, "type": STR, "label": STR, "required": BOOL,
                       "required_on": {"type": "array", "items": STR}},
                      required=("name", "type", "label", "required"), extra=True),
    "Form": _obj({"fields": {"type": "array", "items": _ref("FormField")},
                  "rules": {"type": "array", "items": {"type": "object"}},
                  "form_on": {"type": "array", "items": STR}},
                 required=("fields", "rules")),
    "ProcessSummary": _obj({"key": STR, "name": STR, "version": INT,
                            "description": OPT_STR}),
    "ProcessList": _obj({"items": {"type": "array", "items": _ref("ProcessSummary")}}),
    "Step": _obj({"id": STR, "name": STR, "kind": STR, "form": _ref("Form")}),
    "Process": _obj({"key": STR, "name": STR, "version": INT, "description": OPT_STR,
                     "can_start": BOOL, "open_request": {"type": ["integer", "null"]},
                     "can_start_for_others": BOOL,
                     "form": _ref("Form"),
                     "steps": {"type": "array", "items": _ref("Step")}}),
    "StartRequest": _obj({"data": {"type": "object"},
                          # Whom the request is for, by username, if not the caller
                          # (a process whose definition has ``start.on_behalf``).
                          "on_behalf_of": {"type": "string", "maxLength": 64}},
                         required=()),
    "Person": _obj({"name": STR, "username": OPT_STR}),
    "TaskBrief": _obj({"id": INT, "step": STR, "name": STR, "kind": STR, "due_at": OPT_TIME,
                       "actions": {"type": "array", "items": STR}}),
    "HistoryItem": _obj({"at": TIME, "actor": OPT_STR, "action": STR, "label": STR,
                         "step": OPT_STR, "comment": OPT_STR}),
    "InstanceSummary": _obj({"id": INT, "process": STR, "process_name": STR, "version": INT,
                             "title": STR, "state": STR, "status": STATUS,
                             "waitlisted": BOOL, "waiting_position": POSITION,
                             "created_at": TIME, "updated_at": TIME}),
    "InstancePage": _page("InstanceSummary"),
    "Instance": _obj({"id": INT, "process": STR, "process_name": STR, "version": INT,
                      "title": STR, "state": STR, "status": STATUS, "waitlisted": BOOL,
                      "waiting_position": POSITION, "lock_version": INT,
                      "data": {"type": "object"},
                      "data_text": {"type": "object",
                                    "additionalProperties": {"type": "string"}},
                      "applicant": _ref("Person"), "created_at": TIME, "updated_at": TIME,
                      "closed_at": OPT_TIME,
                      "tasks": {"type": "array", "items": _ref("TaskBrief")},
                      "history": {"type": "array", "items": _ref("HistoryItem")}}),
    "WithdrawRequest": _obj({"comment": {"type": ["string", "null"], "maxLength": 2000}},
                            required=()),
    "CommentRequest": _obj({"text": {"type": "string", "minLength": 1, "maxLength": 2000}}),
    "Task": _obj({"id": INT, "instance_id": INT, "process": STR, "title": STR, "step": STR,
                  "name": STR, "kind": STR, "description": OPT_STR,
                  "applicant": _obj({"name": STR, "unit": OPT_STR}),
                  "actions": {"type": "array", "items": STR},
                  "action_labels": {"type": "object", "additionalProperties": STR},
                  "reason_field": OPT_STR,
                  "history": {"type": "array", "items": _ref("HistoryItem")},
                  "form": _ref("Form"), "due_at": OPT_TIME, "overdue": BOOL,
                  "escalated": BOOL, "opened_at": TIME}),
    "TaskPage": _page("Task"),
    "CompleteRequest": _obj({
        "action": {"type": "string", "enum": ["approve", "reject", "return", "complete",
                                              "object", "resubmit"]},
        "comment": {"type": ["string", "null"], "maxLength": 2000},
        "data": {"type": "object"},
        "to": {"type": ["string", "null"],
               "description": "for return: the step (or 'applicant') to send it back to"},
        "version": {"type": ["integer", "null"],
                    "description": "the instance's lock_version the caller saw; stale: 409"},
    }, required=("action",)),
    "DelegateRequest": _obj({"to": {"type": "string", "minLength": 1, "maxLength": 64},
                             "comment": {"type": ["string", "null"], "maxLength": 2000}},
                            required=("to",)),
    "UrgeRequest": _obj({"comment": {"type": ["string", "null"], "maxLength": 500}}),
    "Delegate": _obj({"username": STR, "display_name": STR,
                      "unit": {"anyOf": [_ref("Unit"), {"type": "null"}]}}),
    "DelegateList": _obj({"items": {"type": "array", "items": _ref("Delegate")}}),
    "Notification": _obj({"id": INT, "kind": STR, "title": STR, "body": STR,
                          "instance_id": {"type": ["integer", "null"]},
                          "created_at": TIME, "read": BOOL}),
    "NotificationPage": _page("Notification"),
    "Station": _obj({"id": INT, "code": STR, "name": STR, "district": OPT_STR,
                     "district_id": {"type": ["integer", "null"]},
                     "address": STR, "landmark": OPT_STR, "hours": OPT_STR, "open": BOOL,
                     "services": _obj({"water": BOOL, "toilet": BOOL, "microwave": BOOL,
                                       "charging_piles": INT, "car_parking": INT,
                                       "motorcycle_parking": INT}),
                     "phone": OPT_STR}),
    "StationPage": _page("Station"),
    "District": _obj({"id": INT, "code": STR, "name": STR, "name_en": OPT_STR}),
    "DistrictPage": _page("District"),
}
