"""The service network: outlets, skills, technicians, their shifts and leave. Writers take a
session and commit once (`@transactional`); readers (`list_*`, `nearest_outlet`) leave it open."""

from __future__ import annotations

import math
import re
from datetime import date, time
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from core.accounts import Actor, User
from core.audit import apply_changes, record_change
from core.db import transactional
from core.errors import Conflict, NotFound, ValidationFailed
from core.phones import normalize_phone
from routing.geo import haversine_m
from technicians.models import Leave, Outlet, Skill, Technician

WORK_DAYS = re.compile(r"^[1-7]{1,7}$")


def check_location(lat: Any, lon: Any, prefix: str = "") -> dict[str, str]:
    """Field errors for a WGS-84 latitude/longitude pair (empty when valid)."""
    errors = {}
    if not isinstance(lat, (int, float)) or not -90 <= lat <= 90 or math.isnan(lat):
        errors[f"{prefix}lat"] = "must be a latitude between -90 and 90"
    if not isinstance(lon, (int, float)) or not -180 <= lon <= 180 or math.isnan(lon):
        errors[f"{prefix}lon"] = "must be a longitude between -180 and 180"
    return errors


# --- skills -------------------------------------------------------------------------


def list_skills(session: Session, *, include_inactive: bool = False) -> list[Skill]:
    query = select(Skill).order_by(Skill.code)
    if not include_inactive:
        query = query.where(Skill.active.is_(True))
    return list(session.scalars(query))


@transactional
def create_skill(session: Session, code: str, name_en: str, name_zh: str, *, actor_id: int | None) -> Skill:
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,31}", code or ""):
        raise ValidationFailed({"code": "use 2–32 lower-case letters, digits or '_', starting with a letter"})
    if session.get(Skill, code) is not None:
        raise Conflict(f"skill '{code}' exists already", field="code")
    skill = Skill(code=code, name_en=name_en, name_zh=name_zh, active=True)
    session.add(skill)
    record_change(session, actor_id, "skill", 0, "create", {"code": [None, code]})
    return skill


def resolve_skills(session: Session, codes: list[str], field: str = "skills") -> list[Skill]:
    """The active skills named by `codes`, or a validation error naming the unknown ones."""
    found = {s.code: s for s in session.scalars(select(Skill).where(Skill.code.in_(codes), Skill.active))}
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise ValidationFailed({field: f"unknown skill(s): {', '.join(unknown)}"})
    return [found[c] for c in dict.fromkeys(codes)]


# --- outlets ------------------------------------------------------------------------

OUTLET_FIELDS = {
    "code", "name", "area", "address", "lat", "lon", "speed_kmh", "detour_factor", "active", "auto_dispatch",
    "opens_at", "closes_at", "break_start", "break_end", "break_minutes",
}  # fmt: skip
BREAK_FIELDS = ("break_start", "break_end", "break_minutes")


def check_break(values: dict[str, Any]) -> dict[str, str]:
    """A break is a window and minutes, all three or none (0 minutes: no break); the minutes
    fit in the window."""
    start, end, minutes = (values.get(f) for f in BREAK_FIELDS)
    if start is None and end is None and minutes is None:
        return {}
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 240):
        return {"break_minutes": "must be a whole number of minutes from 0 to 240"}
    if minutes == 0:
        return {}
    missing = [f for f in BREAK_FIELDS if values.get(f) is None]
    if missing:
        return {missing[0]: "give the break's window (from, to) and its minutes together"}
    if start >= end:
        return {"break_end": "must be after break_start"}
    window = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    if minutes > window:
        return {"break_minutes": "must fit in the break window"}
    return {}


def _with_break(values: dict[str, Any], row: Any) -> None:
    """An update that touches the break is checked whole, with the stored fields it leaves."""
    if any(f in values for f in BREAK_FIELDS):
        for f in BREAK_FIELDS:
            values.setdefault(f, getattr(row, f))


def _check_outlet(values: dict[str, Any]) -> None:
    errors = {}
    if "lat" in values or "lon" in values:
        errors.update(check_location(values.get("lat"), values.get("lon")))
    if "speed_kmh" in values and not 5 <= values["speed_kmh"] <= 120:
        errors["speed_kmh"] = "must be between 5 and 120 km/h"
    if "detour_factor" in values and not 1.0 <= values["detour_factor"] <= 3.0:
        errors["detour_factor"] = "must be between 1.0 and 3.0"
    if "name" in values and not (values["name"] or "").strip():
        errors["name"] = "must not be empty"
    opens, closes = values.get("opens_at"), values.get("closes_at")
    if (opens is None) != (closes is None):
        errors["closes_at" if closes is None else "opens_at"] = "give both opening and closing time, or neither"
    elif opens is not None and opens >= closes:
        errors["closes_at"] = "must be after opens_at"
    errors.update(check_break(values))
    if errors:
        raise ValidationFailed(errors)


