"""a person's open tasks and the open demands per day, kept by the database; 五个一's index

Pages whose cost grew with how much is open in the city:

* the inbox read every open task of the city (merge-joined with every task ever assigned
  to the viewer) to list and count the viewer's open ones.  ``task_assignees.open_since``
  (the task's ``opened_at`` while it is open) with a partial index gives them directly,
  oldest first.  Triggers keep it: an assignee row takes it from its task when inserted,
  and a task's change of status (or opening time) sets it on the task's assignees.
* the open-demands report counted every open demand.  ``open_demand_days`` holds how
  many are open per (district, category, China calendar day of submission); triggers on
  ``instances`` keep it in the transaction that opens, moves or closes a demand.
* 五个一 read every station-master request to find a page of branches' ones:
  ``(process_key, unit_path)`` finds them directly.

The triggers are created before the backfills, so no write between the two is missed
(creating them locks out writes to the tables until the migration commits).

Revision ID: e2a7c5d10b64
Revises: d91f3b7c2a4e
Create Date: 2026-11-29 05:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


# revision identifiers, used by Alembic.
revision = 'e2a7c5d10b64'
down_revision = 'd91f3b7c2a4e'
branch_labels = None
depends_on = None

# What the open-demands report counts (webapp/services/demand_report.py says the same).
PROCESS = "worker_demand"
WAITING = "('dispatch', 'acknowledge', 'answer')"


def _counted(row: str) -> str:
    return (f"{row}.process_key = '{PROCESS}' AND {row}.status = 'running' "
            f"AND {row}.steps IN {WAITING}")


def upgrade():
    op.add_column('task_assignees', sa.Column(
        'open_since', webapp.models.types.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        'open_demand_days',
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('category', sa.String(length=200), nullable=False),
        sa.Column('opened_on', sa.Date(), nullable=False),
        sa.Column('demands', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('district_id', 'category', 'opened_on',
                                name=op.f('pk_open_demand_days')))
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()
    _backfill()
    op.create_index('ix_task_assignees_open', 'task_assignees',
                    ['user_id', 'open_since', 'task_id'], unique=False,
                    postgresql_where=sa.text('open_since IS NOT NULL'),
                    sqlite_where=sa.text('open_since IS NOT NULL'))
    op.create_index('ix_instances_process_unit_path', 'instances',
                    ['process_key', 'unit_path'], unique=False)


def _postgresql_triggers():
    op.execute("""
        CREATE FUNCTION task_assignees_open_since() RETURNS trigger AS $$
        BEGIN
            SELECT CASE WHEN t.status = 'open' THEN t.opened_at END INTO NEW.open_since
              FROM tasks t WHERE t.id = NEW.task_id;
            RETURN NEW;
        END
        $$ LANGUAGE plpgsql""")
    op.execute("""
        CREATE TRIGGER task_assignees_open_since
        BEFORE INSERT OR UPDATE OF task_id ON task_assignees
        FOR EACH ROW EXECUTE FUNCTION task_assignees_open_since()""")
    op.execute("""
        CREATE FUNCTION tasks_open_since() RETURNS trigger AS $$
        BEGIN
            UPDATE task_assignees
               SET open_since = CASE WHEN NEW.status = 'open' THEN NEW.opened_at END
             WHERE task_id = NEW.id;
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql""")
    op.execute("""
        CREATE TRIGGER tasks_open_since AFTER UPDATE OF status, opened_at ON tasks
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                           OR OLD.opened_at IS DISTINCT FROM NEW.opened_at)
        EXECUTE FUNCTION tasks_open_since()""")
    # One function for the three events; the WHEN clauses keep every other process's
    # writes (and a demand's writes that change nothing counted) from calling it.
    op.execute(f"""
        CREATE FUNCTION open_demand_days_sync() RETURNS trigger AS $$
        DECLARE
            old_district integer;
            new_district integer;
            left_open integer;
        BEGIN
            IF TG_OP <> 'INSERT' AND {_counted('OLD')} THEN
                SELECT district_id INTO old_district FROM stations WHERE unit_id = OLD.station_id;
            END IF;
            IF TG_OP <> 'DELETE' AND {_counted('NEW')} THEN
                SELECT district_id INTO new_district FROM stations WHERE unit_id = NEW.station_id;
            END IF;
            IF TG_OP = 'UPDATE' AND old_district = new_district
               AND coalesce(OLD.category, '') = coalesce(NEW.category, '')
               AND (OLD.created_at AT TIME ZONE 'Asia/Shanghai')::date
                   = (NEW.created_at AT TIME ZONE 'Asia/Shanghai')::date THEN
                RETURN NULL;  -- counted the same before and after (e.g. dispatched)
            END IF;
            IF old_district IS NOT NULL THEN
                UPDATE open_demand_days SET demands = demands - 1
                 WHERE district_id = old_district AND category = coalesce(OLD.category, '')
                   AND opened_on = (OLD.created_at AT TIME ZONE 'Asia/Shanghai')::date
                RETURNING demands INTO left_open;
                IF left_open <= 0 THEN
                    DELETE FROM open_demand_days
                     WHERE district_id = old_district AND category = coalesce(OLD.category, '')
                       AND opened_on = (OLD.created_at AT TIME ZONE 'Asia/Shanghai')::date;
                END IF;
            END IF;
            IF new_district IS NOT NULL THEN
                INSERT INTO open_demand_days (district_id, category, opened_on, demands)
                VALUES (new_district, coalesce(NEW.category, ''),
                        (NEW.created_at AT TIME ZONE 'Asia/Shanghai')::date, 1)
                ON CONFLICT (district_id, category, opened_on)
                DO UPDATE SET demands = open_demand_days.demands + 1;
            END IF;
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql""")
    op.execute(f"""
        CREATE TRIGGER open_demand_days_insert AFTER INSERT ON instances
        FOR EACH ROW WHEN ({_counted('NEW')})
        EXECUTE FUNCTION open_demand_days_sync()""")
    op.execute(f"""
        CREATE TRIGGER open_demand_days_update
        AFTER UPDATE OF process_key, status, steps, station_id, category, created_at
        ON instances FOR EACH ROW
        WHEN (({_counted('OLD')} OR {_counted('NEW')})
              AND (OLD.process_key, OLD.status, OLD.steps, OLD.station_id, OLD.category,
                   OLD.created_at)
                  IS DISTINCT FROM (NEW.process_key, NEW.status, NEW.steps, NEW.station_id,
                                    NEW.category, NEW.created_at))
        EXECUTE FUNCTION open_demand_days_sync()""")
    op.execute(f"""
        CREATE TRIGGER open_demand_days_delete AFTER DELETE ON instances
        FOR EACH ROW WHEN ({_counted('OLD')})
        EXECUTE FUNCTION open_demand_days_sync()""")


# SQLite: no assignment to NEW, so AFTER triggers write the row; datetimes are stored as
# UTC text, and China has kept +08:00 without daylight saving since 1991.
_SQLITE_DAY = "date({}.created_at, '+8 hours')"


def _sqlite_triggers():
    op.execute("""
        CREATE TRIGGER task_assignees_open_since AFTER INSERT ON task_assignees
        BEGIN
            UPDATE task_assignees SET open_since = (
                SELECT CASE WHEN t.status = 'open' THEN t.opened_at END
                  FROM tasks t WHERE t.id = NEW.task_id)
             WHERE task_id = NEW.task_id AND user_id = NEW.user_id;
        END""")
    op.execute("""
        CREATE TRIGGER tasks_open_since AFTER UPDATE OF status, opened_at ON tasks
        WHEN OLD.status IS NOT NEW.status OR OLD.opened_at IS NOT NEW.opened_at
        BEGIN
            UPDATE task_assignees
               SET open_since = CASE WHEN NEW.status = 'open' THEN NEW.opened_at END
             WHERE task_id = NEW.id;
        END""")
    less = f"""
            UPDATE open_demand_days SET demands = demands - 1
             WHERE {_counted('OLD')}
               AND district_id = (SELECT district_id FROM stations WHERE unit_id = OLD.station_id)
               AND category = coalesce(OLD.category, '') AND opened_on = {_SQLITE_DAY.format('OLD')};
            DELETE FROM open_demand_days WHERE demands <= 0;"""
    more = f"""
            INSERT INTO open_demand_days (district_id, category, opened_on, demands)
            SELECT s.district_id, coalesce(NEW.category, ''), {_SQLITE_DAY.format('NEW')}, 1
              FROM stations s
             WHERE {_counted('NEW')} AND s.unit_id = NEW.station_id
               AND s.district_id IS NOT NULL
            ON CONFLICT (district_id, category, opened_on)
            DO UPDATE SET demands = demands + 1;"""
    op.execute(f"""
        CREATE TRIGGER open_demand_days_insert AFTER INSERT ON instances
        WHEN {_counted('NEW')}
        BEGIN {more}
        END""")
    op.execute(f"""
        CREATE TRIGGER open_demand_days_update
        AFTER UPDATE OF process_key, status, steps, station_id, category, created_at
        ON instances
        WHEN ({_counted('OLD')}) OR ({_counted('NEW')})
        BEGIN {less} {more}
        END""")
    op.execute(f"""
        CREATE TRIGGER open_demand_days_delete AFTER DELETE ON instances
        WHEN {_counted('OLD')}
        BEGIN {less}
        END""")


def _backfill():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("""
            UPDATE task_assignees a SET open_since = t.opened_at
              FROM tasks t WHERE t.id = a.task_id AND t.status = 'open'""")
        day = "(i.created_at AT TIME ZONE 'Asia/Shanghai')::date"
    else:
        op.execute("""
            UPDATE task_assignees SET open_since = (
                SELECT t.opened_at FROM tasks t WHERE t.id = task_assignees.task_id)
             WHERE task_id IN (SELECT id FROM tasks WHERE status = 'open')""")
        day = _SQLITE_DAY.format("i")
    op.execute(f"""
        INSERT INTO open_demand_days (district_id, category, opened_on, demands)
        SELECT s.district_id, coalesce(i.category, ''), {day}, count(*)
          FROM instances i JOIN stations s ON s.unit_id = i.station_id
         WHERE {_counted('i')} AND s.district_id IS NOT NULL
         GROUP BY s.district_id, coalesce(i.category, ''), {day}""")


def downgrade():
    op.drop_index('ix_instances_process_unit_path', table_name='instances')
    op.drop_index('ix_task_assignees_open', table_name='task_assignees',
                  postgresql_where=sa.text('open_since IS NOT NULL'),
                  sqlite_where=sa.text('open_since IS NOT NULL'))
    for trigger, table in (("open_demand_days_insert", "instances"),
                           ("open_demand_days_update", "instances"),
                           ("open_demand_days_delete", "instances"),
                           ("tasks_open_since", "tasks"),
                           ("task_assignees_open_since", "task_assignees")):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    if op.get_bind().dialect.name == "postgresql":
        for function in ("open_demand_days_sync", "tasks_open_since",
                         "task_assignees_open_since"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_table('open_demand_days')
    op.drop_column('task_assignees', 'open_since')
