"""An order's history as sentences a dispatcher reads aloud: people by name, times in the
service area's zone, codes as words. The raw event data stays available (admins see it behind
a toggle); nothing here decides anything.

Made once per request (`EventWording(session, timezone)`): the names of everyone an order's
events mention are read in two queries, not one per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import format_datetime, format_decimal
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import User
from technicians.models import Technician
from web.filters import short_day
from web.labels import (
    ACTION,
    CALLBACK_PROBLEM,
    CHANNEL,
    CLOCK,
    GEOCODE,
    PRIORITY,
    ROLE,
    STATUS,
    VERDICT,
)

DATETIME = "yyyy-MM-dd HH:mm"


@dataclass(frozen=True)
class EventLine:
    seq: int
    at: str
    who: str
    what: str
    status: str
    details: list[str]
    raw: dict[str, Any]


class EventWording:
    def __init__(self, session: Session, timezone: ZoneInfo) -> None:
        self.session = session
        self.timezone = timezone
        self.users: dict[int, str] = {}
        self.techs: dict[int, str] = {}

    # --- names ------------------------------------------------------------------------

    def load_names(self, events) -> None:
        """Read, at once, the names of the users and technicians these events mention."""
        user_ids, tech_ids = set(), set()
        for e in events:
            if e.actor_id:
                user_ids.add(e.actor_id)
            data = e.data or {}
            for key in ("technician_id", "previous_technician_id"):
                if isinstance(data.get(key), int):
                    tech_ids.add(data[key])
            for key in ("owner_id", "from_owner_id", "to_owner_id"):
                if isinstance(data.get(key), int):
                    user_ids.add(data[key])
        if user_ids:
            rows = self.session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(user_ids)))
            self.users.update({i: display or name for i, display, name in rows})
            # A technician's account reads as the technician's own name.
            techs = self.session.execute(
                select(Technician.user_id, Technician.name).where(Technician.user_id.in_(user_ids))
            )
            self.users.update({i: name for i, name in techs})
        if tech_ids:
            rows = self.session.execute(select(Technician.id, Technician.name).where(Technician.id.in_(tech_ids)))
            self.techs.update(dict(rows.all()))

    def user(self, user_id: int | None) -> str:
        return self.users.get(user_id, _("someone no longer on file")) if user_id else _("nobody")

    def tech(self, tech_id: int | None) -> str:
        return self.techs.get(tech_id, _("a technician no longer on file")) if tech_id else _("nobody")

    def who(self, actor_id: int | None, role: str | None) -> str:
        role_name = str(ROLE.get(role, _("someone"))) if role else _("someone")
        if actor_id is None:
            return role_name
        return _("%(name)s (%(role)s)", name=self.user(actor_id), role=role_name)

    # --- times ------------------------------------------------------------------------

    def when(self, value: datetime | str | None) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        return format_datetime(value.astimezone(self.timezone), DATETIME)

    # --- the history ------------------------------------------------------------------

    def lines(self, events) -> list[EventLine]:
        events = list(events)
        self.load_names(events)
        return [self.line(e) for e in events]

    def line(self, e) -> EventLine:
        status = ""
        if e.from_status != e.to_status:
            status = _(
                "%(old)s → %(new)s",
                old=STATUS.get(e.from_status, "—") if e.from_status else "—",
                new=STATUS.get(e.to_status, "—") if e.to_status else "—",
            )
        return EventLine(
            seq=e.seq, at=self.when(e.at), who=self.who(e.actor_id, e.actor_role),
            what=str(ACTION.get(e.kind, _("Other change"))), status=status,
            details=self.details(e.kind, dict(e.data or {})), raw=dict(e.data or {}),
        )  # fmt: skip

    def details(self, kind: str, data: dict[str, Any]) -> list[str]:
        """The event's data in sentences; keys with nothing to say to a person (idempotency
        keys, photo ids) are left to the raw data."""
        out: list[str] = []
        if kind == "created":
            out.append(_("Received through %(channel)s as %(number)s.", channel=_label(CHANNEL, data.get("channel")),
                         number=data.get("number", "")))  # fmt: skip
            if data.get("geocode_status") not in (None, "ok"):
                out.append(_("Address: %(state)s.", state=_label(GEOCODE, data["geocode_status"])))
        elif kind == "geocoded":
            out.append(_("Address: %(state)s.", state=_label(GEOCODE, data.get("geocode_status"))))
        elif kind == "relocated":
            if isinstance(data.get("address"), list) and len(data["address"]) == 2:
                out.append(_("Address changed from “%(old)s” to “%(new)s”.", old=data["address"][0] or "—",
                             new=data["address"][1] or "—"))  # fmt: skip
            if data.get("moved"):
                out.append(_("Position on the map corrected."))
            out.append(_("Address: %(state)s.", state=_label(GEOCODE, data.get("geocode_status"))))
        if "technician_id" in data:
            out.append(_("Technician: %(name)s.", name=self.tech(data["technician_id"])))
        if "previous_technician_id" in data:
            out.append(_("Previously with %(name)s.", name=self.tech(data["previous_technician_id"])))
        if isinstance(data.get("callback"), dict):
            out.extend(self.callback(data["callback"]))
        elif kind == "callback":
            out.extend(self.callback(data))
        elif data.get("reason") and kind not in ("compensation_added",):
            out.append(_("Reason: %(reason)s", reason=data["reason"]))
        if "distance_to_address_m" in data:
            out.append(_("%(distance)s m from the address.", distance=format_decimal(data["distance_to_address_m"])))
        if kind == "priority":
            out.append(_("From %(old)s to %(new)s.", old=_label(PRIORITY, data.get("from")),
                         new=_label(PRIORITY, data.get("to"))))  # fmt: skip
        elif kind in ("sla_warning", "sla_breach", "sla_escalation"):
            out.append(
                _("%(clock)s, due %(at)s.", clock=_label(CLOCK, data.get("clock")), at=self.when(data.get("due_at")))
            )
        elif kind == "photo":
            out.append(_("Taken with the camera.") if data.get("source") == "camera" else _("Chosen from the gallery."))
            if data.get("exact_copy_of_orders") or data.get("near_copies"):
                out.append(_("Looks like a photo on another order."))
        elif kind == "authenticity_review":
            decision = data.get("decision")
            out.append(
                _("The reviewer confirmed the visit.")
                if decision == "confirmed"
                else _("The reviewer rejected the proof.")
            )
            if data.get("note"):
                out.append(_("Note: %(note)s", note=data["note"]))
        elif kind == "customer_note" and data.get("text"):
            out.append(_("The customer wrote: %(text)s", text=data["text"]))
        elif kind == "rescheduled" and isinstance(data.get("to"), list) and len(data["to"]) == 2:
            out.append(
                _(
                    "New appointment: %(start)s to %(end)s.",
                    start=self.when(data["to"][0]),
                    end=self.when(data["to"][1]),
                )
            )
        elif kind == "need_part" and data.get("part"):
            out.append(
                _("Needs %(quantity)s × %(part)s, expected %(day)s.", quantity=format_decimal(data.get("quantity", 1)),
                  part=data["part"], day=_day(data.get("expected_on")))
            )  # fmt: skip
        elif kind == "part_arrived":
            out.append(_("Waited %(hours)s h; planned again for a follow-up visit.",
                         hours=format_decimal(round(data.get("waited_minutes", 0) / 60, 1))))  # fmt: skip
            if data.get("clock_paused_minutes"):
                out.append(_("The 24-hour clock was paused while waiting."))
        elif kind == "survey":
            out.extend(self.survey(data))
        elif kind == "completion_report":
            out.extend(self.report(data))
        elif kind.startswith(("complaint_", "compensation_", "settlement_")):
            out.extend(self.complaint(kind, data))
        return out

    def callback(self, data: dict[str, Any]) -> list[str]:
        if not data.get("reached"):
            return [_("The customer was not reached; call again later.")]
        out = [_("The customer was reached.")]
        out.append(_("The fault is fixed.") if data.get("resolved") else _("The customer says it is not fixed."))
        if data.get("score") is not None:
            out.append(_("Score %(score)s of 5.", score=data["score"]))
        problems = [str(CALLBACK_PROBLEM.get(p, _("another problem"))) for p in data.get("problems") or []]
        if problems:
            out.append(_("Problems: %(list)s.", list=_(", ").join(problems)))
        if data.get("authenticity"):
            out.append(_("Authenticity: %(verdict)s.", verdict=_label(VERDICT, data["authenticity"])))
        return out

    def survey(self, data: dict[str, Any]) -> list[str]:
        out = []
        if data.get("fixed") is not None:
            out.append(
                _("The customer says it is fixed.") if data["fixed"] else _("The customer says it is not fixed.")
            )
        if data.get("score") is not None:
            out.append(_("Score %(score)s of 5.", score=data["score"]))
        if data.get("flagged"):
            out.append(_("Flagged for a callback."))
        return out

    def report(self, data: dict[str, Any]) -> list[str]:
        from web.labels import CHECKLIST

        out = []
        items = [str(CHECKLIST.get(c, _("another step"))) for c in data.get("checklist") or []]
        if items:
            out.append(_("Done: %(list)s.", list=_(", ").join(items)))
        parts = [f"{p.get('name', '')} × {p.get('qty', 1)}" for p in data.get("parts") or [] if isinstance(p, dict)]
        if parts:
            out.append(_("Parts: %(list)s.", list=_(", ").join(parts)))
        if data.get("fee") not in (None, 0, "0", "0.00"):
            out.append(_("Fee: ¥%(fee)s.", fee=data["fee"]))
        if data.get("notes"):
            out.append(_("Note: %(note)s", note=data["notes"]))
        return out

    def complaint(self, kind: str, data: dict[str, Any]) -> list[str]:
        out = []
        if "owner_id" in data:
            out.append(_("Handled by %(name)s.", name=self.user(data["owner_id"])))
        if "to_owner_id" in data:
            out.append(_("Handed over to %(name)s.", name=self.user(data["to_owner_id"])))
        if data.get("amount") is not None:
            out.append(_("Amount: ¥%(amount)s.", amount=data["amount"]))
        if kind == "compensation_added" and data.get("reason"):
            out.append(_("Reason: %(reason)s", reason=data["reason"]))
        if data.get("note"):
            out.append(_("Note: %(note)s", note=data["note"]))
        return out


def _label(table: dict, code: Any) -> str:
    return str(table.get(code, _("unknown"))) if code is not None else "—"


def _day(value: Any) -> str:
    """An ISO day as the user's language writes it without the year (Dec 9 / 12月9日)."""
    return short_day(str(value) if value else None) or "—"
