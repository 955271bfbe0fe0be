"""The dispatcher's live board: a map, the queues and the technicians, kept current by events.

The page itself is a shell: board.js loads `GET /api/board`, follows Socket.IO and acts through
the JSON API. Every string it shows comes from here, translated, in a JSON data block.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template
from flask_babel import gettext as _

from core.accounts import DISPATCH_ROLES
from web.auth import STAFF, roles_required
from web.labels import DROP_OUT_REASON, Labels
from web.map_settings import map_settings
from web.pages.base import bp


def _strings() -> dict[str, Any]:
    return {
        "connected": _("Live"),
        "connecting": _("Connecting…"),
        "offline": _("Offline — catching up when back"),
        "catching_up": _("Catching up…"),
        "no_orders": _("Nothing here."),
        "due": _("Due"),
        "overdue": _("Overdue"),
        "at_home": _("home base"),
        "unassigned_short": _("unassigned"),
        "customer": _("Customer"),
        "phone": _("Phone"),
        "address": _("Address"),
        "skill": _("Skill"),
        "technician": _("Technician"),
        "status": _("Status"),
        "priority": _("Priority"),
        "assign": _("Assign"),
        "reassign": _("Reassign"),
        "suggestions": _("Suggested technicians"),
        "eta": _("ETA"),
        "extra_km": _("extra km"),
        "late_min": _("min late"),
        "no_fit": _("Nobody fits"),
        "pick_technician": _("or pick a technician"),
        "cancel_order": _("Cancel order"),
        "cancel_reason": _("Reason for cancelling"),
        "reason_required": _("A reason is required."),
        "set_priority": _("Set priority"),
        "conflict": _("Someone else changed this order first; it now shows the latest state."),
        "error": _("That did not work"),
        "done": _("Done."),
        "planning": _("Optimising…"),
        "close": _("Close panel"),
        "loading": _("Loading…"),
        "open_page": _("Open the order page"),
        "part_line": _("%(quantity)s × %(part)s · expected %(day)s"),
        "part_late": _("expected day passed"),
        "part_arrived": _("Part arrived"),
        "part_back": _("%(number)s is planned again: %(name)s, ETA %(eta)s."),
        "part_unplaced": _("%(number)s is back among the unassigned orders: nobody can take it today."),
        "drop_out": _("Out today"),
        "drop_out_title": _("Mark this technician unavailable from now"),
        "drop_out_reason": _("Why?"),
        "drop_out_confirm": _("Re-plan their orders"),
        "drop_out_reasons": {
            "sick": str(DROP_OUT_REASON["sick"]),
            "vehicle": str(DROP_OUT_REASON["vehicle"]),
            "other": str(DROP_OUT_REASON["other"]),
        },
        "dropped_out": _("%(name)s is out for the rest of the day. Their orders not started yet:"),
        "placed": _("Placed: %(number)s is now visit %(position)s of %(name)s's day, ETA %(eta)s."),
        "resequenced": _("Moved: %(number)s is now visit %(position)s of %(name)s's day, ETA %(eta)s."),
        "refused": _("Not placed"),
        "pin": _("Pin here"),
        "unpin": _("Unpin"),
        "pinned": _("Pinned: re-optimisation leaves it where it is"),
        "unplanned": _("not planned yet"),
        "on_leave": _("on leave"),
        "break_window": _("Break: %(minutes)s minutes in this window"),
        "late": _("late"),
        "travel": _("Travel"),
        "visit": _("Service visit"),
        "eta_short": _("ETA"),
        "timeline_error": _("The timeline could not be loaded"),
        "current_tech": _("current technician"),
        "has_it": _("has it already"),
        "overdue_already": _("already %(time)s overdue"),
        "late_by": _("%(time)s late"),
        "n_days": _("%(n)s days"),
        "n_hours": _("%(n)s h"),
        "n_min": _("%(n)s min"),
        "product": _("Product"),
        "fault": _("Fault"),
        "in_warranty": _("in warranty"),
        "time_left": _("%(time)s left"),
        "overdue_by": _("overdue by %(time)s"),
        "clock_met": _("done at %(time)s"),
        "clock_met_late": _("done late, at %(time)s"),
        "plan_ticked": _("%(n)s of %(total)s moves ticked"),
        "plan_resequence": _("Also put the visits of %(names)s in the new order"),
        "plan_applied": _("Applied: %(n)s moved."),
        "plan_refused": _("Refused"),
        "plan_reordered": _("Visits re-ordered for %(names)s"),
        "plan_ghost": _("Proposed:"),
        "list_sep": _(", "),
        "forecast": _("Miss forecast"),
        "what_if": _("What if?"),
        "what_if_head": _("If %(name)s takes it:"),
    }


@bp.get("/board")
@roles_required(*STAFF)
def board():
    """The live board (dispatchers act on it; managers watch it)."""
    from flask_login import current_user

    config = current_app.config
    settings = {
        "strings": _strings(),
        "status": {k: str(v) for k, v in Labels.status.items()},
        "priority": {k: str(v) for k, v in Labels.priority.items()},
        "action": {k: str(v) for k, v in Labels.action.items()},
        "role": {k: str(v) for k, v in Labels.role.items()},
        **map_settings(config),
        "feed_limit": config["BOARD_FEED_LIMIT"],
        "timezone": config["APP_TIMEZONE"],
        "can_act": current_user.role in DISPATCH_ROLES,
        "outlet_id": current_user.outlet_id,
    }
    return render_template("board.html", settings=settings)
