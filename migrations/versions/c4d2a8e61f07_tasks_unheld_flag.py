"""tasks.unheld: open tasks for named people that nobody holds, by a small partial index

The administrators' inbox counts the tasks nobody holds (no one has the role the step
asks for).  That count checked every open task of the scope against the assignees — at a
city's million history rows about 90 ms a page, growing with the open tasks.  Every save
now keeps ``unheld`` (webapp/services/workflow.py ``_sync_tasks``); here it is set for the
rows there are, by the same rule as the list's query.

Revision ID: c4d2a8e61f07
Revises: b7c3e91d5a20
Create Date: 2026-11-29 02:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d2a8e61f07'
down_revision = 'b7c3e91d5a20'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no batch copy of ``tasks``, which the assignees refer to).
    op.add_column('tasks', sa.Column('unheld', sa.Boolean(), server_default=sa.false(),
                                     nullable=False))
    op.execute("""
        UPDATE tasks SET unheld = TRUE
        WHERE status = 'open' AND kind IN ('approval', 'task') AND pool_role IS NULL
          AND NOT EXISTS (SELECT 1 FROM task_assignees a WHERE a.task_id = tasks.id)
    """)
    op.create_index('ix_tasks_open_unheld', 'tasks', ['opened_at'], unique=False,
                    postgresql_where=sa.text("status = 'open' AND unheld"),
                    sqlite_where=sa.text("status = 'open' AND unheld"))


def downgrade():
    op.drop_index('ix_tasks_open_unheld', table_name='tasks',
                  postgresql_where=sa.text("status = 'open' AND unheld"),
                  sqlite_where=sa.text("status = 'open' AND unheld"))
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 has it): a batch copy of the table
    # would have to drop ``tasks``, which the assignees refer to.
    op.execute('ALTER TABLE tasks DROP COLUMN unheld')
