"""an Idempotency-Key sent again with another request is refused, not replayed

The digest of what an API start sent (the process and the body, files included) beside
its key: a retry sends the same and is answered the request it started; a different
request under the same key is a client's mistake, told as such.  Empty for the web's
start forms (their key is new with every form drawn).

Revision ID: a7d3e9f1b2c4
Revises: f2a4c6e8b0d1
Create Date: 2026-12-01 00:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7d3e9f1b2c4'
down_revision = 'f2a4c6e8b0d1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submissions') as batch_op:
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('submissions') as batch_op:
        batch_op.drop_column('fingerprint')
