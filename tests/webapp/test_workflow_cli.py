"""``flask workflows validate|publish|tick`` as an administrator uses them."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import DefinitionVersion

DEFINITIONS = Path(__file__).resolve().parents[2] / "workflows" / "definitions"


def test_validate_the_shipped_definitions(runner):
    result = runner.invoke(args=["workflows", "validate"])
    assert result.exit_code == 0, result.output
    for key in ("micro_wish", "station_master", "training_registration", "retreat_nomination",
                "worker_demand"):
        assert f"ok ({key}," in result.output


def test_validate_reports_every_problem_with_file_and_line_and_fails(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: demo\nname: 演示\nstart:\n  who: {role: nobody}\nsteps:\n"
                   "  a: {kind: approval, approvers: {role: unit_admin, of: applicant.unit},"
                   " next: {approve: nowhere}}\nends: {done: completed}\n", encoding="utf-8")
    good = DEFINITIONS / "micro_wish.yaml"
    result = runner.invoke(args=["workflows", "validate", str(bad), str(good)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith(f"{bad}:4:") and "nobody" in line for line in lines)
    assert any(line.startswith(f"{bad}:6:") and "nowhere" in line for line in lines)
    assert "micro_wish.yaml: ok" in result.output  # the good file is still checked


def test_validate_a_file_that_is_not_yaml(runner, tmp_path):
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(b"\xff\xfe not text")
    result = runner.invoke(args=["workflows", "validate", str(junk)])
    assert result.exit_code == 1 and "junk.yaml" in result.output


def test_publish_twice_makes_one_version_each(app, runner):
    first = runner.invoke(args=["workflows", "publish"])
    assert first.exit_code == 0, first.output
    assert "micro_wish: published as version 1" in first.output
    again = runner.invoke(args=["workflows", "publish"])
    assert "micro_wish: unchanged, still version 1" in again.output
    assert db.session.scalar(select(func.count()).select_from(DefinitionVersion)) == 5


def test_publish_refuses_a_broken_file_and_publishes_nothing_of_it(app, runner, tmp_path):
    broken = tmp_path / "micro_wish.yaml"
    broken.write_text((DEFINITIONS / "micro_wish.yaml").read_text(encoding="utf-8")
                      .replace("remind_after: 2d", "remind_after: soon"), encoding="utf-8")
    result = runner.invoke(args=["workflows", "publish", str(broken)])
    assert result.exit_code == 1 and "soon" in result.output
    assert db.session.scalar(select(func.count()).select_from(DefinitionVersion)) == 0


def test_tick_fires_nothing_when_nothing_is_due(app, runner):
    result = runner.invoke(args=["workflows", "tick"])
    assert result.exit_code == 0 and "Timers fired: 0" in result.output


@pytest.mark.filterwarnings(
    # SQLite cannot reflect an index on an expression (retreat batches' lower(name)), so
    # it is not compared there: PostgreSQL compares it, test_retreat_batches checks it.
    "ignore:Skipped unsupported reflection of expression-based index",
    "ignore:autogenerate skipping metadata-specified expression-based index")
def test_models_and_migrations_agree(app):
    """A model change without its migration fails here, on either database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


COOL = """key: {key}
name: {name}
name_en: {name_en}
start:
  who: anyone
  form: [{{name: station, type: text, label: 驿站}}]
steps:
  seat: {{kind: reserve, name: 领取名额, resource: "{resource}", capacity: 10,
         next: {{granted: done}}}}
ends: {{done: completed}}
"""


def cool(tmp_path, key="summer_cool", name="送清凉", name_en="Summer cool",
         resource="cool:{form.station}") -> Path:
    path = tmp_path / f"{key}.yaml"
    path.write_text(COOL.format(key=key, name=name, name_en=name_en, resource=resource),
                    encoding="utf-8")
    return path


def versions(key: str) -> int:
    from webapp.models import ProcessDefinition

    return db.session.scalar(select(func.count()).select_from(DefinitionVersion).join(
        ProcessDefinition).where(ProcessDefinition.key == key))


def test_publish_refuses_a_resource_prefix_another_process_uses(app, runner, tmp_path):
    """Two processes drawing on "cool:…" would share places and a waiting list."""
    assert runner.invoke(args=["workflows", "publish"]).exit_code == 0
    first = runner.invoke(args=["workflows", "publish", str(cool(tmp_path))])
    assert first.exit_code == 0, first.output
    other = cool(tmp_path, "cool_drinks", "送冷饮", "Cold drinks")
    result = runner.invoke(args=["workflows", "publish", "--lang", "zh", str(other)])
    assert result.exit_code == 1
    assert f"{other}:8: 名额资源“cool:…”已被流程“送清凉”（summer_cool）使用，请换一个前缀" \
        in result.output
    assert versions("cool_drinks") == 0
    english = runner.invoke(args=["workflows", "validate", str(other)])
    assert english.exit_code == 1
    assert "the reserve resource 'cool:…' is already used by the process 'Summer cool' " \
        "(summer_cool)" in english.output
    # a shipped prefix (course:) is taken too; the process's own next version is fine
    seats = cool(tmp_path, "seats", "抢座", "Seats", "course:{form.station}")
    assert "(training_registration)" in runner.invoke(
        args=["workflows", "publish", str(seats)]).output
    again = cool(tmp_path, name="送清凉（夏季）")
    assert runner.invoke(args=["workflows", "publish", str(again)]).exit_code == 0
    assert versions("summer_cool") == 2
    # a retired process gives its prefix up
    from webapp.services import workflow as wf
    wf.set_retired("summer_cool", True)
    db.session.commit()
    assert runner.invoke(args=["workflows", "publish", str(other)]).exit_code == 0


def test_publish_applies_the_editors_naming_checks(app, runner, tmp_path):
    assert runner.invoke(args=["workflows", "publish"]).exit_code == 0
    duplicate = cool(tmp_path, "qa_dupname", "微心愿", "QA", "qa:{form.station}")
    result = runner.invoke(args=["workflows", "publish", str(duplicate)])
    assert result.exit_code == 1
    assert "The process 'micro_wish' is already called '微心愿'" in result.output
    placeholder = cool(tmp_path, "my_process", "新流程", "New process", "qa:{form.station}")
    result = runner.invoke(args=["workflows", "publish", "--lang", "zh", str(placeholder)])
    assert result.exit_code == 1 and "是模板里的占位文字" in result.output
    assert "my_process" in result.output
    assert versions("qa_dupname") == versions("my_process") == 0
    named = cool(tmp_path, "qa_named", "QA 名额", "QA places", "qa:{form.station}")
    assert runner.invoke(args=["workflows", "publish", str(named)]).exit_code == 0


def test_validate_and_publish_speak_chinese_when_asked(app, runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: demo\nname: 演示\nstart:\n  who: {role: nobody}\nsteps: {}\n"
                   "ends: {done: completed}\n", encoding="utf-8")
    result = runner.invoke(args=["workflows", "validate", "--lang", "zh", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4: start 的 who：不认识的角色“nobody”" in result.output
    assert "有问题的流程定义：1 个" in result.output
    assert "Definitions with problems" not in result.output
    good = runner.invoke(args=["workflows", "validate", "--lang", "zh",
                               str(DEFINITIONS / "micro_wish.yaml")])
    assert good.exit_code == 0 and "通过（micro_wish，" in good.output
    published = runner.invoke(args=["workflows", "publish", "--lang", "zh",
                                    str(DEFINITIONS / "micro_wish.yaml")])
    assert "micro_wish：已发布为第 1 版" in published.output
