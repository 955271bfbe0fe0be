"""Order list and detail pages for staff (and, until the phone app, for technicians)."""

from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.accounts import DISPATCH_ROLES, STAFF_ROLES
from core.db import utcnow
from core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from core.numbers import parse_int, require_int
from dispatch import complaints, moves, planning, privacy, queries
from dispatch.lifecycle import Status, allowed_actions
from dispatch.models import WorkOrder
from dispatch.permissions import is_own_technician
from dispatch.relocation import OPEN_STATUSES, LocationFix, correct_location
from dispatch.sla import clocks as sla_clocks
from technicians.network import list_outlets
from web.auth import ANY_ROLE, current_actor, roles_required
from web.errors import translated
from web.event_wording import EventWording
from web.extensions import csrf, db
from web.filters import visit_words
from web.forms import LocationForm, TransitionForm
from web.labels import SLOT_LABELS
from web.pages.base import bp
from web.pages.intake import picker_settings
from web.wiring import complaint_policy, intake_settings, planning_settings, sla_policy


def _int_arg(name: str) -> int | None:
    return parse_int(request.args.get(name, ""), 1)


@bp.get("/orders")
@roles_required(*ANY_ROLE)
def orders():
    """Work orders the user may see, filtered and paged."""
    actor = current_actor()
    statuses = [s for s in request.args.getlist("status") if s in {x.value for x in Status}]
    flt = queries.OrderFilter(
        status=statuses or None,
        outlet_id=_int_arg("outlet_id"),
        priority=request.args.get("priority") or None,
        q=(request.args.get("q") or "").strip()[:100] or None,
    )
    page = queries.list_orders(db.session, actor, flt, _int_arg("page") or 1, 50)
    outlets = list_outlets(db.session) if actor.role != "technician" else []
    return render_template("orders.html", page=page, flt=flt, statuses=[s.value for s in Status], outlets=outlets)


@bp.get("/orders/<int:order_id>")
@roles_required(*ANY_ROLE)
def order_detail(order_id: int):
    """One order: its details, its event trail, and the moves the user may make."""
    actor = current_actor()
    try:
        order = moves.get_order(db.session, order_id, actor)
    except DomainError:
        abort(404)
    actions = allowed_actions(order.status, actor.role, is_own_technician=is_own_technician(actor, order))
    # A part request needs its part, quantity and day: it is made from the phone's part form.
    actions = [a for a in actions if a != "need_part"]
    technicians, suggestions, no_fit = [], [], None
    if "assign" in actions:
        suggestions, no_fit = planning.suggest(db.session, order.id, planning_settings())
        technicians = planning.assignable_technicians(db.session, order, actor, suggestions)
    events = EventWording(db.session, current_app.config["TIMEZONE"]).lines(
        queries.order_events(db.session, order.id, actor)
    )
    clocks = [c for c in sla_clocks.order_clocks(db.session, order.id) if c.clock not in complaints.COMPLAINT_CLOCKS]
    complaint = complaints.panel(db.session, order) if actor.role in complaints.STAFF else None
    location = None
    if actor.role in DISPATCH_ROLES and order.status in OPEN_STATUSES:
        location = LocationForm(
            formdata=None, version=str(order.version), address=order.address, lat=order.lat, lon=order.lon
        )
    # A new order, or one placed but not accepted nor pinned: the dispatcher may book it a slot
    # (on the phone with the customer); the list is read when asked for.
    slot_offer = (
        actor.role in DISPATCH_ROLES
        and order.lat is not None
        and (order.status == Status.NEW or (order.status == Status.ASSIGNED and not order.assignment_locked))
    )
    slots_asked = slot_offer and request.args.get("slots") == "1"
    slots = planning.slots_for_order(db.session, order.id, planning_settings()) if slots_asked else []
    slots = [s for s in slots if s.start != order.appointment_start]  # another time than the booked one
    return render_template(
        "order.html", order=order, events=events, actions=actions, technicians=technicians,
        suggestions={s.technician_id: s for s in suggestions}, no_fit=no_fit, form=TransitionForm(),
        clocks=clocks, now=utcnow(), complaint=complaint, complaint_policy=complaint_policy(),
        location=location, picker=picker_settings((order.lat, order.lon) if order.lat is not None else None),
        slot_offer=slot_offer, slots_asked=slots_asked, slots=slots, slot_labels=SLOT_LABELS,
    )  # fmt: skip


@bp.post("/orders/<int:order_id>/slot")
@roles_required(*DISPATCH_ROLES)
def order_slot(order_id: int):
    """A dispatcher books one of the listed slots: it becomes the order's appointment and the
    order goes to a place that keeps it (a new order is placed, a placed one moves)."""
    actor = current_actor()
    try:
        moves.get_order(db.session, order_id, actor)
    except DomainError:
        abort(404)
    try:
        start = datetime.fromisoformat(request.form.get("start", ""))
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        flash(_("Time of the visit") + ": " + _("is not one of the times offered"), "error")
        return order_detail(order_id), 400
    try:
        planning.book_slot(db.session, order_id, start, planning_settings())
    except Conflict as exc:  # taken meanwhile: the page lists the fresh times
        flash(translated(exc), "error")
        return redirect(url_for("pages.order_detail", order_id=order_id, slots=1), 303)
    order = db.session.get(WorkOrder, order_id)
    when = visit_words((order.appointment_start, order.appointment_end))
    flash(_("Booked: %(name)s comes %(when)s.", name=order.technician.name, when=when), "info")
    return redirect(url_for("pages.order_detail", order_id=order_id))


