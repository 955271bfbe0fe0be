"""Today's miss forecast: each open order's chance of missing its promise, as the scheduler last
computed it (simulation/forecast.py), and what one move would change."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.validators import Length, Range
from flask import current_app
from flask_babel import gettext
from marshmallow import ValidationError, validates_schema

from core.accounts import DISPATCH_ROLES
from core.errors import ValidationFailed
from dispatch import board as board_model
from simulation import forecast
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.auth import STAFF, current_actor, roles_required
from web.extensions import db
from web.filters import local_time
from web.wiring import planning_settings


def forecast_text(p_miss: float, promise: str) -> str:
    """ "62 % likely to miss 24 h", in the user's language."""
    percent = round(100 * p_miss)
    if promise == "appointment":
        return gettext("%(percent)d %% likely to miss the appointment", percent=percent)
    return gettext("%(percent)d %% likely to miss 24 h", percent=percent)


def forecast_item(row: Any) -> dict[str, Any]:
    return {
        "order_id": row.order_id,
        "number": row.number,
        "p_miss": round(row.p_miss, 4),
        "promise": row.promise,
        "computed_at": row.computed_at,
        "text": forecast_text(row.p_miss, row.promise),
        "computed_text": gettext("forecast at %(time)s", time=local_time(row.computed_at)),
    }


class ForecastItem(Schema):
    order_id = fields.Integer()
    number = fields.String()
    p_miss = fields.Float(metadata={"description": "probability (0–1) of missing the promise"})
    promise = fields.String(metadata={"description": "'due' (the 24-hour promise) or 'appointment' (its window)"})
    computed_at = fields.DateTime()
    text = fields.String(metadata={"description": "e.g. '62 % likely to miss 24 h', in the user's language"})
    computed_text = fields.String(metadata={"description": "when it was computed, in the user's language"})


class ForecastOut(Schema):
    computed_at = fields.DateTime(allow_none=True, metadata={"description": "the last refresh; null: none yet"})
    every_minutes = fields.Float(metadata={"description": "the scheduler refreshes it this often (0: off)"})
    items = fields.List(fields.Nested(ForecastItem), metadata={"description": "likeliest misses first"})


@bp.get("/forecast")
@roles_required(*STAFF)
@bp.output(ForecastOut)
@bp.doc(security=SECURITY)
def get_forecast():
    """Each open order the caller may see, with its forecast chance of missing its promise
    (the 24-hour promise, or the appointment window), likeliest first. Refreshed by the
    scheduler every FORECAST_EVERY_MINUTES; boards hear a `forecast` Socket.IO event after each."""
    rows = board_model.forecasts(db.session, current_actor())
    return {
        "computed_at": max((r.computed_at for r in rows), default=None),
        "every_minutes": current_app.config["FORECAST_EVERY_MINUTES"],
        "items": [forecast_item(r) for r in rows],
    }


class ExtraTechnicianIn(Schema):
    lat = fields.Float(required=True, validate=Range(-90, 90))
    lon = fields.Float(required=True, validate=Range(-180, 180))
    skills = fields.List(fields.String(validate=Length(1, 64)), required=True, validate=Length(1, 50))
    outlet_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "its speed and road detour (default: first outlet)"},
    )


class WhatIfIn(Schema):
    order_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "the order to reassign (with technician_id); one move: this pair or extra_technician, "
            "neither or both is a 400 naming the field"
        },
    )
    technician_id = fields.Integer(
        load_default=None, allow_none=True, metadata={"description": "to this technician (with order_id)"}
    )
    extra_technician = fields.Nested(
        ExtraTechnicianIn,
        load_default=None,
        allow_none=True,
        metadata={"description": "or: one more technician at a place for the rest of today"},
    )

    @validates_schema
    def one_move(self, data: dict, **_: Any) -> None:
        reassign = data.get("order_id") is not None or data.get("technician_id") is not None
        if reassign and data.get("extra_technician") is not None:
            raise ValidationError("one move: a reassignment or an extra technician", "extra_technician")
        if not reassign and data.get("extra_technician") is None:
            raise ValidationError("one move: order_id and technician_id, or extra_technician", "order_id")
        for name in ("order_id", "technician_id"):
            if reassign and data.get(name) is None:
                raise ValidationError("needed for a reassignment", name)


class WhatIfOrder(Schema):
    order_id = fields.Integer()
    number = fields.String()
    promise = fields.String()
    before = fields.Float(metadata={"description": "probability of a miss as things are planned"})
    after = fields.Float(metadata={"description": "probability of a miss with the move made"})
    before_text = fields.String(metadata={"description": "`before` in words, in the user's language"})
    after_text = fields.String(metadata={"description": "`after` in words, in the user's language"})


class WhatIfOut(Schema):
    seeds = fields.Integer()
    orders = fields.List(fields.Nested(WhatIfOrder), metadata={"description": "the orders the move touches"})


@bp.post("/forecast/what-if")
@roles_required(*DISPATCH_ROLES)
@bp.input(WhatIfIn, arg_name="body")
@bp.output(WhatIfOut)
@bp.doc(security=SECURITY)
def forecast_what_if(body: dict):
    """What one move would do to the forecast, computed now and written nowhere: reassign
    `order_id` to `technician_id` (put on their first working day of the horizon where it
    adds the least travel), or add `extra_technician` (it takes the orders no one has room
    for). Answers the orders the move touches, with their miss probability before and after."""
    actor = current_actor()
    settings = forecast.ForecastSettings.from_config(current_app.config)
    if body["extra_technician"] is not None:
        extra = body["extra_technician"]
        move: forecast.Reassign | forecast.ExtraTechnician = forecast.ExtraTechnician(
            extra["lat"], extra["lon"], frozenset(extra["skills"]), extra["outlet_id"]
        )
    else:
        if not board_model.visible_numbers(db.session, actor, [body["order_id"]]):
            raise ValidationFailed({"order_id": "no such order"})
        move = forecast.Reassign(body["order_id"], body["technician_id"])
    try:
        before, after, touched = forecast.what_if(db.session, planning_settings(), settings, move)
    except forecast.CannotMove as exc:
        field = f"extra_technician.{exc.field}" if exc.field == "outlet_id" else exc.field
        raise ValidationFailed({field: str(exc)}) from None
    numbers = board_model.visible_numbers(db.session, actor, sorted(touched))
    rows = sorted(numbers, key=lambda oid: (-after.p_miss[oid], oid))
    return {
        "seeds": settings.seeds,
        "orders": [
            {
                "order_id": oid,
                "number": numbers[oid],
                "promise": after.promise[oid],
                "before": round(before.p_miss[oid], 4),
                "after": round(after.p_miss[oid], 4),
                "before_text": forecast_text(before.p_miss[oid], after.promise[oid]),
                "after_text": forecast_text(after.p_miss[oid], after.promise[oid]),
            }
            for oid in rows
        ],
    }
