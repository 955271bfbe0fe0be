"""The scheduler runs exactly once across processes (issue #10).

Three real scheduler processes (`flask --app wsgi scheduler --interval 1`) against a private
PostgreSQL, with a stream of new orders whose SLA deadlines keep falling due during the run:

- no warning or breach is recorded twice (events and outbox notices, per order and clock);
- every deadline that fell due was recorded, and recorded promptly;
- the active process killed with SIGKILL: another takes the lock and sweeps within one sweep
  interval (plus the time the killed process's due work waits for the next tick).

`make test` runs about a minute with one kill; the `soak` variant runs 10 minutes and kills
the active scheduler every two minutes (a new process replaces it each time).
"""

from __future__ import annotations

import random
import signal
import threading
import time
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import create_engine, text

from core.accounts import Actor
from core.db import Database, normalise_url
from dispatch.jobs import SCHEDULER_LOCK
from tests.integration.helpers import order_body
from tests.reliability.infra_support import seed_network, wait_until
from tests.reliability.stack import Proc, private_postgres, start_scheduler

pytestmark = [pytest.mark.postgres]

INTERVAL_S = 1.0
# A tick's own work (sweep + notices) and APScheduler's timing jitter.
SLACK_S = 1.5


class DeadlineStream(threading.Thread):
    """Takes in an order every `every_s` as if it had arrived 0–90 s ago, under an SLA rule of
    contact 1 min / completion 2 min, warnings at half time: its warnings and breaches fall
    due from before it was written to 90 s after. `written[order id]` is when it was."""

    def __init__(self, database_url: str, every_s: float = 0.25) -> None:
        super().__init__(daemon=True)
        from web import create_app

        self.app = create_app(
            {
                "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "scheduler-stream", "REDIS_URL": None,
                "RATELIMIT_STORAGE_URI": "memory://", "GEOCODER_PROVIDER": "none", "AUTO_ASSIGN_ON_INTAKE": False,
            }
        )  # fmt: skip
        self.every_s = every_s
        self.written: dict[int, datetime] = {}
        self.errors: list[str] = []
        self._stopping = threading.Event()
        self.random = random.Random(7)

    def run(self) -> None:
        from dispatch.intake import OrderRequest, submit_order
        from web.extensions import db
        from web.wiring import intake_settings

        while not self._stopping.wait(self.every_s):
            now = datetime.now(UTC)
            when = now - timedelta(seconds=self.random.uniform(0, 90))
            body = order_body(phone=f"137{len(self.written):08d}")
            try:
                with self.app.test_request_context():
                    order, _ = submit_order(
                        db.session,
                        OrderRequest(channel="api", **body),
                        Actor(None, "dispatcher"),
                        intake_settings(),
                        now=when,
                    )
                    self.written[order.id] = now
            except Exception as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(exc))

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)
        self.app.extensions["database"].dispose()


class Webhook:
    """A local webhook gateway that answers 200 and counts deliveries by Idempotency-Key."""

    def __init__(self) -> None:
        received: Counter[str] = Counter()
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received[self.headers.get("Idempotency-Key", "")] += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def fast_sla_rule(database_url: str) -> None:
    from dispatch.sla.clocks import create_rule

    database = Database(database_url)
    with database.session_scope() as session:
        create_rule(
            session,
            {"name": "fast", "contact_minutes": 1, "completion_minutes": 2, "warn_ratio": 0.5, "active": True},
            actor_id=None,
        )
    database.dispose()


