"""The OpenAPI document: generated from the routes, valid, and honoured by every answer.

schemathesis generates requests (valid and invalid) from the document for every
operation and checks each answer: never a 500, and always the documented shape.
"""
from __future__ import annotations

import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, settings
from hypothesis import given

from webapp.api.registry import ROUTES, bp
from tests.webapp.test_api import DEMO_PASSWORD
from tests.webapp.test_workflow_service import demo  # noqa: F401


def test_every_api_route_is_in_the_document(app, client, demo):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    served = {(rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}"), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert served <= documented
    assert len(ROUTES) == len(served) and bp.name == "api"
    start = doc["paths"]["/api/v1/processes/micro_wish/instances"]["post"]
    data = start["requestBody"]["content"]["application/json"]["schema"]["properties"]["data"]
    assert data["properties"]["phone"]["x-private"] is True
    assert "title" in data["required"] and data["properties"]["category"]["enum"] == [
        "goods", "service", "study"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["responses"], (path, method)
            if op["security"]:
                assert "401" in op["responses"], (path, method)


@pytest.mark.parametrize("username", ["rider1", "station_head", "city_admin"])
def test_schemathesis_finds_no_500_and_no_answer_outside_the_schema(app, client, demo, username):
    token = client.post("/api/v1/tokens", json={"username": username,
                                                "password": DEMO_PASSWORD}).get_json()["token"]
    # The token goes in as the document's "bearer" scheme, so schemathesis knows it is
    # the credential: its negative cases may leave it out and then expect a 401.
    config = schemathesis.Config.from_dict({"auth": {"openapi": {"bearer": {"bearer": token}}}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    failures, statuses = [], set()
    operations = [r.ok() for r in schema.get_all_operations()]
    for operation, mode in [(op, mode) for mode in GenerationMode for op in operations]:
        if operation.path == "/api/v1/tokens/current":
            continue  # revoking the token would end the run; tested in test_api

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=20, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            # A schema-valid body may still be refused with 422: the schema gives the
            # shape, validate_data also judges what no schema can say (check digits,
            # conditional fields, cross-field rules, options from the database).  Every
            # other check (no 5xx, documented statuses and bodies, invalid data refused)
            # applies.
            response = case.call_and_validate(excluded_checks=[
                schemathesis.checks.positive_data_acceptance])
            statuses.add(response.status_code)

        try:
            check()
        except Exception as exc:  # collect all, so one run shows every problem
            failures.append(f"{mode.value} {operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    # The token was used: signed-in answers came back, not only 401s.
    assert {200, 401, 422} <= statuses, statuses
