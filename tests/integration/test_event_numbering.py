"""Event numbers are taken at commit (dispatch/events.py): in commit order, consecutive, and
without holding the event counter while a transaction is still at work."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from core.accounts import Actor
from dispatch.events import PROVISIONAL, record_event
from dispatch.models import WorkOrder, WorkOrderEvent
from tests.integration.helpers import create_order


def _note(session, order_id: int, n: int) -> WorkOrderEvent:
    order = session.get(WorkOrder, order_id)
    return record_event(session, order, "note", Actor.system(), from_status=order.status, to_status=order.status,
                        data={"n": n})  # fmt: skip


def test_events_are_numbered_at_commit_in_the_order_they_were_recorded(app, client, network, auth):
    order = create_order(client, auth.token("dispatcher"))
    database = app.extensions["database"]
    with database.session_scope() as session:
        before = session.scalar(select(func.max(WorkOrderEvent.seq)))
        session.rollback()
        first, second = _note(session, order["id"], 1), _note(session, order["id"], 2)
        assert PROVISIONAL <= first.seq < second.seq, "provisional until the commit"
        kinds = session.scalars(
            select(WorkOrderEvent.data).where(WorkOrderEvent.order_id == order["id"]).order_by(WorkOrderEvent.seq)
        ).all()
        assert [k.get("n") for k in kinds] == [None, 1, 2], "read back in the order recorded, after older events"
        session.commit()
        assert (first.seq, second.seq) == (before + 1, before + 2)
    with database.session_scope() as session:
        stored = session.scalars(select(WorkOrderEvent.seq).order_by(WorkOrderEvent.seq)).all()
        assert stored[-2:] == [before + 1, before + 2] and max(stored) < PROVISIONAL


def test_a_rolled_back_event_leaves_no_gap_and_no_provisional_number(app, client, network, auth):
    order = create_order(client, auth.token("dispatcher"))
    database = app.extensions["database"]
    with database.session_scope() as session:
        before = session.scalar(select(func.max(WorkOrderEvent.seq)))
        _note(session, order["id"], 1)
        session.rollback()
        kept = _note(session, order["id"], 2)
        session.commit()
        assert kept.seq == before + 1
        assert session.scalar(select(func.count()).where(WorkOrderEvent.seq >= PROVISIONAL)) == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_transaction_at_work_does_not_hold_up_other_writers_of_events(app, client, network, auth):
    """The counter is locked only while committing: a slow transaction that has recorded an
    event no longer makes every other event writer wait (that wait was half of each deadlock
    between plans and dispatchers). Numbers still follow commit order."""
    order = create_order(client, auth.token("dispatcher"))
    database = app.extensions["database"]
    slow, quick = database.new_session(), database.new_session()
    try:
        early = _note(slow, order["id"], 1)
        quick.execute(text("SET LOCAL lock_timeout = '3s'"))  # fail rather than hang if it waited
        late = _note(quick, order["id"], 2)
        quick.commit()
        slow.commit()
        assert early.seq == late.seq + 1, "numbered in commit order, not in the order recorded"
    finally:
        slow.close()
        quick.close()
