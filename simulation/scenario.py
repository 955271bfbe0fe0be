"""What a simulation replays: the network and the orders of a period (the *scenario*), and
each order's own random draws (the *world*), from a seeded generator modelled on an outlet.

Common random numbers: every draw that belongs to an order (its service time, the noise on
the drive to it, whether it needs a part, whether the customer is at home) comes from a
stream seeded by (seed, the order's index), never from a stream shared with the policy's
choices; so every policy meets exactly the same customers, the same traffic, the same
broken parts, and a difference between policies is the policies' doing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

DEFAULT_OUTLET = Path(__file__).with_name("default_outlet.json")
KM_PER_DEG_LAT = 111.32


@dataclass(frozen=True)
class OutletSpec:
    code: str
    name: str
    lat: float
    lon: float
    radius_km: float
    technicians: int
    weight: float = 1.0


@dataclass(frozen=True)
class Model:
    """The generator's parameters (a small JSON file, `default_outlet.json` by default)."""

    timezone: ZoneInfo
    start: date
    outlets: tuple[OutletSpec, ...]
    orders_per_day: float
    hourly: tuple[float, ...]
    weekday: tuple[float, ...]
    skills: dict[str, float]
    technician_skills: int
    categories: dict[str, float]
    priorities: dict[str, float]
    service_minutes: dict[str, float]
    service_sigma: float
    travel_sigma: float
    part_share: float
    part_lead_hours: float
    not_home_share: float
    not_home_wait_minutes: float
    shift: tuple[time, time]
    work_days: str
    daily_capacity: int
    promise_hours: float
    horizon_days: int = 3  # the planner's horizon (PLANNING_HORIZON_DAYS): today and the days after

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> Model:
        raw = json.loads(Path(path or DEFAULT_OUTLET).read_text(encoding="utf-8"))
        raw.pop("_about", None)
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Model:
        errors = []
        if len(raw.get("hourly", ())) != 24:
            errors.append("hourly: 24 weights, one per hour")
        if len(raw.get("weekday", ())) != 7:
            errors.append("weekday: 7 factors, Monday first")
        if not raw.get("outlets"):
            errors.append("outlets: at least one")
        if errors:
            raise ValueError("; ".join(errors))
        a, b = raw["shift"]
        return cls(
            timezone=ZoneInfo(raw["timezone"]),
            start=date.fromisoformat(raw["start"]) if isinstance(raw["start"], str) else raw["start"],
            outlets=tuple(OutletSpec(**o) for o in raw["outlets"]),
            orders_per_day=float(raw["orders_per_day"]),
            hourly=tuple(float(x) for x in raw["hourly"]),
            weekday=tuple(float(x) for x in raw["weekday"]),
            skills=dict(raw["skills"]),
            technician_skills=int(raw["technician_skills"]),
            categories=dict(raw["categories"]),
            priorities=dict(raw["priorities"]),
            service_minutes={k: float(v) for k, v in raw["service_minutes"].items()},
            service_sigma=float(raw["service_sigma"]),
            travel_sigma=float(raw["travel_sigma"]),
            part_share=float(raw["part_share"]),
            part_lead_hours=float(raw["part_lead_hours"]),
            not_home_share=float(raw["not_home_share"]),
            not_home_wait_minutes=float(raw["not_home_wait_minutes"]),
            shift=(_hhmm(a), _hhmm(b)) if isinstance(a, str) else (a, b),
            work_days=str(raw["work_days"]),
            daily_capacity=int(raw["daily_capacity"]),
            promise_hours=float(raw["promise_hours"]),
            horizon_days=int(raw.get("horizon_days", 3)),
        )

    def with_knobs(
        self,
        *,
        technicians: int | None = None,
        shift: tuple[time, time] | None = None,
        promise_hours: float | None = None,
        orders_per_day: float | None = None,
        horizon_days: int | None = None,
    ) -> Model:
        """The what-if knobs: technicians per outlet, shift hours, the promise, the demand, the
        planning horizon."""
        model = self
        if horizon_days is not None:
            model = replace(model, horizon_days=horizon_days)
        if technicians is not None:
            model = replace(model, outlets=tuple(replace(o, technicians=technicians) for o in model.outlets))
        if shift is not None:
            model = replace(model, shift=shift)
        if promise_hours is not None:
            model = replace(model, promise_hours=promise_hours)
        if orders_per_day is not None:
            model = replace(model, orders_per_day=orders_per_day)
        return model


def _hhmm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


@dataclass(frozen=True)
class SimTechnician:
    key: str  # stable name within the scenario (tech01 …)
    outlet: str
    skills: tuple[str, ...]
    home: tuple[float, float]
    shift: tuple[time, time]
    work_days: str
    daily_capacity: int
    leave: tuple[tuple[date, date], ...] = ()  # days off, both ends included (a real period's)

    def works_on(self, day: date) -> bool:
        return str(day.isoweekday()) in self.work_days and not any(a <= day <= b for a, b in self.leave)


@dataclass(frozen=True)
class Draws:
    """One order's fate, the same under every policy (common random numbers)."""

    service_s: int  # time on site for the (first) visit
    travel_factor: float  # the real drive to this customer ÷ the travel model's estimate
    part_needed: bool  # the first visit finds a part missing: a follow-up visit once it arrives
    part_lead_s: int
    second_service_s: int
    not_home: bool  # the first time a technician comes, nobody opens the door


