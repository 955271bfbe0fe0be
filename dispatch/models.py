"""Tables of the dispatch side: customers, work orders and their append-only event trail."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, BigId, utcnow
from dispatch.sla.policy import WARN_RATIO
from technicians.models import Outlet, Technician


class Customer(Base):
    """A customer is known by phone number (E.164); their orders are one query away."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(255), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the retention sweep replaced name, phone and address (see dispatch/privacy.py).
    anonymized_at: Mapped[datetime | None]

    orders: Mapped[list[WorkOrder]] = relationship(back_populates="customer", order_by="WorkOrder.id.desc()")


class WorkOrder(Base):
    __tablename__ = "work_orders"
    __table_args__ = (
        Index("ix_work_orders_status_due", "status", "due_at"),
        Index("ix_work_orders_tech_status", "technician_id", "status"),
        Index("ix_work_orders_outlet_status", "outlet_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    contact_name: Mapped[str] = mapped_column(String(100))
    contact_phone: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(255))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    # ok: located; pending: not tried yet; failed: the geocoder could not answer (retry
    # later); not_found: it answered with no match (a person must pick the place).
    geocode_status: Mapped[str] = mapped_column(String(16), default="ok")
    product_category: Mapped[str] = mapped_column(String(32))
    product_model: Mapped[str] = mapped_column(String(100), default="")
    issue_category: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    required_skill: Mapped[str] = mapped_column(ForeignKey("skills.code"))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    appointment_start: Mapped[datetime | None]
    appointment_end: Mapped[datetime | None]
    in_warranty: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="new")
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id"))
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technicians.id"))
    # A dispatcher's manual choice: the optimizer keeps it until released.
    assignment_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    contacted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    visit_count: Mapped[int] = mapped_column(Integer, default=1)
    # The customer's tracking link: only its SHA-256 is stored; it stops working once the
    # order has been closed for a grace period.
    tracking_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    tracking_expires_at: Mapped[datetime | None]
    # Proof photos the completion of each visit needs (set at intake from the job type).
    proof_photos_required: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="orders")
    technician: Mapped[Technician | None] = relationship()
    outlet: Mapped[Outlet | None] = relationship()

    # Optimistic locking: every UPDATE says "WHERE version = <the one I read>", so two
    # writers racing on one order cannot both succeed.
    __mapper_args__ = {"version_id_col": version}


class WorkOrderEvent(Base):
    """The audit trail and the live board's feed. Never updated, never deleted.

    `seq` is global and strictly increasing in commit order (see `core.db.next_value`), so a
    board that has applied everything up to N can ask for `seq > N` and miss nothing.
    """

    __tablename__ = "work_order_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)


