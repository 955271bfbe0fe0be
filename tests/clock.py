"""The tests' clock: the same time of day in Xi'an whenever the suite runs.

Planning depends on the hour: at 22:00 a technician's 00:00–23:59 shift has no room left for
a visit, at 01:00 the day has barely begun. A suite that passes in the afternoon and fails in
the evening tells nothing about the change under test, so every test reads a clock that keeps
running at the wall clock's pace but starts at `TEST_LOCAL_TIME` (default 10:00, APP_TIMEZONE)
on today's local date. `TEST_LOCAL_TIME=22:30 make test` runs the suite in the evening;
`TEST_LOCAL_TIME=wall` on the wall clock. A test that needs the wall clock itself (the clock
seam's own tests) is marked `wall_clock`.

Every thread of the test's process reads it (`core.clock.use_everywhere`: the live servers of
the browser tests and their Socket.IO handlers too), and every browser context starts its pages'
clock at the same time (Playwright's clock), so the page, the server and the test agree on "now".
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.localtime import DEFAULT_TIMEZONE

SETTING = os.environ.get("TEST_LOCAL_TIME", "10:00").strip()


def _offset(setting: str, zone: ZoneInfo) -> timedelta | None:
    """How far the tests' clock runs ahead of (or behind) the wall clock; None for "wall"."""
    if setting.lower() == "wall":
        return None
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", setting)
    if not match:
        raise ValueError(f"TEST_LOCAL_TIME must be HH:MM or 'wall', not {setting!r}")
    wall = datetime.now(UTC)
    start = datetime.combine(wall.astimezone(zone).date(), time(int(match[1]), int(match[2])), tzinfo=zone)
    return start - wall


ZONE = ZoneInfo(DEFAULT_TIMEZONE)
OFFSET = _offset(SETTING, ZONE)


def now() -> datetime:
    """The tests' time (timezone-aware UTC)."""
    wall = datetime.now(UTC)
    return wall if OFFSET is None else wall + OFFSET


def reading() -> Callable[[], datetime] | None:
    """The callable `core.clock.use_everywhere` takes; None when the suite runs on the wall clock."""
    return None if OFFSET is None else now


def local_today() -> date:
    """Today's date in the practice's time zone, on the tests' clock (not the machine's
    `date.today()`, which is UTC's date here: 01:00 in Xi'an is still yesterday in UTC)."""
    return now().astimezone(ZONE).date()
