"""The board's timeline as data: one row per technician in the caller's scope, with their
shifts, and each planned stop as a block from its start to its end, the travel before it,
its due time and whether it is late.

Times come from the plan as stored (`route_stops.eta`, the arrival), the service minutes of
the planning settings and the appointment window, walked with the same rule as
`routing.evaluate.time_route`: service starts at the arrival or the window's opening, and a
stop is late when its service starts after the order is due. Travel is the leg from the
previous stop (or the technician's position, as the planner sees it) at the outlet's speed.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.accounts import Actor
from core.db import utcnow
from dispatch.lifecycle import OPEN
from dispatch.models import RouteStop, WorkOrder, WorkOrderEvent
from routing.geo import haversine_pairs_m
from technicians.availability import break_bounds, on_leave, shift_bounds, works_on
from technicians.models import Technician

if TYPE_CHECKING:  # dispatch.planning's placements import this module to announce the rows they change
    from dispatch.planning.day import PlanningSettings

MAX_DAYS = 7  # the planning horizon a board may ask for at once


def timeline(
    session: Session,
    actor: Actor,
    settings: PlanningSettings,
    *,
    first_day: date,
    days: int = 1,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The technicians' days from `first_day` (local date) for `days` days: `rows` (who,
    shifts, days on leave, assigned orders not planned yet) and `stops` (planned blocks)."""
    return _days(session, settings, first_day, days, now or utcnow(), outlet_id=actor.outlet_id)


def technician_days(
    session: Session, settings: PlanningSettings, technician_ids: Collection[int], *, now: datetime | None = None
) -> dict[str, Any]:
    """`timeline` for these technicians only, whatever their outlet, over the whole planning
    horizon from today, in its wire form (times as ISO text): what an order's event carries so
    that the boards redraw the rows a placement changed without reading `GET /api/timeline`
    again. Who may read which row is decided per room (dispatch/visibility.py views_by_room)."""
    now = now or utcnow()
    today = now.astimezone(settings.timezone).date()
    return _wire(_days(session, settings, today, MAX_DAYS, now, only=set(technician_ids)))


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


def _days(
    session: Session,
    settings: PlanningSettings,
    first_day: date,
    days: int,
    now: datetime,
    *,
    outlet_id: int | None = None,
    only: set[int] | None = None,
) -> dict[str, Any]:
    # Read first, as the board's snapshot does (dispatch/board.py): every event up to it is
    # visible to the reads below, so a board that has applied up to `last_seq` is current.
    last_seq = session.scalar(select(func.coalesce(func.max(WorkOrderEvent.seq), 0)))
    tz = settings.timezone
    days = max(1, min(days, MAX_DAYS))
    start = datetime.combine(first_day, time.min, tzinfo=tz)
    end = start + timedelta(days=days)
    query = (
        select(Technician)
        .options(selectinload(Technician.skills), selectinload(Technician.leaves), selectinload(Technician.outlet))
        .where(Technician.active.is_(True))
        .order_by(Technician.outlet_id, Technician.name)
    )
    if outlet_id is not None:
        query = query.where(Technician.outlet_id == outlet_id)
    if only is not None:
        query = query.where(Technician.id.in_(sorted(only)))
    techs = list(session.scalars(query))
    by_id = {t.id: t for t in techs}
    open_statuses = [s.value for s in OPEN]
    planned = session.execute(
        select(
            RouteStop.technician_id,
            RouteStop.seq,
            RouteStop.eta,
            WorkOrder.id,
            WorkOrder.number,
            WorkOrder.status,
            WorkOrder.version,
            WorkOrder.priority,
            WorkOrder.issue_category,
            WorkOrder.due_at,
            WorkOrder.appointment_start,
            WorkOrder.assignment_locked,
            WorkOrder.lat,
            WorkOrder.lon,
            WorkOrder.address,
        )  # fmt: skip
        .join(WorkOrder, WorkOrder.id == RouteStop.order_id)
        .where(
            RouteStop.technician_id.in_(list(by_id)),
            WorkOrder.technician_id == RouteStop.technician_id,
            WorkOrder.status.in_(open_statuses),
            RouteStop.eta.is_not(None),
            RouteStop.eta < end,
            RouteStop.eta >= start,
        )
        .order_by(RouteStop.technician_id, RouteStop.seq)
    ).all()
    unplanned: dict[int, list[int]] = {}
    for tech_id, order_id in session.execute(
        select(WorkOrder.technician_id, WorkOrder.id)
        .outerjoin(RouteStop, RouteStop.order_id == WorkOrder.id)
        .where(
            WorkOrder.technician_id.in_(list(by_id)),
            WorkOrder.status.in_(open_statuses),
            RouteStop.order_id.is_(None),
        )
        .order_by(WorkOrder.due_at)
    ):
        unplanned.setdefault(tech_id, []).append(order_id)
    return {
        "generated_at": now,
        "last_seq": int(last_seq or 0),
        "first_day": first_day.isoformat(),
        "days": days,
        "start": start,
        "end": end,
        "rows": [_row(t, first_day, days, tz, unplanned.get(t.id, [])) for t in techs],
        "stops": _stops(planned, by_id, settings, now),
    }


