"""the audit chain's lock and head in one round trip (PostgreSQL)

Every transaction that writes audit entries took the chain's advisory lock and then read
the chain's head: two statements before its INSERT.  ``audit_chain_head(key)`` does both
in one: it takes the lock (held to the end of the transaction) and then returns the last
sealed entry.  The function is VOLATILE, so its query takes a new snapshot after the lock
was granted and sees the head the writer before it committed.  SQLite: nothing (its
write lock is the database's own).

Revision ID: b8e4f0a2c6d1
Revises: f1c8a2b4d6e0
Create Date: 2026-11-29 09:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b8e4f0a2c6d1'
down_revision = 'f1c8a2b4d6e0'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION audit_chain_head(lock_key bigint)
        RETURNS TABLE (seq integer, hash varchar)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(lock_key);
            RETURN QUERY
                SELECT a.seq, a.hash::varchar FROM audit_entries a
                 WHERE a.seq IS NOT NULL ORDER BY a.seq DESC LIMIT 1;
        END $$""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_chain_head(bigint)")
