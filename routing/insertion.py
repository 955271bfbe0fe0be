"""Instant insertion: cheapest feasible slot for one new job across all current routes.

Every gap between consecutive route points (start, stops..., end) is one candidate. Per gap we
precompute the departure from its predecessor, the latest feasible service start of its successor
(backward time slack over windows and shift end) and the successor's due slack, so a query is a
handful of numpy operations over all gaps: O(1) per position.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .geo import haversine_m, haversine_pairs_m
from .problem import LATE_COST_PER_S, Job, Plan, Stop, Technician, time_visits

BIG = 2**50
BREAK_CHECKS = 64  # candidates re-timed with the break before giving up on a technician with one


@dataclass(frozen=True)
class Insertion:
    """Insert the job on ``tech_id``'s route before the stop at ``position`` (0 = first)."""

    tech_id: Hashable
    position: int
    arrival_s: int
    extra_distance_m: int
    late_s: int


@dataclass(frozen=True)
class NoInsertion:
    """No feasible slot; ``reason`` is ``no_skill``, ``window_unreachable`` or ``no_capacity_or_time``."""

    reason: str


COLUMNS = (
    "tech", "pos", "plat", "plon", "nlat", "nlon", "pdep", "nopen", "nlatest", "nstart", "nslack",
    "locked0", "full", "speed", "detour", "dpn",
)  # fmt: skip


class InsertionIndex:
    """Per-gap arrays of the current plan; build once, query many times with :meth:`best`.

    The arrays are kept as one block per technician, so when one technician's route changes
    :meth:`update` rebuilds that block alone and re-joins the arrays (the in-memory day of
    dispatch/planning/live_day.py keeps one index alive across new orders this way).
    """

    def __init__(
        self,
        technicians: Sequence[Technician],
        plan: Plan,
        jobs: Mapping[Hashable, Job],
        late_cost_per_s: int = LATE_COST_PER_S,
    ) -> None:
        self.late_cost = late_cost_per_s
        self.techs = list(technicians)
        self.tech_ids = [t.id for t in self.techs]
        self._slot = {t.id: k for k, t in enumerate(self.techs)}
        self._blocks = [_block(k, t, plan.routes.get(t.id, []), jobs) for k, t in enumerate(self.techs)]
        self._visits = [[jobs[s.job_id] for s in plan.routes.get(t.id, [])] for t in self.techs]
        self._join()

    def update(self, changes: Iterable[tuple[Technician, Sequence[Stop]]], jobs: Mapping[Hashable, Job]) -> None:
        """Replace technicians (same ids, possibly new shift/capacity/position) and their
        routes; the arrays are re-joined once."""
        for tech, stops in changes:
            k = self._slot[tech.id]
            self.techs[k] = tech
            self._blocks[k] = _block(k, tech, stops, jobs)
            self._visits[k] = [jobs[s.job_id] for s in stops]
        self._join()

    def _join(self) -> None:
        blocks = self._blocks
        if blocks:
            self.a = {c: np.concatenate([b[c] for b in blocks]) for c in COLUMNS}
        else:
            self.a = {c: np.asarray([]) for c in COLUMNS}
        self.skills = {s for t in self.techs for s in t.skills}
        self.any_break = any(t.has_break for t in self.techs)
        lengths = [len(b["tech"]) for b in blocks]
        self.skill_mask = {
            s: np.repeat(np.array([s in t.skills for t in self.techs], dtype=bool), lengths) for s in self.skills
        }

    def best(self, job: Job) -> Insertion | NoInsertion:
        """Cheapest feasible insertion of ``job`` (extra metres + lateness cost), or why there is none."""
        a = self.a
        if job.skill not in self.skill_mask or len(a["tech"]) == 0:
            return NoInsertion("no_skill")
        ok = self.skill_mask[job.skill].copy()
        if job.locked_to is not None:
            ok &= np.array([self.tech_ids[k] == job.locked_to for k in range(len(self.techs))])[a["tech"]]
        if not ok.any():
            return NoInsertion("no_skill")
        ok &= ~a["locked0"] & ~a["full"]
        dp = haversine_m([job.location], np.column_stack([a["plat"], a["plon"]]))[0] * a["detour"]
        dn = haversine_m([job.location], np.column_stack([a["nlat"], a["nlon"]]))[0] * a["detour"]
        w0, w1 = job.window if job.window else (0, BIG)
        su = np.maximum(w0, a["pdep"] + np.rint(dp / a["speed"]).astype(np.int64))
        win_ok = su <= w1
        sn = np.maximum(a["nopen"], su + job.service_s + np.rint(dn / a["speed"]).astype(np.int64))
        time_ok = sn <= a["nlatest"]
        feas = ok & win_ok & time_ok
        if not feas.any():
            if job.window is not None and not (ok & win_ok).any():
                return NoInsertion("window_unreachable")
            return NoInsertion("no_capacity_or_time")
        late_u = np.maximum(su - (job.due if job.due is not None else BIG), 0)
        push = np.maximum(sn - a["nstart"], 0)
        extra_late = np.maximum(push - a["nslack"], 0)
        extra_d = dp + dn - a["dpn"]
        cost = np.where(feas, extra_d + self.late_cost * (late_u + extra_late), np.inf)
        if self.any_break:
            return self._best_with_breaks(job, cost, extra_d, dp, late_u)
        g = int(np.argmin(cost))
        k = int(a["tech"][g])
        arrival = int(a["pdep"][g] + round(dp[g] / a["speed"][g]))
        return Insertion(self.tech_ids[k], int(a["pos"][g]), arrival, round(float(extra_d[g])), int(late_u[g]))

    def _best_with_breaks(self, job: Job, cost, extra_d, dp, late_u) -> Insertion | NoInsertion:
        """The gap arrays do not know the breaks: re-time the cheapest candidates on routes
        with a break (the break placed again with the new visit) and keep the first that
        keeps every window and the shift; its times are the ones the route will have."""
        a = self.a
        checked = 0
        for g in np.argsort(cost, kind="stable").tolist():
            if not np.isfinite(cost[g]) or checked >= BREAK_CHECKS:
                break
            k, pos = int(a["tech"][g]), int(a["pos"][g])
            tech = self.techs[k]
            if not tech.has_break:
                arrival = int(a["pdep"][g] + round(dp[g] / a["speed"][g]))
                return Insertion(tech.id, pos, arrival, round(float(extra_d[g])), int(late_u[g]))
            checked += 1
            timed = retime(tech, [*self._visits[k][:pos], job, *self._visits[k][pos:]])
            if timed is None:
                continue
            arrival, _start, _dep, late = timed[pos]
            return Insertion(tech.id, pos, arrival, round(float(extra_d[g])), late)
        return NoInsertion("no_capacity_or_time")


