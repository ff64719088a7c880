"""a new person no longer changes the organisation's generation

Every INSERT into ``users`` set ``org_generation.n`` to a new value, so each sign-up or
import made every worker process drop its copy of the organisation and read all of its
units again (8,400 in a city: 20–40 ms per process), and made registrations take turns on
the number's row.  Nothing a process keeps depends on a person being added: a new
person's unit is read when first asked for (a "no such person" answer is not kept, see
``DbDirectory.unit_of``), and their roles arrive as ``memberships`` rows, which still
change the number.  Changes to a person's ``active`` flag or ``unit_id``, deletions and
TRUNCATE still change it, and so does, on SQLite, an insert that replaces a person
(``INSERT OR REPLACE``: its delete fires no trigger).

Revision ID: c3f9a1d7e5b2
Revises: b8e4f0a2c6d1
Create Date: 2026-11-29 19:20:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c3f9a1d7e5b2'
down_revision = 'b8e4f0a2c6d1'
branch_labels = None
depends_on = None

def _sqlite_trigger(name: str, when: str, condition: str = "") -> None:
    op.execute(f"""
        CREATE TRIGGER {name} {when} ON users {condition}
        BEGIN
            UPDATE org_generation SET n = random() WHERE id = 1;
            INSERT INTO org_generation (id, n) SELECT 1, random()
             WHERE NOT EXISTS (SELECT 1 FROM org_generation);
        END""")


def _postgresql_trigger(events: str) -> None:
    op.execute("DROP TRIGGER users_org_generation ON users")
    op.execute(f"""
        CREATE TRIGGER users_org_generation
        AFTER {events} OR TRUNCATE ON users
        FOR EACH STATEMENT EXECUTE FUNCTION org_generation_bump()""")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_trigger("UPDATE OF active, unit_id OR DELETE")
    else:
        op.execute("DROP TRIGGER users_org_generation_insert")
        # ``INSERT OR REPLACE`` / ``REPLACE`` over an existing person deletes their row
        # and inserts the new one, and the delete fires no trigger (``recursive_triggers``
        # is off): an insert that will replace someone — the id, username or session
        # token is taken — still changes the number (before it: after it, the old row
        # is gone).
        _sqlite_trigger("users_org_generation_replace", "BEFORE INSERT", """
            WHEN EXISTS (SELECT 1 FROM users WHERE id = NEW.id OR username = NEW.username
                         OR session_token = NEW.session_token)""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_trigger("INSERT OR UPDATE OF active, unit_id OR DELETE")
    else:
        op.execute("DROP TRIGGER users_org_generation_replace")
        _sqlite_trigger("users_org_generation_insert", "AFTER INSERT")