def lock_holder(engine) -> str | None:
    """application_name of the session holding the scheduler's advisory lock."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objid::bigint = :key"
            ),
            {"key": zlib.crc32(SCHEDULER_LOCK.encode())},
        ).scalar()


def duplicates(engine) -> list[tuple]:
    with engine.connect() as conn:
        events = conn.execute(
            text(
                "SELECT order_id, kind, data->>'clock', count(*) FROM work_order_events "
                "WHERE kind IN ('sla_warning', 'sla_breach', 'sla_escalation') "
                "GROUP BY 1, 2, 3 HAVING count(*) > 1"
            )
        ).all()
        notices = conn.execute(
            text(
                "SELECT order_id, kind, channel, recipient, count(*) FROM notifications "
                "GROUP BY 1, 2, 3, 4, body HAVING count(*) > 1"
            )
        ).all()
    return [tuple(r) for r in events] + [tuple(r) for r in notices]


def missing_or_late(engine, until: datetime) -> tuple[list[tuple], float]:
    """Deadlines due before `until` with no event, and the worst lateness (event time minus
    deadline) in seconds over all recorded ones."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT c.order_id, c.clock, k.kind, k.due, e.at
                FROM sla_clocks c
                CROSS JOIN LATERAL (VALUES ('sla_warning', c.warn_at), ('sla_breach', c.due_at)) AS k(kind, due)
                LEFT JOIN work_order_events e
                  ON e.order_id = c.order_id AND e.kind = k.kind AND e.data->>'clock' = c.clock
                WHERE k.due <= :until AND c.stopped_at IS NULL
                """
            ),
            {"until": until},
        ).all()
    missing = [tuple(r[:4]) for r in rows if r.at is None]
    return missing, rows


def scheduler_env(name: str, webhook: Webhook) -> dict[str, str]:
    # libpq's PGAPPNAME names the process's sessions in pg_stat_activity: which one holds the lock.
    return {"PGAPPNAME": name, "NOTIFY_WEBHOOK_URL": webhook.url}


def run_schedulers(duration_s: float, kill_every_s: float) -> dict[str, float]:
    with private_postgres() as pg:
        seed_network(pg.url)
        fast_sla_rule(pg.url)
        engine = create_engine(normalise_url(pg.url))
        procs: dict[str, Proc] = {}
        stream = DeadlineStream(pg.url)
        webhook = Webhook()
        takeovers: list[float] = []
        names = iter(f"sched-{i}" for i in range(1, 1000))
        try:
            for _ in range(3):
                name = next(names)
                procs[name] = start_scheduler(pg.url, interval_s=INTERVAL_S, env=scheduler_env(name, webhook))
            assert wait_until(lambda: lock_holder(engine) in procs, 30) is not None, "no scheduler took the lock"
            stream.start()
            end = time.monotonic() + duration_s
            next_kill = time.monotonic() + kill_every_s
            while time.monotonic() < end:
                if time.monotonic() >= next_kill:
                    holder = lock_holder(engine)
                    assert holder in procs, f"lock held by {holder!r}"
                    procs[holder].kill(signal.SIGKILL)
                    killed = time.monotonic()
                    killed_at = datetime.now(UTC)
                    del procs[holder]
                    # A new holder, and a sweep by it: every order written since the kill has a
                    # deadline already past, so the first sweep after takeover records something.
                    took = wait_until(lambda: lock_holder(engine) in procs, INTERVAL_S + SLACK_S + 5, step=0.05)
                    assert took is not None, "no scheduler took over"
                    swept = wait_until(
                        lambda k=killed_at: last_sweep_at(engine) > k, INTERVAL_S + SLACK_S + 5, step=0.05
                    )
                    assert swept is not None, "no sweep after the takeover"
                    takeovers.append(time.monotonic() - killed)
                    name = next(names)
                    procs[name] = start_scheduler(pg.url, interval_s=INTERVAL_S, env=scheduler_env(name, webhook))
                    next_kill = time.monotonic() + kill_every_s
                time.sleep(0.2)
            stream.stop()
            time.sleep(INTERVAL_S + SLACK_S)  # the last deadlines get their sweep
            until = datetime.now(UTC) - timedelta(seconds=INTERVAL_S + SLACK_S)
            assert stream.errors == []
            dups = duplicates(engine)
            missing, rows = missing_or_late(engine, until)
            with engine.connect() as conn:
                recorded = conn.execute(
                    text("SELECT count(*) FROM work_order_events WHERE kind IN ('sla_warning', 'sla_breach')")
                ).scalar_one()
                notices = conn.execute(text("SELECT count(*) FROM notifications")).scalar_one()
                sent_keys = set(
                    conn.execute(text("SELECT dedup_key FROM notifications WHERE status = 'sent'")).scalars()
                )
            # Lateness: from when a sweep could first see the deadline (it fell due, or its
            # order was written already overdue) to its event.
            late = max(
                (r.at - max(r.due, stream.written[r.order_id])).total_seconds() for r in rows if r.at is not None
            )
        finally:
            if stream.is_alive():
                stream.stop()
            for proc in procs.values():
                proc.kill(signal.SIGKILL)
            engine.dispose()
            webhook.close()
    figures = {
        "orders": len(stream.written),
        "events": recorded,
        "notices": notices,
        "notices_delivered": len(webhook.received),
        # At least once: a scheduler killed between sending and marking sent sends again
        # (with the same Idempotency-Key, for the receiver to drop).
        "repeat_deliveries": sum(webhook.received.values()) - len(webhook.received),
        "duplicates": len(dups),
        "missing": len(missing),
        "worst_lateness_s": late,
        "takeovers": len(takeovers),
        "worst_takeover_s": max(takeovers) if takeovers else float("nan"),
    }
    print("\nscheduler figures:", figures)
    assert dups == [], f"recorded twice: {dups[:10]}"
    assert missing == [], f"never recorded: {missing[:10]}"
    assert takeovers and max(takeovers) <= INTERVAL_S + SLACK_S, takeovers
    assert late <= INTERVAL_S + SLACK_S, f"a deadline was recorded {late:.1f} s late"
    assert recorded > 100
    assert notices > 20 and set(webhook.received) >= sent_keys and len(sent_keys) >= notices - 5, (
        "notices not delivered"
    )
    return figures


def last_sweep_at(engine) -> datetime:
    with engine.connect() as conn:
        at = conn.execute(
            text("SELECT max(at) FROM work_order_events WHERE kind IN ('sla_warning', 'sla_breach')")
        ).scalar()
    return at or datetime.min.replace(tzinfo=UTC)


def test_three_schedulers_record_each_deadline_once_and_survive_sigkill():
    run_schedulers(duration_s=40, kill_every_s=15)


@pytest.mark.soak
def test_three_schedulers_for_ten_minutes_with_a_kill_every_two():
    run_schedulers(duration_s=600, kill_every_s=120)
