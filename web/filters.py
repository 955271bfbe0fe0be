"""Jinja filters: dates in the service area's time zone, phone numbers as people read them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from babel.dates import format_skeleton
from flask import Flask, current_app, g
from flask_babel import format_timedelta, get_locale, gettext

from core import clock
from core.phones import display_phone
from technicians.models import Technician
from technicians.network import list_skills
from web.audit_wording import AuditWording
from web.extensions import db


def local_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(current_app.config["TIMEZONE"]).strftime("%Y-%m-%d %H:%M")


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(current_app.config["TIMEZONE"]).strftime("%H:%M")


def day_word(day: date, today: date | None = None) -> str:
    """ "today", "tomorrow", or the date with its weekday ("Wed, Dec 9" / "12月9日周三")."""
    today = today or clock.now().astimezone(current_app.config["TIMEZONE"]).date()
    if day == today:
        return gettext("today")
    if day == today + timedelta(days=1):
        return gettext("tomorrow")
    return format_skeleton("MMMEd", day, locale=str(get_locale()))


def visit_words(window: tuple[datetime, datetime] | None) -> str:
    """The planned day and window as people say it: "tomorrow, 09:00–11:00" / "明天 09:00–11:00"."""
    if not window:
        return ""
    tz = current_app.config["TIMEZONE"]
    start, end = (w.astimezone(tz) for w in window)
    return gettext(
        "%(day)s, %(start)s–%(end)s",
        day=day_word(start.date()),
        start=start.strftime("%H:%M"),
        end=end.strftime("%H:%M"),
    )


def visit_format() -> str:
    """The pattern of `visit_words` in the user's language, its placeholders kept, for a
    script that words a live update: "%(day)s, %(start)s–%(end)s"."""
    return gettext("%(day)s, %(start)s–%(end)s", day="%(day)s", start="%(start)s", end="%(end)s")


def day_words(days: int = 8) -> dict[str, str]:
    """The coming days' words by local date, for pages that word a live update in the browser."""
    today = clock.now().astimezone(current_app.config["TIMEZONE"]).date()
    return {(today + timedelta(days=d)).isoformat(): day_word(today + timedelta(days=d), today) for d in range(days)}


def short_day(value: date | str | None) -> str:
    """A day without its year, as the user's language writes it: "Dec 9" / "12月9日"."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return ""
    return format_skeleton("MMMd", value, locale=get_locale())


def month_name(month: str) -> str:
    """A 'YYYY-MM' month as the user's language names it: "November 2026" / "2026年11月"."""
    return format_skeleton("yMMMM", date(int(month[:4]), int(month[5:7]), 1), locale=get_locale())


def duration(delta: timedelta) -> str:
    """3 days 4 hours, 2 hours 5 minutes, 12 minutes: how long, in the user's language (Babel's
    unit names; two units at most, as a dispatcher reads it)."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour")] if days else [(hours, "hour"), (mins, "minute")]
    shown = [(n, unit) for n, unit in parts if n] or [(0, "minute")]
    # threshold=1: Babel would otherwise round 23 hours up to "1 day".
    return " ".join(format_timedelta(timedelta(**{unit + "s": n}), granularity=unit, threshold=1) for n, unit in shown)


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


def audit_lines(entries) -> list:
    """A network history (core/audit.py) in sentences (web/audit_wording.py)."""
    return AuditWording(db.session, current_app.config["TIMEZONE"], skill_name).lines(entries)


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
    app.jinja_env.filters["visit_words"] = visit_words
    app.jinja_env.globals["day_words"] = day_words
    app.jinja_env.globals["visit_format"] = visit_format
    app.jinja_env.filters["short_day"] = short_day
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["month_name"] = month_name
    app.jinja_env.filters["how_long"] = how_long
    app.jinja_env.filters["phone"] = display_phone
    app.jinja_env.filters["skill_name"] = skill_name
    app.jinja_env.filters["technician_name"] = technician_name
    app.jinja_env.filters["audit_lines"] = audit_lines
