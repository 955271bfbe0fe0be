"""Customers' personal data: who sees a full phone number, the audit of every look at a
customer's file, and the retention sweep that anonymizes customers long done with us.

- Full phone numbers go to those who call customers: admins, dispatchers, and the technician
  the order is assigned to. Everyone else (managers reviewing numbers) gets them masked.
- Opening a customer's file (name, phone, address, every order) is recorded in the audit log
  with who looked and when.
- With a retention period set (RETENTION_MONTHS), customers whose orders all ended longer ago
  than that lose name, phone and address; their orders keep what the KPIs need (dates,
  statuses, scores) with the contact fields blanked and the location coarsened to ~1 km.
  Everything typed about them goes too, wherever it was kept: notes, reasons, comments and
  summaries in the records and in the events' data, the geocoder's cache of their address,
  and the photos' metadata (GPS, comments) in every stored file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from core.accounts import DISPATCH_ROLES, SYSTEM, Actor
from core.audit import record_change
from core.db import transactional, utcnow
from dispatch.geocoding import normalise_address
from dispatch.lifecycle import Status
from dispatch.models import (
    AuthenticityVerdict,
    Callback,
    Compensation,
    Complaint,
    Customer,
    GeocodeCacheEntry,
    IdempotencyKey,
    Notification,
    Photo,
    Survey,
    WorkOrder,
    WorkOrderEvent,
)
from dispatch.permissions import is_own_technician
from dispatch.photos import LocalStore, S3Store
from dispatch.photos.metadata import without_personal_metadata

log = logging.getLogger(__name__)
CONTACT_ROLES = DISPATCH_ROLES | {SYSTEM}  # those who call customers
ENDED = (Status.CLOSED.value, Status.CANCELLED.value)
# Keys of event data that can carry what a customer, a technician or staff typed about the
# customer: the customer's note (`text`) and cancel reason, every move's reason, completion
# notes, complaint summaries and compensation reasons.
PERSONAL_EVENT_KEYS = (
    "note", "comment", "contact_name", "contact_phone", "address", "name", "phone",
    "text", "reason", "notes", "fee_note", "summary",
)  # fmt: skip
ANONYMIZED = "—"


def mask_phone(phone: str | None) -> str | None:
    """'+8613912345678' → '139****5678': enough to tell two customers apart, not to call."""
    if not phone:
        return phone
    national = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(national) <= 4:
        return "*" * len(national)
    return national[:3] + "*" * max(len(national) - 7, 1) + national[-4:]


def sees_contact(actor: Actor, order: WorkOrder | None = None) -> bool:
    """Whether `actor` gets the customer's full phone number (for `order`, if given)."""
    if actor.role in CONTACT_ROLES:
        return True
    return order is not None and is_own_technician(actor, order)


@transactional
def record_customer_view(session: Session, actor: Actor, customer_id: int, where: str) -> None:
    """Audit one look at a customer's full file by staff."""
    record_change(session, actor.user_id, "customer", customer_id, "view", {"where": [None, where]})


@dataclass(frozen=True)
class RetentionResult:
    customers: int
    orders: int


def _stale_customers(session: Session, cutoff: datetime, limit: int) -> list[int]:
    last_event = (
        select(WorkOrder.customer_id, func.max(WorkOrderEvent.at).label("last_at"))
        .join(WorkOrderEvent, WorkOrderEvent.order_id == WorkOrder.id)
        .group_by(WorkOrder.customer_id)
        .subquery()
    )
    still_open = select(WorkOrder.id).where(WorkOrder.customer_id == Customer.id, WorkOrder.status.not_in(ENDED))
    query = (
        select(Customer.id)
        .join(last_event, last_event.c.customer_id == Customer.id)
        .where(Customer.anonymized_at.is_(None), last_event.c.last_at < cutoff, ~still_open.exists())
        .order_by(Customer.id)
        .limit(limit)
    )
    return list(session.scalars(query))


