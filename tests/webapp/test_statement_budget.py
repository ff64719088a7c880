"""How many SQL statements a step costs — counted, never timed.

Each statement is a round trip and ~0.1–1 ms of SQLAlchemy CPU, so the count is what
decides how many approvals a web worker serves (bench/README.md, issue #9).  These
budgets are today's counts: a change that reads the same rows again, or goes back to
writing an audit entry and then updating it, shows up here before it shows up in a
benchmark."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from tests.webapp.test_api import Api, api, wish  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db


@contextmanager
def counting():
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    def commit(conn):
        seen.append("-- commit")

    event.listen(db.engine, "before_cursor_execute", count)
    event.listen(db.engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
        event.remove(db.engine, "commit", commit)


def _submitted(api, applicant: str) -> str:
    r = api("POST", "/processes/micro_wish/instances", applicant, json={"data": wish()})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["tasks"][0]["id"]


def test_an_approval_through_the_api_reads_nothing_twice(api, demo):
    first, task = _submitted(api, "courier1"), _submitted(api, "rider1")
    api.token("station_head")  # signing in is not part of the approval
    # An earlier approval in this process read the organisation (who claims next, the
    # head's roles): this one uses that copy.
    assert api("POST", f"/tasks/{first}/complete", "station_head",
               json={"action": "approve"}).status_code == 200
    db.session.remove()
    with counting() as seen:
        r = api("POST", f"/tasks/{task}/complete", "station_head",
                json={"action": "approve"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "wall"
    writes = [s for s in seen if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    audit_writes = [s for s in writes if "audit_entries" in s]
    # Audit entries are written once, already sealed: no INSERT-then-UPDATE.
    assert len(audit_writes) == 1 and audit_writes[0].lstrip().upper().startswith("INSERT")
    # The answer is built before the commit: nothing is read back after it.
    assert seen[-1] == "-- commit" and seen.count("-- commit") == 1, seen[-3:]
    # One read of the token with its owner, one of the task with its instance — and
    # that one locks the instance's row: the step does not read it again.
    assert sum("FROM api_tokens" in s for s in seen) == 1
    instance_reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")
                      and "FROM instances" in s.replace("\n", " ")
                      or "JOIN instances" in s.replace("\n", " ")]
    assert len(instance_reads) == 1, instance_reads
    assert sum(s.lstrip().upper().startswith("SELECT USERS.") for s in seen) <= 2
    # The organisation comes from this process's copy; its generation with the token
    # and with the instance's lock, not on its own.
    assert not [s for s in seen if "FROM org_units" in s or "FROM memberships" in s
                or "FROM org_generation" in s and "api_tokens" not in s
                and "instances" not in s]
    # The answer's history comes from the instance's state, not the history table.
    assert not [s for s in seen if s.lstrip().upper().startswith("SELECT")
                and "FROM history" in s]
    statements = [s for s in seen if s != "-- commit"]
    assert len(statements) <= BUDGET_APPROVE[db.engine.dialect.name], "\n".join(statements)


# Today's counts (SQLite has BEGIN IMMEDIATE; PostgreSQL takes the audit chain's lock).
# 44 and 41 at 9edc473, 27 and 26 at 075f85f, 23 and 22 at 712c20f, 19 and 17 at a305c13,
# 18 and 16 at 824ecfd.
BUDGET_APPROVE = {"sqlite": 17, "postgresql": 15}
