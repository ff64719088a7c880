"""The station directory driven from its own data: each station's district_id is what
``?district=`` takes, the names of a station's ``services`` are what ``?service=``
takes, and ``GET /districts`` lists the districts to choose from."""
from __future__ import annotations

from tests.webapp.test_api import api, error_of  # noqa: F401
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.services.org import unit_by_code


def items(api, path: str, who="rider1", **kwargs) -> list[dict]:
    answer = api("GET", path, who, **kwargs)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


def test_a_station_names_its_district_by_the_id_the_filter_takes(api, demo):
    every = items(api, "/stations?per_page=100")
    assert len({s["district_id"] for s in every}) >= 2
    for station in every:
        assert isinstance(station["district_id"], int), station
        same = items(api, f"/stations?district={station['district_id']}&per_page=100")
        assert station["id"] in {s["id"] for s in same}
        assert {s["district_id"] for s in same} == {station["district_id"]}
        assert {s["district"] for s in same} == {station["district"]}


def test_services_filter_by_the_names_a_station_carries(api, demo):
    every = items(api, "/stations?per_page=100")
    for name in ("car_parking", "charging_piles", "motorcycle_parking", "water", "toilet",
                 "microwave"):
        found = items(api, f"/stations?service={name}&per_page=100")
        assert {s["id"] for s in found} == {s["id"] for s in every if s["services"][name]}, name
    both = items(api, "/stations?service=car_parking&service=charging_piles&per_page=100")
    assert both and all(s["services"]["car_parking"] and s["services"]["charging_piles"]
                        for s in both)
    # The short names keep working.
    assert items(api, "/stations?service=parking&service=charging&per_page=100") == both
    wrong = api("GET", "/stations?service=car_parking&service=spa", "rider1")
    assert wrong.status_code == 422 and set(error_of(wrong)["fields"]) == {"service"}


def test_districts_are_listed_for_anyone_signed_in(api, demo):
    yuzhong = unit_by_code("cq-yz")
    listed = items(api, "/districts?per_page=100", "volunteer1")
    assert {"id": yuzhong.id, "code": "cq-yz", "name": yuzhong.name,
            "name_en": yuzhong.name_en} in listed
    assert all(set(d) == {"id", "code", "name", "name_en"} for d in listed)
    english = items(api, "/districts?per_page=100", headers={"Accept-Language": "en"})
    assert next(d for d in english if d["id"] == yuzhong.id)["name"] == (
        yuzhong.name_en or yuzhong.name)
    # Every station's district is one of them.
    ids = {d["id"] for d in listed}
    assert {s["district_id"] for s in items(api, "/stations?per_page=100")} <= ids
    # Paginated like the other lists; a closed district is not offered.
    first = api("GET", "/districts?per_page=1", "rider1").get_json()
    assert first["total"] == len(listed) >= 2 and len(first["items"]) == 1
    yuzhong.active = False
    db.session.commit()
    assert yuzhong.id not in {d["id"] for d in items(api, "/districts?per_page=100")}
    assert api("GET", "/districts").status_code == 401


def test_the_document_says_service_repeats(client, demo):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    service = next(p for p in paths["/api/v1/stations"]["get"]["parameters"]
                   if p["name"] == "service")
    assert service["schema"]["type"] == "array" and service["explode"] is True
    assert {"car_parking", "charging_piles", "parking", "charging"} <= set(
        service["schema"]["items"]["enum"])
    assert "DistrictPage" in str(paths["/api/v1/districts"]["get"]["responses"]["200"])
