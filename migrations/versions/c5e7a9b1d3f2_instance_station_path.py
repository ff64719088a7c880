"""instances.station_path: a request is overseen from its station's side too

A demand, a wish or a duty names a station; the station's district and street run it
(they are given its tasks, and the demands report counts it there) — but 事项查询 and the
request's page scoped staff by the applicant's unit alone, so a 江北 rider's demand at a
渝中 station was counted by 渝中's report and could not be found by 渝中's search.  The
station's unit path is now kept beside the applicant's (webapp/services/instance_columns.py,
by every save that changes the station); here it is filled for the requests there are.

Revision ID: c5e7a9b1d3f2
Revises: a7d3e9f1b2c4
Create Date: 2026-12-01 08:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c5e7a9b1d3f2'
down_revision = 'a7d3e9f1b2c4'
branch_labels = None
depends_on = None


def upgrade():
    path = sa.String(length=512).with_variant(sa.String(length=512, collation='C'), 'postgresql')
    with op.batch_alter_table('instances') as batch_op:
        batch_op.add_column(sa.Column('station_path', path, nullable=True))
    op.execute("""
        UPDATE instances SET station_path =
          (SELECT org_units.path FROM org_units WHERE org_units.id = instances.station_id)
        WHERE station_id IS NOT NULL
    """)
    with op.batch_alter_table('instances') as batch_op:
        batch_op.create_index('ix_instances_station_path', ['station_path'], unique=False)


def downgrade():
    op.drop_index('ix_instances_station_path', table_name='instances')
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 has it): a batch copy of the table
    # would have to drop ``instances``, which the tasks and history rows refer to.
    op.execute('ALTER TABLE instances DROP COLUMN station_path')
