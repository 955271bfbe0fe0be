"""The technicians' day as plain routing data: who can work, which orders are open, and the
routes they already have. The database ↔ plain-data translation lives here; `routing` never
sees a session."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from dispatch.lifecycle import OPEN, Status
from dispatch.models import RouteStop, WorkOrder
from dispatch.planning.horizon import DEFAULT_SLOT_MINUTES
from routing import Job, Problem, Technician
from technicians.availability import break_bounds, can_take_work, shift_bounds, works_on
from technicians.models import Outlet
from technicians.models import Technician as TechnicianRow

DEFAULT_SERVICE_MINUTES = {"repair": 45, "installation": 90, "maintenance": 40, "complaint": 30}
# Days planned ahead, today included: a technician's route per working day (one routing
# vehicle per technician-day). Days after today are provisional (re-planned each morning).
DEFAULT_HORIZON_DAYS = 3
# The planner aims to finish each visit this long before the order is due, and prices lateness
# from there: a plan that is on time only to the minute breaks its promise at the first long
# repair or traffic jam. The policy lab measured it (docs/simulation.md, "Planning to the minute").
DEFAULT_DUE_MARGIN_MINUTES = 120
# A re-plan stops searching once this many of its steps, and half of them, found nothing better
# (routing.SolverOptions.stall_iterations): re-planning every 15 minutes from routes that are
# already good mostly confirms them, and need not spend its whole time limit saying so. The
# policy lab measured it (docs/simulation.md, "A re-plan that stops when it has nothing to add").
DEFAULT_STALL_STEPS = 10
# Orders a plan may move: not yet accepted by their technician, and not held by a dispatcher.
MOVABLE = frozenset({Status.NEW, Status.ASSIGNED})
PLACEMENT_ATTEMPTS = 3


@dataclass(frozen=True)
class PlanningSettings:
    timezone: ZoneInfo
    service_minutes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SERVICE_MINUTES))
    time_limit_s: float = 5.0
    horizon_days: int = DEFAULT_HORIZON_DAYS
    slot_minutes: int = DEFAULT_SLOT_MINUTES
    replan_at: time = time(6, 0)  # local time: the coming days are re-planned each morning (dispatch/jobs.py)
    due_margin_minutes: int = DEFAULT_DUE_MARGIN_MINUTES
    stall_steps: int = DEFAULT_STALL_STEPS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PlanningSettings:
        return cls(
            timezone=config["TIMEZONE"],
            service_minutes={**DEFAULT_SERVICE_MINUTES, **config.get("SERVICE_MINUTES", {})},
            time_limit_s=float(config.get("REOPTIMIZE_TIME_LIMIT_S", cls.time_limit_s)),
            horizon_days=max(1, int(config.get("PLANNING_HORIZON_DAYS", cls.horizon_days))),
            slot_minutes=max(15, int(config.get("SLOT_MINUTES", cls.slot_minutes))),
            replan_at=time.fromisoformat(str(config.get("HORIZON_REPLAN_AT", "06:00"))),
            due_margin_minutes=max(0, int(config.get("PLANNING_DUE_MARGIN_MINUTES", cls.due_margin_minutes))),
            stall_steps=max(0, int(config.get("REOPTIMIZE_STALL_STEPS", cls.stall_steps))),
        )


def vehicle(tech_id: int, offset: int) -> Hashable:
    """The routing vehicle of a technician's day `offset` days from today: the technician's
    id for today (so today's plan reads as before), (id, offset) for a later day."""
    return tech_id if offset == 0 else (tech_id, offset)


def tech_of(vehicle_id: Hashable) -> int:
    return vehicle_id[0] if isinstance(vehicle_id, tuple) else vehicle_id  # type: ignore[return-value]


def offset_of(vehicle_id: Hashable) -> int:
    return vehicle_id[1] if isinstance(vehicle_id, tuple) else 0  # type: ignore[return-value]


def vehicle_key(vehicle_id: Hashable) -> str:
    """A vehicle as a JSON key: "12" for today, "12@1" for tomorrow."""
    offset = offset_of(vehicle_id)
    return f"{tech_of(vehicle_id)}@{offset}" if offset else str(vehicle_id)


def vehicle_from_key(key: str) -> Hashable:
    tech, _, offset = key.partition("@")
    return vehicle(int(tech), int(offset or 0))


@dataclass
class Day:
    """The planning horizon's problem: one vehicle per technician-day on duty (today's keyed by
    the technician's id, a later day's by (id, offset); see `vehicle`), the open located orders,
    and the current routes per vehicle. Times are seconds from `t0` (now)."""

    t0: datetime
    technicians: list[Technician]
    jobs: dict[int, Job]
    orders: dict[int, Any]  # order id → row of ORDER_COLUMNS
    routes: dict[Hashable, list[int]]
    unplannable: dict[int, str]
    dates: list[date] = field(default_factory=list)  # local date of each offset
    skills_on_staff: frozenset[str] = frozenset()  # every active technician's skills, on duty or not
    shift_starts: dict[Hashable, int] = field(default_factory=dict)  # as the shift says (negative: begun)

    def problem(self, exclude: int | None = None) -> Problem:
        return Problem(self.technicians, tuple(j for i, j in self.jobs.items() if i != exclude))

    def at(self, seconds: int) -> datetime:
        return self.t0 + timedelta(seconds=seconds)

    def vehicles_of(self, tech_id: int) -> list[Hashable]:
        """The technician's vehicles in day order."""
        return [v for v in self.routes if tech_of(v) == tech_id]

    def vehicle_of_order(self, order_id: int) -> Hashable | None:
        for v, route in self.routes.items():
            if order_id in route:
                return v
        return None


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
    dates = [today + timedelta(days=d) for d in range(max(1, settings.horizon_days))]
    technicians = []
    skills_on_staff: set[str] = set()
    shift_starts: dict[Hashable, int] = {}
    for row in session.scalars(tech_query):
        skills_on_staff |= set(row.skill_codes)
        for offset, on in enumerate(dates):
            if offset == 0:
                if not can_take_work(row, now, tz):
                    continue
            elif not works_on(row, on):
                continue
            start, end = shift_bounds(row, on, tz)
            fresh = offset == 0 and row.last_seen_at is not None and row.last_seen_at.astimezone(tz).date() == today
            here = (row.last_lat, row.last_lon) if fresh and row.last_lat is not None else (row.home_lat, row.home_lon)
            shift_starts[vehicle(row.id, offset)] = _seconds(start - now)
            technicians.append(
                Technician(
                    id=vehicle(row.id, offset),
                    start=here,
                    end=(row.home_lat, row.home_lon),
                    shift_start=max(0, _seconds(start - now)),
                    shift_end=_seconds(end - now),
                    skills=frozenset(row.skill_codes),
                    max_jobs=max(0, row.daily_capacity - (done_today.get(row.id, 0) if offset == 0 else 0)),
                    speed_kmh=row.outlet.speed_kmh,
                    detour=row.outlet.detour_factor,
                    **_break(row, on, tz, now),
                )
            )
    orders: dict[int, Any] = {}
    jobs: dict[int, Job] = {}
    unplannable: dict[int, str] = {}
    routes: dict[Hashable, list[int]] = {t.id: [] for t in technicians}
    for order in session.execute(order_query):
        orders[order.id] = order
        if order.lat is None or order.lon is None:
            unplannable[order.id] = "no_location"
            continue
        jobs[order.id] = job_from_row(order, settings, now)
    planned = {
        r.order_id: (r.seq, r.eta)
        for r in session.execute(
            select(RouteStop.order_id, RouteStop.seq, RouteStop.eta).where(RouteStop.order_id.in_(list(jobs)))
        )
    }
    day = Day(now, technicians, jobs, orders, routes, unplannable, dates, frozenset(skills_on_staff), shift_starts)
    place_on_vehicles(
        day, [o for o in orders.values() if o.id in jobs and o.technician_id is not None], planned, settings
    )
    return day


def place_on_vehicles(
    day: Day, assigned: list[Any], planned: Mapping[int, tuple[int, datetime | None]], settings: PlanningSettings
) -> None:
    """Put each assigned order on one of its technician's day routes: work under way today,
    otherwise the day of its stored ETA (the plan's), otherwise the technician's first day in
    the horizon; in visiting order. An order whose technician has no day in the horizon is on
    no route. Its job is locked to that vehicle when the order may not move (accepted, under
    way or held by a dispatcher)."""
    tz = settings.timezone
    offsets = {d: i for i, d in enumerate(day.dates)}
    by_tech: dict[int, list[Hashable]] = {}
    for v in day.routes:
        by_tech.setdefault(tech_of(v), []).append(v)
    seqs = {oid: seq for oid, (seq, _eta) in planned.items()}
    for order in sorted(assigned, key=lambda o: route_sort_key(o, seqs)):
        mine = by_tech.get(order.technician_id)
        if not mine:
            continue
        target = mine[0]
        _seq, eta = planned.get(order.id, (None, None))
        if order.status not in (Status.ON_SITE, Status.EN_ROUTE) and eta is not None:
            offset = offsets.get(eta.astimezone(tz).date())
            if offset is not None and vehicle(order.technician_id, offset) in day.routes:
                target = vehicle(order.technician_id, offset)
        day.routes[target].append(order.id)
        job = day.jobs[order.id]
        if job.locked_to is not None and job.locked_to != target:
            day.jobs[order.id] = Job(**{**job.__dict__, "locked_to": target})


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
        # The routing model's due time is the planner's target, `due_margin_minutes` before the
        # promise (never before now); what users read is measured against the promise itself.
        due=max(0, _seconds(order.due_at - now) - 60 * settings.due_margin_minutes),
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
