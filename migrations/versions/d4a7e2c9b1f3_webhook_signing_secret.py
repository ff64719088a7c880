"""a unit webhook may carry a signing secret (DingTalk robots' 加签)

A DingTalk group robot whose security setting is 加签 refuses every message that does
not carry ``timestamp`` and ``sign`` (an HMAC-SHA256 of the timestamp keyed by the
robot's secret): the secret is kept beside the URL and the message signed when sent.

Revision ID: d4a7e2c9b1f3
Revises: c3f9a1d7e5b2
Create Date: 2026-11-30 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd4a7e2c9b1f3'
down_revision = 'c3f9a1d7e5b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('unit_webhooks') as batch_op:
        batch_op.add_column(sa.Column('secret', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('unit_webhooks') as batch_op:
        batch_op.drop_column('secret')
