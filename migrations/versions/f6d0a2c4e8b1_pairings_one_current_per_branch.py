"""pairings: one current pairing per branch, held by the database

"One station per branch at a time" was kept by the service alone (pairing locks the
branch's row and ends its current pairing).  Now a partial unique index on
``branch_id`` WHERE ``ended_on IS NULL`` holds it, on both databases.  It implies the
older index ``uq_pairings_current`` (one current row per branch *and station*), which is
dropped: a second index that can never refuse anything the first lets through.

Existing rows: a branch with more than one current pairing (written around the service)
keeps the one with the latest ``since`` (the latest id among equal days) current; each
other one ends on the ``since`` of the next later one of the branch — the day it was,
in effect, replaced, as pairing with another station ends the current pairing.  These
ends are not in the audit log (a migration writes no entries); the rows keep them.

Downgrade puts ``uq_pairings_current`` back and drops the new index; the rows stay as
they are (ended duplicates stay ended).

Revision ID: f6d0a2c4e8b1
Revises: f5c8e0a2b4d6
Create Date: 2026-12-03 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f6d0a2c4e8b1'
down_revision = 'f5c8e0a2b4d6'
branch_labels = None
depends_on = None

CURRENT = "ended_on IS NULL"

pairings = sa.table('pairings', sa.column('id', sa.Integer), sa.column('branch_id', sa.Integer),
                    sa.column('since', sa.Date), sa.column('ended_on', sa.Date))


def _end_duplicates():
    """End every current row of a branch but its latest, each on the next one's ``since``.

    Read, then updated row by row (few rows, if any): an UPDATE whose own subquery reads
    the rows it is ending would see some of them ended already on SQLite."""
    conn = op.get_bind()
    crowded = (sa.select(pairings.c.branch_id).where(pairings.c.ended_on.is_(None))
               .group_by(pairings.c.branch_id).having(sa.func.count() > 1))
    rows = conn.execute(sa.select(pairings.c.id, pairings.c.branch_id, pairings.c.since)
                        .where(pairings.c.ended_on.is_(None),
                               pairings.c.branch_id.in_(crowded))
                        .order_by(pairings.c.branch_id, pairings.c.since, pairings.c.id)).all()
    for row, later in zip(rows, rows[1:]):
        if later.branch_id == row.branch_id:
            conn.execute(pairings.update().where(pairings.c.id == row.id)
                         .values(ended_on=later.since))


def upgrade():
    _end_duplicates()
    op.drop_index('uq_pairings_current', table_name='pairings',
                  postgresql_where=sa.text(CURRENT), sqlite_where=sa.text(CURRENT))
    op.create_index('uq_pairings_branch_current', 'pairings', ['branch_id'], unique=True,
                    postgresql_where=sa.text(CURRENT), sqlite_where=sa.text(CURRENT))


def downgrade():
    op.drop_index('uq_pairings_branch_current', table_name='pairings',
                  postgresql_where=sa.text(CURRENT), sqlite_where=sa.text(CURRENT))
    op.create_index('uq_pairings_current', 'pairings', ['branch_id', 'station_id'],
                    unique=True, postgresql_where=sa.text(CURRENT),
                    sqlite_where=sa.text(CURRENT))
