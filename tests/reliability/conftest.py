"""Fixtures for the reliability tests: the real stack (gunicorn on PostgreSQL) and a network
of accounts and technicians written straight through the use cases.

The tests in this folder run only on PostgreSQL (TEST_DATABASE_URL), the production database,
and start whole stacks: `make soak` runs them all (CI too), `make test` none. Plain `pytest`
runs the short variants; the long ones are marked `soak` and run only when the mark expression
names them.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock

import pytest

from tests.conftest import PASSWORD, _truncate_postgres
from tests.reliability.stack import Api, WebStack, start_web

ORDER_BODY = {
    "channel": "api",
    "name": "张三",
    "address": "西安市雁塔区小寨东路 1 号",
    "product_category": "water_heater",
    "issue_category": "maintenance",
}


def morning_timezone(now: datetime | None = None) -> str:
    """A fixed-offset zone where it is about 01:00 now, so technicians with a 00:00-23:59 shift
    have most of their day ahead whenever the test runs (the optimiser then has room to plan)."""
    hour = (now or datetime.now(UTC)).hour
    offset = (1 - hour) % 24
    if offset > 14:
        offset -= 24
    # POSIX sign convention: Etc/GMT-8 is UTC+8.
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


def pytest_collection_modifyitems(config, items) -> None:
    """Soak runs take minutes: they run only when asked for (`-m soak`, as `make soak` does)."""
    if "soak" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("soak") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("soak")])
        items[:] = kept


@pytest.fixture
def pg_url(request) -> str:
    """The migrated PostgreSQL database of TEST_DATABASE_URL, emptied for this test."""
    url = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


@dataclass
class Crew:
    """Accounts and technicians made for one test."""

    dispatchers: list[str]
    technician_ids: list[int]
    outlet_id: int


def make_crew(url: str, *, dispatchers: int = 8, technicians: int = 0, capacity: int = 30) -> Crew:
    """An admin, `dispatchers` dispatcher accounts, one outlet and `technicians` water-heater
    technicians working 00:00-23:59 every day."""
    from core.accounts import create_user
    from core.db import Database
    from technicians.models import Skill
    from technicians.network import create_outlet, create_technician

    database = Database(url)
    try:
        with database.session_scope() as session:
            session.add(Skill(code="water_heater", name_en="Water heater", name_zh="热水器"))
            session.commit()
            admin = create_user(session, "admin", PASSWORD, "admin")
            names = [f"dispatcher{i}" for i in range(dispatchers)]
            for name in names:
                create_user(session, name, PASSWORD, "dispatcher")
            outlet = create_outlet(
                session, {"code": "C", "name": "Centre", "lat": 34.26, "lon": 108.94}, actor_id=admin.id
            )
            rng = random.Random(7)
            tech_ids = []
            for i in range(technicians):
                tech = create_technician(
                    session,
                    {
                        "outlet_id": outlet.id, "name": f"Tech {i}", "phone": f"139{i:08d}",
                        "home_lat": 34.26 + rng.uniform(-0.05, 0.05), "home_lon": 108.94 + rng.uniform(-0.05, 0.05),
                        "shift_start": clock(0, 0), "shift_end": clock(23, 59), "work_days": "1234567",
                        "daily_capacity": capacity,
                    },
                    ["water_heater"],
                    actor_id=admin.id,
                )  # fmt: skip
                tech_ids.append(tech.id)
            return Crew(names, tech_ids, outlet.id)
    finally:
        database.dispose()


def order_body(i: int, rng: random.Random | None = None) -> dict:
    """A valid intake body, distinct per `i` (its own phone and point in the city)."""
    rng = rng or random.Random(i)
    return {
        **ORDER_BODY,
        "phone": f"138{i:08d}",
        "description": f"order {i}",
        "lat": round(34.26 + rng.uniform(-0.08, 0.08), 6),
        "lon": round(108.94 + rng.uniform(-0.08, 0.08), 6),
    }


def create_orders(base_url: str, username: str, n: int, threads: int = 8) -> list[dict]:
    """`n` orders through POST /api/orders, in parallel; returns them in creation order."""

    def work(chunk: range) -> list[dict]:
        api = Api(base_url).login(username, PASSWORD)
        out = []
        for i in chunk:
            status, body = api.post("/api/orders", order_body(i))
            assert status == 201, (status, body)
            out.append(body)
        api.close()
        return out

    chunks = [range(k, n, threads) for k in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        results = [o for part in pool.map(work, chunks) for o in part]
    return sorted(results, key=lambda o: o["id"])


@pytest.fixture
def web_factory() -> Iterator:
    """Start gunicorn stacks for the test (`web_factory(url, **kw)`), stopped at its end."""
    stacks: list[WebStack] = []

    def factory(database_url: str, **kwargs) -> WebStack:
        stack = start_web(database_url, **kwargs)
        stacks.append(stack)
        return stack

    yield factory
    for stack in stacks:
        stack.stop()


def client_thread(
    body: Callable[..., None], problems: list[str], lock: threading.Lock, barrier: threading.Barrier, *args
) -> threading.Thread:
    """A client thread whose failure is a recorded problem and breaks `barrier`, so the threads
    waiting there for it fail at once instead of waiting for ever (a dispatcher that died before
    the start once hung the soak)."""

    def run() -> None:
        try:
            body(*args)
        except threading.BrokenBarrierError:
            with lock:
                problems.append(f"{body.__name__}{args}: gave up, another client thread failed")
        except BaseException as exc:  # noqa: BLE001 - reported as the test's failure
            with lock:
                problems.append(f"{body.__name__}{args}: {exc!r}")
            barrier.abort()

    return threading.Thread(target=run, name=body.__name__, daemon=True)


def report(name: str, **figures) -> None:
    """Print one line of figures (shown with -s; collected for docs/benchmarks.md)."""
    line = " ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\n[{name}] {line}")
    out = os.environ.get("RELIABILITY_FIGURES")
    if out:
        with open(out, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} [{name}] {line}\n")
