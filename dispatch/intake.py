"""Intake: every channel's request becomes the same work order.

`submit_order` is the one use case behind the JSON API, the public request form and the
hotline form. It never loses a request: when the geocoder cannot answer, the order is
still created, flagged for a later retry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts import Actor
from core.dates import OUT_OF_RANGE, within_range
from core.db import next_value, unit_of_work, utcnow
from core.errors import IdempotencyKeyReused, ValidationFailed
from core.phones import normalize_phone
from dispatch.catalog import CHANNELS, ISSUE_CATEGORIES, PRIORITIES
from dispatch.complaints import ComplaintPolicy, open_at_intake
from dispatch.customer import issue_tracking_token, send_tracking_link
from dispatch.events import record_event
from dispatch.geocoding import AddressNotFound, Geocoder, GeocoderUnavailable, to_wgs84
from dispatch.models import Customer, IdempotencyKey, WorkOrder
from dispatch.notify import NotifySettings
from dispatch.planning import PlanningSettings, place_new_order
from dispatch.sla.clocks import intake_clocks, start_intake_clocks
from dispatch.sla.policy import SlaPolicy
from technicians.models import Skill
from technicians.network import nearest_outlet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderRequest:
    """What a customer or operator tells us, before any checking."""

    channel: str
    name: str
    phone: str
    address: str
    product_category: str
    issue_category: str = "repair"
    description: str = ""
    product_model: str = ""
    required_skill: str | None = None
    priority: str = "normal"
    lat: float | None = None
    lon: float | None = None
    coord_datum: str = "wgs84"  # a pick on a Chinese map arrives as gcj02 or bd09
    appointment_start: datetime | None = None
    appointment_end: datetime | None = None
    in_warranty: bool = False


@dataclass(frozen=True)
class Placement:
    lat: float | None
    lon: float | None
    status: str  # ok, failed, not_found


@dataclass(frozen=True)
class IntakeSettings:
    policy: SlaPolicy
    timezone: ZoneInfo
    geocoder: Geocoder
    city: str | None = None
    # When set, a new located order is assigned at once by instant insertion.
    planning: PlanningSettings | None = None
    # Proof photos a completion needs, by issue category (default for the others).
    proof_photos_default: int = 1
    proof_photos: Mapping[str, int] = field(default_factory=dict)
    # A complaint order's four clocks start at intake (dispatch/complaints.py).
    complaints: ComplaintPolicy = field(default_factory=ComplaintPolicy)
    # The customer's tracking link goes to their phone through these gateways (none: not
    # sent); `link_for` turns a token into the link's full URL.
    notify: NotifySettings | None = None
    link_for: Callable[[str], str] | None = None


def validate(session: Session, req: OrderRequest, now: datetime) -> OrderRequest:
    """Check every field at once; return the request cleaned (E.164 phone, trimmed text)."""
    errors: dict[str, str] = {}
    if req.channel not in CHANNELS:
        errors["channel"] = f"must be one of {', '.join(CHANNELS)}"
    name = (req.name or "").strip()
    if not name:
        errors["name"] = "is required"
    elif len(name) > 100:
        errors["name"] = "must be at most 100 characters"
    phone = req.phone
    try:
        phone = normalize_phone(req.phone, mobile_only=req.channel != "hotline")
    except ValueError as exc:
        errors["phone"] = str(exc)
    address = (req.address or "").strip()
    if not address:
        errors["address"] = "is required"
    elif len(address) > 255:
        errors["address"] = "must be at most 255 characters"
    if (req.lat is None) != (req.lon is None):
        errors["lat" if req.lat is None else "lon"] = "give both latitude and longitude, or neither"
    elif req.lat is not None:
        if not _finite(req.lat) or not -90 <= req.lat <= 90:
            errors["lat"] = "must be a latitude between -90 and 90"
        if not _finite(req.lon) or not -180 <= req.lon <= 180:
            errors["lon"] = "must be a longitude between -180 and 180"
    if req.coord_datum not in ("wgs84", "gcj02", "bd09"):
        errors["coord_datum"] = "must be one of wgs84, gcj02, bd09"
    skills = set(session.scalars(select(Skill.code).where(Skill.active.is_(True))))
    if req.product_category not in skills:
        errors["product_category"] = f"must be one of {', '.join(sorted(skills))}"
    required_skill = req.required_skill or req.product_category
    if req.required_skill and req.required_skill not in skills:
        errors["required_skill"] = f"must be one of {', '.join(sorted(skills))}"
    if req.issue_category not in ISSUE_CATEGORIES:
        errors["issue_category"] = f"must be one of {', '.join(ISSUE_CATEGORIES)}"
    if req.priority not in PRIORITIES:
        errors["priority"] = f"must be one of {', '.join(PRIORITIES)}"
    if len(req.description or "") > 2000:
        errors["description"] = "must be at most 2000 characters"
    if len(req.product_model or "") > 100:
        errors["product_model"] = "must be at most 100 characters"
    start, end = req.appointment_start, req.appointment_end
    if (start is None) != (end is None):
        errors["appointment_end" if end is None else "appointment_start"] = "give both ends of the window, or neither"
    elif start is not None and end is not None:
        if not within_range(start) or not within_range(end):
            errors["appointment_start" if not within_range(start) else "appointment_end"] = OUT_OF_RANGE
        elif start.tzinfo is None or end.tzinfo is None:
            errors["appointment_start"] = "must include a time zone offset"
        elif end <= start:
            errors["appointment_end"] = "must be after appointment_start"
        elif end <= now:
            errors["appointment_end"] = "must be in the future"
    if errors:
        raise ValidationFailed(errors)
    return replace(
        req,
        name=name,
        phone=phone,
        address=address,
        required_skill=required_skill,
        description=(req.description or "").strip(),
        product_model=(req.product_model or "").strip(),
    )


def locate(req: OrderRequest, geocoder: Geocoder, city: str | None = None) -> Placement:
    """Coordinates given directly win (converted to WGS-84); otherwise ask the geocoder."""
    if req.lat is not None and req.lon is not None:
        lat, lon = to_wgs84(req.lat, req.lon, req.coord_datum)  # type: ignore[arg-type]
        return Placement(lat, lon, "ok")
    try:
        point = geocoder.geocode(req.address, city)
    except AddressNotFound:
        return Placement(None, None, "not_found")
    except GeocoderUnavailable:
        return Placement(None, None, "failed")
    return Placement(point.lat, point.lon, "ok")


def fingerprint(req: OrderRequest) -> str:
    body = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(req).items()}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def submit_order(
    session: Session,
    req: OrderRequest,
    actor: Actor,
    settings: IntakeSettings,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    slot: tuple[datetime, datetime] | None = None,
    slot_planning: PlanningSettings | None = None,
) -> tuple[WorkOrder, bool]:
    """Validate, locate and create a work order. Returns (order, created).

    With `slot` (an appointment slot the customer chose from the offered list), the order is
    placed in it at once, as the instant path places it (with `slot_planning` when instant
    assignment is off), and the slot becomes its appointment; when the slot was taken
    meanwhile the order stays new, without an appointment, for the customer to choose again.

    With an idempotency key, a retry of the same request returns the first order
    (created=False) and a different request under the same key is refused.
    """
    now = now or utcnow()
    req = validate(session, req, now)
    scope = f"user:{actor.user_id}" if actor.user_id is not None else actor.role
    digest = fingerprint(req)
    if idempotency_key:
        existing = _replay(session, scope, idempotency_key, digest)
        if existing is not None:
            return existing, False
    # No transaction may stay open across a network call to the geocoder.
    session.rollback()
    placement = locate(req, settings.geocoder, settings.city)
    try:
        with unit_of_work(session):
            order = _create(session, req, placement, actor, settings, now)
            if idempotency_key:
                session.add(IdempotencyKey(scope=scope, key=idempotency_key, fingerprint=digest, order_id=order.id))
    except IntegrityError:
        if idempotency_key:
            existing = _replay(session, scope, idempotency_key, digest)
            if existing is not None:  # a concurrent retry with the same key got there first
                return existing, False
        raise
    planning = settings.planning or (slot_planning if slot is not None else None)
    if planning is not None:
        place_located(session, order, planning, now, slot)
    return order, True


def place_located(
    session: Session,
    order: WorkOrder,
    planning: PlanningSettings,
    now: datetime,
    slot: tuple[datetime, datetime] | None = None,
) -> None:
    """Instant assignment after the order is safely stored: a failure here leaves a new,
    unassigned order for the dispatcher, never a lost one."""
    try:
        outcome = place_new_order(session, order.id, planning, now, window=slot)
    except Exception:
        log.exception("instant assignment of order %s failed; it stays unassigned", order.id)
        session.rollback()  # the order is stored already: only the failed placement is undone
        return
    if not isinstance(outcome, str):
        session.refresh(order)


def _replay(session: Session, scope: str, key: str, digest: str) -> WorkOrder | None:
    row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key))
    if row is None:
        return None
    if row.fingerprint != digest:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
    return session.get(WorkOrder, row.order_id)


def _create(
    session: Session, req: OrderRequest, placement: Placement, actor: Actor, settings: IntakeSettings, now: datetime
) -> WorkOrder:
    customer = _customer(session, req, placement)
    outlet = nearest_outlet(session, placement.lat, placement.lon) if placement.lat is not None else None
    order = WorkOrder(
        number=next_order_number(session, now, settings.timezone),
        channel=req.channel,
        customer=customer,
        contact_name=req.name,
        contact_phone=req.phone,
        address=req.address,
        lat=placement.lat,
        lon=placement.lon,
        geocode_status=placement.status,
        product_category=req.product_category,
        product_model=req.product_model,
        issue_category=req.issue_category,
        description=req.description,
        required_skill=req.required_skill or req.product_category,
        priority=req.priority,
        appointment_start=req.appointment_start,
        appointment_end=req.appointment_end,
        in_warranty=req.in_warranty,
        created_at=now,
        proof_photos_required=settings.proof_photos.get(req.issue_category, settings.proof_photos_default),
        status="new",
        outlet_id=outlet.id if outlet else None,
        created_by_id=actor.user_id,
    )
    # Kept on the instance only for this request's answer; the table holds its digest.
    order.tracking_token = issue_tracking_token(order)
    with session.no_autoflush:  # the order is not complete until it has its due_at
        deadlines = intake_clocks(session, order, settings.policy, settings.timezone)
    session.add(order)
    session.flush()
    start_intake_clocks(session, order, deadlines)
    record_event(
        session, order, "created", actor, to_status="new",
        data={"channel": req.channel, "number": order.number, "geocode_status": placement.status}, at=now,
    )  # fmt: skip
    if order.issue_category == "complaint":
        open_at_intake(session, order, actor, settings.complaints)
    send_tracking_link(session, order, order.tracking_token, settings.notify, settings.link_for, now)
    return order


def _customer(session: Session, req: OrderRequest, placement: Placement) -> Customer:
    """The customer with this phone, created on first contact; name and address follow the
    latest request."""
    customer = session.scalar(select(Customer).where(Customer.phone == req.phone))
    if customer is None:
        try:
            with session.begin_nested():
                customer = Customer(phone=req.phone, name=req.name, address=req.address)
                session.add(customer)
        except IntegrityError:  # another request created them a moment ago
            customer = session.scalar(select(Customer).where(Customer.phone == req.phone))
            assert customer is not None
    customer.name, customer.address = req.name, req.address
    if placement.lat is not None:
        customer.lat, customer.lon = placement.lat, placement.lon
    return customer


def retry_geocoding(session: Session, settings: IntakeSettings, *, limit: int = 100) -> dict[str, int]:
    """Locate orders whose geocoder was unreachable at intake (a scheduled job runs this).

    Each order is looked up outside any transaction and updated in its own, so one slow or
    failing address holds up nothing else. Returns counts by outcome.
    """
    pending = list(
        session.execute(
            select(WorkOrder.id, WorkOrder.address, WorkOrder.version)
            .where(WorkOrder.geocode_status == "failed", WorkOrder.status.in_(["new", "assigned", "accepted"]))
            .order_by(WorkOrder.id)
            .limit(limit)
        )
    )
    session.rollback()  # no transaction stays open across the geocoder's network calls
    counts = {"ok": 0, "failed": 0, "not_found": 0, "changed": 0}
    for order_id, address, version in pending:
        try:
            point = settings.geocoder.geocode(address, settings.city)
            status = "ok"
        except AddressNotFound:
            point, status = None, "not_found"
        except GeocoderUnavailable:
            counts["failed"] += 1
            continue
        with unit_of_work(session):
            order = session.get(WorkOrder, order_id)
            if order is None or order.version != version or order.geocode_status != "failed":
                counts["changed"] += 1
                continue  # changed since it was read: someone else placed it
            order.geocode_status = status
            if point is not None:
                order.lat, order.lon = point.lat, point.lon
                if order.outlet_id is None:
                    outlet = nearest_outlet(session, point.lat, point.lon)
                    order.outlet_id = outlet.id if outlet else None
            record_event(session, order, "geocoded", Actor.system(), from_status=order.status, to_status=order.status,
                         data={"geocode_status": status})  # fmt: skip
        counts[status] += 1
    return counts


def next_order_number(session: Session, now: datetime, tz: ZoneInfo) -> str:
    """WO-YYYYMMDD-NNNN: short enough to read over the phone, numbered per local day."""
    day = now.astimezone(tz).strftime("%Y%m%d")
    return f"WO-{day}-{next_value(session, f'wo:{day}'):04d}"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
