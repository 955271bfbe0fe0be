"""The service network's change history (core/audit.py) in sentences: "Role changed from
Dispatcher to Administrator", "Skills set to Water heater, Television", with the name of who did
it and the time in the service area's zone. The stored rows keep their codes; only words change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import format_date, format_datetime, format_decimal, format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import User
from technicians.models import Outlet
from web.labels import DROP_OUT_REASON, ROLE

FIELD = {
    "username": _l("Login"),
    "display_name": _l("Display name"),
    "role": _l("Role"),
    "outlet_id": _l("Outlet"),
    "active": _l("Active"),
    "phone": _l("Phone"),
    "email": _l("E-mail"),
    "locale": _l("Language"),
    "code": _l("Code"),
    "name": _l("Name"),
    "area": _l("Area"),
    "address": _l("Address"),
    "lat": _l("Latitude"),
    "lon": _l("Longitude"),
    "speed_kmh": _l("Average speed (km/h)"),
    "detour_factor": _l("Detour factor"),
    "auto_dispatch": _l("Automatic dispatch"),
    "opens_at": _l("Opens at"),
    "closes_at": _l("Closes at"),
    "user_id": _l("Account"),
    "home_lat": _l("Home latitude"),
    "home_lon": _l("Home longitude"),
    "shift_start": _l("Shift start"),
    "shift_end": _l("Shift end"),
    "work_days": _l("Work days"),
    "daily_capacity": _l("Orders a day"),
    "skills": _l("Skills"),
    "reason": _l("Reason"),
    "unavailable_from": _l("Out since"),
    "unavailable_reason": _l("Reason for being out"),
}
ACTION = {
    "create": _l("Created"),
    "update": _l("Changed"),
    "add_leave": _l("Leave added"),
    "remove_leave": _l("Leave removed"),
    "view": _l("Viewed"),
    "anonymize": _l("Anonymised"),
    "drop_out": _l("Marked out for the day"),
}
WEEKDAY = {
    "1": _l("Mon"), "2": _l("Tue"), "3": _l("Wed"), "4": _l("Thu"), "5": _l("Fri"), "6": _l("Sat"), "7": _l("Sun"),
}  # fmt: skip


@dataclass(frozen=True)
class AuditLine:
    at: str
    who: str
    what: str
    changes: list[str]


class AuditWording:
    def __init__(self, session: Session, timezone: ZoneInfo, skill_name) -> None:
        self.session = session
        self.timezone = timezone
        self.skill_name = skill_name
        self.users: dict[int, str] = {}
        self.outlets: dict[int, str] = {}

    def lines(self, entries) -> list[AuditLine]:
        entries = list(entries)
        user_ids = {e.actor_id for e in entries if e.actor_id}
        user_ids |= {v for e in entries for v in (e.changes or {}).get("user_id", []) if isinstance(v, int)}
        if user_ids:
            rows = self.session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(user_ids)))
            self.users = {i: display or name for i, display, name in rows}
        self.outlets = {i: name for i, name in self.session.execute(select(Outlet.id, Outlet.name))}
        return [self.line(e) for e in entries]

    def line(self, entry) -> AuditLine:
        who = self.users.get(entry.actor_id, _("someone no longer on file")) if entry.actor_id else _("the system")
        return AuditLine(
            at=format_datetime(entry.at.astimezone(self.timezone), "yyyy-MM-dd HH:mm") if entry.at else "",
            who=who,
            what=str(ACTION.get(entry.action, _("Other change"))),
            changes=[self.change(field, pair) for field, pair in (entry.changes or {}).items()],
        )

    def change(self, field: str, pair: Any) -> str | Markup:
        old, new = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
        if field == "password":
            return _("Password changed.")
        if field == "totp":
            return _("Two-step sign-in turned on.") if new == "on" else _("Two-step sign-in turned off.")
        if field == "leave":
            return (
                _("Leave from %(period)s.", period=self.period(new))
                if new
                else _("Leave from %(period)s removed.", period=self.period(old))
            )
        # Sentences with the values escaped, so that a login can be marked as a name (whatever
        # language it reads in) and nothing anyone typed becomes markup.
        label = escape(str(FIELD.get(field, _("another field"))))
        shown = Markup('<span translate="no">%s</span>') if field == "username" else Markup("%s")
        before, after = (shown % self.value(field, v) for v in (old, new))
        if old in (None, "", []):
            return Markup(_("%(field)s set to %(new)s.", field=label, new=after))
        if new in (None, "", []):
            return Markup(_("%(field)s cleared (was %(old)s).", field=label, old=before))
        return Markup(_("%(field)s changed from %(old)s to %(new)s.", field=label, old=before, new=after))

    def period(self, value: Any) -> str:
        if not isinstance(value, str) or ".." not in value:
            return str(value or "—")
        start, end = value.split("..", 1)
        try:
            return _("%(start)s to %(end)s", start=format_date(date.fromisoformat(start)),
                     end=format_date(date.fromisoformat(end)))  # fmt: skip
        except ValueError:
            return value

    def value(self, field: str, value: Any) -> str:
        if value is None or value == "":
            return "—"
        if isinstance(value, bool):
            return _("yes") if value else _("no")
        if field == "role":
            return str(ROLE.get(value, value))
        if field == "unavailable_reason":
            return str(DROP_OUT_REASON.get(value, value))
        if field == "skills" and isinstance(value, list):
            return _(", ").join(self.skill_name(code) for code in value) or "—"
        if field == "outlet_id":
            return self.outlets.get(value, _("an outlet no longer on file"))
        if field == "user_id":
            return self.users.get(value, _("someone no longer on file"))
        if field == "work_days" and isinstance(value, str):
            return _(", ").join(str(WEEKDAY.get(d, d)) for d in value)
        if field == "locale":
            return {"zh": "中文", "en": "English"}.get(value, value)
        if field in ("shift_start", "shift_end", "opens_at", "closes_at") and isinstance(value, str):
            try:
                return format_time(time.fromisoformat(value), "HH:mm")
            except ValueError:
                return value
        if isinstance(value, float | int):
            return format_decimal(value)
        if isinstance(value, str) and len(value) >= 16 and value[4] == "-" and "T" in value:
            try:
                return format_datetime(datetime.fromisoformat(value).astimezone(self.timezone), "yyyy-MM-dd HH:mm")
            except ValueError:
                return value
        if isinstance(value, list):
            return _(", ").join(str(v) for v in value)
        return str(value)
