"""What changed between two plans, for the dispatcher's screen."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from .problem import Plan


@dataclass(frozen=True)
class Move:
    """A job that changed technician or position; ``from_tech`` is None if it was unserved before."""

    job_id: Hashable
    from_tech: Hashable | None
    to_tech: Hashable | None
    new_position: int | None
    new_eta: int | None


@dataclass(frozen=True)
class PlanDiff:
    """Moves plus what the new plan gains: positive ``distance_saved_m``/``lateness_avoided_s`` are improvements."""

    moves: list[Move]
    distance_saved_m: int
    lateness_avoided_s: int
    newly_served: list[Hashable]
    newly_unserved: list[Hashable]


def _where(plan: Plan) -> dict[Hashable, tuple[Hashable, int, int]]:
    return {s.job_id: (tech, i, s.arrival_s) for tech, stops in plan.routes.items() for i, s in enumerate(stops)}


def diff(old: Plan, new: Plan) -> PlanDiff:
    """Jobs whose technician or position changed (new position and ETA), served/unserved changes and savings."""
    a, b = _where(old), _where(new)
    moves = []
    for job_id, (tech, pos, eta) in b.items():
        before = a.get(job_id)
        if before is None or before[0] != tech or before[1] != pos:
            moves.append(Move(job_id, before[0] if before else None, tech, pos, eta))
    for job_id, (tech, _, _) in a.items():
        if job_id not in b:
            moves.append(Move(job_id, tech, None, None, None))
    return PlanDiff(
        moves=moves,
        distance_saved_m=old.total_distance_m - new.total_distance_m,
        lateness_avoided_s=old.total_late_s - new.total_late_s,
        newly_served=[j for j in b if j not in a],
        newly_unserved=[j for j in a if j not in b],
    )
