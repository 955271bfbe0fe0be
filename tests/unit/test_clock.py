"""The clock seam: simulated time for the current context only, the wall clock otherwise."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from core import clock
from core.db import utcnow

pytestmark = pytest.mark.wall_clock  # the seam itself: inside and outside `use`


def test_utcnow_reads_the_simulated_clock_inside_use_and_the_wall_clock_after():
    sim = clock.ManualClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    with clock.use(sim):
        assert utcnow() == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
        sim.at += timedelta(hours=5)
        assert utcnow() == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    assert abs((utcnow() - datetime.now(UTC)).total_seconds()) < 5


def test_another_thread_keeps_the_wall_clock_while_one_simulates():
    seen = {}
    started, done = threading.Event(), threading.Event()

    def other() -> None:
        started.wait(5)
        seen["other"] = utcnow()
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with clock.use(clock.ManualClock(datetime(2000, 1, 1, tzinfo=UTC))):
        started.set()
        done.wait(5)
        assert utcnow().year == 2000
    thread.join()
    assert seen["other"].year >= 2026


def test_a_clock_must_be_timezone_aware():
    with pytest.raises(ValueError):
        clock.ManualClock(datetime(2026, 3, 2))


def test_the_process_clock_reaches_every_thread_and_use_still_wins_inside_it():
    seen = {}
    everywhere = clock.ManualClock(datetime(2030, 6, 1, 2, 0, tzinfo=UTC))
    with clock.use_everywhere(everywhere):
        thread = threading.Thread(target=lambda: seen.setdefault("thread", utcnow()))
        thread.start()
        thread.join()
        with clock.use(clock.ManualClock(datetime(2000, 1, 1, tzinfo=UTC))):
            assert utcnow().year == 2000
        assert utcnow() == datetime(2030, 6, 1, 2, 0, tzinfo=UTC)
    assert seen["thread"] == datetime(2030, 6, 1, 2, 0, tzinfo=UTC)
    assert utcnow().year < 2030
