"""a start form sent twice starts one request

The key each start form (or an API client's Idempotency-Key) carries, with the request
it started: the same form sent again is shown that request.

Revision ID: f2a4c6e8b0d1
Revises: e6c1b3d5f7a9
Create Date: 2026-11-30 17:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

import webapp.models.types


# revision identifiers, used by Alembic.
revision = 'f2a4c6e8b0d1'
down_revision = 'e6c1b3d5f7a9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'submissions',
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('created_at', webapp.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.id'],
                                name=op.f('fk_submissions_instance_id_instances')),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_submissions')))
    op.create_index(op.f('ix_submissions_instance_id'), 'submissions', ['instance_id'])


def downgrade():
    op.drop_index(op.f('ix_submissions_instance_id'), table_name='submissions')
    op.drop_table('submissions')
