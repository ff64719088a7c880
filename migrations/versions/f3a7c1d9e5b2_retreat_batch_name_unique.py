"""retreat_batches: one batch of a name (whatever its case), held by the database

The batch form refused a name already taken (case aside, over every city) by looking
first; two administrators saving the same name at the same moment both passed the look
and made two batches.  A unique index on lower(name) makes the second one fail, and the
form says what it says when it looks (已有同名的疗休养批次，请换个名称).

Batches that already share a name stop the upgrade, named with their ids: which one to
rename is the city's to decide (at /retreat/batches/<id>/edit), then upgrade again.

Revision ID: f3a7c1d9e5b2
Revises: f4b6d8a0c2e5
Create Date: 2026-12-02 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f3a7c1d9e5b2'
down_revision = 'f4b6d8a0c2e5'
branch_labels = None
depends_on = None

INDEX = 'uq_retreat_batches_name'


def upgrade():
    rows = op.get_bind().execute(sa.text(
        'SELECT b.id, b.name FROM retreat_batches b WHERE EXISTS ('
        ' SELECT 1 FROM retreat_batches o WHERE lower(o.name) = lower(b.name) AND o.id <> b.id)'
        ' ORDER BY lower(b.name), b.id')).all()
    if rows:
        named = '; '.join(f'#{row.id} {row.name}' for row in rows)
        raise RuntimeError(
            f'Retreat batches share a name: {named}. Rename all but one of each '
            f'(/retreat/batches/<id>/edit), then upgrade again. '
            f'以下疗休养批次重名，请先改名（每组只留一个原名）后再升级：{named}')
    # An index on an expression: plain CREATE INDEX on both SQLite (≥ 3.9) and
    # PostgreSQL, no table copy.
    op.create_index(INDEX, 'retreat_batches', [sa.text('lower(name)')], unique=True)


def downgrade():
    op.drop_index(INDEX, table_name='retreat_batches')
