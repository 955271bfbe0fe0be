"""Making sure a singleton job (the scheduler) runs in one process only.

PostgreSQL: a session-level advisory lock held on a dedicated connection; it is released the
moment the holding process dies, so another scheduler takes over at its next tick.
SQLite (one machine, development): a lease row renewed at every tick; a holder that stops
renewing loses it once `ttl` has passed.
"""

from __future__ import annotations

import os
import socket
import zlib
from datetime import datetime, timedelta

from sqlalchemy import String, delete, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Database, unit_of_work, utcnow


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class SingletonLock:
    """`acquire()` at every tick: True while this process is the one that may run."""

    def __init__(self, database: Database, name: str, ttl: timedelta = timedelta(seconds=90)) -> None:
        self.database = database
        self.name = name
        self.ttl = ttl
        self.holder = holder_id()
        self._conn: Connection | None = None
        assert database.engine is not None
        self.postgres = database.engine.dialect.name == "postgresql"
        self._key = zlib.crc32(name.encode())

    def acquire(self, now: datetime | None = None) -> bool:
        return self._advisory() if self.postgres else self._lease(now or utcnow())

    def release(self) -> None:
        if self._conn is not None:
            # The connection goes back to the pool, not away: unlock explicitly. (A process
            # that dies loses its server session and with it the lock.)
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            finally:
                self._conn.close()
                self._conn = None
        elif not self.postgres:
            # Gone, not expired "now": whatever clock the next holder keeps, the lease is free.
            with self.database.session_scope() as session, unit_of_work(session):
                session.execute(delete(Lease).where(Lease.name == self.name, Lease.holder == self.holder))

    def _advisory(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception:  # noqa: BLE001 - the connection died: the lock went with it
                self._conn = None
        assert self.database.engine is not None
        conn = self.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar():
            self._conn = conn
            return True
        conn.close()
        return False

    def _lease(self, now: datetime) -> bool:
        with self.database.session_scope() as session:
            try:
                with unit_of_work(session):
                    taken = session.execute(
                        update(Lease)
                        .where(Lease.name == self.name, (Lease.holder == self.holder) | (Lease.expires_at < now))
                        .values(holder=self.holder, expires_at=now + self.ttl)
                    ).rowcount
                    if not taken and session.scalar(select(Lease.name).where(Lease.name == self.name)) is None:
                        session.add(Lease(name=self.name, holder=self.holder, expires_at=now + self.ttl))
                        taken = 1
            except IntegrityError:  # another process created it first
                return False
            return bool(taken)
