"""The reviewer's page: doubtful and failed orders, their photos beside the earlier photos they
copy, the places on a small map, and the decision (an event, through authenticity.review)."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from core.errors import Conflict, DomainError, ValidationFailed
from core.numbers import parse_int
from dispatch import authenticity, moves
from dispatch.models import Photo
from web.auth import LOCATION_ROLES, REVIEWERS, current_actor, roles_required
from web.extensions import db
from web.forms import apply_errors
from web.labels import AUTHENTICITY_REASONS as REASONS
from web.labels import SEVERITY, VERDICT
from web.pages.base import bp
from web.wiring import photo_settings

PER_PAGE = 20


class ReviewForm(FlaskForm):
    decision = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice("confirmed", _l("Accept: the service happened")),
            SelectChoice("rejected", _l("Reject: it did not")),
        ],
        validators=[InputRequired(_l("Choose accept or reject."))],
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=500)])


def _page_arg() -> int:
    value = request.args.get("page", "")
    return parse_int(value, 1, 99_999) or 1


@bp.get("/reviews")
@roles_required(*REVIEWERS)
def reviews():
    """Doubtful and failed orders of the reviewer's outlet waiting for a decision, oldest first."""
    page = authenticity.review_orders(db.session, current_actor(), _page_arg(), PER_PAGE)
    return render_template("reviews.html", page=page, reasons=REASONS, verdicts=VERDICT)


def _case(order_id: int) -> authenticity.ReviewCase:
    try:
        order = moves.get_order(db.session, order_id, current_actor())  # 404 outside the outlet
        return authenticity.review_case(db.session, order)
    except DomainError:
        abort(404)


def _map_data(case: authenticity.ReviewCase) -> dict:
    """What reviews.js draws. Photo GPS is where the picture was taken: managers only."""
    order = case.order
    config = current_app.config
    sees_location = current_actor().role in LOCATION_ROLES
    return {
        "address": [order.lat, order.lon] if order.lat is not None else None,
        "checkin": list(case.checkin) if case.checkin else None,
        "photos": [
            {"id": p.id, "lat": p.exif_lat, "lon": p.exif_lon}
            for p in case.photos
            if sees_location and p.exif_lat is not None
        ],
        "tile_url": config["MAP_TILE_URL"],
        "tile_attribution": config["MAP_TILE_ATTRIBUTION"],
        "strings": {"address": _("Address"), "checkin": _("Check-in"), "photo": _("Photo taken here")},
    }


def _render_case(case: authenticity.ReviewCase, form: ReviewForm, status: int = 200):
    return (
        render_template(
            "review_detail.html",
            case=case,
            form=form,
            reasons=REASONS,
            severity=SEVERITY,
            verdicts=VERDICT,
            map_data=_map_data(case),
            sees_location=current_actor().role in LOCATION_ROLES,
        ),  # fmt: skip
        status,
    )


@bp.get("/reviews/<int:order_id>")
@roles_required(*REVIEWERS)
def review_detail(order_id: int):
    """One order's evidence side by side, and the decision form."""
    return _render_case(_case(order_id), ReviewForm())


@bp.post("/reviews/<int:order_id>")
@roles_required(*REVIEWERS)
def review_decide(order_id: int):
    """Record the reviewer's decision (an `authenticity_review` event) and go back to the queue."""
    case = _case(order_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        return _render_case(case, form, 400)
    try:
        authenticity.review(db.session, order_id, form.decision.data, current_actor(), form.note.data)
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return _render_case(_case(order_id), form, 400)
    except Conflict as exc:
        flash(_(exc.message), "error")
        return _render_case(_case(order_id), form, 409)
    flash(_("Decision recorded for %(number)s.", number=case.order.number), "info")
    return redirect(url_for("pages.reviews"))


@bp.get("/reviews/<int:order_id>/photos/<int:photo_id>")
@roles_required(*REVIEWERS)
def review_photo(order_id: int, photo_id: int):
    """A photo of this case without EXIF: the order's own, or an earlier one it copies (which
    may belong to another outlet's order: the copy is evidence here, nothing else of it is)."""
    case = _case(order_id)
    if photo_id not in case.evidence_photo_ids():
        abort(404)
    photo = db.session.get(Photo, photo_id)
    key = photo.thumb_key if request.args.get("size") == "thumb" else photo.view_key
    try:
        data = photo_settings().store.get(key)
    except FileNotFoundError:
        abort(404)
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
