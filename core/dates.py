"""Dates and times typed by people: the part of the calendar the system accepts.

Python's calendar ends at 9999-12-31: a time near either end turns into an OverflowError
when it is moved to UTC for storage (9999-12-31T22:00-08:00) or a day or an hour is added.
Nothing this system plans lies outside these years, so input outside them is refused early,
as a 400 naming the field.
"""

from __future__ import annotations

from datetime import date

FIRST_YEAR, LAST_YEAR = 2000, 2099
OUT_OF_RANGE = "must be in the years 2000 to 2099"


def within_range(value: date) -> bool:
    """Whether a date or datetime (aware or naive: a day's offset cannot leave the range's
    neighbours) falls in FIRST_YEAR..LAST_YEAR."""
    return FIRST_YEAR <= value.year <= LAST_YEAR
