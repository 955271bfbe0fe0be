"""Shared fixtures: an app on a real database (SQLite always, PostgreSQL when
TEST_DATABASE_URL is set), clients, users and a few network objects.

Every integration test runs once per database. Each test starts from an empty schema that
Alembic built (SQLite: a copy of a migrated template file; PostgreSQL: the migrated schema,
truncated between tests), so migrations are what the tests exercise.

With REQUIRE_FULL_SUITE=1 (set by .ci/run) a missing PostgreSQL or Chromium fails the run
instead of skipping; on a newcomer's machine those tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import time
from pathlib import Path

# Cheap password hashing for the hundreds of accounts tests create (before core imports).
os.environ.setdefault("PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")

import pytest  # noqa: E402
from sqlalchemy import make_url, text  # noqa: E402

from core.db import make_engine, normalise_url  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from dispatch.tables import metadata  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "test-pass-123"
REQUIRE_FULL = os.environ.get("REQUIRE_FULL_SUITE") == "1"


# Tests whose servers run in processes of their own (gunicorn, the scheduler, nginx) keep the
# wall clock: those processes cannot read the tests' clock (tests/clock.py).
OWN_PROCESSES = {"reliability", "production"}


@pytest.fixture(autouse=True)
def _tests_clock(request) -> Iterator[None]:
    """Every test on the tests' clock (tests/clock.py): the same hour in Xi'an whenever the
    suite runs, unless the test is marked `wall_clock` or starts processes of its own."""
    from core import clock
    from tests.clock import reading

    reads = reading()
    if reads is None or request.node.get_closest_marker("wall_clock") or OWN_PROCESSES & set(request.node.path.parts):
        yield
        return
    with clock.use_everywhere(reads):
        yield


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine; fail where the full suite is required (CI)."""
    if REQUIRE_FULL:
        pytest.fail(f"required by REQUIRE_FULL_SUITE=1 but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def alembic_upgrade(url: str) -> None:
    upgrade(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    alembic_upgrade(f"sqlite:///{path}")
    return path


# `make test` runs the suite in parallel (pytest-xdist): each worker gets its own PostgreSQL
# database, so workers never truncate each other's tables. The few tests that use the shared
# Redis keep to keys of their own (the rate-limit test's prefix); the Socket.IO-through-Redis
# tests start private Redis servers (tests/reliability/stack.py).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_database(url: str) -> str:
    """TEST_DATABASE_URL itself outside xdist; in worker gwN, the database `<name>_gwN` on the
    same server, created on first use."""
    if not WORKER:
        return url
    base = make_url(normalise_url(url))
    mine = base.set(database=f"{base.database}_{WORKER}")
    engine = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": mine.database}) is None:
                conn.execute(text(f'CREATE DATABASE "{mine.database}"'))
    finally:
        engine.dispose()
    return mine.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        skip_or_fail("TEST_DATABASE_URL is not set (PostgreSQL tests)")
    try:
        url = worker_database(url)
    except Exception as exc:  # noqa: BLE001 - any connection problem means "no PostgreSQL"
        skip_or_fail(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as exc:  # noqa: BLE001 - any connection problem means "no PostgreSQL"
        engine.dispose()
        skip_or_fail(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
    engine.dispose()
    alembic_upgrade(normalise_url(url))
    yield url


def _truncate_postgres(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A migrated, empty database of each kind, fresh for this test."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


@pytest.fixture
def app_config(database_url, tmp_path) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "RATELIMIT_STORAGE_URI": "memory://",
        "GEOCODER_PROVIDER": "none",
        "REDIS_URL": None,
        # Most tests follow an order by hand; tests/integration/test_planning.py turns it on.
        "AUTO_ASSIGN_ON_INTAKE": False,
        # Most tests walk the lifecycle without photos; tests/integration/test_photos.py
        # asks for proof as production does (PROOF_PHOTOS_REQUIRED defaults to 1).
        "PROOF_PHOTOS_REQUIRED": 0,
        "PHOTO_STORAGE_DIR": str(tmp_path / "photos"),
    }


@pytest.fixture
def app(app_config):
    from web import create_app

    app = create_app(app_config)
    yield app
    if "rights_watch" in app.extensions:  # its thread must not hold a connection past dispose
        app.extensions["rights_watch"].stop()
    if "lab_runs" in app.extensions:  # a policy-lab run's thread ends with its app
        app.extensions["lab_runs"].stop()
    app.extensions["database"].dispose()


@pytest.fixture
def db_session(app):
    """A session outside any request, for arranging data and checking results."""
    from web.extensions import db

    session = db.new_session()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def skills(db_session):
    from technicians.models import Skill

    rows = [
        Skill(code="water_heater", name_en="Water heater", name_zh="热水器"),
        Skill(code="air_conditioner", name_en="Air conditioner", name_zh="空调"),
        Skill(code="washing_machine", name_en="Washing machine", name_zh="洗衣机"),
    ]
    db_session.add_all(rows)
    db_session.commit()
    return [s.code for s in rows]


class Network:
    """Two outlets, three technicians and one account per role, made through the use cases."""

    def __init__(self, session):
        from core.accounts import create_user
        from technicians.network import create_outlet, create_technician

        self.admin = create_user(session, "admin", PASSWORD, "admin")
        self.dispatcher = create_user(session, "dispatcher", PASSWORD, "dispatcher")
        self.manager = create_user(session, "manager", PASSWORD, "manager")
        self.north = create_outlet(
            session, {"code": "N", "name": "North", "lat": 34.33, "lon": 108.94}, actor_id=self.admin.id
        )
        self.south = create_outlet(
            session, {"code": "S", "name": "South", "lat": 34.20, "lon": 108.95}, actor_id=self.admin.id
        )
        self.south_dispatcher = create_user(
            session, "south_dispatcher", PASSWORD, "dispatcher", outlet_id=self.south.id
        )
        self.techs = []
        for i, (outlet, skills) in enumerate(
            [
                (self.north, ["water_heater"]),
                (self.south, ["water_heater", "air_conditioner"]),
                (self.south, ["washing_machine"]),
            ],
            start=1,
        ):
            user = create_user(session, f"tech{i}", PASSWORD, "technician")
            tech = create_technician(
                session,
                {
                    "outlet_id": outlet.id, "user_id": user.id, "name": f"Tech {i}", "phone": f"1390000000{i}",
                    "home_lat": outlet.lat, "home_lon": outlet.lon, "shift_start": time(0, 0), "shift_end": time(23, 59),
                    "work_days": "1234567",
                },
                skills,
                actor_id=self.admin.id,
            )  # fmt: skip
            self.techs.append(tech)


@pytest.fixture
def network(db_session, skills) -> Network:
    return Network(db_session)


class Auth:
    """Log a test client in as someone, by session (pages) or token (API)."""

    def __init__(self, client):
        self.client = client

    def login(self, username: str, password: str = PASSWORD):
        page = self.client.get("/login")
        token = _csrf_from(page.get_data(as_text=True))
        return self.client.post("/login", data={"username": username, "password": password, "csrf_token": token})

    def token(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['token']}"}


def _csrf_from(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


@pytest.fixture
def csrf_from():
    return _csrf_from
