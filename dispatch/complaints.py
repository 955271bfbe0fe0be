"""Complaints (投诉) on work orders, and the compensation paid over them.

The practice (DOMAIN.md): whoever first took the complaint owns it to the end (首问负责);
it goes up staff → outlet manager → region when it cannot be settled; the customer is
contacted within 20 minutes, given a plan within 24 hours, an agreement within 5 days and
everything is finished within 30 days; small claims are paid first by the platform and
settled with the outlet later (先行赔付).

The four clocks are ordinary `sla_clocks` rows, so the SLA sweep warns and breaches them
like every other clock. Each use case commits once; every step is an event on the order's
trail, announced after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts import SENIOR_ROLES, STAFF_ROLES, Actor, User
from core.db import unit_of_work, utcnow
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.pagination import Page, paginate
from dispatch.events import record_event
from dispatch.models import Compensation, Complaint, SlaClock, WorkOrder, WorkOrderEvent
from dispatch.moves import get_order
from dispatch.notify import NotifySettings, enqueue, settlement_notices
from dispatch.permissions import covering_users, covers_outlet, scope_orders
from dispatch.sla.policy import WARN_RATIO, deadline

LEVELS = ("staff", "outlet_manager", "region")
# Each milestone stops its clock (and any earlier one still running).
MILESTONES = ("contacted", "plan", "agreement", "closed")
CLOCK_OF = {"contacted": "cmp_contact", "plan": "cmp_plan", "agreement": "cmp_agreement", "closed": "cmp_closure"}
FIELD_OF = {"contacted": "contacted_at", "plan": "plan_at", "agreement": "agreed_at", "closed": "closed_at"}
COMPLAINT_CLOCKS = tuple(CLOCK_OF.values())
STATUSES = ("open", "closed")
STAFF = STAFF_ROLES
SENIOR = SENIOR_ROLES  # approve any claim, act on anyone's complaint
MAX_AMOUNT = Decimal("100000.00")
MAX_TEXT = 2000


@dataclass(frozen=True)
class ComplaintPolicy:
    """The practice's limits as configuration (minutes), and the small-claim limit (CNY)
    at or under which a dispatcher approves a compensation at once."""

    contact_minutes: float = 20
    plan_minutes: float = 24 * 60
    agreement_minutes: float = 5 * 24 * 60
    closure_minutes: float = 30 * 24 * 60
    warn_ratio: float = WARN_RATIO
    small_claim_limit: Decimal = Decimal("200")
    # Where the outlet hears that it has a paid-first compensation to settle (none: nowhere).
    notify: NotifySettings | None = None

    def minutes(self, milestone: str) -> float:
        return {
            "contacted": self.contact_minutes,
            "plan": self.plan_minutes,
            "agreement": self.agreement_minutes,
            "closed": self.closure_minutes,
        }[milestone]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ComplaintPolicy:
        clocks = {**{"contact": cls.contact_minutes, "plan": cls.plan_minutes, "agreement": cls.agreement_minutes,
                     "closure": cls.closure_minutes}, **(config.get("COMPLAINT_CLOCK_MINUTES") or {})}  # fmt: skip
        return cls(
            contact_minutes=float(clocks["contact"]),
            plan_minutes=float(clocks["plan"]),
            agreement_minutes=float(clocks["agreement"]),
            closure_minutes=float(clocks["closure"]),
            warn_ratio=float(config.get("SLA_WARN_RATIO", WARN_RATIO)),
            small_claim_limit=Decimal(str(config.get("COMPENSATION_SMALL_CLAIM_LIMIT", cls.small_claim_limit))),
            notify=NotifySettings.from_config(config),
        )


def may_approve(role: str, amount: Decimal, limit: Decimal, already: Decimal = Decimal(0)) -> bool:
    """A dispatcher approves small claims at once: everything dispatchers approve on one
    complaint, `already` approved plus this `amount`, stays at or under the limit (five
    approvals of ¥200 are ¥1,000, not five small claims). Anything more needs a manager or
    an admin."""
    return role in SENIOR or (role == "dispatcher" and already + amount <= limit)


def approved_by_dispatchers(session: Session, complaint: Complaint) -> Decimal:
    """What dispatchers have approved so far on the complaint. Who approved in which role is
    on the trail (`compensation_approved` events keep the approver's role at the time), so a
    dispatcher promoted later does not turn their approvals into a manager's."""
    rows = session.execute(
        select(Compensation.id, Compensation.amount).where(
            Compensation.complaint_id == complaint.id, Compensation.status == "approved"
        )
    )
    approved = {cid: amount for cid, amount in rows}
    if not approved:
        return Decimal("0.00")
    by_dispatchers = {
        data.get("compensation_id")
        for data in session.scalars(
            select(WorkOrderEvent.data).where(
                WorkOrderEvent.order_id == complaint.order_id,
                WorkOrderEvent.kind == "compensation_approved",
                WorkOrderEvent.actor_role == "dispatcher",
            )
        )
    }
    return sum((amount for cid, amount in approved.items() if cid in by_dispatchers), Decimal("0.00"))


def check_may_approve(session: Session, actor: Actor, complaint: Complaint, amount: Decimal, limit: Decimal) -> None:
    """Refuse an approval above the actor's limit, saying the limit and what dispatchers
    already approved on this complaint."""
    already = approved_by_dispatchers(session, complaint) if actor.role == "dispatcher" else Decimal(0)
    if may_approve(actor.role, amount, limit, already):
        return
    if already > 0:
        raise PermissionDenied(
            "dispatchers have already approved ¥%(already)s on this complaint; another ¥%(amount)s would take it "
            "above the small-claim limit of ¥%(limit)s: a manager approves it",
            params={"already": already, "amount": amount, "limit": limit},
        )
    raise PermissionDenied(
        "¥%(amount)s is above the small-claim limit of ¥%(limit)s: a manager approves it",
        params={"amount": amount, "limit": limit},
    )


def check_amount(raw: Any) -> Decimal:
    """A positive amount in yuan with at most two decimals, up to MAX_AMOUNT."""
    try:
        amount = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise ValidationFailed({"amount": "must be a number of yuan, e.g. 150.00"}) from None
    if not amount.is_finite():
        raise ValidationFailed({"amount": "must be a number of yuan, e.g. 150.00"})
    if amount <= 0:
        raise ValidationFailed({"amount": "must be more than 0"})
    if amount > MAX_AMOUNT:
        raise ValidationFailed({"amount": f"must be at most {MAX_AMOUNT} CNY"})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed({"amount": "may have at most two decimals (fen)"})
    return amount.quantize(Decimal("0.01"))


def _text(name: str, value: str | None, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed({name: "is required"})
    if len(value) > MAX_TEXT:
        raise ValidationFailed({name: f"must be at most {MAX_TEXT} characters"})
    return value


# --- reading ------------------------------------------------------------------------


def complaint_of(session: Session, order_id: int, actor: Actor) -> Complaint:
    """The order's complaint, if the actor may see the order and it has one."""
    order = get_order(session, order_id, actor)
    complaint = session.scalar(select(Complaint).where(Complaint.order_id == order.id))
    if complaint is None:
        raise NotFound(f"work order {order.number} has no complaint")
    return complaint


def complaint_clocks(session: Session, order_id: int) -> list[SlaClock]:
    return list(
        session.scalars(
            select(SlaClock)
            .where(SlaClock.order_id == order_id, SlaClock.clock.in_(COMPLAINT_CLOCKS))
            .order_by(SlaClock.due_at)
        )
    )


def list_complaints(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    level: str | None = None,
    outlet_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Complaints on the orders the actor may see (an outlet's dispatcher: that outlet's),
    oldest open first."""
    query = select(Complaint).join(WorkOrder, WorkOrder.id == Complaint.order_id)
    query = scope_orders(query, actor)
    if status is not None:
        query = query.where(Complaint.status == status)
    if level is not None:
        query = query.where(Complaint.level == level)
    if outlet_id is not None:
        query = query.where(WorkOrder.outlet_id == outlet_id)
    query = query.order_by(Complaint.status.desc(), Complaint.opened_at, Complaint.id)
    return paginate(session, query, page, per_page)


def staff_names(session: Session, user_ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return {u.id: u.display_name or u.username for u in session.scalars(select(User).where(User.id.in_(ids)))}


@dataclass(frozen=True)
class Panel:
    """What the order page shows about the order's complaint."""

    complaint: Complaint | None
    clocks: list[SlaClock]
    names: dict[int, str]
    candidates: list[User]  # who could take it over


def panel(session: Session, order: WorkOrder) -> Panel:
    complaint = session.scalar(select(Complaint).where(Complaint.order_id == order.id))
    if complaint is None:
        return Panel(None, [], {}, [])
    candidates = list(
        session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_(STAFF), User.id != complaint.owner_id)
            .where(covering_users(order.outlet_id))
            .order_by(User.username)
        )
    )
    people = {complaint.owner_id, *(m.created_by_id for m in complaint.compensations)}
    return Panel(complaint, complaint_clocks(session, order.id), staff_names(session, people), candidates)


# --- writing ------------------------------------------------------------------------


def _locked(session: Session, order_id: int, actor: Actor) -> tuple[WorkOrder, Complaint]:
    order = get_order(session, order_id, actor)
    complaint = session.scalar(select(Complaint).where(Complaint.order_id == order.id).with_for_update())
    if complaint is None:
        raise NotFound(f"work order {order.number} has no complaint")
    return order, complaint


def _check_staff(actor: Actor) -> None:
    if actor.role not in STAFF:
        raise PermissionDenied("complaints are handled by dispatchers, managers and admins")


def _check_owner_or_senior(actor: Actor, complaint: Complaint, what: str) -> None:
    if actor.user_id != complaint.owner_id and actor.role not in SENIOR:
        raise PermissionDenied(f"only the complaint's owner or a manager may {what}")


def _step(session: Session, order: WorkOrder, kind: str, actor: Actor, data: dict[str, Any], now: datetime) -> None:
    record_event(session, order, kind, actor, from_status=order.status, to_status=order.status, data=data, at=now)


def open_complaint(
    session: Session,
    order_id: int,
    actor: Actor,
    policy: ComplaintPolicy,
    *,
    summary: str = "",
    now: datetime | None = None,
) -> Complaint:
    """Open the order's complaint. An order taken in as a complaint by a staff member was
    opened at intake (`open_at_intake`); one a customer sent in without one is owned by the
    first staff member who takes it, its clocks running since intake. Any other order
    escalated to a complaint is owned by whoever escalates it, its clocks from now."""
    now = now or utcnow()
    _check_staff(actor)
    summary = _text("summary", summary, required=False)

    def work() -> Complaint:
        order = get_order(session, order_id, actor)
        existing = session.scalar(select(Complaint).where(Complaint.order_id == order.id))
        if existing is not None:
            raise Conflict(f"work order {order.number} already has a complaint (owner #{existing.owner_id})")
        source = "intake" if order.issue_category == "complaint" else "escalated"
        owner_id = actor.user_id
        if source == "intake" and order.created_by_id is not None:
            creator = session.get(User, order.created_by_id)
            if creator is not None and creator.active and creator.role in STAFF:
                owner_id = creator.id  # the first responder, not whoever opens the record
        if owner_id is None:
            raise PermissionDenied("a complaint needs a staff member to own it")
        complaint = Complaint(order_id=order.id, source=source, summary=summary, owner_id=owner_id,
                              opened_by_id=actor.user_id, opened_at=now, level=LEVELS[0], status="open")  # fmt: skip
        session.add(complaint)
        session.flush()
        # A complaint a customer sent in without a staff member has its clocks running
        # since intake already; older orders get them here, from intake for a complaint order.
        _start_clocks(session, order.id, order.created_at if source == "intake" else now, policy)
        _step(session, order, "complaint_opened", actor,
              {"complaint_id": complaint.id, "owner_id": owner_id, "source": source, "level": complaint.level,
               "summary": summary}, now)  # fmt: skip
        return complaint

    try:
        with unit_of_work(session):
            return work()
    except IntegrityError:
        # Two people opened it at the same moment: the first one owns it.
        raise Conflict("this order's complaint was opened by someone else at the same moment") from None


def _start_clocks(session: Session, order_id: int, start: datetime, policy: ComplaintPolicy) -> None:
    """Start the four complaint clocks at `start`, those not already running."""
    running = set(
        session.scalars(
            select(SlaClock.clock).where(SlaClock.order_id == order_id, SlaClock.clock.in_(COMPLAINT_CLOCKS))
        )
    )
    for milestone, clock in CLOCK_OF.items():
        if clock not in running:
            d = deadline(clock, start, policy.minutes(milestone), policy.warn_ratio)
            session.add(SlaClock(order_id=order_id, clock=clock, started_at=start, warn_at=d.warn_at, due_at=d.due_at))


def open_at_intake(session: Session, order: WorkOrder, actor: Actor, policy: ComplaintPolicy) -> Complaint | None:
    """Part of intake, in its transaction: an order taken in as a complaint starts the four
    clocks at once. A staff member who took it in owns it from that moment (首问负责); one a
    customer sent in without one waits, unowned, for the first staff member to take it
    (`open_complaint`), and its clocks run meanwhile."""
    _start_clocks(session, order.id, order.created_at, policy)
    if actor.user_id is None or actor.role not in STAFF:
        return None
    complaint = Complaint(order_id=order.id, source="intake", summary="", owner_id=actor.user_id,
                          opened_by_id=actor.user_id, opened_at=order.created_at, level=LEVELS[0], status="open")  # fmt: skip
    session.add(complaint)
    session.flush()
    _step(session, order, "complaint_opened", actor,
          {"complaint_id": complaint.id, "owner_id": actor.user_id, "source": "intake", "level": complaint.level,
           "summary": ""}, order.created_at)  # fmt: skip
    return complaint


def escalate(
    session: Session, order_id: int, actor: Actor, *, reason: str, level: str | None = None, now: datetime | None = None
) -> Complaint:
    """Take the complaint one level up (or to `level`, which must be higher). The owner
    stays the owner: escalation brings in more authority, it does not hand the case off."""
    now = now or utcnow()
    _check_staff(actor)
    reason = _text("reason", reason, required=True)
    if level is not None and level not in LEVELS:
        raise ValidationFailed({"level": f"must be one of {', '.join(LEVELS)}"})

    def work() -> Complaint:
        order, complaint = _locked(session, order_id, actor)
        if complaint.status != "open":
            raise Conflict("the complaint is closed")
        current = LEVELS.index(complaint.level)
        if current == len(LEVELS) - 1:
            raise Conflict("the complaint is already at the highest level (region)")
        target = level or LEVELS[current + 1]
        if LEVELS.index(target) <= current:
            raise ValidationFailed({"level": f"must be above the current level ({complaint.level})"})
        previous, complaint.level = complaint.level, target
        _step(session, order, "complaint_escalated", actor,
              {"complaint_id": complaint.id, "from": previous, "to": target, "reason": reason}, now)  # fmt: skip
        return complaint

    with unit_of_work(session):
        return work()


def transfer(
    session: Session, order_id: int, actor: Actor, *, to_user_id: int, reason: str, now: datetime | None = None
) -> Complaint:
    """Hand the complaint to another staff member: only its owner or a manager may, with a
    reason, and the new owner must be able to see the order. Recorded on the trail."""
    now = now or utcnow()
    _check_staff(actor)
    reason = _text("reason", reason, required=True)

    def work() -> Complaint:
        order, complaint = _locked(session, order_id, actor)
        _check_owner_or_senior(actor, complaint, "hand it over")
        if complaint.status != "open":
            raise Conflict("the complaint is closed")
        user = session.get(User, to_user_id)
        if user is None or not user.active or user.role not in STAFF:
            raise ValidationFailed({"to_user_id": "must be an active dispatcher, manager or admin"})
        if not covers_outlet(user.outlet_id, order.outlet_id):
            raise ValidationFailed({"to_user_id": f"{user.username} works for another outlet"})
        if user.id == complaint.owner_id:
            raise ValidationFailed({"to_user_id": "already owns this complaint"})
        previous, complaint.owner_id = complaint.owner_id, user.id
        _step(session, order, "complaint_transferred", actor,
              {"complaint_id": complaint.id, "from_owner_id": previous, "to_owner_id": user.id,
               "reason": reason}, now)  # fmt: skip
        return complaint

    with unit_of_work(session):
        return work()


def record_milestone(
    session: Session, order_id: int, actor: Actor, *, milestone: str, note: str = "", now: datetime | None = None
) -> Complaint:
    """Record that the customer was contacted, was given a plan, agreed, or that the case is
    closed. Stops that milestone's clock and any earlier one still running."""
    now = now or utcnow()
    _check_staff(actor)
    if milestone not in MILESTONES:
        raise ValidationFailed({"milestone": f"must be one of {', '.join(MILESTONES)}"})
    note = _text("note", note, required=False)

    def work() -> Complaint:
        order, complaint = _locked(session, order_id, actor)
        _check_owner_or_senior(actor, complaint, "record its progress")
        if complaint.status != "open":
            raise Conflict("the complaint is closed")
        index = MILESTONES.index(milestone)
        reached = [m for m in MILESTONES if getattr(complaint, FIELD_OF[m]) is not None]
        if reached and MILESTONES.index(reached[-1]) >= index:
            raise Conflict(f"the complaint is already past '{milestone}' (last: {reached[-1]})")
        setattr(complaint, FIELD_OF[milestone], now)
        if milestone == "closed":
            complaint.status = "closed"
        session.execute(
            update(SlaClock)
            .where(SlaClock.order_id == order.id, SlaClock.clock.in_([CLOCK_OF[m] for m in MILESTONES[: index + 1]]))
            .where(SlaClock.stopped_at.is_(None))
            .values(stopped_at=now)
            .execution_options(synchronize_session=False)
        )
        _step(session, order, "complaint_milestone", actor,
              {"complaint_id": complaint.id, "milestone": milestone, "note": note}, now)  # fmt: skip
        return complaint

    with unit_of_work(session):
        return work()


def add_compensation(
    session: Session,
    order_id: int,
    actor: Actor,
    policy: ComplaintPolicy,
    *,
    amount: Any,
    reason: str,
    paid_first: bool = False,
    approve: bool = False,
    now: datetime | None = None,
) -> Compensation:
    """Record a compensation for the complaint. With `approve`, the caller also approves
    it at once, which a dispatcher may do only at or under the small-claim limit."""
    now = now or utcnow()
    _check_staff(actor)
    errors: dict[str, list[str]] = {}
    for check in (lambda: check_amount(amount), lambda: _text("reason", reason, required=True)):
        try:
            check()
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationFailed(errors)
    value, reason = check_amount(amount), reason.strip()

    def work() -> Compensation:
        order, complaint = _locked(session, order_id, actor)
        if approve:
            check_may_approve(session, actor, complaint, value, policy.small_claim_limit)
        if complaint.status != "open":
            raise Conflict("the complaint is closed")
        comp = Compensation(complaint_id=complaint.id, amount=value, reason=reason, paid_first=paid_first,
                            status="pending", created_by_id=actor.user_id, created_at=now)  # fmt: skip
        session.add(comp)
        session.flush()
        _step(session, order, "compensation_added", actor,
              {"compensation_id": comp.id, "amount": str(value), "currency": "CNY", "reason": reason,
               "paid_first": paid_first}, now)  # fmt: skip
        if approve:
            _approve(session, order, comp, actor, policy, now)
        return comp

    with unit_of_work(session):
        return work()


def _compensation(session: Session, compensation_id: int, actor: Actor) -> tuple[WorkOrder, Compensation]:
    comp = session.scalar(select(Compensation).where(Compensation.id == compensation_id).with_for_update())
    if comp is None:
        raise NotFound(f"compensation {compensation_id} not found")
    try:
        order = get_order(session, comp.complaint.order_id, actor)
    except NotFound:
        raise NotFound(f"compensation {compensation_id} not found") from None
    return order, comp


def needs_settlement_notice(comp: Compensation, policy: ComplaintPolicy) -> bool:
    """A claim above the small-claim limit that the platform paid first: the outlet is told
    to settle it (先行赔付). Small claims are settled in the routine run, without a notice."""
    return comp.paid_first and comp.amount > policy.small_claim_limit


def _approve(
    session: Session, order: WorkOrder, comp: Compensation, actor: Actor, policy: ComplaintPolicy, now: datetime
) -> None:
    comp.status, comp.approved_by_id, comp.approved_at = "approved", actor.user_id, now
    _step(session, order, "compensation_approved", actor,
          {"compensation_id": comp.id, "amount": str(comp.amount), "paid_first": comp.paid_first}, now)  # fmt: skip
    if not needs_settlement_notice(comp, policy):
        return
    rows = settlement_notices(session, policy.notify, order, comp) if policy.notify is not None else []
    enqueue(session, rows, now)  # in this transaction: no approval without its notice, nor the reverse
    _step(session, order, "settlement_requested", actor,
          {"compensation_id": comp.id, "amount": str(comp.amount), "outlet_id": order.outlet_id,
           "notified": sorted({f"{r['channel']}:{r['recipient']}" for r in rows})}, now)  # fmt: skip


def approve_compensation(
    session: Session, compensation_id: int, actor: Actor, policy: ComplaintPolicy, *, now: datetime | None = None
) -> Compensation:
    """Approve a pending compensation (dispatchers up to the small-claim limit)."""
    now = now or utcnow()
    _check_staff(actor)

    def work() -> Compensation:
        order, comp = _compensation(session, compensation_id, actor)
        # One approval on a complaint at a time: two dispatchers' ¥200 cannot both pass the sum.
        complaint = session.scalar(select(Complaint).where(Complaint.id == comp.complaint_id).with_for_update())
        if comp.status != "pending":
            raise Conflict("this compensation is already approved")
        check_may_approve(session, actor, complaint, comp.amount, policy.small_claim_limit)
        _approve(session, order, comp, actor, policy, now)
        return comp

    with unit_of_work(session):
        return work()


def settle_compensation(
    session: Session, compensation_id: int, actor: Actor, *, now: datetime | None = None
) -> Compensation:
    """Mark a paid-first compensation as settled with the outlet (先行赔付, settled later)."""
    now = now or utcnow()
    _check_staff(actor)

    def work() -> Compensation:
        order, comp = _compensation(session, compensation_id, actor)
        if comp.status != "approved":
            raise Conflict("only an approved compensation can be settled")
        if not comp.paid_first:
            raise Conflict("only a compensation the platform paid first is settled with the outlet")
        if comp.settled_with_outlet:
            raise Conflict("this compensation is already settled with the outlet")
        comp.settled_with_outlet, comp.settled_by_id, comp.settled_at = True, actor.user_id, now
        # Closes the loop a settlement request opened (when there was one) on the trail.
        request = next(
            (e for e in session.scalars(
                select(WorkOrderEvent)
                .where(WorkOrderEvent.order_id == order.id, WorkOrderEvent.kind == "settlement_requested")
                .order_by(WorkOrderEvent.seq)
            ) if e.data.get("compensation_id") == comp.id),
            None,
        )  # fmt: skip
        _step(session, order, "compensation_settled", actor,
              {"compensation_id": comp.id, "amount": str(comp.amount), "outlet_id": order.outlet_id,
               "settles_request_seq": request.seq if request is not None else None}, now)  # fmt: skip
        return comp

    with unit_of_work(session):
        return work()
