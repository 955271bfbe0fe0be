"""Engine, sessions and the declarative base shared by every package.

One engine per application, one session per request or job. Nothing here knows about
Flask: the web layer binds a `Database` to the app, scheduler jobs and CLI commands use
`Database.session_scope()` directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String, create_engine, event, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import TypeDecorator

from core import clock
from core.errors import DomainError, StaleWrite

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite has no 64-bit auto-increment spelled BIGINT; PostgreSQL wants BIGSERIAL for ids
# that grow without bound (events, photos).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    SQLite stores no offset, so values are written as naive UTC and read back aware;
    PostgreSQL keeps `timestamptz`. Naive datetimes are refused so that local times never
    slip in unnoticed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Counter(Base):
    """Named monotonically increasing counters (event sequence, daily order numbers).

    Taking a value row-locks the counter until the transaction ends, so values are handed
    out in commit order: a reader that has seen value N never later finds a committed N-1.
    """

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


def next_value(session: Session, name: str, count: int = 1) -> int:
    """Advance the counter `name` (created at 0) by `count` and return its new value; with
    count > 1 the caller owns the block (value - count, value]."""
    bump = update(Counter).where(Counter.name == name).values(value=Counter.value + count).returning(Counter.value)
    value = session.execute(bump).scalar_one_or_none()
    if value is None:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(Counter).values(name=name, value=0).on_conflict_do_nothing())
        value = session.execute(bump).scalar_one()
    return value


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` after the session's current transaction commits; drop it on rollback.

    This is how events reach the live board: never before the data they describe is
    visible to everyone else.
    """
    session.info.setdefault("on_commit", []).append(callback)


def _run_commit_hooks(session: Session) -> None:
    callbacks = session.info.pop("on_commit", [])
    for callback in callbacks:
        callback()


def _drop_commit_hooks(session: Session, *_: Any) -> None:
    session.info.pop("on_commit", None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The stdlib driver's own transaction handling is switched off so that SQLAlchemy's
    # "begin" hook below decides how a transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # A deferred SQLite transaction that reads and then writes can fail with "database is
    # locked" when another writer got in between; taking the write lock up front makes
    # concurrent requests queue instead (the default set-up is one process).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def normalise_url(url: str) -> str:
    """`postgresql://…` (what operators write) means the psycopg 3 driver here."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings this application relies on for `url`."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    # pool_pre_ping: a pooled connection that died with the server (a restart, a failover) is
    # replaced at checkout instead of failing the request that drew it.
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    event.listen(engine, "do_connect", _connect_riding_out_restarts)
    return engine


# A PostgreSQL restart refuses connections for about a second ("shutting down", "starting
# up", refused): a new connection is retried that long, so the requests arriving meanwhile wait
# instead of failing (tests/reliability/test_infra_postgres_restart.py). Longer outages still fail.
CONNECT_RETRY_S = 3.0


def _connect_riding_out_restarts(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    deadline = time.monotonic() + CONNECT_RETRY_S
    while True:
        try:
            return dialect.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


class Database:
    """An engine and its session factory, created from a URL.

    `publisher`, when set, receives the events that committed transactions announce
    (the web layer points it at Socket.IO).
    """

    def __init__(self, url: str | None = None) -> None:
        self.engine: Engine | None = None
        self.sessions: sessionmaker[Session] | None = None
        self.publisher: Callable[[str, dict[str, Any], list[str]], None] | None = None
        if url:
            self.configure(url)

    def configure(self, url: str, **engine_kwargs: Any) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info={"database": self})
        event.listen(self.sessions, "after_commit", _run_commit_hooks)
        event.listen(self.sessions, "after_rollback", _drop_commit_hooks)
        event.listen(self.sessions, "after_soft_rollback", _drop_commit_hooks)

    def new_session(self) -> Session:
        if self.sessions is None:
            raise RuntimeError("Database.configure() has not been called")
        return self.sessions()

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session for one job: committed by the caller, rolled back if not, always closed."""
        session = self.new_session()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def publish(self, name: str, payload: dict[str, Any], rooms: list[str]) -> None:
        if self.publisher is not None:
            self.publisher(name, payload, rooms)

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def utcnow() -> datetime:
    """Now, in UTC: the wall clock, or a simulated one (`core.clock.use`)."""
    return clock.now()


@contextmanager
def unit_of_work(session: Session, *, stale: Callable[[], DomainError] | None = None) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back when it raises.

    Every use case writes through this (or `transactional`, built on it). A concurrent
    writer that changed a versioned row between our read and our write makes the flush fail
    with SQLAlchemy's StaleDataError; after the rollback that becomes the domain's conflict:
    what `stale()` returns (which may read the record again to name its current version), or
    a plain `StaleWrite`.
    """
    try:
        yield session
        session.commit()
    except StaleDataError:
        session.rollback()
        raise (stale() if stale is not None else StaleWrite()) from None
    except BaseException:
        session.rollback()
        raise


def transactional(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Make a use case one unit of work (`unit_of_work`): commit when it returns, roll back
    when it raises.

    The decorated function takes the session as its first argument. Views never commit;
    use cases do, once, at their end.
    """

    @wraps(fn)
    def wrapper(session: Session, *args: Any, **kwargs: Any) -> Any:
        with unit_of_work(session):
            return fn(session, *args, **kwargs)

    return wrapper


__all__ = [
    "Base",
    "BigId",
    "Counter",
    "Database",
    "UTCDateTime",
    "make_engine",
    "next_value",
    "on_commit",
    "transactional",
    "unit_of_work",
    "utcnow",
]