@transactional
def anonymize_stale_customers(
    session: Session, months: int, now: datetime | None = None, batch: int = 500, *, store: LocalStore | S3Store
) -> RetentionResult:
    """Anonymize up to `batch` customers whose orders all ended more than `months` ago, their
    orders' photos in `store` included."""
    if months <= 0:
        return RetentionResult(0, 0)
    now = now or utcnow()
    customer_ids = _stale_customers(session, now - timedelta(days=30.44 * months), batch)
    if not customer_ids:
        return RetentionResult(0, 0)
    order_ids = list(session.scalars(select(WorkOrder.id).where(WorkOrder.customer_id.in_(customer_ids))))
    addresses = set(session.scalars(select(Customer.address).where(Customer.id.in_(customer_ids))))
    addresses |= set(session.scalars(select(WorkOrder.address).where(WorkOrder.id.in_(order_ids))))
    for customer in session.scalars(select(Customer).where(Customer.id.in_(customer_ids))):
        customer.name = ANONYMIZED
        customer.phone = f"anon-{customer.id}"
        customer.address = ""
        customer.lat = customer.lon = None
        customer.anonymized_at = now
    for order in session.scalars(select(WorkOrder).where(WorkOrder.id.in_(order_ids))):
        order.contact_name = ANONYMIZED
        order.contact_phone = f"anon-{order.customer_id}"
        order.address = ""
        order.description = ""
        order.lat = round(order.lat, 2) if order.lat is not None else None
        order.lon = round(order.lon, 2) if order.lon is not None else None
    session.execute(
        update(Photo)
        .where(Photo.order_id.in_(order_ids))
        .values(exif_lat=None, exif_lon=None, device_lat=None, device_lon=None)
    )
    session.execute(update(Survey).where(Survey.order_id.in_(order_ids)).values(comment=""))
    session.execute(update(Callback).where(Callback.order_id.in_(order_ids)).values(note=""))
    session.execute(update(Complaint).where(Complaint.order_id.in_(order_ids)).values(summary=""))
    complaints = select(Complaint.id).where(Complaint.order_id.in_(order_ids)).scalar_subquery()
    session.execute(update(Compensation).where(Compensation.complaint_id.in_(complaints)).values(reason=ANONYMIZED))
    session.execute(
        update(AuthenticityVerdict)
        .where(AuthenticityVerdict.order_id.in_(order_ids), AuthenticityVerdict.review_note.is_not(None))
        .values(review_note=ANONYMIZED)
    )
    # The request fingerprints are digests of the customer's request; their work is long done.
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.order_id.in_(order_ids)))
    _forget_geocoded(session, addresses)
    session.execute(
        update(Notification).where(Notification.order_id.in_(order_ids)).values(recipient=ANONYMIZED, body="")
    )
    for event in session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.order_id.in_(order_ids))):
        if event.lat is not None:
            event.lat, event.lon = round(event.lat, 2), round(event.lon, 2)
        if any(key in (event.data or {}) for key in PERSONAL_EVENT_KEYS):
            event.data = {k: (ANONYMIZED if k in PERSONAL_EVENT_KEYS else v) for k, v in event.data.items()}
    # Last, so that a store that fails leaves the whole batch for the next run.
    _strip_photos(session, order_ids, store)
    record_change(session, None, "retention", 0, "anonymize", {"customers": [None, len(customer_ids)]})
    return RetentionResult(len(customer_ids), len(order_ids))


def _forget_geocoded(session: Session, addresses: set[str]) -> None:
    """Drop the geocoder's cached answers for these addresses (a key is `provider:address`
    or `provider:address|city`, whatever the provider and city were)."""
    for address in filter(None, (normalise_address(a) for a in addresses if a)):
        session.execute(
            delete(GeocodeCacheEntry).where(
                or_(
                    GeocodeCacheEntry.key.endswith(f":{address}", autoescape=True),
                    GeocodeCacheEntry.key.contains(f":{address}|", autoescape=True),
                )
            )
        )


def _strip_photos(session: Session, order_ids: list[int], store: LocalStore | S3Store) -> None:
    """Write every file of the orders' photos again without personal metadata (GPS, comments):
    the original kept as evidence as well as the copies everyone views. Same keys, so the
    records stay as they are."""
    rows = session.execute(
        select(Photo.id, Photo.original_key, Photo.view_key, Photo.thumb_key).where(Photo.order_id.in_(order_ids))
    )
    for photo_id, *keys in rows:
        for key in keys:
            try:
                data = store.get(key)
            except FileNotFoundError:
                log.warning("retention: photo %s has no file %s", photo_id, key)
                continue
            try:
                clean = without_personal_metadata(data)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                # Stored files were checked on upload; one that no longer reads is reported, not guessed at.
                log.warning("retention: photo %s file %s could not be read to rewrite it: %s", photo_id, key, exc)
                continue
            store.put(key, clean)  # a store that fails raises: the batch is rolled back and runs again