@dataclass(frozen=True)
class SimOrder:
    index: int
    created: datetime  # UTC
    outlet: str
    lat: float
    lon: float
    skill: str
    category: str
    priority: str
    draws: Draws
    appointment: tuple[datetime, datetime] | None = None
    product: str | None = None  # the product category when it is not the skill (a real period's)


@dataclass(frozen=True)
class Scenario:
    model: Model
    seed: int
    start: datetime  # UTC, local midnight of the first day
    days: int
    technicians: tuple[SimTechnician, ...]
    orders: tuple[SimOrder, ...]
    extra_days: int = 1  # run on after the last arrival so every order's 24 hours can pass
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    @property
    def finish(self) -> datetime:
        return self.end + timedelta(days=self.extra_days)


def order_draws(model: Model, seed: int, index: int, category: str) -> Draws:
    """The order's own stream: numpy's generator seeded by (seed, index), drawn in a fixed order."""
    rng = np.random.default_rng([seed, index, 7])
    mean = model.service_minutes.get(category, 45.0) * 60
    # lognormal with the given mean: exp(mu + s^2/2) = mean
    s = model.service_sigma
    mu = math.log(mean) - s * s / 2
    service = float(rng.lognormal(mu, s)) if s > 0 else mean
    second = float(rng.lognormal(mu, s)) if s > 0 else mean
    t = model.travel_sigma
    travel = float(rng.lognormal(-t * t / 2, t)) if t > 0 else 1.0
    part = bool(rng.random() < model.part_share)
    not_home = bool(rng.random() < model.not_home_share)
    lead = float(rng.uniform(0.5, 1.5)) * model.part_lead_hours * 3600
    return Draws(
        service_s=max(300, round(service)),
        travel_factor=travel,
        part_needed=part,
        part_lead_s=round(lead),
        second_service_s=max(300, round(second * 0.6)),  # the part is fitted: shorter than a diagnosis
        not_home=not_home,
    )


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def generate(model: Model, seed: int, days: int) -> Scenario:
    """A scenario from the model: technicians, then the period's orders (arrival times from the
    hourly and weekday profile, place within the outlet's radius, skill, category, priority),
    each with its own draws."""
    tz = model.timezone
    start = datetime.combine(model.start, time(0), tzinfo=tz)
    net = np.random.default_rng([seed, 0, 1])
    skills = list(model.skills)
    techs: list[SimTechnician] = []
    for outlet in model.outlets:
        for k in range(outlet.technicians):
            # Every skill is covered in every outlet: technician k starts the rotation at skill k.
            own = tuple(skills[(k + j) % len(skills)] for j in range(min(model.technician_skills, len(skills))))
            home = _point(net, outlet, 0.8)
            techs.append(
                SimTechnician(
                    f"tech{len(techs) + 1:02d}",
                    outlet.code,
                    own,
                    home,
                    model.shift,
                    model.work_days,
                    model.daily_capacity,
                )  # fmt: skip
            )
    arrivals = np.random.default_rng([seed, 0, 2])
    weights = np.array([o.weight for o in model.outlets], dtype=float)
    hourly = np.array(model.hourly, dtype=float)
    hourly = hourly / hourly.sum()
    orders: list[SimOrder] = []
    for d in range(days):
        day = start + timedelta(days=d)
        expected = model.orders_per_day * model.weekday[day.weekday()]
        count = int(arrivals.poisson(expected))
        stamps = sorted(
            int(arrivals.choice(24, p=hourly)) * 3600 + int(arrivals.integers(0, 3600)) for _ in range(count)
        )
        for s in stamps:
            local = datetime.combine(day.date(), time(0), tzinfo=tz) + timedelta(seconds=s)
            outlet = model.outlets[int(arrivals.choice(len(model.outlets), p=weights / weights.sum()))]
            lat, lon = _point(arrivals, outlet, 1.0)
            category = _pick(arrivals, model.categories)
            index = len(orders)
            orders.append(
                SimOrder(
                    index=index,
                    created=local.astimezone(ZoneInfo("UTC")),
                    outlet=outlet.code,
                    lat=lat,
                    lon=lon,
                    skill=_pick(arrivals, model.skills),
                    category=category,
                    priority=_pick(arrivals, model.priorities),
                    draws=order_draws(model, seed, index, category),
                )  # fmt: skip
            )
    return Scenario(model, seed, start.astimezone(ZoneInfo("UTC")), days, tuple(techs), tuple(orders))


def _point(rng: np.random.Generator, outlet: OutletSpec, share: float) -> tuple[float, float]:
    """A point spread evenly over a disc of the outlet's radius (× share) around it."""
    r = outlet.radius_km * share * math.sqrt(float(rng.random()))
    a = 2 * math.pi * float(rng.random())
    dlat = r * math.cos(a) / KM_PER_DEG_LAT
    dlon = r * math.sin(a) / (KM_PER_DEG_LAT * math.cos(math.radians(outlet.lat)))
    return round(outlet.lat + dlat, 6), round(outlet.lon + dlon, 6)
