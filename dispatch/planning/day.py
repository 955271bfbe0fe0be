"""The technicians' day as plain routing data: who can work, which orders are open, and the
routes they already have. The database ↔ plain-data translation lives here; `routing` never
sees a session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from dispatch.lifecycle import OPEN, Status
from dispatch.models import RouteStop, WorkOrder
from routing import Job, Problem, Technician
from technicians.availability import break_bounds, can_take_work, shift_bounds
from technicians.models import Outlet
from technicians.models import Technician as TechnicianRow

DEFAULT_SERVICE_MINUTES = {"repair": 45, "installation": 90, "maintenance": 40, "complaint": 30}
# Orders a plan may move: not yet accepted by their technician, and not held by a dispatcher.
MOVABLE = frozenset({Status.NEW, Status.ASSIGNED})
PLACEMENT_ATTEMPTS = 3


@dataclass(frozen=True)
class PlanningSettings:
    timezone: ZoneInfo
    service_minutes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SERVICE_MINUTES))
    time_limit_s: float = 5.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PlanningSettings:
        return cls(
            timezone=config["TIMEZONE"],
            service_minutes={**DEFAULT_SERVICE_MINUTES, **config.get("SERVICE_MINUTES", {})},
            time_limit_s=float(config.get("REOPTIMIZE_TIME_LIMIT_S", cls.time_limit_s)),
        )


@dataclass
class Day:
    """Today's problem: technicians on shift, open located orders, and the current routes."""

    t0: datetime
    technicians: list[Technician]
    jobs: dict[int, Job]
    orders: dict[int, Any]  # order id → row of ORDER_COLUMNS
    routes: dict[int, list[int]]
    unplannable: dict[int, str]

    def problem(self, exclude: int | None = None) -> Problem:
        return Problem(self.technicians, tuple(j for i, j in self.jobs.items() if i != exclude))

    def at(self, seconds: int) -> datetime:
        return self.t0 + timedelta(seconds=seconds)


ORDER_COLUMNS = (
    WorkOrder.id, WorkOrder.status, WorkOrder.version, WorkOrder.technician_id, WorkOrder.assignment_locked,
    WorkOrder.lat, WorkOrder.lon, WorkOrder.required_skill, WorkOrder.issue_category, WorkOrder.priority,
    WorkOrder.due_at, WorkOrder.appointment_start, WorkOrder.appointment_end,
)  # fmt: skip


def load_day(session: Session, settings: PlanningSettings, now: datetime, outlet_id: int | None = None) -> Day:
    """Read the technicians who can work now and the open orders, as plain routing data.

    Orders are read as plain rows, not ORM objects: this runs on every new order, and
    building thousands of tracked objects would cost more than the routing itself.
    """
    tz = settings.timezone
    today = now.astimezone(tz).date()
    tech_query = (
        select(TechnicianRow)
        .join(Outlet)
        .where(TechnicianRow.active.is_(True))
        .options(
            selectinload(TechnicianRow.skills), selectinload(TechnicianRow.leaves), selectinload(TechnicianRow.outlet)
        )
    )
    order_query = select(*ORDER_COLUMNS).where(WorkOrder.status.in_([s.value for s in OPEN]))  # not WAITING
    if outlet_id is not None:
        tech_query = tech_query.where(TechnicianRow.outlet_id == outlet_id)
        order_query = order_query.where(WorkOrder.outlet_id == outlet_id)
    done_today = _completed_today(session, today, tz)
    technicians = []
    for row in session.scalars(tech_query):
        if not can_take_work(row, now, tz):
            continue
        start, end = shift_bounds(row, today, tz)
        fresh = row.last_seen_at is not None and row.last_seen_at.astimezone(tz).date() == today
        here = (row.last_lat, row.last_lon) if fresh and row.last_lat is not None else (row.home_lat, row.home_lon)
        technicians.append(
            Technician(
                id=row.id,
                start=here,
                end=(row.home_lat, row.home_lon),
                shift_start=max(0, _seconds(start - now)),
                shift_end=_seconds(end - now),
                skills=frozenset(row.skill_codes),
                max_jobs=max(0, row.daily_capacity - done_today.get(row.id, 0)),
                speed_kmh=row.outlet.speed_kmh,
                detour=row.outlet.detour_factor,
                **_break(row, today, tz, now),
            )
        )
    orders: dict[int, Any] = {}
    jobs: dict[int, Job] = {}
    unplannable: dict[int, str] = {}
    routes: dict[int, list[int]] = {t.id: [] for t in technicians}
    for order in session.execute(order_query):
        orders[order.id] = order
        if order.lat is None or order.lon is None:
            unplannable[order.id] = "no_location"
            continue
        jobs[order.id] = job_from_row(order, settings, now)
    planned = dict(
        session.execute(select(RouteStop.order_id, RouteStop.seq).where(RouteStop.order_id.in_(list(jobs)))).all()
    )
    assigned = sorted(
        (o for o in orders.values() if o.technician_id in routes and o.id in jobs),
        key=lambda o: route_sort_key(o, planned),
    )
    for order in assigned:
        routes[order.technician_id].append(order.id)
    return Day(now, technicians, jobs, orders, routes, unplannable)


def route_sort_key(order: Any, planned: Mapping[int, int]) -> tuple:
    """A technician's orders in visiting order: started work first, then the stored plan,
    then orders not planned yet by due time."""
    return (order.status not in (Status.ON_SITE, Status.EN_ROUTE), planned.get(order.id, 10**6), order.due_at)


def job_from_row(order: Any, settings: PlanningSettings, now: datetime) -> Job:
    """A routing Job from an order row (needs the columns of ORDER_COLUMNS)."""
    window = None
    if order.appointment_start and order.appointment_end and order.appointment_end > now:
        window = (max(0, _seconds(order.appointment_start - now)), _seconds(order.appointment_end - now))
    locked = order.technician_id is not None and (order.status not in MOVABLE or order.assignment_locked)
    return Job(
        id=order.id,
        location=(order.lat, order.lon),
        skill=order.required_skill,
        service_s=60 * settings.service_minutes.get(order.issue_category, 45),
        window=window,
        due=max(0, _seconds(order.due_at - now)),
        priority=order.priority,
        locked_to=order.technician_id if locked else None,
        started=order.status in (Status.EN_ROUTE, Status.ON_SITE),
    )


def _break(row: TechnicianRow, today: date, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """The technician's break as routing data (seconds from now), or nothing."""
    bounds = break_bounds(row, today, tz)
    if bounds is None:
        return {}
    start, end, length = bounds
    return {"break_window": (_seconds(start - now), _seconds(end - now)), "break_s": _seconds(length)}


def _completed_today(session: Session, today: date, tz: ZoneInfo) -> dict[int, int]:
    start = datetime.combine(today, datetime.min.time(), tzinfo=tz)
    rows = session.execute(
        select(WorkOrder.technician_id, func.count())
        .where(WorkOrder.completed_at >= start, WorkOrder.technician_id.is_not(None))
        .group_by(WorkOrder.technician_id)
    )
    return dict(rows.all())


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())
