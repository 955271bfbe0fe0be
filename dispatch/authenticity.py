"""The authenticity engine: did the recorded service really happen as recorded?

Every EXIF field can be forged and phones often strip GPS, so no single signal decides.
`assess` weighs independent signals (pure Python); `recompute` gathers them for an order's
current visit and stores the verdict; `review` records a person's decision on a doubtful or
failed order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.accounts import STAFF_ROLES, Actor
from core.db import unit_of_work, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.pagination import Page, paginate
from dispatch.events import record_event
from dispatch.models import AuthenticityVerdict, Callback, Photo, WorkOrder, WorkOrderEvent
from dispatch.permissions import scope_orders
from routing.geo import haversine_m

NEAR_M = 300  # a check-in or photo this close to the address (plus GPS accuracy) is "there"
FAR_M = 5_000  # further than this is not a rounding error: the job was not done there
TIME_SLACK = timedelta(minutes=30)
NO_VISIT = "no_visit"  # the callback problem code for "the customer says nobody came"


@dataclass(frozen=True)
class PhotoSignals:
    photo_id: int
    source: str
    taken_at: datetime | None
    gps: tuple[float, float] | None
    device: tuple[float, float, float | None] | None
    exact_copy_of_orders: list[int] = field(default_factory=list)
    near_copy_of_orders: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class OrderSignals:
    address: tuple[float, float] | None
    checkin: tuple[float, float, float | None] | None
    on_site_from: datetime | None
    completed_at: datetime | None
    photos: list[PhotoSignals]
    photos_required: int
    # The customer at callback: True confirmed the visit (said it is fixed), False says
    # nobody came, None not asked or not reached.
    customer_confirmed: bool | None = None


@dataclass(frozen=True)
class Verdict:
    status: str
    reasons: list[dict[str, Any]]


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(haversine_m([a], [b])[0, 0])


def assess(s: OrderSignals) -> Verdict:
    """verified, doubtful or failed, with every reason found (code, severity, detail)."""
    reasons: list[dict[str, Any]] = []

    def flag(code: str, severity: str, **detail: Any) -> None:
        reasons.append({"code": code, "severity": severity, **detail})

    if s.photos_required and not s.photos:
        flag("no_photo", "fail")
    if s.checkin is None:
        flag("no_checkin_location", "doubt")
    elif s.address is not None:
        d = _distance(s.checkin[:2], s.address)
        slack = NEAR_M + (s.checkin[2] or 0)
        if d > FAR_M:
            flag("checkin_far", "fail", metres=round(d))
        elif d > slack:
            flag("checkin_far", "doubt", metres=round(d))
    for p in s.photos:
        if p.exact_copy_of_orders:
            flag("photo_reused", "fail", photo_id=p.photo_id, orders=p.exact_copy_of_orders)
        elif p.near_copy_of_orders:
            flag("photo_similar_to_other_order", "doubt", photo_id=p.photo_id, orders=p.near_copy_of_orders)
        if p.gps is not None and s.address is not None:
            d = _distance(p.gps, s.address)
            if d > FAR_M:
                flag("photo_gps_far", "fail", photo_id=p.photo_id, metres=round(d))
            elif d > NEAR_M:
                flag("photo_gps_far", "doubt", photo_id=p.photo_id, metres=round(d))
        if p.taken_at is not None and s.on_site_from is not None:
            end = (s.completed_at or p.taken_at) + TIME_SLACK
            if not s.on_site_from - TIME_SLACK <= p.taken_at <= end:
                flag("photo_time_outside_visit", "doubt", photo_id=p.photo_id, taken_at=p.taken_at.isoformat())
        if p.device is not None and s.address is not None:
            d = _distance(p.device[:2], s.address)
            if d > NEAR_M + (p.device[2] or 0):
                flag("uploaded_away_from_address", "doubt", photo_id=p.photo_id, metres=round(d))
    if s.photos and all(p.source == "gallery" for p in s.photos):
        flag("gallery_only", "doubt")
    if s.customer_confirmed is False:
        flag("customer_denies_visit", "fail")
    failed = any(r["severity"] == "fail" for r in reasons)
    doubted = any(r["severity"] == "doubt" for r in reasons)
    if s.customer_confirmed and not failed:
        # The customer is a witness independent of the phone: their word settles doubts about
        # missing or stray positions (kept below as evidence), never a reused or faraway photo.
        flag("customer_confirmed_visit", "ok")
        doubted = False
    status = "failed" if failed else "doubtful" if doubted else "verified"
    return Verdict(status, reasons)


def gather(session: Session, order: WorkOrder) -> OrderSignals:
    """The signals of the order's current visit, from its events and photos."""
    events = list(
        session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == order.id).order_by(WorkOrderEvent.seq))
    )
    visit_start = max((e.seq for e in events if e.kind == "return"), default=0)
    current = [e for e in events if e.seq > visit_start]
    arrive = next((e for e in reversed(current) if e.kind == "arrive"), None)
    photos = list(
        session.scalars(
            select(Photo).where(Photo.order_id == order.id, Photo.visit == order.visit_count).order_by(Photo.id)
        )
    )
    uploads = {e.data.get("photo_id"): e.data for e in current if e.kind == "photo"}
    return OrderSignals(
        address=(order.lat, order.lon) if order.lat is not None else None,
        checkin=(arrive.lat, arrive.lon, arrive.accuracy_m) if arrive and arrive.lat is not None else None,
        on_site_from=arrive.at if arrive else None,
        completed_at=order.completed_at,
        photos=[
            PhotoSignals(
                photo_id=p.id,
                source=p.source,
                taken_at=p.exif_taken_at,
                gps=(p.exif_lat, p.exif_lon) if p.exif_lat is not None else None,
                device=(p.device_lat, p.device_lon, p.device_accuracy_m) if p.device_lat is not None else None,
                exact_copy_of_orders=uploads.get(p.id, {}).get("exact_copy_of_orders", []),
                near_copy_of_orders=sorted({c["order_id"] for c in uploads.get(p.id, {}).get("near_copies", [])}),
            )
            for p in photos
        ],  # fmt: skip
        photos_required=order.proof_photos_required,
        customer_confirmed=_callback_confirmation(session, order),
    )


