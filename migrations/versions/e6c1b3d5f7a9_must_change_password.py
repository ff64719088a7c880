"""a password set by an administrator must be changed by its holder

An account an administrator creates, imports or resets gets a password the
administrator has seen: until its holder sets one of their own, the pages lead to the
password change and the API issues no token.  Existing accounts are not affected.

Revision ID: e6c1b3d5f7a9
Revises: d4a7e2c9b1f3
Create Date: 2026-11-30 16:40:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e6c1b3d5f7a9'
down_revision = 'd4a7e2c9b1f3'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN: a batch copy of ``users`` (SQLite) would have to drop a table
    # half the schema refers to, and would lose its triggers (the organisation's
    # generation is bumped by them).
    op.add_column('users', sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))


def downgrade():
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 has it), for the same reason.
    op.execute('ALTER TABLE users DROP COLUMN must_change_password')
