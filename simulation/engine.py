"""One policy over one scenario: a discrete-event simulation that drives the product's own use
cases (intake, instant placement, the dispatcher's assignment, re-optimisation, lifecycle moves,
SLA sweeps, KPI figures) against a scratch SQLite database, on a simulated clock.

The world is the only part written here: when orders arrive, how long a drive and a repair
take, whether a part is missing or the customer out. Every decision — who gets an order, in
which order a technician visits — is the product's.
"""

from __future__ import annotations

import heapq
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import event, func, select

from core import clock
from core.accounts import Actor
from core.db import Database, unit_of_work
from core.migrate import upgrade
from dispatch.geocoding import Geocoder
from dispatch.intake import IntakeSettings, OrderRequest, submit_order
from dispatch.jobs import auto_dispatch
from dispatch.kpis.figures import period
from dispatch.lifecycle import Status
from dispatch.models import RouteStop, WorkOrder
from dispatch.moves import Position, transition
from dispatch.planning import PlanningSettings, apply_proposal, assign, place_new_order, propose
from dispatch.planning.live_day import day_cache
from dispatch.sla.policy import SlaPolicy
from dispatch.sla.sweep import sweep
from routing.geo import haversine_m
from simulation.policies import Policy
from simulation.scenario import Scenario, SimOrder, SimTechnician
from technicians.availability import can_take_work
from technicians.models import Leave, Skill
from technicians.models import Technician as TechnicianRow
from technicians.network import create_outlet, create_technician

SWEEP_EVERY = timedelta(minutes=15)
DETOUR, SPEED_KMH = 1.3, 30.0  # the outlets' travel model (technicians.models defaults)
DISPATCHER = Actor(user_id=None, role="dispatcher")

_template_lock = threading.Lock()
_template: Path | None = None


def scratch_database(directory: Path) -> str:
    """A migrated SQLite file of its own for one run: a copy of a template migrated once per
    process with the project's Alembic migrations (as the tests build theirs)."""
    global _template
    with _template_lock:
        if _template is None or not _template.exists():
            path = Path(tempfile.mkdtemp(prefix="simulation-template-")) / "template.db"
            upgrade(f"sqlite:///{path}")
            _template = path
    target = directory / "run.db"
    shutil.copy(_template, target)
    return f"sqlite:///{target}"


def _fast_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # A scratch database thrown away after the run: no fsync per commit.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


@dataclass
class TechState:
    spec: SimTechnician
    id: int
    at: tuple[float, float]
    busy: bool = False
    order_id: int | None = None
    km: float = 0.0
    busy_s: float = 0.0
    shift_s: float = 0.0
    overtime_s: float = 0.0
    shift_end: datetime | None = None
    on_shift: bool = False