POSITION_FIELDS = {"lat": "position", "lon": "position", "address": "address", "coord_datum": "position"}


@bp.post("/orders/<int:order_id>/location")
@roles_required(*DISPATCH_ROLES)
def order_location(order_id: int):
    """Correct the order's address and position (the map fills the position)."""
    try:
        moves.get_order(db.session, order_id, current_actor())  # someone else's order: 404 before the form
    except DomainError:
        abort(404)
    form = LocationForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        problems = {name: msgs for name, msgs in form.errors.items() if name != "csrf_token"}
        flash("; ".join(f"{_field_name(k)}: {m}" for k, msgs in problems.items() for m in msgs), "error")
        return redirect(url_for("pages.order_detail", order_id=order_id)), 303
    version = require_int(form.version.data, "version", 1)  # a 400 page naming the field
    fix = LocationFix(form.address.data, form.lat.data, form.lon.data, form.coord_datum.data or "wgs84")
    try:
        correct_location(db.session, order_id, fix, current_actor(), intake_settings(), version=version)
    except ValidationFailed as exc:
        flash("; ".join(f"{_field_name(k)}: {_(m)}" for k, msgs in exc.fields.items() for m in msgs), "error")
    except Conflict as exc:
        flash(translated(exc), "error")
    else:
        flash(_("Address and position saved."), "info")
    return redirect(url_for("pages.order_detail", order_id=order_id)), 303


def _field_name(name: str) -> str:
    return {"address": _("Address"), "position": _("Position on the map")}.get(
        POSITION_FIELDS.get(name, name), _("Position on the map")
    )


@bp.post("/orders/<int:order_id>/complaint")
@roles_required(*STAFF_ROLES)
def order_complaint(order_id: int):
    """The complaint panel's forms: open, escalate, hand over, milestone, compensation."""
    csrf.protect()
    f, actor, policy = request.form, current_actor(), complaint_policy()
    try:
        moves.get_order(db.session, order_id, actor)  # someone else's order: 404 before any form is read
    except NotFound:
        abort(404)
    steps = {
        "open": lambda: complaints.open_complaint(db.session, order_id, actor, policy, summary=f.get("summary", "")),
        "escalate": lambda: complaints.escalate(db.session, order_id, actor, reason=f.get("reason", "")),
        "transfer": lambda: complaints.transfer(
            db.session, order_id, actor, to_user_id=_int_arg_of(f, "to_user_id") or 0, reason=f.get("reason", "")
        ),
        "milestone": lambda: complaints.record_milestone(
            db.session, order_id, actor, milestone=f.get("milestone", ""), note=f.get("note", "")
        ),
        "compensation": lambda: complaints.add_compensation(
            db.session, order_id, actor, policy, amount=f.get("amount", ""), reason=f.get("reason", ""),
            paid_first=f.get("paid_first") == "1", approve=f.get("approve") == "1",
        ),
        "approve": lambda: complaints.approve_compensation(db.session, _int_arg_of(f, "compensation_id") or 0, actor, policy),
        "settle": lambda: complaints.settle_compensation(db.session, _int_arg_of(f, "compensation_id") or 0, actor),
    }  # fmt: skip
    step = steps.get(f.get("step", ""))
    if step is None:
        abort(400)
    try:
        step()
    except ValidationFailed as exc:
        flash("; ".join(f"{k}: {_(m)}" for k, msgs in exc.fields.items() for m in msgs), "error")
    except (Conflict, PermissionDenied, NotFound) as exc:
        flash(translated(exc), "error")
    else:
        flash(_("Done."), "info")
    return redirect(url_for("pages.order_detail", order_id=order_id) + "#complaint")


def _int_arg_of(form, name: str) -> int | None:
    return parse_int(form.get(name, ""), 1)


@bp.post("/orders/<int:order_id>/transition")
@roles_required(*ANY_ROLE)
def order_transition(order_id: int):
    """Apply one move from the order page's buttons."""
    form = TransitionForm()
    form.technician_id.choices = []
    if not form.validate_on_submit():
        abort(400)
    version = require_int(form.version.data, "version", 1)  # a 400 page naming the field
    try:
        planning.move(
            db.session, order_id, form.action.data, current_actor(), planning_settings(),
            version=version, reason=form.reason.data, technician_id=form.technician_id.data or None,
            sla=sla_policy(),
        )  # fmt: skip
    except ValidationFailed as exc:
        flash("; ".join(f"{k}: {_(m)}" for k, msgs in exc.fields.items() for m in msgs), "error")
    except Conflict as exc:
        flash(_(exc.message), "error")
    else:
        flash(_("Done."), "info")
    return redirect(url_for("pages.order_detail", order_id=order_id))


@bp.get("/customers/<int:customer_id>")
@roles_required(*STAFF_ROLES)
def customer_page(customer_id: int):
    """The customer's file: every order, survey and callback, and repeat repairs."""
    try:
        file = queries.customer_file(db.session, current_actor(), customer_id)
    except DomainError:
        abort(404)
    privacy.record_customer_view(db.session, current_actor(), customer_id, "page")
    return render_template("customer.html", file=file, sees_contact=privacy.sees_contact(current_actor()))
