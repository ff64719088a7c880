"""instances.title_en: a request's title in English where it reads otherwise

A demand is titled from its category and station ("停车难 · 解放碑工会驿站"); the English
pages listed it in Chinese, the title being stored once.  The English one (from the
choices' and stations' English names) is now stored beside it by every save that makes
the title; requests that were there before get it from `flask workflows retitle`, and
until then are listed by their Chinese title, as before.

Revision ID: d7f1a3c5e9b2
Revises: c5e7a9b1d3f2
Create Date: 2026-12-01 12:20:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd7f1a3c5e9b2'
down_revision = 'c5e7a9b1d3f2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('instances') as batch_op:
        batch_op.add_column(sa.Column('title_en', sa.String(length=200), nullable=True))


def downgrade():
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 has it): a batch copy of the table
    # would have to drop ``instances``, which the tasks and history rows refer to.
    op.execute('ALTER TABLE instances DROP COLUMN title_en')
