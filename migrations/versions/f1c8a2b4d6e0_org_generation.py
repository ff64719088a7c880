"""the organisation's generation: a number the database changes with every change to it

The engine asks the organisation who approves each step (a unit and its ancestors, who
holds a role there): reads that came to two or three statements a step, for data that
changes a few times a day.  A process now keeps what it has read and checks it against
``org_generation.n`` — one number, set to a new random value by triggers on every write
to ``org_units`` and ``memberships`` and to a person's ``active`` flag or ``unit_id``
(new and deleted people too), whoever writes (the app, an import, SQL by hand).  A random value,
not a counter: a transaction that changed the organisation and rolled back leaves no
number behind that a later change could give again.

PostgreSQL: one statement-level trigger per table (an import of 500,000 roles changes the
number once per statement, not per row).  SQLite: row triggers (it has no others).

The price: a transaction that writes the organisation holds the number's row until it
commits, so such transactions take turns (they are few: an administrator's edit, a
registration, an import), and two of them that each write several rows of the other in
opposite orders can now deadlock — PostgreSQL then cancels one, which fails cleanly.

Revision ID: f1c8a2b4d6e0
Revises: e2a7c5d10b64
Create Date: 2026-11-29 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1c8a2b4d6e0'
down_revision = 'e2a7c5d10b64'
branch_labels = None
depends_on = None

# (table, events) whose writes change the generation.
WATCHED = (
    ("org_units", ("INSERT", "UPDATE", "DELETE")),
    ("memberships", ("INSERT", "UPDATE", "DELETE")),
    ("users", ("INSERT", "UPDATE OF active, unit_id", "DELETE")),
)


def _name(table: str, event: str) -> str:
    return f"{table}_org_generation_{event.split()[0].lower()}"


def upgrade():
    op.create_table(
        'org_generation',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_org_generation')))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("INSERT INTO org_generation (id, n) VALUES (1, (random() * 9e18)::bigint)")
        # The row is re-created if it is missing (a TRUNCATE of every table).
        op.execute("""
            CREATE FUNCTION org_generation_bump() RETURNS trigger AS $$
            BEGIN
                INSERT INTO org_generation (id, n) VALUES (1, (random() * 9e18)::bigint)
                ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n;
                RETURN NULL;
            END $$ LANGUAGE plpgsql""")
        for table, events in WATCHED:
            op.execute(f"""
                CREATE TRIGGER {table}_org_generation
                AFTER {' OR '.join(events)} OR TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION org_generation_bump()""")
        return
    op.execute("INSERT INTO org_generation (id, n) VALUES (1, random())")
    # No conflict clause in the body: the one of the statement that fires a trigger
    # overrides it (an INSERT OR IGNORE into memberships would skip an upsert here).
    for table, events in WATCHED:
        for event in events:
            op.execute(f"""
                CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table}
                BEGIN
                    UPDATE org_generation SET n = random() WHERE id = 1;
                    INSERT INTO org_generation (id, n) SELECT 1, random()
                     WHERE NOT EXISTS (SELECT 1 FROM org_generation);
                END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, _events in WATCHED:
            op.execute(f"DROP TRIGGER {table}_org_generation ON {table}")
        op.execute("DROP FUNCTION org_generation_bump()")
    else:
        for table, events in WATCHED:
            for event in events:
                op.execute(f"DROP TRIGGER {_name(table, event)}")
    op.drop_table('org_generation')
