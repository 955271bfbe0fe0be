"""Who sees which events: the rooms each role's sockets join, and what of an event each role reads.

One rule for every way an event reaches a person: the order's event trail and the board's
catch-up feed (dispatch/queries.py), the order page, and the Socket.IO broadcast (the rooms
dispatch/events.py announces to, split per reader by web/realtime.py with `views_by_room`). Staff (admin, dispatcher, manager) read every event
whole. A technician reads the events of their own orders, but not what the office writes *about* them: a complaint
(its summary, escalations, hand-overs, milestones), compensation (reasons and amounts), settlement
and the authenticity reviewer's verdict on their proof. Those events still appear, with their
number, time and statuses, so feeds stay continuous and the phone reloads its list, but with
their data emptied.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from core.accounts import STAFF_ROLES, Actor

TECHNICIAN = "technician"

# Event kinds a technician sees only as "something happened" (data removed).
INTERNAL_KINDS = frozenset(
    {
        "complaint_opened",
        "complaint_escalated",
        "complaint_transferred",
        "complaint_milestone",
        "compensation_added",
        "compensation_approved",
        "settlement_requested",
        "compensation_settled",
        "authenticity_review",
    }
)
# Keys removed from any other event's data, and from a callback recorded inside a move.
INTERNAL_KEYS = frozenset({"authenticity"})


def visible_data(kind: str, data: dict[str, Any] | None, role: str) -> dict[str, Any]:
    """The part of an event's data that someone of `role` may read."""
    data = data or {}
    if role in STAFF_ROLES:
        return data
    if kind in INTERNAL_KINDS:
        return {}
    visible = {k: v for k, v in data.items() if k not in INTERNAL_KEYS}
    if isinstance(visible.get("callback"), dict):
        visible["callback"] = {k: v for k, v in visible["callback"].items() if k not in INTERNAL_KEYS}
    return visible


def visible_event(event: dict[str, Any], role: str) -> dict[str, Any]:
    """An event in its wire form (dispatch.events.event_dict) as someone of `role` reads it."""
    return {**event, "data": visible_data(event["kind"], event.get("data"), role)}


@dataclass(frozen=True)
class EventView:
    """A read-only event as one reader sees it; same attributes as `WorkOrderEvent`, so the
    page template and `event_dict` take either."""

    seq: int
    order_id: int
    at: datetime
    actor_id: int | None
    actor_role: str
    kind: str
    from_status: str | None
    to_status: str | None
    data: dict[str, Any]
    lat: float | None
    lon: float | None
    accuracy_m: float | None


def visible_events(events: list[Any], actor: Actor) -> list[EventView]:
    """Stored events (`WorkOrderEvent` rows) as `actor` may read them."""
    names = [f.name for f in fields(EventView) if f.name != "data"]
    return [
        EventView(data=visible_data(e.kind, e.data, actor.role), **{n: getattr(e, n) for n in names}) for e in events
    ]


def rooms_for(actor: Actor) -> frozenset[str]:
    """The Socket.IO rooms a connection of `actor` belongs in, from their rights right now."""
    if actor.role == TECHNICIAN:
        return frozenset({f"technician:{actor.technician_id}"}) if actor.technician_id else frozenset()
    if actor.role not in STAFF_ROLES:
        return frozenset()
    if actor.outlet_id is None:
        return frozenset({"dispatch"})
    return frozenset({f"outlet:{actor.outlet_id}", "unplaced"})


def event_rooms(outlet_id: int | None, technician_ids: list[int]) -> list[str]:
    """The rooms an order's event is announced in: the boards that see the order and the
    phones of its technician (and of the one it was just taken from)."""
    rooms = ["dispatch", f"outlet:{outlet_id}" if outlet_id is not None else "unplaced"]
    return rooms + [f"technician:{t}" for t in dict.fromkeys(technician_ids)]


def views_by_room(payload: dict[str, Any], rooms: list[str]) -> list[tuple[dict[str, Any], list[str]]]:
    """An announced order event (`{"event": …, "order": …}`) split into what each room's
    members may read: (payload, rooms) pairs, staff rooms whole, technicians' phones redacted."""
    phones = [r for r in rooms if r.startswith(f"{TECHNICIAN}:")]
    boards = [r for r in rooms if r not in phones]
    views = []
    if boards and "timeline" not in payload:
        views.append((payload, boards))
    elif boards:  # the rows a board's timeline has (GET /api/timeline), never another outlet's
        by_view: dict[str, list[str]] = {}
        for room in boards:
            by_view.setdefault(room.partition(":")[2] if room.startswith("outlet:") else room, []).append(room)
        for key, view_rooms in by_view.items():
            outlet_id = None if key == "dispatch" else int(key) if key.isdigit() else -1
            views.append(({**payload, "timeline": timeline_for_outlet(payload["timeline"], outlet_id)}, view_rooms))
    if phones:
        phone = {k: v for k, v in payload.items() if k != "timeline"}
        views.append(({**phone, "event": visible_event(payload["event"], TECHNICIAN)}, phones))
    return views


def timeline_for_outlet(days: dict[str, Any], outlet_id: int | None) -> dict[str, Any]:
    """Technicians' rows (dispatch.timeline.technician_days) as a board of one outlet reads them:
    its own technicians' only (`outlet_id` None: every outlet's, -1: none)."""
    if outlet_id is None:
        return days
    rows = [r for r in days["rows"] if r["outlet_id"] == outlet_id]
    ids = {r["id"] for r in rows}
    return {**days, "rows": rows, "stops": [s for s in days["stops"] if s["technician_id"] in ids]}
