"""Definitions in the browser (issue 8): list, check, publish, compare, retire — and a
new process made entirely through the pages that workers then run to its end."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from tests.webapp.test_pages import alerts, errors, login, submit_wish  # noqa: F401
from tests.webapp.test_union_processes import drive, start
from tests.webapp.test_workflow_service import demo  # noqa: F401
from webapp.extensions import db
from webapp.models import DefinitionVersion, Instance, ProcessDefinition, Task, User
from webapp.services import definitions as defs
from webapp.services import workflow as wf
from workflows.errors import NotAllowed, NotFound
from workflows.runtime import Action

BASE = "/admin/definitions"


def latest_source(key: str) -> str:
    return wf.latest_version(key).source


def textarea_of(response) -> str:
    match = re.search(r'<textarea[^>]*name="source"[^>]*>(?:\r?\n)?(.*?)</textarea>',
                      response.get_data(as_text=True), re.S)
    assert match, "no editor on the page"
    return html.unescape(match.group(1))


def problems_of(response) -> list[tuple[str, str]]:
    """(line, message) of every problem listed on the editor page."""
    page = response.get_data(as_text=True)
    return [(line, html.unescape(message)) for line, message in re.findall(
        r'class="uf-problem[^"]*" data-line="(\d*)".*?uf-problem-message">(.*?)</span>',
        page, re.S)]


def versions_of(key: str) -> list[int]:
    db.session.expire_all()
    return [v.version for v in db.session.get(
        ProcessDefinition, db.session.scalar(select(ProcessDefinition.id).where(
            ProcessDefinition.key == key))).versions]


def with_step_name(source: str, old: str, new: str) -> str:
    assert old in source
    return source.replace(old, new, 1)


# ---------------------------------------------------------------------------- permissions

PROTECTED = [
    ("GET", BASE + "/"), ("GET", BASE + "/micro_wish"), ("GET", BASE + "/micro_wish/edit"),
    ("POST", BASE + "/micro_wish/edit"), ("GET", BASE + "/new"), ("POST", BASE + "/new"),
    ("POST", BASE + "/check"), ("POST", BASE + "/micro_wish/retire"),
    ("POST", BASE + "/micro_wish/restore"), ("GET", BASE + "/micro_wish/diff"),
    ("GET", BASE + "/micro_wish/versions/1"), ("GET", BASE + "/micro_wish/versions/1/diagram.svg"),
]


def test_only_platform_admins_may_open_or_change_definitions(login, demo):
    body = {"source": latest_source("micro_wish") + "\n# x", "action": "publish"}
    for who in ("city_admin", "unit_admin", "rider1", "supervisor"):
        client = login(who)
        for method, path in PROTECTED:
            response = client.open(path, method=method, data=body)
            assert response.status_code == 403, (who, method, path)
    db.session.expire_all()
    assert versions_of("micro_wish") == [1]
    assert not defs.get_definition("micro_wish").retired
    admin = login("admin")
    for method, path in PROTECTED:
        if method == "GET":
            assert admin.get(path).status_code == 200, path


def test_signed_out_people_are_sent_to_sign_in(client, demo):
    response = client.get(BASE + "/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_the_services_refuse_anyone_but_a_platform_admin(demo):
    city = db.session.scalar(select(User).where(User.username == "city_admin"))
    with pytest.raises(NotAllowed):
        defs.publish(latest_source("micro_wish"), city, key="micro_wish")
    with pytest.raises(NotAllowed):
        defs.set_retired(defs.get_definition("micro_wish"), True, city)


def test_home_offers_the_editor_to_platform_admins_only(login, demo):
    assert f'href="{BASE}/"' in login("admin").get("/").get_data(as_text=True)
    assert f'href="{BASE}/"' not in login("city_admin").get("/").get_data(as_text=True)


# ---------------------------------------------------------------------------- checking

def test_check_reports_every_problem_at_its_line(demo):
    source = latest_source("micro_wish")
    lines = source.split("\n")
    kind_line = next(i for i, l in enumerate(lines, 1) if l.strip() == "kind: approval")
    lines[kind_line - 1] = lines[kind_line - 1].replace("approval", "aproval")
    checked = defs.check("\n".join(lines), key="micro_wish")
    assert not checked.ok and checked.spec is None
    assert any(p.line == kind_line and "aproval" in p.message for p in checked.problems)
    assert any("aproval" in p.excerpt for p in checked.problems)


@pytest.mark.parametrize("text,needle,line", [
    ("key: x\nname: y\nsteps:\n\tone: {}\n", "制表符", 4),
    ("key: x\nname: \ufffd\n", "UTF-8", 2),
    ("   \n", "空的", None),
    ("key: [unclosed\n", "not valid YAML", None),
])
def test_bad_text_gets_a_plain_answer(demo, text, needle, line):
    checked = defs.check(text, new=True)
    assert not checked.ok
    assert any(needle in p.message and (line is None or p.line == line)
               for p in checked.problems), checked.problems


def test_a_yaml_bomb_is_refused_without_expanding_it(demo):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
    checked = defs.check(bomb, new=True)
    assert [p.message for p in checked.problems if "aliases" in p.message]


def test_huge_text_is_refused_by_size(demo):
    checked = defs.check("# " + "长" * (defs.MAX_SOURCE_BYTES // 3 + 10), new=True)
    assert len(checked.problems) == 1 and "KB" in checked.problems[0].message
    assert "too long" in defs.check("x" * (defs.MAX_SOURCE_BYTES + 1), locale="en").problems[0].message


def test_the_key_of_an_edited_process_cannot_change_and_a_new_one_must_be_new(demo):
    source = latest_source("micro_wish")
    renamed = source.replace("key: micro_wish", "key: micro_wish_2", 1)
    problem, = defs.check(renamed, key="micro_wish").problems
    assert "key 不能改" in problem.message and problem.excerpt == "key: micro_wish_2"
    problem, = defs.check(source, new=True).problems
    assert "已有" in problem.message
    assert "保留字" in defs.check(source.replace("key: micro_wish", "key: new", 1),
                                 new=True).problems[0].message
    assert defs.check(renamed, new=True).ok


# ---------------------------------------------------------------------------- publishing

def test_running_requests_stay_on_their_version_and_new_ones_take_the_new_one(login, demo):
    rider = demo["rider1"]
    old = wf.start_instance("micro_wish", rider, _wish())
    db.session.commit()
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    source = with_step_name(latest_source("micro_wish"), "name: 驿站核实", "name: 驿站站长核实")
    result = defs.publish(source, admin, key="micro_wish")
    db.session.commit()
    assert result.published.created and result.published.version.version == 2
    assert result.published.version.published_by_id == admin.id
    db.session.expire_all()
    assert db.session.get(Instance, old.id).version.version == 1
    # The old request still moves on version 1.
    task = db.session.scalar(select(Task).where(Task.instance_id == old.id, Task.status == "open"))
    wf.perform(old.id, Action("approve", task=task.key), demo["station_head"])
    db.session.commit()
    assert db.session.get(Instance, old.id).version.version == 1
    fresh = wf.start_instance("micro_wish", demo["courier1"], _wish())
    db.session.commit()
    assert fresh.version.version == 2
    counts = {v.version.version: v.running for v in defs.definition_row("micro_wish").versions}
    assert counts == {1: 1, 2: 1}


def _wish():
    from tests.webapp.test_workflow_service import wish_data

    return wish_data()


def test_same_content_publishes_nothing(demo):
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    result = defs.publish(latest_source("micro_wish") + "\n# only a comment\n", admin,
                          key="micro_wish")
    assert result.published is not None and not result.published.created
    assert versions_of("micro_wish") == [1]


# ---------------------------------------------------------------------------- pages

def test_the_list_shows_versions_publishers_running_counts_and_state(login, demo):
    client = login("rider1")
    submit_wish(client)
    page = login("admin").get(BASE + "/").get_data(as_text=True)
    row = re.search(r'<tr data-key="micro_wish">(.*?)</tr>', page, re.S).group(1)
    assert "微心愿" in row and "在用" in row and "第 1 版" in row
    assert re.search(r'class="running">1<', row)
    for key in ("worker_demand", "training_registration", "retreat_nomination", "station_master"):
        assert f'data-key="{key}"' in page


def test_edit_with_an_error_keeps_the_text_shows_the_line_and_publishes_nothing(login, demo):
    client = login("admin")
    source = textarea_of(client.get(BASE + "/micro_wish/edit"))
    assert source == latest_source("micro_wish")
    broken = with_step_name(source, "kind: approval", "kind: aproval")
    line = broken.split("\n").index("    kind: aproval") + 1
    response = client.post(BASE + "/micro_wish/edit", data={"source": broken, "action": "publish"})
    assert response.status_code == 422
    assert textarea_of(response) == broken  # what was typed is kept
    assert any(l == str(line) and "aproval" in m for l, m in problems_of(response))
    assert f"第 {line} 行" in response.get_data(as_text=True)
    assert versions_of("micro_wish") == [1]

    checked = client.post(BASE + "/micro_wish/edit", data={"source": source + "\n# ok",
                                                           "action": "check"})
    assert checked.status_code == 200
    assert "检查通过" in checked.get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in checked.get_data(as_text=True)

    fixed = with_step_name(source, "name: 驿站核实", "name: 驿站站长核实")
    response = client.post(BASE + "/micro_wish/edit", data={"source": fixed, "action": "publish"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/micro_wish")
    page = client.get(BASE + "/micro_wish").get_data(as_text=True)
    assert "已发布“微心愿”第 2 版" in page and 'data-version="2"' in page
    assert versions_of("micro_wish") == [1, 2]
    assert "驿站站长核实" in client.get(BASE + "/micro_wish/versions/2").get_data(as_text=True)


def test_the_live_check_answers_problems_or_the_diagram(login, demo):
    client = login("admin")
    source = latest_source("micro_wish")
    good = client.post(BASE + "/check", data={"source": source, "key": "micro_wish"}).get_json()
    assert good["ok"] and good["problems"] == [] and good["svg"].startswith("<svg")
    bad = client.post(BASE + "/check", data={"source": source.replace("kind: approval",
                                                                       "kind: aproval", 1),
                                             "key": "micro_wish"}).get_json()
    assert not bad["ok"] and bad["svg"] is None
    assert all({"line", "message", "excerpt"} <= set(p) for p in bad["problems"])
    assert any(p["line"] and "aproval" in p["message"] for p in bad["problems"])


def test_invalid_utf8_and_huge_posts_get_clear_answers_not_500(login, demo):
    import io

    client = login("admin")
    # Bytes that are not UTF-8 in a form post stay percent-escaped: a YAML problem, not 500.
    response = client.post(BASE + "/check", data=b"source=key%3A%20%FF%FE%0A&new=1",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and not response.get_json()["ok"]
    typed = "key: x\nname: \ufffd\n"
    answer = client.post(BASE + "/check", data={"source": typed, "new": "1"}).get_json()
    assert "UTF-8" in answer["problems"][0]["message"] and answer["problems"][0]["line"] == 2
    # A file in GBK: told which line cannot be read, and the editor keeps its text.
    gbk = "key: award\nname: 创新奖\n".encode("gbk")
    response = client.post(BASE + "/new", data={
        "source": "# 我写的\n", "action": "publish",
        "upload": (io.BytesIO(gbk), "award.yaml")}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "不是 UTF-8" in response.get_data(as_text=True) and textarea_of(response) == "# 我写的\n"
    assert problems_of(response)[0][0] == "2"
    too_big = client.post(BASE + "/new", data={
        "source": "", "action": "check",
        "upload": (io.BytesIO(b"#" * (defs.MAX_SOURCE_BYTES + 5)), "big.yaml")},
        content_type="multipart/form-data")
    assert too_big.status_code == 422 and "文件太大" in too_big.get_data(as_text=True)
    # A good file (with a BOM, as Windows editors write it) is loaded into the editor.
    good = ("\ufeff" + defs.template_text("simple_approval")).encode("utf-8")
    response = client.post(BASE + "/new", data={
        "source": "", "action": "check", "upload": (io.BytesIO(good), "my.yaml")},
        content_type="multipart/form-data")
    assert response.status_code == 200
    assert textarea_of(response) == defs.template_text("simple_approval")

    big = client.post(BASE + "/new", data={"source": "# " + "x" * (defs.MAX_SOURCE_BYTES + 10),
                                           "action": "check"})
    assert big.status_code == 422 and "最多 100 KB" in big.get_data(as_text=True)
    huge = client.post(BASE + "/check", data={"source": "x" * (3 * 1024 * 1024)})
    assert huge.status_code == 413


def test_diff_between_versions_is_escaped_and_readable(login, demo):
    client = login("admin")
    source = latest_source("micro_wish")
    changed = with_step_name(source, "name: 驿站核实", "name: 驿站核实 <script>alert(1)</script>")
    assert client.post(BASE + "/micro_wish/edit",
                       data={"source": changed, "action": "publish"}).status_code == 302
    page = client.get(BASE + "/micro_wish/diff?a=1&b=2").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "新增 1 行，删除 1 行。" in page
    assert re.search(r'uf-diff-del">.*?name: 驿站核实</code>', page, re.S)
    assert client.get(BASE + "/micro_wish/diff?a=1&b=9").status_code == 404
    assert "两个版本的内容相同" in client.get(BASE + "/micro_wish/diff?a=2&b=2").get_data(as_text=True)
    rows = defs.diff("a\nb\nc\n", "a\nB\nc\n")
    assert [(r.kind, r.old, r.new, r.text) for r in rows] == [
        ("same", 1, 1, "a"), ("del", 2, None, "b"), ("add", None, 2, "B"), ("same", 3, 3, "c")]


def test_new_process_from_a_template_cannot_take_an_existing_key(login, demo):
    client = login("admin")
    template = textarea_of(client.get(BASE + "/new?template=simple_approval"))
    assert "key: my_process" in template
    taken = template.replace("key: my_process", "key: micro_wish")
    response = client.post(BASE + "/new", data={"source": taken, "action": "publish"})
    assert response.status_code == 422 and "已有" in response.get_data(as_text=True)
    assert versions_of("micro_wish") == [1]
    response = client.post(BASE + "/new", data={"source": template, "action": "publish"})
    assert response.status_code == 302
    assert "新流程" in login("rider1").get("/processes").get_data(as_text=True)


@pytest.mark.parametrize("name", sorted(defs.TEMPLATES))
def test_every_template_validates(demo, name):
    assert defs.check(defs.template_text(name), new=True).ok


# ---------------------------------------------------------------------------- retiring

def test_a_retired_process_cannot_be_started_anywhere_but_running_ones_finish(login, demo, client):
    from tests.webapp.test_api import Api, wish

    rider = login("rider1")
    running = submit_wish(rider)
    admin = login("admin")
    assert admin.post(BASE + "/micro_wish/retire").status_code == 302
    assert "已停用" in admin.get(BASE + "/micro_wish").get_data(as_text=True)

    rider = login("courier1")
    assert "/processes/micro_wish/start" not in rider.get("/processes").get_data(as_text=True)
    assert rider.get("/processes/micro_wish/start").status_code == 404
    from tests.webapp.test_pages import wish_form

    assert rider.post("/processes/micro_wish/start", data=wish_form()).status_code == 404
    with pytest.raises(NotFound):
        wf.current_version("micro_wish")
    api = Api(client)
    assert "micro_wish" not in [p["key"] for p in api("GET", "/processes", "courier1")
                                .get_json()["items"]]
    assert api("GET", "/processes/micro_wish", "courier1").status_code == 404
    assert api("POST", "/processes/micro_wish/instances", "courier1",
               json={"data": wish()}).status_code == 404
    # The wish wall still knows the categories of the wishes that run on.
    assert "物品" in login("volunteer1").get("/wishes").get_data(as_text=True)

    # The running one goes on: the station head still verifies it.
    head = login("station_head")
    task = db.session.scalar(select(Task.id).where(Task.instance_id == running,
                                                   Task.status == "open"))
    assert head.post(f"/tasks/{task}", data={"action": "approve"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Instance, running).steps != "verify"

    assert login("admin").post(BASE + "/micro_wish/restore").status_code == 302
    assert login("courier1").get("/processes/micro_wish/start").status_code == 200


# ---------------------------------------------------------------------------- done when

def test_a_platform_admin_adds_an_innovation_award_in_the_browser_and_workers_run_it(
        login, demo):
    """Issue 8's "done when": a process of the shipped shape (unit → committee approval
    → publicity) made entirely through the pages, then run end to end by workers."""
    admin = login("admin")
    page = admin.get(BASE + "/new?template=innovation_award")
    assert "职工技术创新成果奖" in page.get_data(as_text=True)
    source = textarea_of(page)
    assert admin.post(BASE + "/new", data={"source": source, "action": "check"}).status_code == 200
    response = admin.post(BASE + "/new", data={"source": source, "action": "publish"})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/innovation_award")
    listing = admin.get(BASE + "/").get_data(as_text=True)
    assert 'data-key="innovation_award"' in listing
    assert db.session.scalar(select(DefinitionVersion.published_by_id).join(
        ProcessDefinition).where(ProcessDefinition.key == "innovation_award")) == \
        db.session.scalar(select(User.id).where(User.username == "admin"))

    rider = login("rider1")
    assert "/processes/innovation_award/start" in rider.get("/processes").get_data(as_text=True)
    application = {"title": "外卖保温箱快速固定装置", "category": "utility",
                   "patent_no": "ZL202420123456.7",
                   "summary": "一种可单手操作的保温箱快速固定装置，三秒完成装卸，减少途中掉箱。",
                   "benefit": "已在本站点两百名骑手中试用，掉箱投诉下降九成。",
                   "phone": "13800138000"}
    missing = rider.post("/processes/innovation_award/start", data={**application, "summary": ""})
    assert missing.status_code == 422
    instance_id = start(rider, "innovation_award", application)

    def during_publicity():
        db.session.expire_all()
        return db.session.get(Instance, instance_id).steps == "publicity"

    # Recommend and review, then look at the notice board during the publicity period.
    _act_as_assignee(login, instance_id, "unit_review", {"action": "approve",
                                                         "comment": "同意推荐"})
    _act_as_assignee(login, instance_id, "committee_review", {"action": "approve",
                                                              "award_level": "second"})
    assert during_publicity()
    board = login("courier1").get("/notices").get_data(as_text=True)
    assert "外卖保温箱快速固定装置" in board
    instance = drive(login, instance_id, {})  # the publicity period passes without objection
    assert instance.status == "completed"
    assert instance.state["data"]["award_level"] == "second"
    assert instance.version.definition.key == "innovation_award"
    mine = login("rider1").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "已授奖" in mine


def _act_as_assignee(login, instance_id: int, step: str, answer: dict) -> None:
    from webapp.models import TaskAssignee

    db.session.expire_all()
    task = db.session.scalar(select(Task).where(Task.instance_id == instance_id,
                                                Task.status == "open"))
    assert task is not None and task.step == step, (task and task.step, step)
    username = db.session.scalar(select(User.username).join(
        TaskAssignee, TaskAssignee.user_id == User.id).where(TaskAssignee.task_id == task.id)
        .order_by(User.id))
    response = login(username).post(f"/tasks/{task.id}", data=answer)
    assert response.status_code == 302, (step, errors(response) + alerts(response))


def test_pages_of_a_process_are_titled_by_its_english_name_in_english(login, demo):
    """A reader using English sees "Micro-wish · Union Services", not 微心愿 (L2)."""
    client = login("admin")
    client.post("/auth/locale", data={"locale": "en"})
    for path in ("/micro_wish", "/micro_wish/versions/1", "/micro_wish/diff?a=1&b=1",
                 "/micro_wish/edit"):
        page = client.get(BASE + path).get_data(as_text=True)
        title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
        assert "微心愿" not in title and "微心愿" not in re.search(
            r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1), (path, title)
    assert "<title>Micro-wish · Union Services</title>" in client.get(
        BASE + "/micro_wish").get_data(as_text=True)
    client.post("/auth/locale", data={"locale": "zh_CN"})
    assert "<title>微心愿 · " in client.get(BASE + "/micro_wish").get_data(as_text=True)
