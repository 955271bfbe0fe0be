"""Today's miss forecast (issue 21 item 6): the policy lab's world run forward from now.

The live state as the planner reads it (`dispatch.planning.load_day`: each technician-day of
the horizon, today's from the last known position, the routes as last planned, the open
orders with their due times and appointments), and the lab's spread around the plan (the
lognormal sigmas of `simulation/default_outlet.json`, the lab's `Model`), simulated over many
seeds by `routing.forecast`. Stored per order (`order_forecasts`) by the scheduler every
FORECAST_EVERY_MINUTES, announced to the boards after the commit; and asked without storing
anything for one move (`what_if`).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from core.db import Database, on_commit, unit_of_work, utcnow
from dispatch.models import OrderForecast
from dispatch.planning import PlanningSettings
from dispatch.planning.day import Day, load_day, tech_of, vehicle
from routing import Technician
from routing.forecast import DEFAULT_SEEDS, Noise, Outlook, forecast, travel_s
from simulation.scenario import Model
from technicians.models import Outlet

log = logging.getLogger(__name__)
EVENT = "forecast"
EXTRA = "extra"  # the vehicle id of a what-if's extra technician


@dataclass(frozen=True)
class ForecastSettings:
    seeds: int = DEFAULT_SEEDS
    seed: int = 0  # one fixed seed: the same state gives the same numbers at every refresh
    every_minutes: float = 5.0

    @classmethod
    def from_config(cls, config: Any) -> ForecastSettings:
        return cls(
            seeds=max(1, int(config.get("FORECAST_SEEDS", DEFAULT_SEEDS))),
            every_minutes=float(config.get("FORECAST_EVERY_MINUTES", 5)),
        )


@lru_cache(maxsize=1)
def lab_noise() -> Noise:
    """The lab's spread (its default outlet's service and travel sigmas): one set of parameters
    for the lab and the forecast."""
    model = Model.load()
    return Noise(service_sigma=model.service_sigma, travel_sigma=model.travel_sigma)


def outlook(day: Day, settings: ForecastSettings, technicians: list[Technician] | None = None) -> Outlook:
    return forecast(
        technicians if technicians is not None else day.technicians,
        day.jobs,
        day.routes,
        lab_noise(),
        seeds=settings.seeds,
        seed=settings.seed,
    )


def refresh(
    database: Database, planning: PlanningSettings, settings: ForecastSettings, now: datetime | None = None
) -> int:
    """Forecast every open, located order and replace the stored forecast; the boards hear of
    it after the commit. Returns the orders forecast."""
    now = now or utcnow()
    with database.session_scope() as session:
        result = outlook(load_day(session, _promised(planning), now), settings)
        with unit_of_work(session):
            session.execute(delete(OrderForecast))
            if result.p_miss:
                session.execute(
                    insert(OrderForecast),
                    [
                        {
                            "order_id": oid,
                            "p_miss": p,
                            "promise": result.promise[oid],
                            "seeds": settings.seeds,
                            "computed_at": now,
                        }  # fmt: skip
                        for oid, p in result.p_miss.items()
                    ],
                )
            rooms = ["dispatch", "unplaced", *(f"outlet:{i}" for i in session.scalars(select(Outlet.id)))]
            # Only that it changed: each board reads what it may see (GET /api/forecast).
            on_commit(session, lambda: database.publish(EVENT, {"computed_at": now.isoformat()}, rooms))
    log.info("forecast: %s orders over %s seeds", len(result.p_miss), settings.seeds)
    return len(result.p_miss)


@dataclass(frozen=True)
class Reassign:
    order_id: int
    technician_id: int


@dataclass(frozen=True)
class ExtraTechnician:
    lat: float
    lon: float
    skills: frozenset[str]
    outlet_id: int | None = None  # its speed and road detour; the first outlet's otherwise


class CannotMove(ValueError):
    """The move cannot be simulated; `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def what_if(
    session: Session,
    planning: PlanningSettings,
    settings: ForecastSettings,
    move: Reassign | ExtraTechnician,
    now: datetime | None = None,
) -> tuple[Outlook, Outlook, set[int]]:
    """The forecast now and with `move` made (nothing is written): (before, after, the orders
    the move touches: the moved order and every order on the routes it leaves and joins, or
    the orders the extra technician would take)."""
    now = now or utcnow()
    day = load_day(session, _promised(planning), now)
    before = outlook(day, settings)
    if isinstance(move, Reassign):
        routes, touched = _reassign(day, before, move)
        after = forecast(day.technicians, day.jobs, routes, lab_noise(), seeds=settings.seeds, seed=settings.seed)
    else:
        extra = _extra_technician(session, day, move, now)
        after = outlook(day, settings, [*day.technicians, extra])
        touched = {oid for oid, v in after.vehicle.items() if v == EXTRA}
    touched |= {oid for oid in before.p_miss if abs(before.p_miss[oid] - after.p_miss.get(oid, 0.0)) > 1e-12}
    return before, after, touched


def _reassign(day: Day, before: Outlook, move: Reassign) -> tuple[dict[Hashable, list[Hashable]], set[int]]:
    """The planned routes with the order taken off its route and put on the technician's first
    day in the horizon, at the place that adds the least travel."""
    if move.order_id not in day.jobs:
        raise CannotMove("order_id", "the order is not open, or has no location")
    job = day.jobs[move.order_id]
    if job.started:
        raise CannotMove("order_id", "the order's technician is on the way or on site")
    target = next((t for t in day.technicians if tech_of(t.id) == move.technician_id), None)
    if target is None:
        raise CannotMove("technician_id", "the technician has no working day in the planning horizon")
    if job.skill not in target.skills:
        raise CannotMove("technician_id", "the technician lacks the order's skill")
    routes = {v: [j for j in r if j != move.order_id] for v, r in before.routes.items()}
    leaving = before.vehicle.get(move.order_id)
    route = routes[target.id]
    points = [target.start, *(day.jobs[j].location for j in route)]
    best = min(range(len(route) + 1), key=lambda k: _detour(target, points, k, job.location))
    route.insert(best, move.order_id)
    touched = {move.order_id, *route, *(routes.get(leaving, []) if leaving is not None else [])}
    return routes, {int(o) for o in touched}


def _detour(t: Technician, points: list[tuple[float, float]], k: int, at: tuple[float, float]) -> float:
    a = points[k]
    if k + 1 < len(points):
        b = points[k + 1]
        return float(travel_s(t, [a, at], [at, b]).sum() - travel_s(t, [a], [b])[0])
    return float(travel_s(t, [a], [at])[0])


def _extra_technician(session: Session, day: Day, move: ExtraTechnician, now: datetime) -> Technician:
    """One more technician at a place for the rest of today's usual shift (the longest today's
    vehicles have), with no route yet: it takes the orders no one has room for."""
    query = select(Outlet).order_by(Outlet.id)
    if move.outlet_id is not None:
        query = query.where(Outlet.id == move.outlet_id)
    outlet = session.scalars(query).first()
    if outlet is None:
        raise CannotMove("outlet_id", "no such outlet")
    today = [t for t in day.technicians if t.id == vehicle(tech_of(t.id), 0)]
    shift_end = max((t.shift_end for t in today), default=0)
    if shift_end <= 0:
        raise CannotMove("extra_technician", "no technician works the rest of today: no shift to copy")
    return Technician(
        id=EXTRA,
        start=(move.lat, move.lon),
        end=(move.lat, move.lon),
        shift_start=0,
        shift_end=shift_end,
        skills=move.skills,
        max_jobs=max((t.max_jobs for t in today), default=10),
        speed_kmh=outlet.speed_kmh,
        detour=outlet.detour_factor,
    )


def _promised(planning: PlanningSettings) -> PlanningSettings:
    """The forecast asks whether each promise holds: due times as promised, not the planner's
    earlier target (`due_margin_minutes`)."""
    return replace(planning, due_margin_minutes=0)