@transactional
def create_outlet(session: Session, values: dict[str, Any], *, actor_id: int | None) -> Outlet:
    values = {k: v for k, v in values.items() if k in OUTLET_FIELDS}
    missing = {f: "is required" for f in ("code", "name", "lat", "lon") if values.get(f) in (None, "")}
    if missing:
        raise ValidationFailed(missing)
    _check_outlet(values)
    if session.scalar(select(Outlet.id).where(Outlet.code == values["code"])) is not None:
        raise Conflict(f"outlet code '{values['code']}' is taken", field="code")
    outlet = Outlet(**values)
    session.add(outlet)
    session.flush()
    record_change(session, actor_id, "outlet", outlet.id, "create", {k: [None, v] for k, v in values.items()})
    return outlet


@transactional
def update_outlet(session: Session, outlet_id: int, values: dict[str, Any], *, actor_id: int | None) -> Outlet:
    outlet = get_outlet(session, outlet_id)
    values = {k: v for k, v in values.items() if k in OUTLET_FIELDS}
    if "lat" in values or "lon" in values:
        values.setdefault("lat", outlet.lat)
        values.setdefault("lon", outlet.lon)
    if "opens_at" in values or "closes_at" in values:
        values.setdefault("opens_at", outlet.opens_at)
        values.setdefault("closes_at", outlet.closes_at)
    _with_break(values, outlet)
    _check_outlet(values)
    code_changed = "code" in values and values["code"] != outlet.code
    if code_changed and session.scalar(select(Outlet.id).where(Outlet.code == values["code"])) is not None:
        raise Conflict(f"outlet code '{values['code']}' is taken", field="code")
    changes = apply_changes(outlet, values)
    if changes:
        record_change(session, actor_id, "outlet", outlet.id, "update", changes)
    return outlet


def get_outlet(session: Session, outlet_id: int) -> Outlet:
    outlet = session.get(Outlet, outlet_id)
    if outlet is None:
        raise NotFound(f"outlet {outlet_id} not found")
    return outlet


def list_outlets(session: Session, *, include_inactive: bool = True) -> list[Outlet]:
    query = select(Outlet).order_by(Outlet.code)
    if not include_inactive:
        query = query.where(Outlet.active.is_(True))
    return list(session.scalars(query))


def nearest_outlet(session: Session, lat: float, lon: float) -> Outlet | None:
    """The active outlet closest to a point (there are few outlets: compare them all)."""
    outlets = list_outlets(session, include_inactive=False)
    if not outlets:
        return None
    distances = haversine_m([(lat, lon)], [(o.lat, o.lon) for o in outlets])[0]
    return outlets[int(distances.argmin())]


# --- technicians --------------------------------------------------------------------

TECH_FIELDS = {
    "outlet_id", "user_id", "name", "phone", "home_lat", "home_lon", "shift_start", "shift_end",
    "work_days", "daily_capacity", "active", "break_start", "break_end", "break_minutes",
}  # fmt: skip


def _check_technician(session: Session, values: dict[str, Any], tech_id: int | None = None) -> None:
    errors: dict[str, str] = {}
    if "home_lat" in values or "home_lon" in values:
        errors.update(check_location(values.get("home_lat"), values.get("home_lon"), "home_"))
    start, end = values.get("shift_start"), values.get("shift_end")
    if isinstance(start, time) and isinstance(end, time) and start >= end:
        errors["shift_end"] = "must be after shift_start"
    if "work_days" in values and not WORK_DAYS.fullmatch(values["work_days"] or ""):
        errors["work_days"] = "use ISO weekday digits 1–7, e.g. 12345 for Monday to Friday"
    if "daily_capacity" in values and not 1 <= values["daily_capacity"] <= 30:
        errors["daily_capacity"] = "must be between 1 and 30 orders a day"
    if "name" in values and not (values["name"] or "").strip():
        errors["name"] = "must not be empty"
    errors.update(check_break(values))
    if "phone" in values:
        try:
            values["phone"] = normalize_phone(values["phone"], mobile_only=False)
        except ValueError as exc:
            errors["phone"] = str(exc)
    if "outlet_id" in values and session.get(Outlet, values["outlet_id"]) is None:
        errors["outlet_id"] = f"outlet {values['outlet_id']} does not exist"
    if values.get("user_id") is not None:
        from core.accounts import User

        user = session.get(User, values["user_id"])
        if user is None or user.role != "technician":
            errors["user_id"] = "must be an existing account with the technician role"
        else:
            linked = session.scalar(select(Technician.id).where(Technician.user_id == user.id))
            if linked is not None and linked != tech_id:
                errors["user_id"] = "is already the login of another technician"
    if errors:
        raise ValidationFailed(errors)


