"""Where orders are: address search for intake, and correcting an order's address/position."""

from __future__ import annotations

from apiflask import Schema
from apiflask.validators import Length, OneOf, Range

from core.accounts import DISPATCH_ROLES
from core.errors import ValidationFailed
from dispatch.geocoding import AddressNotFound, GeocoderUnavailable
from dispatch.relocation import DATUMS, LocationFix, correct_location
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.api.presenters import order_out
from web.api.schemas import Latitude, Longitude, OrderOut
from web.auth import current_actor, roles_required
from web.extensions import db
from web.wiring import intake_settings


class GeocodeQuery(Schema):
    TEXT_INPUT = True  # query string: every value arrives as text (strict_fields)
    q = fields.String(required=True, validate=Length(1, 255), metadata={"description": "the address as typed"})
    limit = fields.Integer(load_default=5, validate=Range(1, 10))


class Candidate(Schema):
    address = fields.String(metadata={"description": "the geocoder's wording of the place"})
    lat = fields.Float(metadata={"description": "WGS-84"})
    lon = fields.Float(metadata={"description": "WGS-84"})


class CandidateList(Schema):
    items = fields.List(fields.Nested(Candidate))
    status = fields.String(
        metadata={"description": "`ok`; `not_found` (no match); `unavailable` (no geocoder configured or it did not "
                  "answer: pick the place on the map instead)"}
    )  # fmt: skip


@bp.get("/geocode")
@roles_required(*DISPATCH_ROLES)
@bp.input(GeocodeQuery, location="query", arg_name="args")
@bp.output(CandidateList)
@bp.doc(security=SECURITY)
def geocode(args: dict):
    """Candidate places for an address, best first (WGS-84), through the configured geocoder."""
    q = args["q"].strip()
    if not q:
        raise ValidationFailed({"q": "must not be blank"})
    settings = intake_settings()
    db.session.rollback()  # no transaction stays open across the geocoder's network call
    try:
        found = settings.geocoder.search(q, settings.city, limit=args["limit"])
    except AddressNotFound:
        return {"items": [], "status": "not_found"}
    except GeocoderUnavailable:
        return {"items": [], "status": "unavailable"}
    return {"items": [{"address": p.formatted, "lat": p.lat, "lon": p.lon} for p in found], "status": "ok"}


class LocationIn(Schema):
    version = fields.Integer(required=True, validate=Range(min=1))
    address = fields.String(load_default=None, validate=Length(1, 255))
    lat = Latitude(load_default=None, allow_none=True)
    lon = Longitude(load_default=None, allow_none=True)
    coord_datum = fields.String(
        load_default="wgs84", validate=OneOf(DATUMS),
        metadata={"description": "the datum of lat/lon: a pick on an AMap (gcj02) or Baidu (bd09) map is converted"},
    )  # fmt: skip


@bp.patch("/orders/<int:order_id>")
@roles_required(*DISPATCH_ROLES)
@bp.input(LocationIn, arg_name="body")
@bp.output(OrderOut)
@bp.doc(
    security=SECURITY,
    responses={
        400: "a field is wrong (named), or the geocoder does not know the address",
        409: "stale version, or the order is closed",
    },
)
def correct_order_location(order_id: int, body: dict):
    """Correct an open order's address and/or position, with the `version` last read. An
    address alone is geocoded; a position alone keeps the address. A newly located new order
    is then placed at once, like a new one."""
    actor = current_actor()
    fix = LocationFix(body["address"], body["lat"], body["lon"], body["coord_datum"])
    order = correct_location(db.session, order_id, fix, actor, intake_settings(), version=body["version"])
    return order_out(order, actor)
