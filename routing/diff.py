"""What changed between two plans, for the dispatcher's screen, and whether the new one is better."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from .problem import DROP_PENALTY, LATE_COST_PER_S, Job, Plan

# The least gain, in the objective's units (metres; a second late costs LATE_COST_PER_S), for a
# plan to count as better than today's: less is noise of the search, not worth a dispatcher's
# attention or anyone's changed day.
MIN_GAIN = 200


@dataclass(frozen=True)
class Move:
    """A job that changed technician; ``from_tech`` is None if it was unserved before, ``to_tech``
    None if the new plan leaves it out."""

    job_id: Hashable
    from_tech: Hashable | None
    to_tech: Hashable | None
    new_position: int | None
    new_eta: int | None


@dataclass(frozen=True)
class PlanDiff:
    """Moves (a job on another technician's day), the technicians whose own visits only change
    order (``resequenced``: technician → the new order of the jobs they keep), and what the new
    plan gains: positive ``distance_saved_m``/``lateness_avoided_s`` are improvements."""

    moves: list[Move]
    distance_saved_m: int
    lateness_avoided_s: int
    newly_served: list[Hashable]
    newly_unserved: list[Hashable]
    resequenced: dict[Hashable, list[Hashable]]
    late_jobs_avoided: int = 0


def _where(plan: Plan) -> dict[Hashable, tuple[Hashable, int, int]]:
    return {s.job_id: (tech, i, s.arrival_s) for tech, stops in plan.routes.items() for i, s in enumerate(stops)}


def diff(old: Plan, new: Plan) -> PlanDiff:
    """Jobs whose technician changed (new position and ETA), technicians whose kept jobs only
    change order, served/unserved changes and savings."""
    a, b = _where(old), _where(new)
    moves = []
    for job_id, (tech, pos, eta) in b.items():
        before = a.get(job_id)
        if before is None or before[0] != tech:
            moves.append(Move(job_id, before[0] if before else None, tech, pos, eta))
    for job_id, (tech, _, _) in a.items():
        if job_id not in b:
            moves.append(Move(job_id, tech, None, None, None))
    resequenced = {}
    for tech, stops in new.routes.items():
        kept_new = [s.job_id for s in stops if a.get(s.job_id, (None,))[0] == tech]
        kept_old = [s.job_id for s in old.routes.get(tech, []) if b.get(s.job_id, (None,))[0] == tech]
        if kept_new != kept_old:
            resequenced[tech] = kept_new
    return PlanDiff(
        moves=moves,
        distance_saved_m=old.total_distance_m - new.total_distance_m,
        lateness_avoided_s=old.total_late_s - new.total_late_s,
        newly_served=[j for j in b if j not in a],
        newly_unserved=[j for j in a if j not in b],
        resequenced=resequenced,
        late_jobs_avoided=old.late_jobs - new.late_jobs,
    )


def cost(plan: Plan, jobs: Mapping[Hashable, Job], late_cost_per_s: int = LATE_COST_PER_S) -> int:
    """The plan's objective as the solver weighs it: metres driven, lateness priced per second,
    and each job left out at its priority's drop penalty."""
    dropped = sum(DROP_PENALTY[jobs[u.job_id].priority] for u in plan.unserved if u.job_id in jobs)
    return plan.total_distance_m + late_cost_per_s * plan.total_late_s + dropped


def improves(old: Plan, new: Plan, jobs: Mapping[Hashable, Job], late_cost_per_s: int = LATE_COST_PER_S) -> bool:
    """Whether `new` is better than `old` by at least MIN_GAIN, both weighed by `cost`: a plan
    no better than today's is not offered as an improvement."""
    return cost(new, jobs, late_cost_per_s) <= cost(old, jobs, late_cost_per_s) - MIN_GAIN
