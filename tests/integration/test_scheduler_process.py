"""Real scheduler processes: two started together never both sweep, and when the one holding
the lock is killed with SIGKILL, another takes over within a tick. Exactly one event per
warning and breach throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dispatch.models import WorkOrderEvent
from tests.integration.test_sla import intake_at

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.wall_clock  # the schedulers are processes of their own, on the wall clock


def start_scheduler(database_url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "scheduler-test", "AUTO_ASSIGN_ON_INTAKE": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "--interval", "0.5"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def count(db_session, kind: str) -> int:
    n = db_session.scalar(select(func.count()).select_from(WorkOrderEvent).where(WorkOrderEvent.kind == kind))
    db_session.rollback()
    return n


def wait_for(db_session, kind: str, expected: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = count(db_session, kind)
        if n >= expected:
            time.sleep(1.5)  # a few more ticks: any duplicate would show now
            return count(db_session, kind)
        time.sleep(0.2)
    return count(db_session, kind)


def overdue_orders(app, headers, n: int, start: int) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    for i in range(n):
        intake_at(app, headers, past, phone=f"1390013{start + i:04d}")


def test_schedulers_sweep_exactly_once_and_survive_sigkill(app, auth, network, database_url, db_session):
    headers = auth.token("dispatcher")
    overdue_orders(app, headers, 5, 0)
    db_session.rollback()
    a, b = start_scheduler(database_url), start_scheduler(database_url)
    procs = [a, b]
    try:
        assert wait_for(db_session, "sla_breach", 10) == 10  # contact + completion × 5
        assert count(db_session, "sla_warning") == 10

        a.send_signal(signal.SIGKILL)
        a.wait()
        overdue_orders(app, headers, 5, 100)
        assert wait_for(db_session, "sla_breach", 20) == 20

        c = start_scheduler(database_url)
        procs.append(c)
        time.sleep(2)  # c is up and idle while b holds the lock
        b.send_signal(signal.SIGKILL)  # b is now surely the holder: kill it
        b.wait()
        overdue_orders(app, headers, 5, 200)
        assert wait_for(db_session, "sla_breach", 30) == 30, "the remaining scheduler must take over"
        assert count(db_session, "sla_warning") == 30
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
