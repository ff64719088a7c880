"""``flask workflows validate|publish|tick`` as an administrator uses them."""
from __future__ import annotations

from pathlib import Path

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


def test_models_and_migrations_agree(app):
    """A model change without its migration fails here, on either database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []
