"""`retry_at` in the callback API: when a customer was not reached, the clerk says when to try
again (in 4 hours by default, at most 7 days ahead, in the future), as on the callback page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from core.db import utcnow
from dispatch.models import Callback, WorkOrder
from tests.integration.test_customer_loop import done

XIAN = timezone(timedelta(hours=8))


@pytest.fixture
def dispatcher(network, auth):
    return auth.token("dispatcher")


@pytest.fixture
def completed(client, auth, network, dispatcher, db_session) -> dict:
    order = done(client, auth, network, dispatcher)
    db_session.get(WorkOrder, order["id"]).completed_at = utcnow() - timedelta(days=4)
    db_session.commit()
    return order


def call(client, headers, order: dict, **body):
    fresh = client.get(f"/api/orders/{order['id']}", headers=headers).get_json()
    return client.post(
        f"/api/orders/{order['id']}/callbacks", json={"version": fresh["version"], **body}, headers=headers
    )


def stored_retries(db_session) -> list[datetime]:
    out = [c.retry_at for c in db_session.scalars(select(Callback).order_by(Callback.id))]
    db_session.rollback()
    return [r if r.tzinfo else r.replace(tzinfo=UTC) for r in out]


def test_a_clerk_sets_when_to_call_an_unreached_customer_again(client, dispatcher, completed, db_session):
    when = (utcnow() + timedelta(days=2)).astimezone(XIAN).replace(microsecond=0)
    response = call(client, dispatcher, completed, reached=False, retry_at=when.isoformat())
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "completed"
    assert stored_retries(db_session) == [when]
    # Waiting for that time, the order is not in the queue.
    queue = client.get("/api/callbacks", headers=dispatcher).get_json()["items"]
    assert completed["id"] not in {o["id"] for o in queue}


def test_without_retry_at_the_next_try_is_in_four_hours(client, dispatcher, completed, db_session):
    before = utcnow()
    assert call(client, dispatcher, completed, reached=False, retry_at=None).status_code == 200
    [retry] = stored_retries(db_session)
    assert before + timedelta(hours=4) <= retry <= utcnow() + timedelta(hours=4)


@pytest.mark.parametrize(
    ("retry_at", "reached", "problem"),
    [
        ("2026-12-01T10:00:00", False, "aware"),  # no offset: which 10 o'clock?
        ("tomorrow", False, "datetime"),
        ("past", False, "in the future"),
        ("8 days", False, "within 7 days"),
        ("1 day", True, "not reached"),
    ],
)
def test_a_bad_retry_at_is_a_400_naming_the_field_and_records_nothing(
    client, dispatcher, completed, db_session, retry_at, reached, problem
):
    relative = {"past": -timedelta(minutes=5), "8 days": timedelta(days=8), "1 day": timedelta(days=1)}
    if retry_at in relative:
        retry_at = (utcnow() + relative[retry_at]).astimezone(XIAN).isoformat()
    body = {"reached": reached, "retry_at": retry_at, **({"resolved": True} if reached else {})}
    version = client.get(f"/api/orders/{completed['id']}", headers=dispatcher).get_json()["version"]
    response = call(client, dispatcher, completed, **body)
    assert response.status_code == 400, response.get_json()
    errors = response.get_json()["detail"]["json"]
    assert list(errors) == ["retry_at"] and problem in " ".join(errors["retry_at"])
    assert db_session.scalar(select(func.count()).select_from(Callback)) == 0
    db_session.rollback()
    assert client.get(f"/api/orders/{completed['id']}", headers=dispatcher).get_json()["version"] == version


def test_the_openapi_document_describes_retry_at(client):
    schema = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    [callback_in] = [s for name, s in schema.items() if name.startswith("CallbackIn")]
    assert callback_in["properties"]["retry_at"]["format"] == "date-time"
