"""Writing a technician's day: the lock that makes one writer at a time, the check that the
day a writer computed from is still what the database holds, and the route rows themselves."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from dispatch.lifecycle import OPEN
from dispatch.models import RouteStop, WorkOrder
from dispatch.planning.day import Day, route_sort_key
from routing import Plan
from routing.evaluate import time_route
from technicians.models import Technician as TechnicianRow


def lock_day(session: Session, tech_id: int) -> None:
    """Take the technician's day for writing until the commit: their row, locked FOR NO KEY
    UPDATE, so placements, manual assignments and plans touching one technician queue, while
    an order UPDATE naming them elsewhere (whose foreign-key check takes KEY SHARE) is not
    held up by it: that wait, inside a plan being applied, was a deadlock."""
    lock_days(session, [tech_id])


def lock_days(session: Session, tech_ids: list[int]) -> None:
    """`lock_day` for several technicians, in the order given (callers sort by id)."""
    session.execute(
        select(TechnicianRow.id)
        .where(TechnicianRow.id.in_(tech_ids))
        .order_by(TechnicianRow.id)
        .with_for_update(key_share=True)
    )


def holds(
    session: Session,
    day: Day,
    tech_id: int,
    route: list[int],
    ignore: int | None = None,
    vehicle_id: Hashable | None = None,
) -> bool:
    """Whether `route` (the technician's route on `vehicle_id`'s day, today by default) and their
    other days' routes in `day` have exactly the technician's open, located orders in the
    database (less `ignore`, the order being moved)."""
    held = set(
        session.scalars(
            select(WorkOrder.id).where(
                WorkOrder.technician_id == tech_id, WorkOrder.status.in_([s.value for s in OPEN])
            )
        )
    )
    vehicle_id = tech_id if vehicle_id is None else vehicle_id
    expected = set(route).union(*(day.routes[v] for v in day.vehicles_of(tech_id) if v != vehicle_id))
    return held - set(day.unplannable) - {ignore} == expected - {ignore}


def write_route(
    session: Session, day: Day, tech_id: int, route: list[int], timed: Plan, vehicle_id: Hashable | None = None
) -> None:
    """Write the technician's days: `route` (timed by `timed`) on `vehicle_id`'s day (today by
    default), their other days as `day` has them, re-timed, in day order."""
    vehicle_id = tech_id if vehicle_id is None else vehicle_id
    etas = {s.job_id: day.at(s.arrival_s) for s in timed.routes.get(vehicle_id, [])}
    techs = {t.id: t for t in day.technicians}
    stops: list[tuple[int, datetime | None]] = []
    days = day.vehicles_of(tech_id)
    if vehicle_id not in days:
        days.insert(0, vehicle_id)
    taken = set(route)
    for v in days:
        if v == vehicle_id:
            stops += [(oid, etas.get(oid)) for oid in route]
            continue
        other = [oid for oid in day.routes[v] if oid not in taken]
        timed_other = {s.job_id: day.at(s.arrival_s) for s in time_route(techs[v], day.jobs, other)[0]}
        stops += [(oid, timed_other.get(oid)) for oid in other]
    replace_route(session, tech_id, one_after_another(stops, day), day.t0)


def one_after_another(stops: list[tuple[int, datetime | None]], day: Day) -> list[tuple[int, datetime | None]]:
    """The technician's days end to end, each visit starting no earlier than the one before it
    ends: a day timed on its own (from its shift's start) that a dispatcher's override pushed
    past midnight would otherwise put two visits in the same hour of the next day."""
    out: list[tuple[int, datetime | None]] = []
    free: datetime | None = None
    for oid, eta in stops:
        if eta is not None and free is not None and eta < free:
            eta = free
        if eta is not None:
            job = day.jobs.get(oid)
            free = eta + timedelta(seconds=job.service_s if job is not None else 0)
        out.append((oid, eta))
    return out


def replace_route(session: Session, tech_id: int, stops: list[tuple[int, datetime | None]], now: datetime) -> None:
    """Make `stops` (order id, ETA; in visiting order) the technician's whole planned day.

    The technician's other stops belonged to an older plan and go, so no two orders ever
    share a slot. Delete-then-insert as two statements: a concurrent writer of the same day
    then collides on the route_stops keys (IntegrityError) instead of interleaving slots.
    """
    order_ids = [oid for oid, _ in stops]
    session.execute(
        delete(RouteStop).where(or_(RouteStop.technician_id == tech_id, RouteStop.order_id.in_(order_ids))),
        execution_options={"synchronize_session": False},
    )
    if stops:
        rows = [
            {"order_id": oid, "technician_id": tech_id, "seq": seq, "eta": eta, "planned_at": now}
            for seq, (oid, eta) in enumerate(stops)
        ]
        session.execute(insert(RouteStop), rows)


def left_out(session: Session, tech_id: int, stops: list[tuple[int, datetime | None]]) -> list[tuple[int, None]]:
    """The technician's open orders not among `stops`, in their previous route order."""
    placed = {oid for oid, _ in stops}
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.status, WorkOrder.due_at, RouteStop.seq)
        .outerjoin(RouteStop, RouteStop.order_id == WorkOrder.id)
        .where(WorkOrder.technician_id == tech_id, WorkOrder.status.in_([s.value for s in OPEN]))
    ).all()
    planned = {r.id: r.seq for r in rows if r.seq is not None}
    held = sorted((r for r in rows if r.id not in placed), key=lambda r: route_sort_key(r, planned))
    return [(r.id, None) for r in held]
