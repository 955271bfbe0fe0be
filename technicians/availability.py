"""Who can work when: plain rules over a technician's shift, work days and leave."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
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


def can_take_work(tech: TechnicianLike, at: datetime, tz: ZoneInfo) -> bool:
    """May this technician be offered work for the day containing `at` (local time)?

    Offered means the day is a working day and the shift has not ended yet; a technician
    on leave is never offered work.
    """
    local = at.astimezone(tz)
    if not works_on(tech, local.date()):
        return False
    _, end = shift_bounds(tech, local.date(), tz)
    return local < end
