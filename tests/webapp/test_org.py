"""The organisation tree: "everything below this unit" is right and uses the path index."""
from __future__ import annotations


import pytest
from sqlalchemy import select, text

from webapp.extensions import db
from webapp.models import OrgUnit
from webapp.services.org import (OrgError, ancestor_of_kind, ancestors, create_unit,
                                 descendants_query, users_with_role)


def _build_tree(n_districts=12, streets=8, leaves=30):
    """A city of about three thousand units: districts → streets → branches and stations."""
    city = create_unit("city", "重庆市总工会", "city")
    expected = {}
    for d in range(n_districts):
        district = create_unit(f"d{d}", f"第{d}区", "district", city)
        below = [district.id]
        for s in range(streets):
            street = create_unit(f"d{d}-s{s}", f"街道{s}", "street", district)
            below.append(street.id)
            for leaf in range(leaves):
                kind = "station" if leaf % 2 else "branch"
                below.append(create_unit(f"d{d}-s{s}-{leaf}", f"单位{leaf}", kind, street).id)
        expected[district.code] = set(below)
    db.session.commit()
    return city, expected


def test_descendants_of_each_district_on_a_city_sized_tree(app):
    city, expected = _build_tree()
    total = db.session.scalar(select(db.func.count()).select_from(OrgUnit))
    assert total > 2900
    for code, ids in expected.items():
        district = db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))
        found = {u.id for u in db.session.scalars(descendants_query(district))}
        assert found == ids
    # District d1 must not pick up d10's or d11's units (a naive "LIKE path%" without
    # the trailing slash would).
    d1 = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "d1"))
    codes = {u.code for u in db.session.scalars(descendants_query(d1))}
    assert all(c == "d1" or c.startswith("d1-") for c in codes)
    assert len(db.session.scalars(descendants_query(city)).all()) == total


def test_subtree_query_uses_the_path_index(app):
    _build_tree(n_districts=3, streets=4, leaves=10)
    district = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "d1"))
    stmt = descendants_query(district)
    compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "sqlite":
        plan = " ".join(str(r) for r in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert "ix_org_units_path" in plan, plan
    else:
        db.session.execute(text("ANALYZE org_units"))
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(r[0] for r in db.session.execute(text(f"EXPLAIN {compiled}")))
        assert "ix_org_units_path" in plan, plan


def test_ancestors_and_district_lookup(org):
    station = org["station"]
    assert [u.code for u in ancestors(station)] == ["cq", "cq-yz", "cq-yz-jfb", "cq-yz-st"]
    assert ancestor_of_kind(station, "district").code == "cq-yz"
    assert ancestor_of_kind(org["city"], "district") is None


def test_a_role_covers_the_units_below_unless_asked_not_to(org, make_user):
    admin = make_user("yz_admin", ("district_admin", org["yz"]))
    make_user("jb_admin", ("district_admin", org["jb"]))
    assert [u.username for u in users_with_role("district_admin", org["station"])] == ["yz_admin"]
    assert users_with_role("district_admin", org["station"], inherit=False) == []
    assert users_with_role("district_admin", org["yz"], inherit=False) == [admin]


def test_inactive_people_are_not_resolved(org, make_user):
    admin = make_user("yz_admin", ("district_admin", org["yz"]))
    admin.active = False
    db.session.commit()
    assert users_with_role("district_admin", org["station"]) == []


@pytest.mark.parametrize("kind,parent", [("station", "cq"), ("district", "cq-yz-jfb"),
                                         ("city", "cq-yz"), ("planet", None)])
def test_units_only_go_where_the_tree_allows(org, kind, parent):
    from webapp.services.org import unit_by_code

    with pytest.raises(OrgError):
        create_unit("x", "x", kind, unit_by_code(parent) if parent else None)


def test_paths_are_root_to_self(org):
    assert org["station"].path == "/" + "/".join(
        str(u.id) for u in ancestors(org["station"])) + "/"
    assert org["station"].depth == 3
