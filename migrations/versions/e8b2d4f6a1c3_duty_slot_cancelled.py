"""duty_slots.cancelled_at / cancelled_by_id / cancel_reason: a slot the station calls off

A station closed for a storm calls off a published duty slot: the slot is no longer
offered, its sign-ups end as cancelled with the reason.  The row stays (the requests
name it); these say when, by whom and why.

Revision ID: e8b2d4f6a1c3
Revises: d7f1a3c5e9b2
Create Date: 2026-12-05 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e8b2d4f6a1c3'
down_revision = 'd7f1a3c5e9b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('duty_slots') as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=500), nullable=True))
        batch_op.create_foreign_key('fk_duty_slots_cancelled_by_id_users', 'users',
                                    ['cancelled_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('duty_slots') as batch_op:
        batch_op.drop_constraint('fk_duty_slots_cancelled_by_id_users', type_='foreignkey')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_by_id')
        batch_op.drop_column('cancelled_at')
