"""The lifecycle table, without a database."""

from __future__ import annotations

import pytest

from core.errors import InvalidTransition, PermissionDenied
from dispatch.lifecycle import MOVES, OPEN, Status, allowed_actions, check_move


def test_a_new_order_can_only_be_assigned_or_cancelled_by_a_dispatcher():
    assert allowed_actions("new", "dispatcher") == ["assign", "cancel"]


def test_a_technician_may_accept_only_their_own_assigned_order():
    assert allowed_actions("assigned", "technician", is_own_technician=True) == ["accept", "reject"]
    assert allowed_actions("assigned", "technician", is_own_technician=False) == []


def test_an_illegal_move_names_the_moves_that_are_allowed():
    with pytest.raises(InvalidTransition) as err:
        check_move("close", "new", "dispatcher")
    assert err.value.allowed == ["assign", "cancel"]
    assert "allowed now: assign, cancel" in err.value.message


def test_a_technician_acting_on_someone_elses_order_is_refused():
    with pytest.raises(PermissionDenied, match="only the technician assigned"):
        check_move("accept", "assigned", "technician", is_own_technician=False)


def test_a_manager_cannot_dispatch():
    with pytest.raises(PermissionDenied):
        check_move("assign", "new", "manager")


def test_an_unknown_action_is_an_invalid_transition():
    with pytest.raises(InvalidTransition, match="unknown action"):
        check_move("teleport", "new", "dispatcher")


def test_closed_and_cancelled_orders_allow_nothing_for_anyone():
    for status in ("closed", "cancelled"):
        for role in ("admin", "dispatcher", "manager", "technician", "system"):
            assert allowed_actions(status, role, is_own_technician=True) == []


def test_every_move_starts_from_a_real_status_and_ends_in_one():
    statuses = set(Status)
    for move in MOVES.values():
        assert move.sources <= statuses
        assert move.target is None or move.target in statuses


def test_every_open_status_has_a_way_forward_and_a_way_out():
    for status in OPEN:
        actions = set(allowed_actions(status, "dispatcher")) | set(
            allowed_actions(status, "technician", is_own_technician=True)
        )
        assert actions, status


def test_completion_asks_for_proof_and_return_for_a_reason():
    assert "proof" in MOVES["complete"].requires
    assert "reason" in MOVES["return"].requires
    assert "reason" in MOVES["cancel"].requires
    assert "technician" in MOVES["assign"].requires


def test_a_customer_may_cancel_a_new_order_through_the_table_and_nothing_once_dispatched():
    assert allowed_actions("new", "customer") == ["cancel"]
    assert check_move("cancel", "new", "customer").target == Status.CANCELLED
    for status in ("assigned", "accepted", "en_route", "returned", "completed"):
        assert allowed_actions(status, "customer") == []
    with pytest.raises(InvalidTransition):
        check_move("cancel", "assigned", "customer")
    assert "cancel" in allowed_actions("en_route", "dispatcher")  # the office's reach is unchanged
