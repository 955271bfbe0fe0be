"""Who can work when: plain rules over a technician's shift, work days and leave."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class LeaveLike(Protocol):
    start_date: date
    end_date: date


class TechnicianLike(Protocol):
    active: bool
    work_days: str
    shift_start: time
    shift_end: time
    leaves: Iterable[LeaveLike]


def on_leave(tech: TechnicianLike, day: date) -> bool:
    return any(leave.start_date <= day <= leave.end_date for leave in tech.leaves)


def works_on(tech: TechnicianLike, day: date) -> bool:
    """Active, scheduled that weekday, and not on leave."""
    return tech.active and str(day.isoweekday()) in tech.work_days and not on_leave(tech, day)


def shift_bounds(tech: TechnicianLike, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The shift on `day` as aware datetimes in `tz`."""
    return (
        datetime.combine(day, tech.shift_start, tzinfo=tz),
        datetime.combine(day, tech.shift_end, tzinfo=tz),
    )


DROP_OUT_REASONS = ("sick", "vehicle", "other")


def dropped_out(tech: TechnicianLike, at: datetime, tz: ZoneInfo) -> bool:
    """Marked unavailable (sick, vehicle broken…) at or before `at`, on the same local day:
    a drop-out lasts the rest of that day; the next working day they are back."""
    since = getattr(tech, "unavailable_from", None)
    return since is not None and since <= at and since.astimezone(tz).date() == at.astimezone(tz).date()


def break_bounds(tech: TechnicianLike, day: date, tz: ZoneInfo) -> tuple[datetime, datetime, timedelta] | None:
    """The day's break: the window it must be taken in and its length. The technician's own
    break when they have one (0 minutes: none), otherwise their outlet's; None without one."""
    own = getattr(tech, "break_minutes", None)
    source = tech if own is not None else getattr(tech, "outlet", None)
    if source is None or not source.break_minutes or source.break_start is None or source.break_end is None:
        return None
    return (
        datetime.combine(day, source.break_start, tzinfo=tz),
        datetime.combine(day, source.break_end, tzinfo=tz),
        timedelta(minutes=source.break_minutes),
    )


def can_take_work(tech: TechnicianLike, at: datetime, tz: ZoneInfo) -> bool:
    """May this technician be offered work for the day containing `at` (local time)?

    Offered means the day is a working day and the shift has not ended yet; a technician
    on leave is never offered work.
    """
    local = at.astimezone(tz)
    if not works_on(tech, local.date()) or dropped_out(tech, at, tz):
        return False
    _, end = shift_bounds(tech, local.date(), tz)
    return local < end
