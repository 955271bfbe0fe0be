"""The customer's tracking page: status and ETA (kept live over Socket.IO by
web/static/track.js), a note, cancel, reschedule, the survey. No login: the link itself is
the key, so every view and action is rate-limited."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from core.errors import Conflict, NotFound, ValidationFailed
from core.numbers import parse_int
from dispatch import customer, planning
from dispatch.lifecycle import Status
from dispatch.tracking import public_update
from web.extensions import csrf, db, limiter
from web.labels import SLOT_LABELS, Labels
from web.pages.base import bp
from web.wiring import planning_settings

TRACK_LIMIT = "30 per minute"
# One sentence under the status badge: where the repair stands, in the customer's words.
STAGES = {
    "new": _l("We are finding a technician for you."),
    "assigned": _l("A technician has been assigned and will call you before coming."),
    "accepted": _l("A technician has been assigned and will call you before coming."),
    "en_route": _l("The technician is on the way to you."),
    "on_site": _l("The technician is with you now."),
    "completed": _l("The job is done."),
    "closed": _l("The job is done."),
    "returned": _l("We will come again to finish the job."),
    "waiting_parts": _l("The repair needs a part; we will plan the next visit as soon as it arrives."),
}
SCORES = [(1, _l("bad")), (2, _l("poor")), (3, _l("fair")), (4, _l("good")), (5, _l("great"))]


class LinkGone(Exception):
    """The link names no order we can show: 404 (bad link), 410 (expired or cancelled)."""

    def __init__(self, status: int, reason: str, number: str | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.number = status, reason, number


@bp.errorhandler(LinkGone)
def link_gone(error: LinkGone):
    """A friendly page, in the customer's language, instead of a bare error."""
    return render_template("track_gone.html", reason=error.reason, number=error.number), error.status


def _view(token: str):
    try:
        order = customer.order_for_token(db.session, token)
    except customer.LinkExpired:
        raise LinkGone(410, "expired") from None
    except NotFound:
        raise LinkGone(404, "invalid") from None
    if order.status == Status.CANCELLED:
        raise LinkGone(410, "cancelled", order.number)
    return order


@bp.get("/t/<token>")
@limiter.limit(TRACK_LIMIT)
def track(token: str):
    """What the customer sees behind their link."""
    order = _view(token)
    live = public_update(db.session, order, current_app.config["TIMEZONE"])
    status_labels = {code: str(label) for code, label in Labels.status.items()}
    view = customer.customer_view(db.session, order, current_app.config["TIMEZONE"])
    stages = {code: str(text) for code, text in STAGES.items()}
    # Not placed yet (no slot chosen, or the one chosen was taken): the times the plan can keep.
    # Placed but not accepted yet: the other times, when the customer asks to change it.
    may_change = view.status == Status.ASSIGNED and not order.assignment_locked
    changing = may_change and request.args.get("change") == "1"
    wanted = view.status == Status.NEW or changing
    slots = planning.slots_for_order(db.session, order.id, planning_settings()) if wanted else []
    slots = [s for s in slots if s.start != order.appointment_start]  # "another time": not the booked one
    # The free "another time suits me better" form only where no slot is offered: one way to
    # change the time on the page, and the one the plan can keep wherever it exists.
    free_time = view.can_reschedule and not slots and not may_change
    return render_template(
        "track.html", token=token, view=view, live=live, status_labels=status_labels, stages=stages,
        score_labels=SCORES, slots=slots, slot_labels=SLOT_LABELS, may_change_slot=may_change, changing=changing,
        free_time=free_time,
    )  # fmt: skip


def _act(token: str, action) -> object:
    csrf.protect()
    _view(token)  # a wrong or expired link is 404/410 before its form is even read
    try:
        action()
    except ValidationFailed as exc:
        flash("; ".join(_(m) for msgs in exc.fields.values() for m in msgs), "error")
    except Conflict as exc:
        flash(_(exc.message), "error")
    except customer.LinkExpired:
        raise LinkGone(410, "expired") from None
    except NotFound:
        raise LinkGone(404, "invalid") from None
    else:
        flash(_("Thank you, we have it."), "info")
    return redirect(url_for("pages.track", token=token))


@bp.post("/t/<token>/note")
@limiter.limit(TRACK_LIMIT)
def track_note(token: str):
    """The customer adds a note for the technician."""
    return _act(token, lambda: customer.add_note(db.session, token, request.form.get("note", "")))


@bp.post("/t/<token>/cancel")
@limiter.limit(TRACK_LIMIT)
def track_cancel(token: str):
    """The customer cancels before anyone was dispatched."""
    return _act(token, lambda: customer.cancel_by_customer(db.session, token, request.form.get("reason", "")))


@bp.post("/t/<token>/survey")
@limiter.limit(TRACK_LIMIT)
def track_survey(token: str):
    """The satisfaction survey; an answer from a staff or technician session is flagged."""
    score = request.form.get("score", "")
    flag = None
    if current_user.is_authenticated:
        flag = f"answered from a {current_user.role}'s logged-in session"
    return _act(
        token,
        lambda: customer.submit_survey(
            db.session, token, request.form.get("fixed") == "yes", parse_int(score, 1, 5) or 0,
            request.form.get("comment", ""), flag_reason=flag,
        ),
    )  # fmt: skip


@bp.post("/t/<token>/slot")
@limiter.limit(TRACK_LIMIT)
def track_slot(token: str):
    """The customer books one of the offered slots: for an order not placed yet, or another
    one for an order placed but not accepted yet (it moves to a place that keeps it)."""
    try:
        start = datetime.fromisoformat(request.form.get("start", ""))
    except ValueError:
        start = None

    def book() -> None:
        if start is None or start.tzinfo is None:
            raise ValidationFailed({"start": "is not one of the times offered"})
        planning.book_slot(db.session, _view(token).id, start, planning_settings())

    return _act(token, book)


@bp.post("/t/<token>/reschedule")
@limiter.limit(TRACK_LIMIT)
def track_reschedule(token: str):
    """The customer moves the appointment (1–4 hours, within 14 days, before the technician sets off)."""
    tz = current_app.config["TIMEZONE"]

    def parse(name: str) -> datetime:
        try:
            return datetime.fromisoformat(request.form.get(name, "")).replace(tzinfo=tz)
        except ValueError:
            raise ValidationFailed({name: "is not a date and time"}) from None

    return _act(token, lambda: customer.reschedule(db.session, token, parse("start"), parse("end")))
