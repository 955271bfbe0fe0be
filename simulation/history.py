"""A real period as a scenario: the orders that came in between two local dates, and the
technicians, shifts and leave as the network has them, read from the product's database.

What the database knows is replayed as it was: each order's arrival time, place, required
skill, product, category, priority and appointment; each technician's outlet, skills, home,
shift, working days, daily capacity and leave. What it cannot know — how long each visit would
take under another plan, the traffic on another drive, whether a part is missing, whether the
customer is at home — is drawn from the model's distributions, from one stream per order and
seed (`scenario.order_draws`), the same for every policy (common random numbers).

Orders without a position (and so without an outlet) cannot be routed by any policy; they are
left out and counted (`Scenario.meta["left_out"]`). Inactive technicians are left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.models import WorkOrder
from simulation.scenario import Model, OutletSpec, Scenario, SimOrder, SimTechnician, order_draws
from technicians.models import Outlet, Technician

MAX_DAYS = 92


class PeriodError(ValueError):
    """The period cannot be replayed; the message says why."""


def period_scenario(
    session: Session, first_day: date, days: int, model: Model, outlet_id: int | None = None
) -> Scenario:
    """The orders created on local days `first_day` … `first_day + days - 1` and the network that
    served them (one outlet's only with `outlet_id`), as a scenario with seed 0 (`reseed` gives
    each seed its draws)."""
    if not 1 <= days <= MAX_DAYS:
        raise PeriodError(f"days: between 1 and {MAX_DAYS}")
    tz = model.timezone
    start = datetime.combine(first_day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(first_day + timedelta(days=days), time(0), tzinfo=tz).astimezone(UTC)
    rows = session.scalars(
        select(WorkOrder)
        .where(WorkOrder.created_at >= start, WorkOrder.created_at < end)
        .where(WorkOrder.outlet_id == outlet_id if outlet_id is not None else True)
        .order_by(WorkOrder.created_at, WorkOrder.id)
    ).all()
    located = [r for r in rows if r.lat is not None and r.lon is not None and r.outlet_id is not None]
    if not located:
        raise PeriodError("from: no order with a position was created in this period")
    outlet_ids = {r.outlet_id for r in located}
    outlets = session.scalars(select(Outlet).where(Outlet.id.in_(outlet_ids)).order_by(Outlet.code)).all()
    techs = session.scalars(
        select(Technician)
        .where(Technician.outlet_id.in_(outlet_ids), Technician.active.is_(True))
        .options(selectinload(Technician.skills), selectinload(Technician.leaves))
        .order_by(Technician.outlet_id, Technician.id)
    ).all()
    if not techs:
        raise PeriodError("from: the outlets of this period have no active technician")
    code = {o.id: o.code for o in outlets}
    last_day = first_day + timedelta(days=days)  # the run goes on a day after the last arrival
    technicians = tuple(
        SimTechnician(
            key=f"tech{t.id}",
            outlet=code[t.outlet_id],
            skills=tuple(s.code for s in t.skills),
            home=(t.home_lat, t.home_lon),
            shift=(t.shift_start, t.shift_end),
            work_days=t.work_days,
            daily_capacity=t.daily_capacity,
            leave=tuple(
                (leave.start_date, leave.end_date)
                for leave in t.leaves
                if leave.end_date >= first_day and leave.start_date <= last_day
            ),
        )
        for t in techs
    )
    skills = Counter(r.required_skill for r in located)
    for t in technicians:  # every skill someone has or a product needs is one of the scratch network
        skills.update({s: 0 for s in t.skills})
    skills.update({r.product_category: 0 for r in located})
    per_outlet = Counter(t.outlet for t in technicians)
    real = replace(
        model,
        start=first_day,
        outlets=tuple(
            OutletSpec(o.code, o.name, o.lat, o.lon, radius_km=0.0, technicians=per_outlet[o.code]) for o in outlets
        ),
        skills={s: float(n) for s, n in skills.items()},
    )
    orders = tuple(
        SimOrder(
            index=i,
            created=r.created_at.astimezone(UTC),
            outlet=code[r.outlet_id],
            lat=r.lat,
            lon=r.lon,
            skill=r.required_skill,
            category=r.issue_category,
            priority=r.priority,
            draws=order_draws(model, 0, i, r.issue_category),
            appointment=(r.appointment_start, r.appointment_end) if r.appointment_start and r.appointment_end else None,
            product=r.product_category,
        )
        for i, r in enumerate(located)
    )
    return Scenario(
        real, 0, start, days, technicians, orders,
        meta={"source": "period", "first_day": first_day.isoformat(), "left_out": len(rows) - len(located)},
    )  # fmt: skip


def reseed(scenario: Scenario, seed: int) -> Scenario:
    """The same orders and network with seed `seed`'s draws (service times, traffic, parts,
    customers not at home)."""
    orders = tuple(replace(o, draws=order_draws(scenario.model, seed, o.index, o.category)) for o in scenario.orders)
    return replace(scenario, seed=seed, orders=orders)
