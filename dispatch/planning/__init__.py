"""Planning: the technicians' days as OR-Tools sees them, and the ways plans reach the orders.

- `day`: the day as plain routing data (who can work, open orders, current routes);
  `live_day`: that day kept in memory per process and patched from the event log.
- `instant`: a new order's cheapest place (`place_new_order`) and the suggestions.
- `manual`: a dispatcher's assignment, placed in the chosen technician's route, and who may
  be picked (`assignable_technicians`); a drop on the timeline (`place`) and pinning (`pin`).
- `reoptimise`: `propose` / `apply_proposal`, a plan shown as a diff and applied atomically.
- `routes`: writing a technician's day, one writer at a time.
- `slots`: the appointment slots the plan can keep, ranked, and booking one.

A day here is the planning horizon (`PlanningSettings.horizon_days`, today included): one
routing vehicle per technician-day on duty (`day.vehicle`).
- `dropout`: a technician out for the rest of the day, their unstarted orders as a proposal;
  `comeback`: an order whose part arrived, placed again by the instant path.
"""

from dispatch.planning.day import DEFAULT_SERVICE_MINUTES, MOVABLE, Day, PlanningSettings, load_day
from dispatch.planning.instant import Suggestion, place_new_order, suggest
from dispatch.planning.manual import Placement, assign, assignable_technicians, move, pin, place
from dispatch.planning.reoptimise import ApplyResult, apply_proposal, proposal_summary, propose
from dispatch.planning.routes import replace_route
from dispatch.planning.slots import Slot, SlotTaken, slots_for_draft, slots_for_order
from dispatch.planning.slots import book as book_slot

__all__ = [
    "DEFAULT_SERVICE_MINUTES", "MOVABLE", "ApplyResult", "Day", "Placement", "PlanningSettings", "Suggestion",
    "apply_proposal", "assign", "assignable_technicians", "load_day", "move", "pin", "place", "place_new_order",
    "propose", "proposal_summary", "replace_route", "suggest", "Slot", "SlotTaken", "book_slot", "slots_for_draft",
    "slots_for_order",
]  # fmt: skip
