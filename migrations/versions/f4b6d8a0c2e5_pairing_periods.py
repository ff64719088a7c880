"""pairings: each pairing period its own row, ``ended_on`` in place of ``active``

Pairing a branch again with a station it had been paired with reused that row and
overwrote its ``since``, so the earlier period was lost; an ended pairing kept no date.
Now every period is a row with ``since`` and ``ended_on`` (NULL while it lasts), and only
one current row per branch and station is unique (a partial index on both databases).

Existing rows: an active one gets no ``ended_on``.  An ended one had no date kept; it
gets the best date there is:

* the ``since`` of the branch's next pairing (the earliest later ``since`` among its
  rows).  Pairing with another station ends the current pairing that same day, so for
  a pairing ended that way this is exact; for one ended by hand it is the latest day it
  can have ended.
* otherwise (ended by hand and the branch not paired since) the day of this upgrade
  (China's date): the pairing had ended by then, and no row says when.

Either is at least ``since`` (a check constraint now says ``ended_on >= since``).
Periods that the old reuse overwrote cannot be recovered.

Downgrade keeps one row per branch and station (the current one, else the latest
period) and deletes the older periods: the old unique constraint allows no more.

Revision ID: f4b6d8a0c2e5
Revises: e8c2a4f6b1d3
Create Date: 2026-12-02 10:00:00.000000

"""
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f4b6d8a0c2e5'
down_revision = 'e8c2a4f6b1d3'
branch_labels = None
depends_on = None

CURRENT = "ended_on IS NULL"

pairings = sa.table('pairings', sa.column('id', sa.Integer), sa.column('branch_id', sa.Integer),
                    sa.column('station_id', sa.Integer), sa.column('since', sa.Date),
                    sa.column('active', sa.Boolean), sa.column('ended_on', sa.Date))


def upgrade():
    with op.batch_alter_table('pairings') as batch_op:
        batch_op.add_column(sa.Column('ended_on', sa.Date(), nullable=True))

    later = pairings.alias('later')
    next_since = (sa.select(sa.func.min(later.c.since))
                  .where(later.c.branch_id == pairings.c.branch_id,
                         later.c.since > pairings.c.since)
                  .scalar_subquery())
    op.execute(pairings.update().where(pairings.c.active.is_(False))
               .values(ended_on=next_since))
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    op.execute(pairings.update()
               .where(pairings.c.active.is_(False), pairings.c.ended_on.is_(None))
               .values(ended_on=sa.case((pairings.c.since > today, pairings.c.since),
                                        else_=sa.literal(today, sa.Date))))

    # SQLite: a copy of the table (nothing refers to ``pairings``); PostgreSQL: ALTERs.
    with op.batch_alter_table('pairings') as batch_op:
        batch_op.drop_constraint(op.f('uq_pairings_branch_id'), type_='unique')
        batch_op.drop_column('active')
        batch_op.create_check_constraint(op.f('ck_pairings_ended_after_since'),
                                         sa.text('ended_on >= since'))
    op.create_index('uq_pairings_current', 'pairings', ['branch_id', 'station_id'],
                    unique=True, postgresql_where=sa.text(CURRENT),
                    sqlite_where=sa.text(CURRENT))


def downgrade():
    op.drop_index('uq_pairings_current', table_name='pairings',
                  postgresql_where=sa.text(CURRENT), sqlite_where=sa.text(CURRENT))
    with op.batch_alter_table('pairings') as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=True))
    op.execute(pairings.update().values(active=pairings.c.ended_on.is_(None)))

    # One row per branch and station: the current one, else the latest period.
    other = pairings.alias('other')
    newer = sa.exists().where(
        other.c.branch_id == pairings.c.branch_id,
        other.c.station_id == pairings.c.station_id,
        other.c.id != pairings.c.id,
        sa.or_(
            # the other is current (this one is not: one current row per pair)
            other.c.ended_on.is_(None),
            sa.and_(pairings.c.ended_on.is_not(None),
                    sa.or_(other.c.since > pairings.c.since,
                           sa.and_(other.c.since == pairings.c.since,
                                   other.c.id > pairings.c.id)))))
    op.execute(pairings.delete().where(newer))

    with op.batch_alter_table('pairings') as batch_op:
        batch_op.alter_column('active', existing_type=sa.Boolean(), nullable=False)
        batch_op.drop_constraint(op.f('ck_pairings_ended_after_since'), type_='check')
        batch_op.drop_column('ended_on')
        batch_op.create_unique_constraint(op.f('uq_pairings_branch_id'),
                                          ['branch_id', 'station_id'])
