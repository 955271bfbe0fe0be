"""The two intake forms: the customer's public request form and the dispatcher's hotline form."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from core.accounts import DISPATCH_ROLES
from core.errors import ValidationFailed
from dispatch.intake import OrderRequest, submit_order
from technicians.network import list_skills
from web.auth import current_actor, roles_required
from web.extensions import db, limiter
from web.filters import visit_words
from web.forms import HotlineForm, PublicRequestForm, apply_errors
from web.labels import Labels
from web.map_settings import map_settings
from web.pages.base import bp
from web.pages.links import issued_link, remember_link
from web.wiring import intake_settings, planning_settings


def _skill_choices() -> list[tuple[str, str]]:
    locale = str(get_locale())
    return [(s.code, s.name(locale)) for s in list_skills(db.session)]


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _chosen_slot(form) -> tuple[datetime, datetime] | None:
    """The offered slot the caller picked (its start, as the list gave it), or None. A value
    that is no time with its offset is the field's error."""
    value = (form.slot.data or "").strip()
    if not value:
        return None
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise ValidationFailed({"slot": "is not one of the times offered"})
    return start, start + timedelta(minutes=planning_settings().slot_minutes)


def _slot_outcome(order, slot) -> None:
    """Tell the customer whether the slot they picked is theirs: it was booked when the order
    has it as its appointment; otherwise another booking took the last place meanwhile."""
    if slot is None:
        return
    if order.appointment_start is not None and order.appointment_start == slot[0]:
        flash(_("Your visit is booked for %(when)s.", when=visit_words(slot)), "info")
    else:
        flash(_("The time you picked was just taken; please pick another on your tracking page."), "error")


def _public_limit() -> str:
    return current_app.config["PUBLIC_INTAKE_LIMIT"]


@bp.route("/request", methods=["GET", "POST"])
@limiter.limit(_public_limit, methods=["POST"])
def public_request():
    """The customer's repair request form (no login, mobile first)."""
    form = PublicRequestForm()
    form.product_category.choices = _skill_choices()
    if form.validate_on_submit():
        req = OrderRequest(
            channel="web",
            name=form.name.data,
            phone=form.phone.data,
            address=form.address.data,
            product_category=form.product_category.data,
            issue_category=form.issue_category.data,
            product_model=form.product_model.data or "",
            description=form.description.data or "",
            in_warranty=form.in_warranty.data,
            lat=_float_or_none(form.lat.data),
            lon=_float_or_none(form.lon.data),
        )
        try:
            slot = _chosen_slot(form)
            order, _created = submit_order(
                db.session, req, current_actor(), intake_settings(), slot=slot, slot_planning=planning_settings()
            )
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            if getattr(order, "tracking_token", None):
                remember_link(f"request:{order.number}", order.tracking_token)
            _slot_outcome(order, slot)
            return redirect(url_for("pages.request_received", number=order.number))
    status = 400 if request.method == "POST" else 200
    return render_template("request.html", form=form), status


@bp.get("/request/received/<number>")
def request_received(number: str):
    """Thank-you page with the order number to quote on the phone and, in the browser that
    sent the request, the tracking link (with a QR code and a copy button)."""
    number = number[:24]
    return render_template("request_received.html", number=number, link=issued_link(f"request:{number}"))


@bp.route("/hotline", methods=["GET", "POST"])
@roles_required(*DISPATCH_ROLES)
def hotline():
    """The dispatcher's intake form for phone calls and other channels."""
    form = HotlineForm()
    skills = _skill_choices()
    form.product_category.choices = skills
    form.required_skill.choices = [("", "—")] + skills
    if form.validate_on_submit():
        tz: ZoneInfo = current_app.config["TIMEZONE"]
        start, end = form.appointment_start.data, form.appointment_end.data
        req = OrderRequest(
            channel=form.channel.data,
            name=form.name.data,
            phone=form.phone.data,
            address=form.address.data,
            lat=form.lat.data,
            lon=form.lon.data,
            coord_datum=form.coord_datum.data or "wgs84",
            product_category=form.product_category.data,
            product_model=form.product_model.data or "",
            issue_category=form.issue_category.data,
            required_skill=form.required_skill.data or None,
            priority=form.priority.data,
            description=form.description.data or "",
            appointment_start=start.replace(tzinfo=tz) if start else None,
            appointment_end=end.replace(tzinfo=tz) if end else None,
            in_warranty=form.in_warranty.data,
        )
        try:
            slot = _chosen_slot(form)
            if slot is not None:  # the slot is the window: booked with the order, not as typed
                req = replace(req, appointment_start=None, appointment_end=None)
            order, _created = submit_order(
                db.session, req, current_actor(), intake_settings(), slot=slot, slot_planning=planning_settings()
            )
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            _slot_outcome(order, slot)
            if getattr(order, "tracking_token", None):  # to read out to the caller on the order page
                remember_link(f"order:{order.id}", order.tracking_token)
            return redirect(url_for("pages.order_detail", order_id=order.id))
    status = 400 if request.method == "POST" else 200
    return render_template("hotline.html", form=form, picker=picker_settings(), caller=_caller_settings()), status


def picker_settings(centre: tuple[float, float] | None = None) -> dict:
    """What the address search and map pick (web/static/location-pick.js) need."""
    config = current_app.config
    return map_settings(config, centre) | {
        "can_search": config.get("GEOCODER_PROVIDER", "none") != "none",
        "strings": {
            "search": _("Find the address"),
            "searching": _("Searching…"),
            "choose": _("Choose the right place:"),
            "not_found": _("The address was not found: click the map where the customer is."),
            "unavailable": _("Address search is not available: click the map where the customer is."),
            "no_geocoder": _("Click the map where the customer is (or drag the pin)."),
            "picked": _("Position set on the map."),
            "found": _("Position set from the address search."),
            "known": _("Position known from the customer's last order."),
            "pin": _("Customer's place"),
            "error": _("That did not work"),
        },
    }


def _caller_settings() -> dict:
    """What the caller lookup (web/static/hotline.js) needs: words, status names, the zone."""
    return {
        "timezone": current_app.config["APP_TIMEZONE"],
        "status": {k: str(v) for k, v in Labels.status.items()},
        "strings": {
            "lookup": _("Look up caller"),
            "looking": _("Looking up…"),
            "new_caller": _("New caller: no orders under this number yet."),
            "known": _("Returning customer: name and last address filled in."),
            "history": _("Orders of this caller"),
            "bad_phone": _("This is not a valid phone number."),
            "error": _("That did not work"),
        },
    }
