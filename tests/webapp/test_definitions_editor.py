"""Definitions in the browser (issue 8): list, check, publish, compare, retire — and a
new process made entirely through the pages that workers then run to its end."""
from __future__ import annotations

import html
import io
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
    ("GET", BASE + "/reference"),
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
    ("key: [unclosed\n", "不是有效的 YAML", None),
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
    assert [p.message for p in checked.problems if "展开之后内容过大" in p.message]
    checked = defs.check(bomb, new=True, locale="en")
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
    name, name_en = defs.check(renamed, new=True).problems  # a copy must be named, too
    assert "已有流程“微心愿”（key：micro_wish）用了这个名称" in name.message
    assert "英文名称也是“Micro-wish”" in name_en.message
    renamed = renamed.replace("name: 微心愿", "name: 微心愿（试行）", 1).replace(
        "name_en: Micro-wish", "name_en: Micro-wish (trial)", 1)
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


def broken_like_the_tester(source: str) -> tuple[str, int]:
    """The QA tester's definition: a top-level ``foo_bar``, ``approverz`` in a step and
    ``next`` to a step that is not there; and the line of ``approverz``."""
    broken = "foo_bar: 1\n" + source.replace("next: {approve: wall,", "next: {approve: wal,", 1) \
        .replace("    approvers: {role: station_head, of: form.station}\n",
                 "    approvers: {role: station_head, of: form.station}\n    approverz: x\n", 1)
    return broken, broken.split("\n").index("    approverz: x") + 1


def test_problems_are_said_in_the_readers_language_everywhere_the_editor_shows_them(
        login, demo):
    client = login("admin")
    broken, line = broken_like_the_tester(latest_source("micro_wish"))
    chinese = "环节“verify”：不认识的设置项“approverz”，审批环节没有这一项（是否拼错了？）"
    english = "step 'verify': unknown key 'approverz' for approval steps"
    for locale, expected, other in (("zh", chinese, english), ("en", english, chinese)):
        client.post("/auth/locale", data={"locale": locale})
        for action in ("check", "publish"):  # 检查, and the refusal of 发布
            response = client.post(BASE + "/micro_wish/edit",
                                   data={"source": broken, "action": action})
            assert response.status_code == 422
            shown = problems_of(response)
            assert (str(line), expected) in shown and other not in response.get_data(as_text=True)
            assert len(shown) >= 4 and all(
                bool(re.search(r"[\u4e00-\u9fff]", m)) == (locale == "zh") for _, m in shown)
        live = client.post(BASE + "/check", data={"source": broken, "key": "micro_wish"})
        assert {"line": line, "message": expected, "excerpt": "    approverz: x"} in \
            live.get_json()["problems"]
        upload = {"source": "", "action": "check",
                  "upload": (io.BytesIO(broken.encode("utf-8")), "micro_wish.yaml")}
        response = client.post(BASE + "/micro_wish/edit", data=upload,
                               content_type="multipart/form-data")
        assert (str(line), expected) in problems_of(response)
    assert versions_of("micro_wish") == [1]


@pytest.mark.parametrize("text, zh, en", [
    ("key: [unclosed\n", "不是有效的 YAML：", "not valid YAML"),
    ("- a\n- b\n", "流程定义应是一组“名称: 值”的设置", "a definition must be a mapping"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi")),
     "用别名（*名称）展开之后内容过大", "too large once its aliases"),
    ("key: Bad-Key\nname: x\n", "key“Bad-Key”的写法不对：只能用小写英文字母、数字和下划线",
     "'key' 'Bad-Key' is not a valid process key"),
])
def test_what_the_tester_found_in_english_reads_in_chinese(login, demo, text, zh, en):
    client = login("admin")
    answer = client.post(BASE + "/check", data={"source": text, "new": "1"}).get_json()
    assert any(p["message"].startswith(zh) for p in answer["problems"]), answer
    assert not any("required" in p["message"] for p in answer["problems"])
    client.post("/auth/locale", data={"locale": "en"})
    answer = client.post(BASE + "/check", data={"source": text, "new": "1"}).get_json()
    assert any(en in p["message"] for p in answer["problems"]), answer