class IdempotencyKey(Base):
    """A client's retry key for intake: the same key returns the same order."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))  # whose key: "user:<id>" or "public"
    key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical request
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GeocodeCacheEntry(Base):
    __tablename__ = "geocode_cache"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    formatted: Mapped[str] = mapped_column(String(300))
    provider: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanProposal(Base):
    """A re-optimisation the dispatcher reviews before applying; it remembers the version of
    every order it saw, so applying touches only orders nobody changed since."""

    __tablename__ = "plan_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id"))
    status: Mapped[str] = mapped_column(String(16), default="proposed")  # proposed, applied, superseded
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    applied_at: Mapped[datetime | None]


class PartsRequest(Base):
    """A part the technician found missing on site (待件): what, how many, when it is expected,
    and when it arrived (then the order is planned again)."""

    __tablename__ = "parts_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    visit: Mapped[int] = mapped_column(Integer)
    part: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    expected_on: Mapped[date]
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    arrived_at: Mapped[datetime | None]
    arrived_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RouteStop(Base):
    """Where an order stands in its technician's day as last planned, and its ETA.

    Kept apart from the order so that re-planning (which happens often) never bumps the
    order's version and never makes a technician's next tap a conflict. A technician's stops
    are always one plan (`dispatch.planning.replace_route`); one slot holds one order, which
    the unique constraint enforces against concurrent planners.
    """

    __tablename__ = "route_stops"
    __table_args__ = (UniqueConstraint("technician_id", "seq"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), primary_key=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    eta: Mapped[datetime | None]
    planned_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderForecast(Base):
    """An open order's forecast chance of missing its promise (simulation/forecast.py), as last
    computed by the scheduler; all rows are replaced together at each refresh."""

    __tablename__ = "order_forecasts"

    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), primary_key=True)
    p_miss: Mapped[float] = mapped_column(Float)
    promise: Mapped[str] = mapped_column(String(16))  # "due" (the 24-hour promise) or "appointment"
    seeds: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime]


class SlaRule(Base):
    """An SLA policy an admin edits: which orders it covers and each clock's limit.

    A rule covers the orders matching every field it sets (priority, issue category,
    channel); the most specific active rule wins. A clock left empty is not tracked.
    """

    __tablename__ = "sla_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[str | None] = mapped_column(String(8))
    issue_category: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16))
    contact_minutes: Mapped[int | None] = mapped_column(Integer)
    arrival_minutes: Mapped[int | None] = mapped_column(Integer)
    completion_minutes: Mapped[int | None] = mapped_column(Integer)
    callback_minutes: Mapped[int | None] = mapped_column(Integer)
    warn_ratio: Mapped[float] = mapped_column(Float, default=WARN_RATIO)
    # Count only the outlet's opening hours (a deadline pauses overnight).
    pause_overnight: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SlaClock(Base):
    """One running deadline of one order. The sweep marks `warned_at` and `breached_at` with
    conditional updates, so each warning and breach is recorded exactly once however often,
    however late, and in however many processes the sweep runs."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        Index(
            "ix_sla_clocks_pending_warning", "warn_at",
            sqlite_where=text("warned_at IS NULL AND stopped_at IS NULL"),
            postgresql_where=text("warned_at IS NULL AND stopped_at IS NULL"),
        ),
        Index(
            "ix_sla_clocks_pending_breach", "due_at",
            sqlite_where=text("breached_at IS NULL AND stopped_at IS NULL"),
            postgresql_where=text("breached_at IS NULL AND stopped_at IS NULL"),
        ),
    )  # fmt: skip

    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), primary_key=True)
    clock: Mapped[str] = mapped_column(String(16), primary_key=True)
    started_at: Mapped[datetime]
    warn_at: Mapped[datetime]
    due_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    warned_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]


class Notification(Base):
    """The outbox: a notice to deliver outside the app, at least once, deduplicated.

    Rows are written in the same transaction as the event that causes them; a delivery job
    sends them and retries with back-off. `dedup_key` makes a second enqueue of the same
    notice a no-op and travels with the message (Idempotency-Key) so receivers can drop a
    repeat delivery after a crash between sending and marking sent.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))  # sms, wechat, email, webhook
    recipient: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


class Photo(Base):
    """A proof photo: the original kept as received, a re-encoded copy without EXIF for
    viewing, and the signals the authenticity checks use."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    visit: Mapped[int] = mapped_column(Integer, default=1)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    phash: Mapped[int] = mapped_column(BigInteger)  # 64-bit perceptual hash, signed
    image_format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(8))  # camera or gallery
    original_key: Mapped[str] = mapped_column(String(200))
    view_key: Mapped[str] = mapped_column(String(200))
    thumb_key: Mapped[str] = mapped_column(String(200))
    exif_taken_at: Mapped[datetime | None]
    exif_lat: Mapped[float | None] = mapped_column(Float)
    exif_lon: Mapped[float | None] = mapped_column(Float)
    device_lat: Mapped[float | None] = mapped_column(Float)
    device_lon: Mapped[float | None] = mapped_column(Float)
    device_accuracy_m: Mapped[float | None] = mapped_column(Float)


class AuthenticityVerdict(Base):
    """Whether an order's recorded service really happened, with the reasons: recomputed
    whenever its photos or completion change; a reviewer's decision is kept beside it."""

    __tablename__ = "authenticity_verdicts"

    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), primary_key=True)
    visit: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), index=True)  # verified, doubtful, failed
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    review_decision: Mapped[str | None] = mapped_column(String(12))  # confirmed, rejected
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(String(500))