def _callback_confirmation(session: Session, order: WorkOrder) -> bool | None:
    """What the latest reached callback of this visit says about the visit itself."""
    call = session.scalar(
        select(Callback)
        .where(Callback.order_id == order.id, Callback.visit == order.visit_count, Callback.reached.is_(True))
        .order_by(Callback.at.desc(), Callback.id.desc())
        .limit(1)
    )
    if call is None:
        return None
    if NO_VISIT in (call.problems or []):
        return False
    return True if call.resolved else None


def recompute(session: Session, order: WorkOrder, now: datetime | None = None) -> AuthenticityVerdict:
    """Assess the order's current visit and store the verdict (in the caller's transaction).
    A new visit or new evidence clears an earlier review decision."""
    verdict = assess(gather(session, order))
    row = session.get(AuthenticityVerdict, order.id)
    if row is None:
        row = AuthenticityVerdict(order_id=order.id)
        session.add(row)
    changed = (row.status, row.reasons, row.visit) != (verdict.status, verdict.reasons, order.visit_count)
    row.visit, row.status, row.reasons, row.computed_at = (
        order.visit_count,
        verdict.status,
        verdict.reasons,
        now or utcnow(),
    )
    if changed:
        row.review_decision = row.reviewed_by_id = row.reviewed_at = row.review_note = None
    return row


def review(
    session: Session, order_id: int, decision: str, actor: Actor, note: str | None = None
) -> AuthenticityVerdict:
    """A reviewer confirms the service happened or rejects it; the decision is an event."""
    if actor.role not in STAFF_ROLES:
        raise Conflict("only reviewers decide on authenticity")
    if decision not in ("confirmed", "rejected"):
        raise ValidationFailed({"decision": "must be confirmed or rejected"})
    with unit_of_work(session):
        row = session.get(AuthenticityVerdict, order_id)
        order = session.get(WorkOrder, order_id)
        if row is None or order is None:
            raise NotFound(f"no authenticity verdict for work order {order_id}")
        if row.status == "verified":
            raise Conflict("a verified order needs no review")
        row.review_decision, row.reviewed_by_id, row.reviewed_at = decision, actor.user_id, utcnow()
        row.review_note = (note or "").strip()[:500] or None
        record_event(session, order, "authenticity_review", actor, from_status=order.status, to_status=order.status,
                     data={"decision": decision, "verdict": row.status, "note": row.review_note})  # fmt: skip
    return row


# --- read models for the reviewer's page ----------------------------------------------