@transactional
def create_technician(
    session: Session, values: dict[str, Any], skills: list[str], *, actor_id: int | None
) -> Technician:
    values = {k: v for k, v in values.items() if k in TECH_FIELDS}
    required = ("outlet_id", "name", "phone", "home_lat", "home_lon")
    missing = {f: "is required" for f in required if values.get(f) in (None, "")}
    if missing:
        raise ValidationFailed(missing)
    _check_technician(session, values)
    tech = Technician(**values)
    tech.skills = resolve_skills(session, skills)
    session.add(tech)
    session.flush()
    record_change(
        session, actor_id, "technician", tech.id, "create",
        {"name": [None, tech.name], "skills": [None, tech.skill_codes]},
    )  # fmt: skip
    return tech


@transactional
def update_technician(
    session: Session, tech_id: int, values: dict[str, Any], skills: list[str] | None = None, *, actor_id: int | None
) -> Technician:
    tech = get_technician(session, tech_id)
    values = {k: v for k, v in values.items() if k in TECH_FIELDS}
    merged = {"shift_start": tech.shift_start, "shift_end": tech.shift_end} | values
    _with_break(merged, tech)
    if "home_lat" in values or "home_lon" in values:
        merged.setdefault("home_lat", tech.home_lat)
        merged.setdefault("home_lon", tech.home_lon)
    _check_technician(session, merged, tech_id)
    if "phone" in values:
        values["phone"] = merged["phone"]  # normalised to E.164 by the check
    changes = apply_changes(tech, values)
    if skills is not None:
        new = resolve_skills(session, skills)
        old_codes = tech.skill_codes
        if [s.code for s in new] != old_codes:
            tech.skills = new
            changes["skills"] = [old_codes, [s.code for s in new]]
    if changes:
        record_change(session, actor_id, "technician", tech.id, "update", changes)
    return tech


def get_technician(session: Session, tech_id: int) -> Technician:
    tech = session.get(Technician, tech_id)
    if tech is None:
        raise NotFound(f"technician {tech_id} not found")
    return tech


def technician_for_user(session: Session, user_id: int) -> Technician | None:
    return session.scalar(select(Technician).where(Technician.user_id == user_id))


def actors_now(session: Session, user_ids: list[int]) -> dict[int, Actor]:
    """Each of these users as the use cases would see them now (role, outlet, technician),
    in two queries; inactive and deleted users are left out."""
    if not user_ids:
        return {}
    users = session.execute(
        select(User.id, User.role, User.outlet_id).where(User.id.in_(user_ids), User.active.is_(True))
    ).all()
    rows = session.execute(select(Technician.user_id, Technician.id).where(Technician.user_id.in_(user_ids)))
    technicians = {user_id: technician_id for user_id, technician_id in rows}
    return {
        u.id: Actor(
            user_id=u.id,
            role=u.role,
            outlet_id=u.outlet_id,
            technician_id=technicians.get(u.id) if u.role == "technician" else None,
        )
        for u in users
    }


def list_technicians(
    session: Session, *, outlet_id: int | None = None, skill: str | None = None, active: bool | None = None
) -> list[Technician]:
    return list(session.scalars(technician_query(outlet_id=outlet_id, skill=skill, active=active)))


def technician_query(*, outlet_id: int | None = None, skill: str | None = None, active: bool | None = None) -> Select:
    """Technicians (skills and leave loaded) filtered by outlet, skill and active flag."""
    query = select(Technician).options(selectinload(Technician.skills), selectinload(Technician.leaves))
    if outlet_id is not None:
        query = query.where(Technician.outlet_id == outlet_id)
    if skill is not None:
        query = query.where(Technician.skills.any(Skill.code == skill))
    if active is not None:
        query = query.where(Technician.active.is_(active))
    return query.order_by(Technician.name, Technician.id)


@transactional
def add_leave(
    session: Session, tech_id: int, start: date, end: date, reason: str = "", *, actor_id: int | None
) -> Leave:
    tech = get_technician(session, tech_id)
    if end < start:
        raise ValidationFailed({"end_date": "must not be before start_date"})
    leave = Leave(technician=tech, start_date=start, end_date=end, reason=reason)
    session.add(leave)
    session.flush()
    record_change(
        session, actor_id, "technician", tech.id, "add_leave",
        {"leave": [None, f"{start.isoformat()}..{end.isoformat()}"], "reason": [None, reason]},
    )  # fmt: skip
    return leave


@transactional
def remove_leave(session: Session, tech_id: int, leave_id: int, *, actor_id: int | None) -> None:
    leave = session.get(Leave, leave_id)
    if leave is None or leave.technician_id != tech_id:
        raise NotFound(f"leave {leave_id} not found for technician {tech_id}")
    record_change(
        session, actor_id, "technician", tech_id, "remove_leave",
        {"leave": [f"{leave.start_date.isoformat()}..{leave.end_date.isoformat()}", None]},
    )  # fmt: skip
    session.delete(leave)


def record_position(session: Session, tech: Technician, lat: float, lon: float, at) -> None:
    errors = check_location(lat, lon)
    if errors:
        raise ValidationFailed(errors)
    tech.last_lat, tech.last_lon, tech.last_seen_at = lat, lon, at
