"""instances: station_id and category copied from the form data, indexed; open pooled
tasks by request

Reports (open demands, wishes per district) and the wish wall grouped and filtered by
``state->data->station`` / ``->category``, a JSON read of every row: their cost grew with
the number of requests.  The columns are kept by every save
(webapp/services/instance_columns.py); here they are filled for the rows there are, by
the same rule: ``station`` when it is a positive integer that fits an int, ``category``
when it is a string of at most 200 characters.  The wish wall, newest request first, now
reads the open pooled tasks by a small partial index instead of walking back through the
tasks of every newer request.

Revision ID: b7c3e91d5a20
Revises: 2664858edfe3
Create Date: 2026-11-29 01:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c3e91d5a20'
down_revision = '2664858edfe3'
branch_labels = None
depends_on = None

BACKFILL = {
    "postgresql": """
        UPDATE instances SET
          station_id = CASE WHEN jsonb_typeof(state->'data'->'station') = 'number'
                             AND (state->'data'->>'station') ~ '^[0-9]{1,10}$'
                             AND (state->'data'->>'station')::bigint BETWEEN 1 AND 2147483647
                            THEN (state->'data'->>'station')::integer END,
          category = CASE WHEN jsonb_typeof(state->'data'->'category') = 'string'
                           AND char_length(state->'data'->>'category') <= 200
                          THEN state->'data'->>'category' END
        WHERE jsonb_typeof(state->'data') = 'object'
    """,
    "sqlite": """
        UPDATE instances SET
          station_id = CASE WHEN json_type(state, '$.data.station') = 'integer'
                             AND json_extract(state, '$.data.station') BETWEEN 1 AND 2147483647
                            THEN json_extract(state, '$.data.station') END,
          category = CASE WHEN json_type(state, '$.data.category') = 'text'
                           AND length(json_extract(state, '$.data.category')) <= 200
                          THEN json_extract(state, '$.data.category') END
        WHERE json_type(state, '$.data') = 'object'
    """,
}


def upgrade():
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('station_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('category', sa.String(length=200), nullable=True))
    op.execute(BACKFILL[op.get_bind().dialect.name])
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.create_index('ix_instances_process_category', ['process_key', 'category'],
                              unique=False)
        batch_op.create_index('ix_instances_process_status_station',
                              ['process_key', 'status', 'station_id', 'category', 'steps',
                               'created_at', 'id'], unique=False)

    op.create_index('ix_tasks_open_pool_instance', 'tasks', ['instance_id'], unique=False,
                    postgresql_where=sa.text("status = 'open' AND pool_role IS NOT NULL"),
                    sqlite_where=sa.text("status = 'open' AND pool_role IS NOT NULL"))


def downgrade():
    op.drop_index('ix_tasks_open_pool_instance', table_name='tasks')
    op.drop_index('ix_instances_process_status_station', table_name='instances')
    op.drop_index('ix_instances_process_category', table_name='instances')
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 has it): a batch copy of the table
    # would have to drop ``instances``, which the tasks and history rows refer to.
    op.execute('ALTER TABLE instances DROP COLUMN category')
    op.execute('ALTER TABLE instances DROP COLUMN station_id')
