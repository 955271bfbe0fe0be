"""The application's clock, with a seam for simulated time.

Everything that asks "what time is it?" without being told (`core.db.utcnow`, column
defaults, use cases called without `now=`) reads `now()`. Normally that is the wall clock;
inside `use(clock)` it is whatever `clock()` answers, for the current thread or task only
(a context variable, so a simulation running in a background thread never moves the clock
of the requests served beside it). The policy lab (`simulation/`) replays weeks in seconds
through the product's own use cases this way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_override: ContextVar[Callable[[], datetime] | None] = ContextVar("clock_override", default=None)
_everywhere: Callable[[], datetime] | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC: the simulated one inside `use`, else the process's
    clock of `use_everywhere`, else the wall clock."""
    clock = _override.get() or _everywhere
    return datetime.now(UTC) if clock is None else clock()


@contextmanager
def use(clock: Callable[[], datetime]) -> Iterator[None]:
    """Read time from `clock` (a callable returning an aware datetime) inside the block."""
    token = _override.set(clock)
    try:
        yield
    finally:
        _override.reset(token)


@contextmanager
def use_everywhere(clock: Callable[[], datetime]) -> Iterator[None]:
    """Read time from `clock` in every thread of the process inside the block (the test suite
    runs at one hour of the day whenever it is run, servers' threads included); `use` inside
    it still wins for its own context."""
    global _everywhere
    previous, _everywhere = _everywhere, clock
    try:
        yield
    finally:
        _everywhere = previous


class ManualClock:
    """A clock that stands still until moved: `clock.at = t` (aware), `clock()` answers it."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        self.at = at

    def __call__(self) -> datetime:
        return self.at
