"""The engine benchmark still runs (bench/engine.py): a handful of instances on a SQLite
file, every side completing every instance.  Its figures are printed, never asserted —
only that each side did the work it claims to time.  SpiffWorkflow is a benchmark-only
package (bench/requirements.txt); without it that side is left out."""
from __future__ import annotations

import warnings

from bench import engine


def test_the_engine_benchmark_completes_every_instance_on_every_side(tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a third-party parser's deprecations are not ours
        results = engine.run(url, instances=3, rounds=1, warmup=1, quiet=True)
    sides = ["engine", "core", "bare"] + (["spiff"] if engine.spiff_available() else [])
    assert sorted(k for k in results if not k.startswith("_")) == sorted(sides)
    for side in sides:
        assert results[side]["check"] == "3/3 completed", (side, results[side])
        assert results[side]["transitions"] == 3 * engine.TRANSITIONS_PER_INSTANCE
    assert "SQLite" in results["_conditions"]


def test_the_engine_side_writes_what_a_step_writes(tmp_path):
    """The timed engine side is the real service layer: three approvals leave the
    history, the audit chain and the notifications a request leaves."""
    from sqlalchemy import func, select

    from bench.engine_setup import make_app
    from webapp.extensions import db
    from webapp.models import AuditEntry, HistoryEntry, Instance, Notification
    from webapp.services import audit

    url = f"sqlite:///{tmp_path / 'bench.db'}"
    engine.run(url, instances=2, sides=["engine"], rounds=1, warmup=0, quiet=True)
    app = make_app(url, str(tmp_path / "instance"))
    with app.app_context():
        instances = db.session.scalars(select(Instance)).all()
        assert [i.status for i in instances] == ["completed", "completed"]
        actions = db.session.scalars(select(HistoryEntry.action).where(
            HistoryEntry.instance_id == instances[0].id).order_by(HistoryEntry.seq)).all()
        assert actions.count("approve") == 3 and actions[0] == "submit"
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "instance.approve")) == 6
        assert audit.verify().ok
        assert db.session.scalar(select(func.count()).select_from(Notification)) > 0
        db.session.remove()
        db.engine.dispose()


def test_the_core_side_runs_the_real_engine_and_saves_its_state(tmp_path):
    """The like-for-like side decides each step by the definition (the engine's state,
    with its decisions) and persists state + history as the loop does."""
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'bench.db'}"
    engine.run(url, instances=2, sides=["core"], rounds=1, warmup=0, quiet=True)
    db = create_engine(url)
    with db.connect() as conn:
        states = [json_state for (json_state,) in conn.execute(
            text("SELECT state FROM bench_core_instances ORDER BY id"))]
        actions = [a for (a,) in conn.execute(text(
            "SELECT action FROM bench_core_history WHERE instance_id = "
            "(SELECT MIN(id) FROM bench_core_instances) ORDER BY seq"))]
    db.dispose()
    import json

    state = json.loads(states[0]) if isinstance(states[0], str) else states[0]
    assert state["status"] == "completed" and state["end"] == "approved"
    assert [t["step"] for t in state["tasks"]] == list(engine.LEVELS)
    assert actions[0] == "submit" and actions.count("approve") == 3
