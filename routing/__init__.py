"""Field-service routing: plain data in, plain data out (numpy + OR-Tools; no Flask, no database).

Public API::

    solve(problem, time_limit_s=5.0, initial=None, options=None) -> Plan
    best_insertion(technicians, plan, jobs, job) -> Insertion | NoInsertion
    InsertionIndex(technicians, plan, jobs).best(job) -> Insertion | NoInsertion
    diff(old, new) -> PlanDiff
    travel_matrix(points, detour=1.3, speed_kmh=30.0, osrm_url=None) -> TravelMatrix
"""

from .diff import Move, PlanDiff, diff
from .geo import TravelMatrix, haversine_m, osrm_table, road_matrices, travel_matrix
from .insertion import Insertion, InsertionIndex, NoInsertion, best_insertion
from .problem import Job, Plan, Problem, Stop, Technician, Unserved, node_points
from .solver import SolverOptions, solve

__all__ = [
    "Insertion",
    "InsertionIndex",
    "Job",
    "Move",
    "NoInsertion",
    "Plan",
    "PlanDiff",
    "Problem",
    "SolverOptions",
    "Stop",
    "Technician",
    "TravelMatrix",
    "Unserved",
    "best_insertion",
    "diff",
    "haversine_m",
    "node_points",
    "osrm_table",
    "road_matrices",
    "solve",
    "travel_matrix",
]
