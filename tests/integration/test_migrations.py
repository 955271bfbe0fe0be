"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.db import make_engine
from dispatch.tables import metadata


def test_the_migrated_database_matches_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_the_migrations_form_one_line():
    """Two branches that each added a migration on the same parent leave two heads, and
    `alembic upgrade head` (make run, the deployment) refuses to choose."""
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    root = Path(__file__).resolve().parents[2]
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1
