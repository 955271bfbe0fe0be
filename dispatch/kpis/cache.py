"""Open months' figures kept in memory until something changes them.

Every change that moves a KPI writes an event (intake, moves, photos, verdicts and reviews,
surveys, callbacks), and the event log's `seq` follows commit order: the last committed seq
is the version of everything the figures are computed from. An entry is therefore kept with
the seq it was computed at and served only while the seq is the same, and only until the
clock alone changes it (`changes_at`: the first pending order's 24 hours, callback window or
REPEAT_DAYS ending). Reading the version costs one index lookup (`max(seq)`).

The cache belongs to one engine (one database) and lives in the process: each web worker
keeps its own, all keyed by the same seq, so none serves what another has seen change. A
read inside a transaction that has recorded events of its own (they carry provisional
numbers until commit) bypasses it: what that transaction sees may yet be rolled back.
Closed months never come here: they are read from their snapshots (`closing.snapshot`).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dispatch.events import PROVISIONAL
from dispatch.models import WorkOrderEvent

T = TypeVar("T")
SIZE = 64  # entries per database: a few months × (figures, trend), with room to spare


@dataclass(frozen=True)
class Entry:
    seq: int
    computed_for: datetime  # the `now` it was computed for
    changes_at: datetime | None
    value: Any

    def serves(self, seq: int, now: datetime) -> bool:
        return self.seq == seq and self.computed_for <= now and (self.changes_at is None or now < self.changes_at)


class FiguresCache:
    """A small LRU of computed figures, each valid for one event-log version and a time span."""

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self.entries: OrderedDict[Any, Entry] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Any, seq: int, now: datetime) -> Entry | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or not entry.serves(seq, now):
                self.misses += 1
                return None
            self.entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: Any, entry: Entry) -> None:
        with self.lock:
            self.entries[key] = entry
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_caches: weakref.WeakKeyDictionary[Engine, FiguresCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(session: Session) -> FiguresCache:
    """The cache of the session's database (a new engine, e.g. a test's app, starts empty)."""
    engine = session.get_bind()
    engine = getattr(engine, "engine", engine)  # a session bound to a connection: its engine
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = FiguresCache()
        return cache


def event_version(session: Session) -> int | None:
    """The last committed event's seq (0: none yet); None when this transaction has recorded
    events of its own, which are not committed yet."""
    last = session.scalar(select(func.max(WorkOrderEvent.seq)))
    if last is not None and last >= PROVISIONAL:
        return None
    return last or 0


def cached(session: Session, key: Any, now: datetime, compute: Callable[[], tuple[T, datetime | None]]) -> T:
    """`compute()`'s value (value, changes_at) for `key`, reused while no event has committed
    since and the clock has not reached `changes_at`."""
    version = event_version(session)
    if version is None:
        return compute()[0]
    cache = cache_for(session)
    entry = cache.get(key, version, now)
    if entry is not None:
        return entry.value
    value, changes_at = compute()
    cache.put(key, Entry(version, now, changes_at, value))
    return value
