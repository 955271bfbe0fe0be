"""Waiting for parts as plain rules: what a part request must say, and how long an order waited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from core.errors import ValidationFailed
from dispatch.kpis.drilldown import _waited_for_parts
from dispatch.lifecycle import OPEN, Status, allowed_actions, check_move
from dispatch.parts import PartNeeded, check_part

TODAY = date(2026, 12, 7)


def test_a_part_request_names_every_bad_field():
    with pytest.raises(ValidationFailed) as err:
        check_part(PartNeeded("  ", 0, TODAY - timedelta(days=1)), TODAY)
    assert set(err.value.fields) == {"part", "quantity", "expected_on"}
    with pytest.raises(ValidationFailed) as err:
        check_part(PartNeeded("thermostat", 1, TODAY + timedelta(days=400)), TODAY)
    assert set(err.value.fields) == {"expected_on"}
    assert check_part(PartNeeded(" thermostat ", 2, TODAY), TODAY) == PartNeeded("thermostat", 2, TODAY)


def test_waiting_for_a_part_is_off_every_route_and_only_the_order_technician_records_it():
    assert Status.WAITING_PARTS not in OPEN
    assert "need_part" in allowed_actions("on_site", "technician", is_own_technician=True)
    assert "need_part" not in allowed_actions("on_site", "technician", is_own_technician=False)
    assert check_move("part_arrived", "waiting_parts", "dispatcher").target == Status.NEW
    assert "cancel" in allowed_actions("waiting_parts", "dispatcher")


def _event(kind, hours):
    return SimpleNamespace(kind=kind, at=datetime(2026, 12, 1, tzinfo=UTC) + timedelta(hours=hours))


def test_the_wait_adds_up_every_stretch_and_an_open_one_to_the_last_event():
    events = [_event("created", 0), _event("need_part", 2), _event("part_arrived", 30), _event("need_part", 40),
              _event("part_arrived", 44), _event("complete", 50)]  # fmt: skip
    assert _waited_for_parts(events) == (28 + 4) * 3600
    assert _waited_for_parts([_event("need_part", 1), _event("sla_breach", 25)]) == 24 * 3600
