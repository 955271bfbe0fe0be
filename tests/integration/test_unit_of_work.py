"""One unit of work (core.db.unit_of_work): commit at the end, roll back on error, and a
write that lost a race is the domain's conflict, not SQLAlchemy's error."""

from __future__ import annotations

import pytest

from core.db import unit_of_work
from core.errors import StaleWrite
from dispatch.models import WorkOrder
from tests.integration.helpers import create_order


@pytest.fixture
def order_id(client, network, auth) -> int:
    return create_order(client, auth.token("dispatcher"))["id"]


def test_a_write_that_lost_a_race_is_a_stale_write_and_leaves_nothing_behind(app, db_session, order_id):
    from web.extensions import db

    late = db.new_session()
    try:
        mine = late.get(WorkOrder, order_id)
        late.commit()  # read, then let the other writer in (SQLite holds one writer at a time)
        with unit_of_work(db_session):
            db_session.get(WorkOrder, order_id).description = "the first writer"
        with pytest.raises(StaleWrite), unit_of_work(late):
            mine.description = "the second writer, from an older read"
        assert not late.in_transaction() and not late.dirty
    finally:
        late.close()
    db_session.expire_all()
    assert db_session.get(WorkOrder, order_id).description == "the first writer"


def test_the_block_commits_when_it_ends_and_rolls_back_when_it_raises(app, db_session, order_id):
    with unit_of_work(db_session):
        db_session.get(WorkOrder, order_id).description = "kept"
    with pytest.raises(RuntimeError), unit_of_work(db_session):
        db_session.get(WorkOrder, order_id).description = "dropped"
        raise RuntimeError("the use case failed half-way")
    db_session.expire_all()
    assert db_session.get(WorkOrder, order_id).description == "kept"
