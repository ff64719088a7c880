"""``database.loaded``: a row this session has read, without a query."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm.util import identity_key

from webapp.database import loaded
from webapp.extensions import db
from webapp.models import Instance, OrgUnit, User


@pytest.mark.parametrize("cls", [User, OrgUnit, Instance])
def test_its_identity_key_is_the_one_sqlalchemy_makes(app, cls):
    # ``loaded`` builds the key itself (cls, (id,), None): it must be SQLAlchemy's.
    assert identity_key(cls, 7) == (cls, (7,), None)


def test_it_finds_what_was_read_in_this_transaction_and_never_queries(app, org, make_user):
    unit = org["company"]
    person = make_user("someone", unit=unit)
    person_id = person.id
    db.session.commit()  # expired: read again before it counts
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert loaded(User, person_id) is None  # expired by the commit
        assert loaded(User, person_id + 1000) is None  # never read
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert seen == []
    row = db.session.scalar(select(User).where(User.id == person_id))
    assert loaded(User, person_id) is row
    assert loaded(OrgUnit, person_id) is None  # another class, the same number
    db.session.rollback()
    assert loaded(User, person_id) is None