class Survey(Base):
    """The customer's answer after a visit: fixed or not, a score, a comment. An answer that
    comes from the technician's own session or network is kept but flagged, not counted."""

    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("order_id", "visit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    visit: Mapped[int] = mapped_column(Integer)
    fixed: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str | None] = mapped_column(String(100))


class Callback(Base):
    """A review clerk's call to the customer after a visit (回访)."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    visit: Mapped[int] = mapped_column(Integer)
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reached: Mapped[bool] = mapped_column(Boolean)
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    score: Mapped[int | None] = mapped_column(Integer)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    retry_at: Mapped[datetime | None]


class KpiWeights(Base):
    """The composite score's weights; a new version for every change, so a past month keeps
    the weights it was scored with."""

    __tablename__ = "kpi_weights"

    version: Mapped[int] = mapped_column(primary_key=True)
    weights: Mapped[dict[str, float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class KpiRiskThresholds(Base):
    """The risk watch's thresholds (dispatch/kpis/settings.py RISK_DEFAULTS): a new version for every
    change, kept with who made it and when — the setting's own audit trail."""

    __tablename__ = "kpi_risk_thresholds"

    version: Mapped[int] = mapped_column(primary_key=True)
    thresholds: Mapped[dict[str, float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class KpiSnapshot(Base):
    """A closed month's figures, frozen: later edits to old orders do not change them."""

    __tablename__ = "kpi_snapshots"
    __table_args__ = (UniqueConstraint("month", "by", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    by: Mapped[str] = mapped_column(String(12))
    key: Mapped[int | None] = mapped_column(Integer)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    weights_version: Mapped[int | None] = mapped_column(ForeignKey("kpi_weights.version"))
    closed_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderKpiFacts(Base):
    """One counted order's KPI facts (dispatch/kpis/stored.py): what `order_facts` derives from
    its events, clocks, photos, verdicts, surveys and callbacks, written in the transaction that
    changes them. What `now` decides is kept as instants (`open` orders are pending until
    `intake_at` + 24 h, an awaited score until `callback_due_at`, a repair that has not come back
    until `finished_at` + REPEAT_DAYS), compared with the clock when the month is read."""

    __tablename__ = "order_kpi_facts"
    __table_args__ = (Index("ix_order_kpi_facts_intake", "intake_at"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), primary_key=True)
    technician_id: Mapped[int | None] = mapped_column(Integer)
    outlet_id: Mapped[int | None] = mapped_column(Integer)
    intake_at: Mapped[datetime]
    completed: Mapped[int] = mapped_column(Integer)
    within_24h: Mapped[int] = mapped_column(Integer)
    score: Mapped[int | None] = mapped_column(Integer)
    compliant: Mapped[int] = mapped_column(Integer)
    authentic: Mapped[int] = mapped_column(Integer)
    returned: Mapped[int] = mapped_column(Integer)
    repair: Mapped[int] = mapped_column(Integer)
    repeated: Mapped[int] = mapped_column(Integer)
    open: Mapped[int] = mapped_column(Integer)  # neither completed nor cancelled
    callback_due_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Complaint(Base):
    """A complaint about an order (首问负责): the first staff member who took it owns it to
    the end; ownership moves only by an explicit, recorded transfer. Its four clocks are
    `sla_clocks` rows (see dispatch/complaints.py)."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_status_level", "status", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), unique=True)
    source: Mapped[str] = mapped_column(String(12))  # intake (category complaint) or escalated
    summary: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(16), default="staff")  # staff, outlet_manager, region
    status: Mapped[str] = mapped_column(String(8), default="open")  # open, closed
    contacted_at: Mapped[datetime | None]
    plan_at: Mapped[datetime | None]
    agreed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    order: Mapped[WorkOrder] = relationship()
    compensations: Mapped[list[Compensation]] = relationship(back_populates="complaint", order_by="Compensation.id")


class Compensation(Base):
    """Money paid to a customer over a complaint (CNY). Small claims may be paid first by
    the platform (先行赔付) and settled with the outlet later."""

    __tablename__ = "compensations"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    reason: Mapped[str] = mapped_column(Text)
    paid_first: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, approved
    settled_with_outlet: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    settled_at: Mapped[datetime | None]

    complaint: Mapped[Complaint] = relationship(back_populates="compensations")
