"""The planned visit as people are told it: a day of the horizon and a window on it.

A customer and a technician read "tomorrow, 09:00–11:00", not a route's second-exact ETA: the
window is the appointment when the order has one (a booked slot, or one agreed on the phone),
otherwise the slot (`PlanningSettings.slot_minutes` from local midnight) that holds the plan's
ETA. Plain rules, no database; the web layer words the day (web/filters.py `visit_words`).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_SLOT_MINUTES = 120


def visit_window(
    appointment: tuple[datetime, datetime] | None,
    eta: datetime | None,
    tz: ZoneInfo,
    slot_minutes: int = DEFAULT_SLOT_MINUTES,
) -> tuple[datetime, datetime] | None:
    """The window the visit is promised in (aware, in `tz`), or None when nothing is planned."""
    if appointment is not None:
        return appointment[0].astimezone(tz), appointment[1].astimezone(tz)
    if eta is None:
        return None
    local = eta.astimezone(tz)
    midnight = datetime.combine(local.date(), time.min, tzinfo=tz)
    step = timedelta(minutes=slot_minutes)
    start = midnight + step * ((local - midnight) // step)
    return start, start + step