def _row(tech: Technician, first_day: date, days: int, tz, unplanned: list[int]) -> dict[str, Any]:
    shifts, leave, breaks = [], [], []
    for i in range(days):
        day = first_day + timedelta(days=i)
        if works_on(tech, day):
            begin, finish = shift_bounds(tech, day, tz)
            shifts.append({"start": begin, "end": finish})
            window = break_bounds(tech, day, tz)
            if window is not None:  # the window the planner places the break in (not stored)
                breaks.append({"start": window[0], "end": window[1], "minutes": int(window[2].total_seconds() // 60)})
        elif on_leave(tech, day):
            leave.append(day.isoformat())
    return {
        "id": tech.id,
        "name": tech.name,
        "outlet_id": tech.outlet_id,
        "outlet_name": tech.outlet.name if tech.outlet else "",
        "skills": tech.skill_codes,
        "daily_capacity": tech.daily_capacity,
        "shifts": shifts,
        "breaks": breaks,
        "leave_days": leave,
        "unplanned": unplanned,
    }


def _stops(rows: list[Any], techs: dict[int, Technician], settings: PlanningSettings, now: datetime) -> list[dict]:
    tz = settings.timezone
    legs = _legs(rows, techs, tz, now)
    # Every leg in one call: one numpy call per stop was most of the read at city size.
    metres = haversine_pairs_m([a for a, _ in legs.values()], [b for _, b in legs.values()]) if legs else []
    leg_m = dict(zip(legs, metres, strict=True))
    out: list[dict] = []
    for i, r in enumerate(rows):
        tech = techs[r.technician_id]
        travel_s = 0
        if i in leg_m:
            travel_s = round(float(leg_m[i]) * tech.outlet.detour_factor / (tech.outlet.speed_kmh / 3.6))
        begin = max(r.eta, r.appointment_start) if r.appointment_start else r.eta
        finish = begin + timedelta(minutes=settings.service_minutes.get(r.issue_category, 45))
        out.append(
            {
                "order_id": r.id,
                "number": r.number,
                "technician_id": r.technician_id,
                "seq": r.seq,
                "status": r.status,
                "priority": r.priority,
                "version": r.version,
                "address": r.address,
                "arrival": r.eta,
                "travel_start": r.eta - timedelta(seconds=travel_s),
                "start": begin,
                "end": finish,
                "due_at": r.due_at,
                "late": begin > r.due_at,
                "pinned": bool(r.assignment_locked),
            }
        )
    return out


def _legs(
    rows: list[Any], techs: dict[int, Technician], tz, now: datetime
) -> dict[int, tuple[tuple[float, float], tuple[float, float]]]:
    """The leg to each located stop (by its index in `rows`): from the technician's previous
    stop that day, or for a day's first from where they are today (from home on a later day)."""
    legs = {}
    previous: dict[int, tuple[float, float]] = {}
    day_of: dict[int, date] = {}
    for i, r in enumerate(rows):
        tech = techs[r.technician_id]
        local_day = r.eta.astimezone(tz).date()
        if day_of.get(r.technician_id) != local_day:
            day_of[r.technician_id] = local_day
            fresh = (
                tech.last_seen_at is not None
                and tech.last_seen_at.astimezone(tz).date() == now.astimezone(tz).date() == local_day
            )
            previous[r.technician_id] = (
                (tech.last_lat, tech.last_lon)
                if fresh and tech.last_lat is not None
                else (tech.home_lat, tech.home_lon)
            )
        if r.lat is not None and r.lon is not None:
            legs[i] = (previous[r.technician_id], (r.lat, r.lon))
            previous[r.technician_id] = (r.lat, r.lon)
    return legs