@dataclass
class RunResult:
    policy: str
    seed: int
    kpis: dict[str, Any]
    figures: dict[str, float | None]
    per_order: dict[int, dict[str, Any]] = field(default_factory=dict)


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        policy: Policy,
        directory: Path,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.policy = policy
        self.progress = progress or (lambda _f: None)
        self.model = scenario.model
        self.tz = self.model.timezone
        self.database = Database(scratch_database(directory))
        event.listen(self.database.engine, "connect", _fast_sqlite)
        self.clock = clock.ManualClock(scenario.start)
        self.queue: list[tuple[datetime, int, str, Any]] = []
        self.counter = 0
        self.planning = PlanningSettings(
            timezone=self.tz, service_minutes={k: round(v) for k, v in self.model.service_minutes.items()},
            time_limit_s=policy.time_limit_s, horizon_days=self.model.horizon_days, stall_steps=policy.stall_steps,
        )  # fmt: skip
        self.sla = SlaPolicy(default_hours=self.model.promise_hours)
        self.techs: dict[int, TechState] = {}
        self.order_ids: dict[int, int] = {}  # scenario index → order id
        self.orders_by_id: dict[int, SimOrder] = {}
        self.visits: dict[int, int] = {}  # order id → visits made
        self.part_ready: dict[int, datetime] = {}
        self.failed_visits = 0
        self.unassigned_at_day_end: list[int] = []

    # -- the event queue ---------------------------------------------------------------
    def at(self, when: datetime, kind: str, payload: Any = None) -> None:
        self.counter += 1
        heapq.heappush(self.queue, (when, self.counter, kind, payload))

    def run(self) -> RunResult:
        try:
            with clock.use(self.clock), self.database.session_scope() as session:
                self.session = session
                self._network()
                self._schedule()
                total = (self.scenario.finish - self.scenario.start).total_seconds()
                last = -1.0
                while self.queue:
                    when, _, kind, payload = heapq.heappop(self.queue)
                    if when > self.scenario.finish:
                        break
                    self.clock.at = when
                    getattr(self, f"_on_{kind}")(payload)
                    share = (when - self.scenario.start).total_seconds() / total
                    if share - last >= 0.01:
                        self.progress(share)
                        last = share
                self.clock.at = self.scenario.finish
                result = self._measure()
                # The instant path's in-memory day of this scratch database: drop it with the run.
                day_cache(session).forget()
                self.progress(1.0)
                return result
        finally:
            self.database.dispose()

    # -- set-up ------------------------------------------------------------------------
    def _network(self) -> None:
        s = self.session
        with unit_of_work(s):
            for code in self.model.skills:
                s.add(Skill(code=code, name_en=code, name_zh=code, active=True))
            outlets = {}
            for o in self.model.outlets:
                outlets[o.code] = create_outlet(
                    s, {"code": o.code, "name": o.name, "lat": o.lat, "lon": o.lon}, actor_id=None
                )
                outlets[o.code].auto_dispatch = self.policy.kind == "auto"
            for t in self.scenario.technicians:
                row = create_technician(
                    s,
                    {
                        "outlet_id": outlets[t.outlet].id, "name": t.key, "phone": f"+8613800{len(self.techs):06d}",
                        "home_lat": t.home[0], "home_lon": t.home[1], "shift_start": t.shift[0], "shift_end": t.shift[1],
                        "work_days": t.work_days, "daily_capacity": t.daily_capacity,
                    },
                    list(t.skills),
                    actor_id=None,
                )  # fmt: skip
                for first, last in t.leave:
                    s.add(Leave(technician_id=row.id, start_date=first, end_date=last, reason="simulated"))
                self.techs[row.id] = TechState(t, row.id, t.home)
        self.intake = IntakeSettings(
            policy=self.sla, timezone=self.tz, geocoder=Geocoder("none"), proof_photos_default=0,
            planning=self.planning if self.policy.instant else None,
        )  # fmt: skip

    def _schedule(self) -> None:
        sc = self.scenario
        for order in sc.orders:
            self.at(order.created, "order", order)
        days = (sc.finish - sc.start).days
        for d in range(days):
            local_day = (sc.start + timedelta(days=d)).astimezone(self.tz).date()
            for tech in self.techs.values():
                start = datetime.combine(local_day, tech.spec.shift[0], tzinfo=self.tz)
                end = datetime.combine(local_day, tech.spec.shift[1], tzinfo=self.tz)
                if tech.spec.works_on(local_day):
                    self.at(start, "shift_start", (tech.id, end))
                    self.at(end, "shift_end", tech.id)
            midnight = datetime.combine(local_day, datetime.max.time(), tzinfo=self.tz)
            self.at(midnight, "day_end", None)
            first = min(t.shift[0] for t in sc.technicians)
            last = max(t.shift[1] for t in sc.technicians)
            t = datetime.combine(local_day, first, tzinfo=self.tz)
            end = datetime.combine(local_day, last, tzinfo=self.tz)
            step = timedelta(minutes=self.policy.look_minutes)
            while t < end:
                self.at(t, "look", None)
                t += step
            if self.policy.kind in ("reoptimise", "auto"):
                t = datetime.combine(local_day, first, tzinfo=self.tz) + timedelta(minutes=1)
                while t < end:
                    self.at(t, "replan", None)
                    t += timedelta(minutes=self.policy.every_minutes)
        t = sc.start
        while t < sc.finish:
            self.at(t, "sweep", None)
            t += SWEEP_EVERY

    # -- what happens ------------------------------------------------------------------
    def _on_order(self, o: SimOrder) -> None:
        req = OrderRequest(
            channel="hotline", name=f"客户{o.index}", phone=f"+86139{o.index:08d}", address=f"模拟地址 {o.index} 号",
            product_category=o.product or o.skill, required_skill=o.skill, issue_category=o.category,
            priority=o.priority, lat=o.lat, lon=o.lon,
            appointment_start=o.appointment[0] if o.appointment else None,
            appointment_end=o.appointment[1] if o.appointment else None,
        )  # fmt: skip
        order, _ = submit_order(self.session, req, DISPATCHER, self.intake, now=self.clock.at)
        self.order_ids[o.index] = order.id
        self.orders_by_id[order.id] = o
        self._wake()

    def _on_look(self, _: Any) -> None:
        """The dispatcher's look: every new order gets a technician (baseline: the nearest on duty
        with the skill and room; the other policies: the instant path once more)."""
        s, now = self.session, self.clock.at
        new = s.execute(
            select(WorkOrder.id, WorkOrder.version, WorkOrder.required_skill, WorkOrder.lat, WorkOrder.lon)
            .where(WorkOrder.status == Status.NEW.value)
            .order_by(WorkOrder.created_at)
        ).all()
        s.rollback()
        if not new:
            return
        if self.policy.instant:
            for row in new:
                place_new_order(s, row.id, self.planning, now)
        else:
            load = dict(
                s.execute(
                    select(WorkOrder.technician_id, func.count())
                    .where(WorkOrder.status.in_([Status.ASSIGNED.value, Status.ACCEPTED.value]))
                    .group_by(WorkOrder.technician_id)
                ).all()
            )
            rows = {r.id: r for r in s.scalars(select(TechnicianRow))}
            on_duty = [t for t in self.techs.values() if can_take_work(rows[t.id], now, self.tz)]
            skills = {t.id: set(rows[t.id].skill_codes) for t in on_duty}
            s.rollback()
            for row in new:
                able = [t for t in on_duty if row.required_skill in skills[t.id] and load.get(t.id, 0) < 3]
                if not able:
                    continue
                d = haversine_m([(row.lat, row.lon)], [t.at for t in able])[0]
                tech = able[int(np.argmin(d))]
                assign(s, row.id, tech.id, DISPATCHER, self.planning, version=row.version, now=now)
                load[tech.id] = load.get(tech.id, 0) + 1
        self._wake()

    def _on_replan(self, _: Any) -> None:
        s, now = self.session, self.clock.at
        if not any(t.on_shift for t in self.techs.values()):
            return
        movable = s.scalar(
            select(func.count())
            .select_from(WorkOrder)
            .where(
                WorkOrder.status.in_([Status.NEW.value, Status.ASSIGNED.value]), WorkOrder.assignment_locked.is_(False)
            )
        )
        s.rollback()
        if not movable:
            return  # nothing a plan could move: no solve
        if self.policy.kind == "auto":
            auto_dispatch(self.database, self.planning, now)
        else:
            proposal = propose(s, self.planning, Actor.system(), now=now)
            if proposal.payload["diff"]["moves"]:
                apply_proposal(s, proposal.id, self.planning, Actor.system(), now=now)
        self._wake()

    def _on_sweep(self, _: Any) -> None:
        sweep(self.session, self.clock.at)

    def _on_day_end(self, _: Any) -> None:
        new = self.session.scalar(
            select(func.count()).select_from(WorkOrder).where(WorkOrder.status == Status.NEW.value)
        )
        self.session.rollback()
        if self.clock.at <= self.scenario.end:
            self.unassigned_at_day_end.append(int(new or 0))

    def _on_shift_start(self, payload: tuple[int, datetime]) -> None:
        tech_id, end = payload
        tech = self.techs[tech_id]
        tech.on_shift, tech.shift_end, tech.at = True, end, tech.spec.home
        tech.shift_s += (end - self.clock.at).total_seconds()
        self._wake()

    def _on_shift_end(self, tech_id: int) -> None:
        tech = self.techs[tech_id]
        tech.on_shift = False
        if not tech.busy:
            self._go_home(tech)

    def _on_part(self, order_id: int) -> None:
        self._wake()

    def _go_home(self, tech: TechState) -> None:
        tech.km += _road_km(tech.at, tech.spec.home)
        tech.at = tech.spec.home

    # -- technicians follow their routes -------------------------------------------------
    def _wake(self) -> None:
        idle = [t for t in self.techs.values() if t.on_shift and not t.busy]
        if not idle:
            return
        s, now = self.session, self.clock.at
        rows = s.execute(
            select(WorkOrder.id, WorkOrder.technician_id, WorkOrder.status, WorkOrder.version)
            .outerjoin(RouteStop, RouteStop.order_id == WorkOrder.id)
            .where(
                WorkOrder.technician_id.in_([t.id for t in idle]),
                WorkOrder.status.in_([Status.ASSIGNED.value, Status.ACCEPTED.value, Status.RETURNED.value]),
            )
            .order_by(WorkOrder.technician_id, func.coalesce(RouteStop.seq, 10**6), WorkOrder.due_at)
        ).all()
        s.rollback()
        nxt: dict[int, Any] = {}
        for r in rows:
            if r.technician_id in nxt:
                continue
            if r.status == Status.RETURNED.value and self.part_ready.get(r.id, now) > now:
                continue  # waiting for the part
            nxt[r.technician_id] = r
        for tech in idle:
            r = nxt.get(tech.id)
            if r is not None:
                self._start(tech, r)

    def _start(self, tech: TechState, r: Any) -> None:
        now, o = self.clock.at, self.orders_by_id[r.id]
        drive_s = _road_km(tech.at, (o.lat, o.lon)) * 1000 / (SPEED_KMH / 3.6)
        expected_service = self.model.service_minutes.get(o.category, 45) * 60
        if now + timedelta(seconds=drive_s + expected_service) > tech.shift_end:
            return  # not before the shift ends: tomorrow
        me = Actor(user_id=None, role="technician", technician_id=tech.id)
        version = r.version
        first_visit = self.visits.get(r.id, 0) == 0
        if r.status == Status.ASSIGNED.value:
            version = transition(self.session, r.id, "accept", me, version=version, now=now).version
            version = transition(self.session, r.id, "contact", me, version=version, now=now).version
        not_home = first_visit and o.draws.not_home
        if not not_home:
            # Nobody answers the call, so the technician drives there anyway (the practice, 004);
            # without a move back from en route the failed trip is not recorded as a departure.
            version = transition(self.session, r.id, "depart", me, version=version, now=now).version
        tech.busy, tech.order_id = True, r.id
        travel = drive_s * o.draws.travel_factor
        tech.busy_s += travel
        tech.km += _road_km(tech.at, (o.lat, o.lon))
        tech.at = (o.lat, o.lon)
        self.at(now + timedelta(seconds=travel), "arrive", (tech.id, r.id, version, not_home))

    def _on_arrive(self, payload: tuple[int, int, int, bool]) -> None:
        tech_id, order_id, version, not_home = payload
        tech, o, now = self.techs[tech_id], self.orders_by_id[order_id], self.clock.at
        me = Actor(user_id=None, role="technician", technician_id=tech.id)
        self.visits[order_id] = self.visits.get(order_id, 0) + 1
        if not_home:
            self.failed_visits += 1
            wait = timedelta(minutes=self.model.not_home_wait_minutes)
            tech.busy_s += wait.total_seconds()
            self.at(now + wait, "not_home", (tech_id, order_id, version))
            return
        version = transition(
            self.session, order_id, "arrive", me, version=version, position=Position(o.lat, o.lon, 10.0), now=now
        ).version
        second = self.visits[order_id] > 1 and o.draws.part_needed
        service = o.draws.second_service_s if second else o.draws.service_s
        tech.busy_s += service
        self.at(now + timedelta(seconds=service), "done", (tech_id, order_id, version))

    def _on_not_home(self, payload: tuple[int, int, int]) -> None:
        tech_id, order_id, version = payload
        transition(
            self.session, order_id, "unassign", DISPATCHER, version=version, reason="客户不在家", now=self.clock.at
        )
        self._free(self.techs[tech_id])

    def _on_done(self, payload: tuple[int, int, int]) -> None:
        tech_id, order_id, version = payload
        o, now = self.orders_by_id[order_id], self.clock.at
        me = Actor(user_id=None, role="technician", technician_id=tech_id)
        order = transition(self.session, order_id, "complete", me, version=version, sla=self.sla, now=now)
        if o.draws.part_needed and order.visit_count == 1 and order_id not in self.part_ready:
            # Until the product has a "waiting for a part" move, a part-needed first visit is a
            # completion returned for a second visit (docs/simulation.md).
            transition(
                self.session,
                order_id,
                "return",
                DISPATCHER,
                version=order.version,
                reason="等待配件，二次上门",
                now=now,
            )
            ready = now + timedelta(seconds=o.draws.part_lead_s)
            self.part_ready[order_id] = ready
            self.at(ready, "part", order_id)
        self._free(self.techs[tech_id])

    def _free(self, tech: TechState) -> None:
        tech.busy, tech.order_id = False, None
        now = self.clock.at
        if tech.shift_end is not None and now > tech.shift_end:
            tech.overtime_s += (now - tech.shift_end).total_seconds()
        if not tech.on_shift:
            self._go_home(tech)
            return
        self._wake()

    # -- the figures -------------------------------------------------------------------
    def _measure(self) -> RunResult:
        s, sc = self.session, self.scenario
        now = sc.finish
        kpi = period(s, sc.start, sc.end, now=now)
        rows = s.execute(
            select(
                WorkOrder.id, WorkOrder.created_at, WorkOrder.due_at, WorkOrder.completed_at, WorkOrder.status
            ).where(WorkOrder.created_at >= sc.start, WorkOrder.created_at < sc.end)
        ).all()
        s.rollback()
        late = []
        per_order = {}
        for r in rows:
            done = r.completed_at if r.status in (Status.COMPLETED.value, Status.CLOSED.value) else None
            finish = done or now
            late.append(max(0.0, (finish - r.due_at).total_seconds() / 60))
            o = self.orders_by_id[r.id]
            per_order[o.index] = {
                "completed_hours": round((done - r.created_at).total_seconds() / 3600, 4) if done else None
            }
        techs = list(self.techs.values())
        shift_s = sum(t.shift_s for t in techs)
        completed = kpi.completed
        figures = {
            "orders": kpi.orders,
            "completion_24h_rate": kpi.completion_24h_rate,
            "lateness_mean_min": round(float(np.mean(late)), 2) if late else 0.0,
            "lateness_p95_min": round(float(np.percentile(late, 95)), 2) if late else 0.0,
            "km": round(sum(t.km for t in techs), 2),
            "overtime_hours": round(sum(t.overtime_s for t in techs) / 3600, 2),
            "utilisation": round(sum(t.busy_s for t in techs) / shift_s, 4) if shift_s else None,
            "orders_per_technician": round(completed / len(techs), 2) if techs else None,
            "unassigned_at_day_end": round(float(np.mean(self.unassigned_at_day_end)), 2)
            if self.unassigned_at_day_end
            else 0.0,
            "failed_visits": self.failed_visits,
        }
        kpis = {
            "completion_24h_rate": kpi.completion_24h_rate,
            "satisfaction_rate": kpi.satisfaction_rate,
            "compliance_rate": kpi.compliance_rate,
            "authenticity_rate": kpi.authenticity_rate,
            "completed": kpi.completed,
            "pending_24h": kpi.pending_24h,
        }
        return RunResult(self.policy.name, sc.seed, kpis, figures, per_order)


def _road_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(haversine_m([a], [b])[0, 0]) * DETOUR / 1000


def simulate(
    scenario: Scenario, policy: Policy, progress: Callable[[float], None] | None = None, keep: Path | None = None
) -> RunResult:
    """Run `policy` over `scenario` in a scratch database (removed afterwards unless `keep`)."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return Simulation(scenario, policy, keep, progress).run()
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="simulation-", dir=base) as directory:
        return Simulation(scenario, policy, Path(directory), progress).run()
