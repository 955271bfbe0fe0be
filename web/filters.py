"""Jinja filters: dates in the service area's time zone, phone numbers as people read them."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask, current_app, g
from flask_babel import get_locale, gettext

from core.phones import display_phone
from technicians.models import Technician
from technicians.network import list_skills
from web.extensions import db


def local_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(current_app.config["TIMEZONE"]).strftime("%Y-%m-%d %H:%M")


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(current_app.config["TIMEZONE"]).strftime("%H:%M")


def duration(delta: timedelta) -> str:
    """3 d 4 h, 2 h 05 min, 12 min: how long, as a dispatcher reads it."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min"


def how_long(minutes: int) -> str:
    """8 days, 5 h, 40 min: a lateness as a dispatcher reads it, in their language."""
    if minutes >= 24 * 60:
        return gettext("%(n)s days", n=minutes // (24 * 60))
    if minutes >= 60:
        return gettext("%(n)s h", n=minutes // 60)
    return gettext("%(n)s min", n=minutes)


def skill_name(code: str) -> str:
    """A skill's name in the user's language (the list is read once per request)."""
    if "skill_names" not in g:
        locale = str(get_locale())
        g.skill_names = {s.code: s.name(locale) for s in list_skills(db.session, include_inactive=True)}
    return g.skill_names.get(code, code)


def technician_name(tech_id: int) -> str:
    tech = db.session.get(Technician, tech_id)
    return tech.name if tech else f"#{tech_id}"


def customer_phone(order) -> str:
    """The order's customer phone as this user may see it: full for those who call
    customers, masked for the rest (dispatch/privacy.py)."""
    from dispatch.privacy import mask_phone, sees_contact
    from web.auth import current_actor

    if sees_contact(current_actor(), order):
        return display_phone(order.contact_phone)
    return mask_phone(order.contact_phone) or ""


def _mask_phone(phone: str | None) -> str:
    from dispatch.privacy import mask_phone

    return mask_phone(phone) or ""


def register(app: Flask) -> None:
    app.jinja_env.filters["customer_phone"] = customer_phone
    app.jinja_env.filters["mask_phone"] = _mask_phone
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["how_long"] = how_long
    app.jinja_env.filters["phone"] = display_phone
    app.jinja_env.filters["skill_name"] = skill_name
    app.jinja_env.filters["technician_name"] = technician_name
