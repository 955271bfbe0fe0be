"""Tables of the service network."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Boolean, Column, Date, Float, ForeignKey, Integer, String, Table, Time, event, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from core.db import Base, next_value, utcnow

technician_skills = Table(
    "technician_skills",
    Base.metadata,
    Column("technician_id", ForeignKey("technicians.id", ondelete="CASCADE"), primary_key=True),
    Column("skill_code", ForeignKey("skills.code"), primary_key=True),
)


class Skill(Base):
    """A managed list: what a technician can repair, and what an order needs."""

    __tablename__ = "skills"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def name(self, locale: str | None) -> str:
        return self.name_zh if (locale or "").startswith("zh") else self.name_en


class Outlet(Base):
    """A service point; technicians belong to one, orders are routed through one."""

    __tablename__ = "outlets"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    area: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    # Travel model parameters for routing: great-circle distance × detour at this speed.
    speed_kmh: Mapped[float] = mapped_column(Float, default=30.0)
    detour_factor: Mapped[float] = mapped_column(Float, default=1.3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Re-optimise and apply on a schedule, without waiting for a dispatcher (opt-in).
    auto_dispatch: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Opening hours, used by SLA rules that pause overnight; none means always open.
    opens_at: Mapped[time | None] = mapped_column(Time)
    closes_at: Mapped[time | None] = mapped_column(Time)
    # The technicians' default break: taken whole (break_minutes) between break_start and
    # break_end; none when unset. A technician's own break fields override it.
    break_start: Mapped[time | None] = mapped_column(Time)
    break_end: Mapped[time | None] = mapped_column(Time)
    break_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    technicians: Mapped[list[Technician]] = relationship(back_populates="outlet")


class Technician(Base):
    __tablename__ = "technicians"

    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    home_lat: Mapped[float] = mapped_column(Float)
    home_lon: Mapped[float] = mapped_column(Float)
    shift_start: Mapped[time] = mapped_column(Time, default=time(8, 0))
    shift_end: Mapped[time] = mapped_column(Time, default=time(17, 0))
    # ISO weekdays the technician works, as digits: "12345" is Monday to Friday.
    work_days: Mapped[str] = mapped_column(String(7), default="123456")
    daily_capacity: Mapped[int] = mapped_column(Integer, default=8)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_seen_at: Mapped[datetime | None]
    # Own break, overriding the outlet's (dispatch.planning.day reads the one that applies).
    break_start: Mapped[time | None] = mapped_column(Time)
    break_end: Mapped[time | None] = mapped_column(Time)
    break_minutes: Mapped[int | None] = mapped_column(Integer)
    # Dropped out during the day (sick, vehicle broken, other): no work from this moment to
    # the end of that day (technicians.availability.dropped_out).
    unavailable_from: Mapped[datetime | None]
    unavailable_reason: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    outlet: Mapped[Outlet] = relationship(back_populates="technicians")
    skills: Mapped[list[Skill]] = relationship(secondary=technician_skills, order_by=Skill.code)
    leaves: Mapped[list[Leave]] = relationship(
        back_populates="technician", cascade="all, delete-orphan", order_by="Leave.start_date"
    )

    @property
    def skill_codes(self) -> list[str]:
        return [s.code for s in self.skills]


class Leave(Base):
    """Days off or leave, inclusive of both ends."""

    __tablename__ = "leaves"

    id: Mapped[int] = mapped_column(primary_key=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")

    technician: Mapped[Technician] = relationship(back_populates="leaves")


# --- the network's version ---------------------------------------------------------------

NETWORK_COUNTER = "network"
# A technician's position moves all day; it is read fresh when the day is, not a change
# of the network.
POSITION_FIELDS = frozenset({"last_lat", "last_lon", "last_seen_at"})


def _changes_network(session: Session, obj: object) -> bool:
    if isinstance(obj, (Skill, Outlet, Leave)):
        return True
    if isinstance(obj, Technician):
        if obj in session.new or obj in session.deleted:
            return True
        state = inspect(obj)
        changed = {a.key for a in state.attrs if a.history.has_changes()}
        return bool(changed - POSITION_FIELDS)
    return False


@event.listens_for(Session, "before_flush")
def _bump_network_version(session: Session, _context, _instances) -> None:
    """Every change to technicians (but their position), skills, leaves or outlets advances
    the `network` counter in the same transaction, so an in-memory copy of the day
    (dispatch/planning/live_day.py) knows to read them again."""
    if session.info.get("network_bumped"):
        return
    if any(_changes_network(session, o) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info["network_bumped"] = True
        next_value(session, NETWORK_COUNTER)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_bump(session: Session) -> None:
    session.info.pop("network_bumped", None)
