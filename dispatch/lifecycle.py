"""The work-order lifecycle: one table of moves, who may make each, and what each needs.

Plain Python: no database, no Flask. `dispatch.moves.transition` applies a move.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from core.accounts import CUSTOMER, DISPATCH_ROLES, STAFF_ROLES, SYSTEM
from core.errors import InvalidTransition, PermissionDenied


class Status(enum.StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    COMPLETED = "completed"
    CLOSED = "closed"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    # On site the technician found a part missing: off every route until the part arrives.
    WAITING_PARTS = "waiting_parts"


OPEN = frozenset({Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.EN_ROUTE, Status.ON_SITE, Status.RETURNED})
# Not finished, but in nobody's day: OPEN is what planning, routes and phones work with.
WAITING = frozenset({Status.WAITING_PARTS})
UNFINISHED = OPEN | WAITING


@dataclass(frozen=True)
class Move:
    action: str
    sources: frozenset[Status]
    target: Status | None  # None: the status stays (the move only records something)
    roles: frozenset[str]
    requires: tuple[str, ...] = ()  # reason, technician, proof, part
    # A role that may make the move from fewer statuses than the others (role → statuses).
    narrower: Mapping[str, frozenset[Status]] = field(default_factory=dict)

    def sources_for(self, role: str) -> frozenset[Status]:
        return self.narrower.get(role, self.sources)


def _move(
    action: str,
    sources: set[Status],
    target: Status | None,
    roles: set[str] | frozenset[str],
    *requires: str,
    narrower: Mapping[str, set[Status]] | None = None,
) -> Move:
    only = {role: frozenset(statuses) for role, statuses in (narrower or {}).items()}
    return Move(action, frozenset(sources), target, frozenset(roles), requires, only)


# "technician" in a move's roles means *the order's own* technician, never another one;
# SYSTEM is the optimiser and scheduled jobs, CUSTOMER the public tracking page.
S = Status
MOVES: dict[str, Move] = {
    m.action: m
    for m in (
        _move(
            "assign", {S.NEW, S.ASSIGNED, S.ACCEPTED, S.RETURNED}, S.ASSIGNED, DISPATCH_ROLES | {SYSTEM}, "technician"
        ),
        _move("unassign", {S.ASSIGNED, S.ACCEPTED}, S.NEW, DISPATCH_ROLES),
        _move("accept", {S.ASSIGNED}, S.ACCEPTED, {"technician"}),
        _move("reject", {S.ASSIGNED}, S.NEW, {"technician"}, "reason"),
        _move("contact", {S.ACCEPTED, S.RETURNED}, None, {"technician"}),
        _move("depart", {S.ACCEPTED, S.RETURNED}, S.EN_ROUTE, {"technician"}),
        _move("arrive", {S.EN_ROUTE}, S.ON_SITE, {"technician"}),
        _move("complete", {S.ON_SITE}, S.COMPLETED, {"technician"}, "proof"),
        _move("return", {S.COMPLETED}, S.RETURNED, STAFF_ROLES, "reason"),
        # The order leaves the technician's day; when the part arrives it is planned again
        # (a follow-up visit, counted like a second one).
        _move("need_part", {S.ON_SITE}, S.WAITING_PARTS, DISPATCH_ROLES | {"technician"}, "part"),
        _move("part_arrived", {S.WAITING_PARTS}, S.NEW, DISPATCH_ROLES | {SYSTEM}),
        _move("close", {S.COMPLETED}, S.CLOSED, STAFF_ROLES),
        # A customer cancels on the tracking page until a technician is dispatched.
        _move(
            "cancel",
            {S.NEW, S.ASSIGNED, S.ACCEPTED, S.EN_ROUTE, S.RETURNED, S.WAITING_PARTS},
            S.CANCELLED,
            DISPATCH_ROLES | {CUSTOMER},
            "reason",
            narrower={CUSTOMER: {S.NEW}},
        ),  # fmt: skip
    )
}
ACTIONS = tuple(MOVES)


def allowed_actions(status: str, role: str, *, is_own_technician: bool = False) -> list[str]:
    """The actions `role` may take on an order in `status` (for buttons and 409 messages)."""
    return [m.action for m in MOVES.values() if status in m.sources_for(role) and _role_may(m, role, is_own_technician)]


def check_move(action: str, status: str, role: str, *, is_own_technician: bool = False) -> Move:
    """Return the move for `action`, or raise: unknown action, wrong role, or wrong status."""
    move = MOVES.get(action)
    if move is None:
        raise InvalidTransition(
            f"unknown action '{action}'",
            allowed=allowed_actions(status, role, is_own_technician=is_own_technician),
            status=status,
        )
    if not _role_may(move, role, is_own_technician):
        if role == "technician" and "technician" in move.roles:
            raise PermissionDenied("only the technician assigned to this order may do that")
        raise PermissionDenied(f"the {role} role may not '{action}' an order")
    if status not in move.sources_for(role):
        allowed = allowed_actions(status, role, is_own_technician=is_own_technician)
        raise InvalidTransition(
            f"cannot '{action}' an order that is {status}; allowed now: {', '.join(allowed) or 'nothing'}",
            allowed=allowed,
            status=status,
        )
    return move


def _role_may(move: Move, role: str, is_own_technician: bool) -> bool:
    if role == "technician":
        return "technician" in move.roles and is_own_technician
    return role in move.roles