def _block(k: int, t: Technician, stops: Sequence[Stop], jobs: Mapping[Hashable, Job]) -> dict[str, np.ndarray]:
    """The gap arrays of technician number ``k``'s route (one row per gap)."""
    cols: dict[str, list] = {c: [] for c in COLUMNS}
    sj = [jobs[s.job_id] for s in stops]
    pts = [t.start] + [j.location for j in sj] + [t.end]
    speed = t.speed_kmh / 3.6
    seg = (haversine_pairs_m(pts[:-1], pts[1:]) * t.detour).tolist()
    n = len(sj)
    dep = [t.shift_start] + [s.departure_s for s in stops]
    # current start at each successor point (stops, then arrival at end)
    end_arr = dep[-1] + round(float(seg[-1] / speed))
    nstart = [s.start_s for s in stops] + [end_arr]
    # backward latest start, from the shift end
    latest = [0] * (n + 1)
    latest[n] = t.shift_end
    for i in range(n - 1, -1, -1):
        close = sj[i].window[1] if sj[i].window else BIG
        latest[i] = min(close, latest[i + 1] - round(float(seg[i + 1] / speed)) - sj[i].service_s)
    # due slack: how far the successor may be pushed before anything from it on is (more) late
    slack = [0] * (n + 1)
    slack[n] = BIG
    for i in range(n - 1, -1, -1):
        arr_next = stops[i].departure_s + round(float(seg[i + 1] / speed))
        wait_next = max(0, nstart[i + 1] - arr_next) if i + 1 < n else 0
        own = BIG if sj[i].due is None else max(sj[i].due - stops[i].start_s, 0)
        slack[i] = min(own, wait_next + slack[i + 1])
    locked0 = bool(sj) and sj[0].started
    for i in range(n + 1):  # gap i: between point i (start or stop i-1) and point i+1
        cols["tech"].append(k)
        cols["pos"].append(i)
        cols["plat"].append(pts[i][0])
        cols["plon"].append(pts[i][1])
        cols["nlat"].append(pts[i + 1][0])
        cols["nlon"].append(pts[i + 1][1])
        cols["pdep"].append(dep[i])
        cols["nopen"].append(sj[i].window[0] if i < n and sj[i].window else 0)
        cols["nlatest"].append(latest[i])
        cols["nstart"].append(nstart[i])
        cols["nslack"].append(slack[i])
        cols["locked0"].append(locked0 and i == 0)
        cols["full"].append(n >= t.max_jobs)
        cols["speed"].append(speed)
        cols["detour"].append(t.detour)
        cols["dpn"].append(seg[i])
    return {c: np.asarray(v) for c, v in cols.items()}


def retime(tech: Technician, visits: Sequence[Job]) -> list[tuple[int, int, int, int]] | None:
    """``visits`` timed on ``tech``'s day with the break placed, or None when a window or the
    shift's end cannot be kept."""
    pts = [tech.start] + [j.location for j in visits] + [tech.end]
    speed = tech.speed_kmh / 3.6
    legs = [round(float(x) * tech.detour / speed) for x in haversine_pairs_m(pts[:-1], pts[1:])]
    spec = [(j.service_s, *(j.window or (0, BIG)), j.due) for j in visits]
    brk = (*tech.break_window, tech.break_s) if tech.has_break else None
    times, end, _ = time_visits(tech.shift_start, legs, spec, tech.shift_end, brk)
    if end > tech.shift_end or any(t[1] > v[2] for t, v in zip(times, spec, strict=True)):
        return None
    return times


def best_insertion(
    technicians: Sequence[Technician], plan: Plan, jobs: Mapping[Hashable, Job], job: Job
) -> Insertion | NoInsertion:
    """One-shot: cheapest feasible insertion of ``job`` into ``plan`` (``jobs`` maps the plan's job ids)."""
    return InsertionIndex(technicians, plan, jobs).best(job)
