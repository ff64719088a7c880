"""retreat_batches.name_en, site_en: a batch's name and site in English

Batches were made only by the demo seed and named in Chinese alone, so English pages,
downloads and the start form's batch list read "2027年第一期劳模疗休养（武隆仙女山）".
City administrators now create and edit batches, with the English name and site beside
the Chinese ones; empty, a batch is shown by its Chinese name, as before.

Revision ID: e8c2a4f6b1d3
Revises: e8b2d4f6a1c3
Create Date: 2026-12-01 16:45:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e8c2a4f6b1d3'
down_revision = 'e8b2d4f6a1c3'
branch_labels = None
depends_on = None


def upgrade():
    # Adding a nullable column is a plain ALTER TABLE on SQLite too (no table copy).
    with op.batch_alter_table('retreat_batches') as batch_op:
        batch_op.add_column(sa.Column('name_en', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('site_en', sa.String(length=200), nullable=True))


def downgrade():
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 has it): a batch copy of the table
    # would have to drop ``retreat_batches``, which the quotas refer to.
    op.execute('ALTER TABLE retreat_batches DROP COLUMN site_en')
    op.execute('ALTER TABLE retreat_batches DROP COLUMN name_en')
