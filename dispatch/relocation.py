"""Fixing an order's address and position after intake, and finding addresses to pick from.

An order that came in without a position (the geocoder was down, or found nothing) was never
placed; a dispatcher who learns the right address corrects it here, through the order page or
`PATCH /api/orders/<id>`. The correction is one write carrying the version the dispatcher read;
a newly located order that nobody holds yet is then placed like a new one (instant placement).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.accounts import DISPATCH_ROLES, Actor
from core.db import unit_of_work, utcnow
from core.errors import Conflict, PermissionDenied, ValidationFailed
from dispatch.events import record_event
from dispatch.geocoding import AddressNotFound, GeocoderUnavailable, GeoPoint, to_wgs84
from dispatch.intake import IntakeSettings, place_located
from dispatch.lifecycle import OPEN
from dispatch.models import WorkOrder
from dispatch.moves import check_version, get_order, raced
from technicians.network import nearest_outlet

OPEN_STATUSES = frozenset(s.value for s in OPEN)
DATUMS = ("wgs84", "gcj02", "bd09")
CLOSED = "this order is finished: its address can no longer be corrected"


@dataclass(frozen=True)
class LocationFix:
    """What the dispatcher corrects: the address text, the position (both ends or neither; in
    `coord_datum`, the datum of the map it was picked on), or both."""

    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    coord_datum: str = "wgs84"


def _validate(fix: LocationFix) -> LocationFix:
    errors: dict[str, str] = {}
    address = fix.address.strip() if fix.address is not None else None
    if fix.address is not None and not address:
        errors["address"] = "must not be empty"
    elif address is not None and len(address) > 255:
        errors["address"] = "must be at most 255 characters"
    if (fix.lat is None) != (fix.lon is None):
        errors["lat" if fix.lat is None else "lon"] = "give both latitude and longitude, or neither"
    elif fix.lat is not None and fix.lon is not None:
        if not -90 <= fix.lat <= 90:
            errors["lat"] = "must be a latitude between -90 and 90"
        if not -180 <= fix.lon <= 180:
            errors["lon"] = "must be a longitude between -180 and 180"
    if fix.coord_datum not in DATUMS:
        errors["coord_datum"] = f"must be one of {', '.join(DATUMS)}"
    if address is None and fix.lat is None and not errors:
        errors["address"] = "give the address, the position (lat and lon), or both"
    if errors:
        raise ValidationFailed(errors)
    return LocationFix(address, fix.lat, fix.lon, fix.coord_datum)


def correct_location(
    session,
    order_id: int,
    fix: LocationFix,
    actor: Actor,
    settings: IntakeSettings,
    *,
    version: int,
    now: datetime | None = None,
) -> WorkOrder:
    """Correct an open order's address and/or position (dispatchers and admins).

    A new address without a position is geocoded first, outside any transaction; an address the
    geocoder does not know is refused (400, naming `address`) so that the dispatcher picks the
    place on the map instead; an unreachable geocoder stores the address flagged `failed` (the
    retry job locates it later). A stale `version` is a 409. A located order that is new and
    nobody's is then placed as a new order would be.
    """
    now = now or utcnow()
    fix = _validate(fix)
    if actor.role not in DISPATCH_ROLES:
        raise PermissionDenied(f"the {actor.role} role may not correct an order's address")
    # Read phase: refuse early what the write would refuse, before a geocoder's network call.
    order = get_order(session, order_id, actor)
    check_version(order, version)
    if order.status not in OPEN_STATUSES:
        raise Conflict(CLOSED)
    session.rollback()  # no transaction stays open across the geocoder's network call
    if fix.lat is not None and fix.lon is not None:
        lat, lon = to_wgs84(fix.lat, fix.lon, fix.coord_datum)  # type: ignore[arg-type]
        status: str = "ok"
    else:
        assert fix.address is not None
        try:
            point: GeoPoint = settings.geocoder.geocode(fix.address, settings.city)
        except AddressNotFound:
            raise ValidationFailed(
                {"address": "the geocoder does not know this address; pick the place on the map"}
            ) from None
        except GeocoderUnavailable:
            lat, lon, status = None, None, "failed"  # type: ignore[assignment]
        else:
            lat, lon, status = point.lat, point.lon, "ok"
    with unit_of_work(session, stale=lambda: raced(session, order_id)):
        order = get_order(session, order_id, actor, lock=True)
        check_version(order, version)
        if order.status not in OPEN_STATUSES:
            raise Conflict(CLOSED)
        before = {"address": order.address, "lat": order.lat, "lon": order.lon}
        if fix.address is not None:
            order.address = fix.address
        if status == "ok" or fix.address is not None:
            # A new address whose position is not known yet must not keep the old position.
            order.lat, order.lon = lat, lon
        order.geocode_status = status
        if order.outlet_id is None and lat is not None:
            outlet = nearest_outlet(session, lat, lon)
            order.outlet_id = outlet.id if outlet else None
        order.updated_at = now
        record_event(
            session, order, "relocated", actor, from_status=order.status, to_status=order.status,
            data={
                "geocode_status": status,
                "address": [before["address"], order.address] if fix.address is not None else None,
                "moved": before["lat"] != order.lat or before["lon"] != order.lon,
            },
            at=now,
        )  # fmt: skip
    if order.lat is not None and order.status == "new" and order.technician_id is None and settings.planning:
        place_located(session, order, settings.planning, now)
    return order
