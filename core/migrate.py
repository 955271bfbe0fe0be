"""Bring a database to the newest schema with Alembic (tests and benchmark scripts use this;
operators run `alembic upgrade head`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from core.db import normalise_url

ROOT = Path(__file__).resolve().parent.parent


def upgrade(url: str) -> None:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes.update(url=normalise_url(url), skip_logging=True)
    command.upgrade(cfg, "head")