def review_orders(session: Session, actor: Actor, page: int = 1, per_page: int = 20) -> Page:
    """The review queue as the actor may see it (their outlet's orders): a page of
    (order, verdict) pairs, oldest verdict first."""
    query = (
        scope_orders(select(WorkOrder), actor)
        .join(AuthenticityVerdict, AuthenticityVerdict.order_id == WorkOrder.id)
        .where(AuthenticityVerdict.status.in_(["doubtful", "failed"]), AuthenticityVerdict.review_decision.is_(None))
        .options(selectinload(WorkOrder.technician), selectinload(WorkOrder.outlet))
        .order_by(AuthenticityVerdict.computed_at, WorkOrder.id)
    )
    orders = paginate(session, query, page, per_page)
    verdicts = {
        v.order_id: v
        for v in session.scalars(
            select(AuthenticityVerdict).where(AuthenticityVerdict.order_id.in_([o.id for o in orders.items]))
        )
    }
    return Page([(o, verdicts[o.id]) for o in orders.items], orders.page, orders.per_page, orders.total)


@dataclass(frozen=True)
class Match:
    """An earlier photo on another order that one of this order's photos copies."""

    photo: Photo
    order_number: str
    distance: int | None  # bits of perceptual hash apart; None for a byte-for-byte copy


@dataclass(frozen=True)
class ReviewCase:
    order: WorkOrder
    verdict: AuthenticityVerdict
    photos: list[Photo]
    matches: dict[int, list[Match]]  # this order's photo id → the copies it matches
    checkin: tuple[float, float, float | None] | None
    arrived_at: datetime | None
    order_numbers: dict[int, str]  # every order the evidence names, by id

    def evidence_photo_ids(self) -> set[int]:
        return {p.id for p in self.photos} | {m.photo.id for ms in self.matches.values() for m in ms}


def review_case(session: Session, order: WorkOrder) -> ReviewCase:
    """Everything a reviewer weighs for one order's current visit: its photos beside the
    earlier photos they match (from the upload's reuse evidence), and the check-in."""
    verdict = session.get(AuthenticityVerdict, order.id)
    if verdict is None:
        raise NotFound(f"no authenticity verdict for work order {order.id}")
    events = list(
        session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id == order.id).order_by(WorkOrderEvent.seq))
    )
    returns = [e.seq for e in events if e.kind == "return"]  # visit n lies between return n-1 and return n
    start = returns[verdict.visit - 2] if verdict.visit >= 2 else 0
    end = returns[verdict.visit - 1] if len(returns) >= verdict.visit else float("inf")
    current = [e for e in events if start < e.seq < end]
    arrive = next((e for e in reversed(current) if e.kind == "arrive"), None)
    photos = list(
        session.scalars(
            select(Photo).where(Photo.order_id == order.id, Photo.visit == verdict.visit).order_by(Photo.id)
        )
    )
    uploads = {e.data.get("photo_id"): e.data for e in events if e.kind == "photo"}
    copies: dict[int, list[tuple[Photo, int | None]]] = {}  # photo id → (earlier photo, distance)
    for p in photos:
        found: list[tuple[Photo, int | None]] = []
        evidence = uploads.get(p.id, {})
        if evidence.get("exact_copy_of_orders"):
            found += [
                (q, None)
                for q in session.scalars(
                    select(Photo)
                    .where(Photo.sha256 == p.sha256, Photo.order_id.in_(evidence["exact_copy_of_orders"]))
                    .order_by(Photo.id)
                )
            ]
        seen = {q.id for q, _ in found}
        for near in evidence.get("near_copies", []):
            q = session.get(Photo, near["photo_id"])
            if q is not None and q.id not in seen:
                found.append((q, near["distance"]))
        if found:
            copies[p.id] = found
    named = {q.order_id for found in copies.values() for q, _ in found}
    named |= {i for r in verdict.reasons for i in r.get("orders", [])}
    numbers = dict(session.execute(select(WorkOrder.id, WorkOrder.number).where(WorkOrder.id.in_(named))).all())
    matches = {pid: [Match(q, numbers.get(q.order_id, "?"), d) for q, d in found] for pid, found in copies.items()}
    return ReviewCase(
        order=order, verdict=verdict, photos=photos, matches=matches,
        checkin=(arrive.lat, arrive.lon, arrive.accuracy_m) if arrive and arrive.lat is not None else None,
        arrived_at=arrive.at if arrive else None, order_numbers=numbers,
    )  # fmt: skip
