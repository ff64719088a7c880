"""Who sees which page, and only the part of the tree they look after."""
from __future__ import annotations

import pytest


@pytest.fixture
def people(org, make_user):
    return {
        "rider": make_user("rider1", ("worker", org["company"]), unit=org["company"]),
        "yz_admin": make_user("yz_admin", ("district_admin", org["yz"]), unit=org["yz"]),
        "jb_admin": make_user("jb_admin", ("district_admin", org["jb"]), unit=org["jb"]),
        "supervisor": make_user("supervisor", ("supervisor", org["city"]), unit=org["city"]),
    }


@pytest.mark.parametrize("path", ["/admin/units", "/admin/users"])
def test_a_worker_cannot_open_an_admin_page(client, auth, people, path):
    auth.login("rider1")
    response = client.get(path)
    assert response.status_code == 403
    assert "您没有权限" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/units", "/admin/users"])
def test_admin_pages_need_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_district_admin_sees_only_their_district(client, auth, people):
    auth.login("yz_admin")
    page = client.get("/admin/units").get_data(as_text=True)
    assert "cq-yz-jfb" in page and "cq-yz-st" in page
    assert "cq-jb-gyq" not in page
    users = client.get("/admin/users").get_data(as_text=True)
    assert "rider1" in users and "jb_admin" not in users


def test_supervisor_sees_the_whole_city(client, auth, people):
    auth.login("supervisor")
    page = client.get("/admin/units").get_data(as_text=True)
    assert "cq-yz-jfb" in page and "cq-jb-gyq" in page


def test_unit_list_filters_by_kind_and_text(client, auth, people):
    auth.login("supervisor")
    page = client.get("/admin/units?kind=station").get_data(as_text=True)
    assert "cq-yz-st" in page and "cq-yz-br" not in page
    page = client.get("/admin/units?q=jfb").get_data(as_text=True)
    assert "cq-yz-jfb" in page and "cq-jb-gyq" not in page


def test_unit_list_paginates(client, auth, people, make_unit, org):
    for i in range(60):
        make_unit(f"extra-{i:02d}", "branch", org["jb_street"])
    auth.login("supervisor")
    first = client.get("/admin/units").get_data(as_text=True)
    assert "1 / 2" in first
    second = client.get("/admin/units?page=2").get_data(as_text=True)
    assert "extra-59" in second and "extra-59" not in first
    assert client.get("/admin/units?page=abc").status_code == 200


def test_home_shows_each_person_what_they_can_do(client, auth, people):
    auth.login("rider1")
    page = client.get("/").get_data(as_text=True)
    assert "我的账户" in page and "组织架构" not in page
    assert "职工" in page  # their role
    assert 'href="/courses/open"' in page  # the courses open, looked at before registering
    auth.logout()
    auth.login("yz_admin")
    page = client.get("/").get_data(as_text=True)
    assert "组织架构" in page and "人员与角色" in page
    assert "区县工会管理员" in page and "重置密码，批量导入" in page
    # A supervisor reads: their cards do not offer what the pages will not let them do.
    auth.logout()
    auth.login("supervisor")
    page = client.get("/").get_data(as_text=True)
    assert "人员与角色" in page and "疗休养名额" in page and "（只读）" in page
    for offered in ("重置密码", "批量导入", "下拨、退回", "新建、改名、停用"):
        assert offered not in page, offered


def test_person_without_roles_is_told_whom_to_ask(client, auth, make_user):
    make_user("newbie")
    auth.login("newbie")
    assert "请联系所在工会的管理员" in client.get("/").get_data(as_text=True)
