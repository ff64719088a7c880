"""capacity_resources.closed: a resource whose event is called off takes nobody

A duty slot called off by its station must give no place and no waiting place to a
sign-up that was checked before the cancel and reached ``reserve`` after it.  That was a
special case inside the generic capacity mechanism (``directory._called_off`` read the
slot behind a ``slot:`` key); now the resource itself says so: ``reserve`` refuses on a
closed resource, and a place given back on one goes to nobody.  Here the resources of
the slots already called off are closed.

Revision ID: f5c8e0a2b4d6
Revises: f3a7c1d9e5b2
Create Date: 2026-12-02 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f5c8e0a2b4d6'
down_revision = 'f3a7c1d9e5b2'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no batch copy of ``capacity_resources``, which the
    # reservations refer to).
    op.add_column('capacity_resources', sa.Column('closed', sa.Boolean(),
                                                  server_default=sa.false(), nullable=False))
    op.execute("""
        UPDATE capacity_resources SET closed = TRUE
        WHERE key IN (SELECT 'slot:' || CAST(id AS VARCHAR(20)) FROM duty_slots
                      WHERE cancelled_at IS NOT NULL)
    """)


def downgrade():
    # Before this, a called-off slot's resource had no places (capacity 0): keep that
    # true of every closed one, so the older code gives nobody a place on it.
    op.execute("UPDATE capacity_resources SET capacity = 0 WHERE closed")
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 has it): a batch copy of the table
    # would have to drop ``capacity_resources``, which the reservations refer to.
    op.execute('ALTER TABLE capacity_resources DROP COLUMN closed')
