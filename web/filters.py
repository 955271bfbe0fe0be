"""Jinja filters: dates in the service area's time zone, phone numbers as people read them."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app

from core.phones import display_phone


def local_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(current_app.config["TIMEZONE"]).strftime("%Y-%m-%d %H:%M")


def register(app: Flask) -> None:
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.filters["phone"] = display_phone