def test_the_help_links_to_the_definitions_reference_served_as_a_page(login, demo):
    from webapp.definitions.reference import _MD

    client = login("admin")
    help_line = client.get(BASE + "/micro_wish/edit").get_data(as_text=True)
    assert "docs/definitions.md" not in help_line  # a path a browser cannot open
    assert f'href="{BASE}/reference"' in help_line and "查看流程定义格式说明" in help_line
    page = client.get(BASE + "/reference").get_data(as_text=True)
    assert '<h1 id="process-definitions">Process definitions</h1>' in page
    assert '<h2 id="people">People</h2>' in page and 'href="#people"' in page
    assert "<table>" in page and "<code>{role: district_admin, of: applicant.district}</code>" in page
    assert "<script>" not in _MD.render("<script>alert(1)</script>\n")  # the file's HTML is text
    assert "保留字" in defs.check(defs.template_text("innovation_award").replace(
        "key: innovation_award", "key: reference", 1), new=True).problems[0].message
    client.post("/auth/locale", data={"locale": "en"})
    assert "How definitions are written" in client.get(BASE + "/micro_wish/edit").get_data(
        as_text=True)


def test_the_diagram_panel_has_one_note(login, demo):
    client = login("admin")
    source = latest_source("micro_wish").replace("kind: approval", "kind: aproval", 1)
    page = client.post(BASE + "/micro_wish/edit", data={"source": source, "action": "check"})
    text = page.get_data(as_text=True)
    assert text.count('id="diagram-note"') == 1 and "diagram-stale" not in text
    assert "内容检查通过后在这里显示流程图。" in text.split('id="diagram-note"')[1][:200]


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
    named = named_template(defs.template_text("simple_approval"), "my_help", "帮办", "Help")
    good = ("\ufeff" + named).encode("utf-8")
    response = client.post(BASE + "/new", data={
        "source": "", "action": "check", "upload": (io.BytesIO(good), "my.yaml")},
        content_type="multipart/form-data")
    assert response.status_code == 200
    assert textarea_of(response) == named

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
    named = named_template(template, "parking_help", "停车求助", "Parking help")
    response = client.post(BASE + "/new", data={"source": named, "action": "publish"})
    assert response.status_code == 302
    assert "停车求助" in login("rider1").get("/processes").get_data(as_text=True)


def named_template(template: str, key: str, name: str, name_en: str) -> str:
    for old, new in (("key: my_process", f"key: {key}"), ("name: 新流程", f"name: {name}"),
                     ("name_en: New process", f"name_en: {name_en}")):
        assert old in template
        template = template.replace(old, new, 1)
    return template


@pytest.mark.parametrize("name", sorted(defs.TEMPLATES))
def test_every_template_validates_once_named(demo, name):
    text = defs.template_text(name)
    if name in defs.PLACEHOLDER_TEMPLATES:
        text = named_template(text, "parking_help", "停车求助", "Parking help")
    assert defs.check(text, new=True).ok


def published_names() -> list[str]:
    db.session.expire_all()
    return sorted(db.session.scalars(select(ProcessDefinition.name)))


def test_a_template_published_unchanged_is_refused_until_it_is_named(login, demo):
    client = login("admin")
    template = textarea_of(client.get(BASE + "/new?template=simple_approval"))
    before = published_names()
    for source in (template, template.replace("key: my_process", "key: proc1", 1),
                   named_template(template, "proc1", "停车求助", "Parking help").replace(
                       "name_en: Parking help", "name_en: New process", 1)):
        response = client.post(BASE + "/new", data={"source": source, "action": "publish"})
        assert response.status_code == 422
        (problem,) = problems_of(response)
        assert "是模板里的占位文字" in problem[1] and "起一个自己的名字" in problem[1]
        assert published_names() == before
    # the live check says so before anyone presses 发布
    answer = client.post(BASE + "/check", data={"source": template, "new": "1"}).get_json()
    assert not answer["ok"] and "key“my_process”、name“新流程”、name_en“New process”" in \
        answer["problems"][0]["message"]


