"""The customer's side: the tracking link, what it shows, what the customer may do with it,
the satisfaction survey, and the review clerk's callbacks (回访) that close the loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from core.accounts import STAFF_ROLES, Actor
from core.db import transactional, unit_of_work, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.localtime import DEFAULT_TIMEZONE
from core.pagination import Page, paginate
from core.security import new_token, token_digest
from dispatch.authenticity import NO_VISIT, recompute
from dispatch.events import record_event
from dispatch.lifecycle import Status, allowed_actions
from dispatch.models import Callback, PartsRequest, RouteStop, Survey, WorkOrder, WorkOrderEvent
from dispatch.moves import TRACKING_GRACE, apply_move, check_version, get_order
from dispatch.notify import NotifySettings, enqueue, tracking_link_notices
from dispatch.permissions import scope_orders
from dispatch.planning.horizon import visit_window

CUSTOMER = Actor.public()
# "no_visit": the customer says nobody came; it returns the order and fails its authenticity.
PROBLEMS = (
    "no_service_card", "fee_not_per_price_list", "no_work_id_shown", "not_cleaned_up", "rude", "other", NO_VISIT,
)  # fmt: skip
RETRY_AFTER = timedelta(hours=4)
RETRY_WITHIN = timedelta(days=7)


class LinkExpired(NotFound):
    """The link existed but no longer works (closed and past its grace period)."""


# --- the link -----------------------------------------------------------------------


def issue_tracking_token(order: WorkOrder) -> str:
    """A new unguessable link token (192 bits) for the order; only its digest is kept.
    Issuing again invalidates the previous link."""
    token = new_token(24)
    order.tracking_digest = token_digest(token)  # the link's end (if the order ended) stays as it was
    return token


def send_tracking_link(
    session: Session, order: WorkOrder, token: str, notify: NotifySettings | None,
    link_for: Callable[[str], str] | None, now: datetime,
) -> int:  # fmt: skip
    """Queue the link for the customer's phone in the caller's transaction (see
    `notify.tracking_link_notices`); returns how many notices were queued (0: no gateway)."""
    if notify is None or link_for is None:
        return 0
    rows = tracking_link_notices(notify, order, link_for(token))
    enqueue(session, rows, now)
    return len(rows)


@transactional
def reissue_tracking_link(
    session: Session, order_id: int, actor: Actor, *,
    notify: NotifySettings | None = None, link_for: Callable[[str], str] | None = None,
) -> tuple[str, int]:  # fmt: skip
    """A new link for the customer (the previous one stops working), sent to their phone
    where a gateway is configured; staff only. Returns (token, notices queued)."""
    order = get_order(session, order_id, actor)
    token = issue_tracking_token(order)
    record_event(session, order, "tracking_link", actor, from_status=order.status, to_status=order.status)
    session.flush()
    return token, send_tracking_link(session, order, token, notify, link_for, utcnow())


def order_for_token(session: Session, token: str, now: datetime | None = None) -> WorkOrder:
    now = now or utcnow()
    if not token or len(token) > 100:
        raise NotFound("this tracking link is not valid")
    order = session.scalar(select(WorkOrder).where(WorkOrder.tracking_digest == token_digest(token)))
    if order is None:
        raise NotFound("this tracking link is not valid")
    expires_at = link_expires_at(session, order)
    if expires_at is not None and expires_at <= now:
        raise LinkExpired("this tracking link has expired")
    return order


def link_expires_at(session: Session, order: WorkOrder) -> datetime | None:
    """When the order's link stops working: TRACKING_GRACE after the order ended (closed or
    cancelled). Orders cancelled before cancelling recorded it count from their cancel event."""
    if order.tracking_expires_at is not None or order.status not in (Status.CLOSED, Status.CANCELLED):
        return order.tracking_expires_at
    ended_at = order.closed_at or session.scalar(
        select(func.max(WorkOrderEvent.at)).where(
            WorkOrderEvent.order_id == order.id, WorkOrderEvent.to_status == order.status
        )
    )
    return (ended_at or order.updated_at) + TRACKING_GRACE


@dataclass(frozen=True)
class CustomerView:
    number: str
    status: str
    technician: str | None
    appointment: tuple[datetime, datetime] | None
    eta: datetime | None
    due_at: datetime
    can_cancel: bool
    can_reschedule: bool
    survey_open: bool
    survey_answered: bool
    completed_at: datetime | None = None
    visit: tuple[datetime, datetime] | None = None  # the promised window: "tomorrow, 09:00–11:00"
    part_expected: date | None = None  # waiting for a part: the day it is expected


def customer_view(session: Session, order: WorkOrder, tz: ZoneInfo | None = None) -> CustomerView:
    """What the customer may see: no phone numbers, no other customers, the technician's
    family name only, an ETA once the technician is on the way, and the day and window the
    visit is planned in (dispatch/planning/horizon.py)."""
    stop = session.get(RouteStop, order.id)
    eta = stop.eta if stop and order.status in (Status.ASSIGNED, Status.ACCEPTED, Status.EN_ROUTE) else None
    appointment = (order.appointment_start, order.appointment_end) if order.appointment_start else None
    if eta is not None and appointment is not None and eta < appointment[0]:
        eta = appointment[0]  # the plan arrives early and waits: the customer expects them when the window opens
    planned = order.status in (Status.NEW, Status.ASSIGNED, Status.ACCEPTED)
    visit = visit_window(appointment, eta, tz or ZoneInfo(DEFAULT_TIMEZONE)) if planned else None
    answered = session.scalar(select(exists().where(Survey.order_id == order.id, Survey.visit == order.visit_count)))
    tech = order.technician
    return CustomerView(
        number=order.number,
        status=order.status,
        technician=(tech.name[:1] + "师傅") if tech else None,
        appointment=(order.appointment_start, order.appointment_end) if order.appointment_start else None,
        eta=eta,
        due_at=order.due_at,
        can_cancel="cancel" in allowed_actions(order.status, CUSTOMER.role),
        can_reschedule=order.status in (Status.NEW, Status.ASSIGNED, Status.ACCEPTED),
        survey_open=order.status in (Status.COMPLETED, Status.CLOSED) and not answered,
        survey_answered=bool(answered),
        completed_at=order.completed_at if order.status in (Status.COMPLETED, Status.CLOSED) else None,
        visit=visit,
        part_expected=_part_expected(session, order),
    )


def _part_expected(session: Session, order: WorkOrder) -> date | None:
    if order.status != Status.WAITING_PARTS:
        return None
    return session.scalar(
        select(PartsRequest.expected_on)
        .where(PartsRequest.order_id == order.id, PartsRequest.arrived_at.is_(None))
        .order_by(PartsRequest.id.desc())
        .limit(1)
    )


def _customer_step(session: Session, order: WorkOrder, kind: str, data: dict[str, Any], now: datetime) -> None:
    _step_as(session, order, CUSTOMER, kind, data, now)


def add_note(session: Session, token: str, text: str, now: datetime | None = None) -> WorkOrder:
    now = now or utcnow()
    text = (text or "").strip()
    if not text or len(text) > 1000:
        raise ValidationFailed({"note": "write 1 to 1000 characters"})
    with unit_of_work(session):
        order = order_for_token(session, token, now)
        _customer_step(session, order, "customer_note", {"text": text}, now)
    return order


def cancel_by_customer(session: Session, token: str, reason: str, now: datetime | None = None) -> WorkOrder:
    """A customer may cancel until a technician has been dispatched (the lifecycle table's
    `cancel` move, as the customer)."""
    now = now or utcnow()
    with unit_of_work(session):
        order = order_for_token(session, token, now)
        if "cancel" not in allowed_actions(order.status, CUSTOMER.role):
            raise Conflict("a technician is already on it: please call us to cancel")
        apply_move(session, order, "cancel", CUSTOMER, reason=(reason or "").strip()[:500] or "cancelled by the customer",
                   now=now)  # fmt: skip
    return order


def reschedule(session: Session, token: str, start: datetime, end: datetime, now: datetime | None = None) -> WorkOrder:
    """Move the appointment to another window: in the future, 1 to 4 hours long, within 14 days."""
    now = now or utcnow()
    errors = {}
    if start.tzinfo is None or end.tzinfo is None:
        errors["start"] = "must include a time zone offset"
    elif start < now + timedelta(hours=1):
        errors["start"] = "must be at least an hour from now"
    elif not timedelta(hours=1) <= end - start <= timedelta(hours=4):
        errors["end"] = "the window must be 1 to 4 hours long"
    elif start > now + timedelta(days=14):
        errors["start"] = "must be within the next 14 days"
    if errors:
        raise ValidationFailed(errors)
    with unit_of_work(session):
        order = order_for_token(session, token, now)
        if order.status not in (Status.NEW, Status.ASSIGNED, Status.ACCEPTED):
            raise Conflict("the technician is already on the way: please call us to change the time")
        old = [order.appointment_start.isoformat() if order.appointment_start else None,
               order.appointment_end.isoformat() if order.appointment_end else None]  # fmt: skip
        order.appointment_start, order.appointment_end = start, end
        _customer_step(session, order, "rescheduled", {"from": old, "to": [start.isoformat(), end.isoformat()]}, now)
    return order


def submit_survey(
    session: Session,
    token: str,
    fixed: bool,
    score: int,
    comment: str,
    *,
    flag_reason: str | None = None,
    now: datetime | None = None,
) -> Survey:
    """Record the customer's answer for the current visit, once. `flag_reason` (set by the
    caller when the answer comes from the technician's own session or network) keeps the
    answer out of the satisfaction figures."""
    now = now or utcnow()
    if not 1 <= score <= 5:
        raise ValidationFailed({"score": "must be 1 to 5"})
    with unit_of_work(session):
        order = order_for_token(session, token, now)
        if order.status not in (Status.COMPLETED, Status.CLOSED):
            raise Conflict("the survey opens once the job is done")
        if session.scalar(select(exists().where(Survey.order_id == order.id, Survey.visit == order.visit_count))):
            raise Conflict("this visit's survey has been answered already")
        survey = Survey(order_id=order.id, visit=order.visit_count, fixed=fixed, score=score,
                        comment=(comment or "").strip()[:2000], answered_at=now,
                        flagged=flag_reason is not None, flag_reason=flag_reason)  # fmt: skip
        session.add(survey)
        _customer_step(session, order, "survey", {"fixed": fixed, "score": score, "flagged": flag_reason}, now)
    return survey


# --- callbacks ----------------------------------------------------------------------


def callback_queue(
    session: Session,
    now: datetime,
    after_days: float = 3,
    page: int = 1,
    per_page: int = 50,
    actor: Actor | None = None,
) -> Page:
    """Completed orders due a callback: completed `after_days` ago or more, no counted survey
    answer for this visit, and no callback attempt waiting for a later retry (only the orders
    `actor` may see, when given)."""
    answered = exists().where(
        Survey.order_id == WorkOrder.id, Survey.visit == WorkOrder.visit_count, Survey.flagged.is_(False)
    )
    waiting = exists().where(
        and_(Callback.order_id == WorkOrder.id, Callback.visit == WorkOrder.visit_count, Callback.retry_at > now)
    )
    query = (
        select(WorkOrder)
        .where(WorkOrder.status == Status.COMPLETED, WorkOrder.completed_at <= now - timedelta(days=after_days))
        .where(~answered, ~waiting)
        .order_by(WorkOrder.completed_at)
    )
    if actor is not None:
        query = scope_orders(query, actor)
    return paginate(session, query, page, per_page)


def record_callback(
    session: Session,
    order_id: int,
    actor: Actor,
    *,
    version: int,
    reached: bool,
    resolved: bool | None = None,
    score: int | None = None,
    problems: list[str] | None = None,
    note: str = "",
    retry_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[Callback, WorkOrder]:
    """The clerk's callback. Not reached: try again at `retry_at` (in 4 hours by default).
    Resolved with no procedure problem: the order closes. Otherwise it returns to its
    technician for a second visit, with the reason shown on the phone and the board.
    A reached customer's word on the visit feeds the authenticity verdict before the move."""
    now = now or utcnow()
    problems = list(problems or [])
    errors: dict[str, str] = {}
    unknown = [p for p in problems if p not in PROBLEMS]
    if unknown:
        errors["problems"] = f"unknown: {', '.join(unknown)}; use {', '.join(PROBLEMS)}"
    if reached and resolved is None:
        errors["resolved"] = "say whether the problem is solved"
    if score is not None and not 1 <= score <= 5:
        errors["score"] = "must be 1 to 5"
    if retry_at is not None and not reached:
        if retry_at.tzinfo is None:
            errors["retry_at"] = "must include a time zone offset"
        elif not now < retry_at <= now + RETRY_WITHIN:
            errors["retry_at"] = "must be in the future, within 7 days"
    if errors:
        raise ValidationFailed(errors)
    with unit_of_work(session):
        order = get_order(session, order_id, actor)
        if actor.role not in STAFF_ROLES:
            raise Conflict("callbacks are made by the review clerks")
        check_version(order, version)
        if order.status != Status.COMPLETED:
            raise Conflict(f"only completed orders are called back; this one is {order.status}")
        callback = Callback(order_id=order.id, visit=order.visit_count, clerk_id=actor.user_id, at=now, reached=reached,
                            resolved=resolved if reached else None, score=score if reached else None,
                            problems=problems, note=(note or "").strip()[:2000],
                            retry_at=None if reached else retry_at or now + RETRY_AFTER)  # fmt: skip
        session.add(callback)
        data = {"reached": reached, "resolved": callback.resolved, "score": callback.score, "problems": problems}
        if reached:
            session.flush()
            verdict = recompute(session, order, now)  # this visit's verdict, before a return starts the next
            data["authenticity"] = verdict.status
        if not reached:
            _step_as(session, order, actor, "callback", data, now)
        elif resolved and not problems:
            apply_move(session, order, "close", actor, now=now, data={"callback": data})
        else:
            said = [*(["customer says nobody came"] if NO_VISIT in problems else []),
                    *(["customer says it is not fixed"] if not resolved else [])]  # fmt: skip
            reason = "; ".join([*said, *(p for p in problems if p != NO_VISIT)])
            apply_move(session, order, "return", actor, reason=f"callback: {reason}", now=now, data={"callback": data})
    return callback, order


def _step_as(session: Session, order: WorkOrder, actor: Actor, kind: str, data: dict, now: datetime) -> None:
    """An event that records something without moving the order (the version still moves on)."""
    order.updated_at = now
    record_event(session, order, kind, actor, from_status=order.status, to_status=order.status, data=data, at=now)