def test_a_process_may_not_take_another_ones_name(login, demo):
    client = login("admin")
    template = textarea_of(client.get(BASE + "/new?template=simple_approval"))
    before = published_names()
    for name, name_en, said, line_key in (
            ("微心愿", "Parking help", "已有流程“微心愿”（key：micro_wish）用了这个名称", "name"),
            (" 微心愿 ", "Parking help", "已有流程“微心愿”（key：micro_wish）用了这个名称", "name"),
            ("停车求助", "micro-WISH", "已有流程“微心愿”（key：micro_wish）的英文名称也是", "name_en")):
        source = named_template(template, "proc2", name, "Parking help").replace(
            "name_en: Parking help", f"name_en: {name_en}", 1)
        response = client.post(BASE + "/new", data={"source": source, "action": "publish"})
        assert response.status_code == 422
        (problem,) = problems_of(response)
        line = next(i for i, text in enumerate(source.split("\n"), 1)
                    if text.startswith(f"{line_key}:"))
        assert problem[0] == str(line) and said in problem[1], problem
        assert published_names() == before
    # an edit may not take another process's name either; keeping its own is fine
    source = latest_source("worker_demand")
    renamed = re.sub(r"(?m)^name: .*$", "name: 微心愿", source, count=1)
    response = client.post(BASE + "/worker_demand/edit", data={"source": renamed,
                                                               "action": "publish"})
    assert response.status_code == 422 and "micro_wish" in problems_of(response)[0][1]
    assert defs.check(latest_source("micro_wish") + "\n# x", key="micro_wish").ok
    client.post("/auth/locale", data={"locale": "en"})
    answer = client.post(BASE + "/check", data={"source": renamed, "key": "worker_demand"})
    assert "The process 'micro_wish' is already called '微心愿'" in \
        answer.get_json()["problems"][0]["message"]


def test_a_new_process_may_not_draw_on_another_ones_resource_prefix(login, demo):
    """Its places and waiting list would be the other's: refused at its line, named."""
    source = ("key: seats\nname: 抢座\nname_en: Seats\nstart:\n  who: anyone\n"
              "  form: [{name: course, type: text, label: 课程}]\nsteps:\n"
              "  seat: {kind: reserve, name: 占座, resource: \"course:{form.course}\","
              " capacity: 3, next: {granted: done}}\nends: {done: completed}\n")
    client = login("admin")
    response = client.post(BASE + "/new", data={"source": source, "action": "publish"})
    assert response.status_code == 422
    assert problems_of(response) == [("8", "名额资源“course:…”已被流程“技能培训报名”"
                                           "（training_registration）使用，请换一个前缀")]
    assert "seats" not in [row.definition.key for row in defs.definition_rows()]
    client.post("/auth/locale", data={"locale": "en"})
    answer = client.post(BASE + "/check", data={"source": source, "new": "1"}).get_json()
    assert "is already used by the process 'Skills training registration' " \
        "(training_registration): choose another prefix" in answer["problems"][0]["message"]
    own = source.replace("course:{form.course}", "seat:{form.course}")
    response = login("admin").post(BASE + "/new", data={"source": own, "action": "publish"})
    assert response.status_code == 302


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


def test_the_editor_s_breadcrumb_names_the_process_not_its_key(login, demo):
    page = login("admin").get("/admin/definitions/micro_wish/edit").get_data(as_text=True)
    crumbs = page[page.index('class="breadcrumb'):page.index("</ol>")]
    assert ">微心愿</a>" in crumbs and ">micro_wish<" not in crumbs
