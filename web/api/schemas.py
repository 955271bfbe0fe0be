"""Request and response shapes of the JSON API (they also generate /api/openapi.json)."""

from __future__ import annotations

from apiflask import Schema
from apiflask.validators import Length, OneOf, Range, Regexp
from marshmallow import ValidationError

from core.accounts import Role
from core.phones import normalize_phone, phone_pattern
from dispatch.catalog import CHANNELS, ISSUE_CATEGORIES, PRIORITIES
from dispatch.lifecycle import ACTIONS, Status
from technicians.network import list_skills
from web.api import strict_fields as fields
from web.extensions import db


def _phone(value: str) -> None:
    try:
        normalize_phone(value, mobile_only=False)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _known_skill(value: str) -> None:
    """Skills are a managed table, so this check asks the database."""
    codes = [s.code for s in list_skills(db.session)]
    if value not in codes:
        raise ValidationError(f"must be one of {', '.join(codes)}")


PHONE_DOC = {
    "pattern": phone_pattern(),
    "description": "a mainland mobile number (11 digits, optionally +86) or a landline with its area code "
    "(0 first); spaces, hyphens and other countries' numbers in + form are also taken. Stored in E.164 form.",
    "example": "13800138000",
}


def Phone(**kwargs) -> fields.String:  # noqa: N802 - a field factory, named like the fields it makes
    """A phone number: checked by libphonenumber, documented with the pattern of its plain forms."""
    return fields.String(validate=[Length(1, 32), _phone], metadata=PHONE_DOC, **kwargs)


SKILL_DOC = {"description": "a skill code of GET /api/skills (a managed list, checked by the API)"}


Latitude = lambda **kw: fields.Float(validate=Range(-90, 90), allow_nan=False, **kw)  # noqa: E731
Longitude = lambda **kw: fields.Float(validate=Range(-180, 180), allow_nan=False, **kw)  # noqa: E731


class PageQuery(Schema):
    TEXT_INPUT = True  # query string / form: every value arrives as text (strict_fields)
    page = fields.Integer(load_default=1, validate=Range(min=1))
    per_page = fields.Integer(load_default=50, validate=Range(1, 200))


class PageMeta(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()


class LoginIn(Schema):
    username = fields.String(required=True, validate=Length(1, 64))
    password = fields.String(required=True, validate=Length(1, 256))
    otp = fields.String(
        validate=Length(6, 8), metadata={"description": "the authenticator's code, for two-factor accounts"}
    )


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    username = fields.String()
    display_name = fields.String()
    role = fields.String()
    outlet_id = fields.Integer(allow_none=True)
    technician_id = fields.Integer(allow_none=True)
    active = fields.Boolean()
    locale = fields.String(allow_none=True)


class TokenOut(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    user = fields.Nested(UserOut)


class OrderIn(Schema):
    channel = fields.String(load_default="api", validate=OneOf(CHANNELS))
    name = fields.String(required=True, validate=Length(1, 100))
    phone = Phone(required=True)
    address = fields.String(required=True, validate=Length(1, 255))
    lat = Latitude(load_default=None, allow_none=True)
    lon = Longitude(load_default=None, allow_none=True)
    coord_datum = fields.String(load_default="wgs84", validate=OneOf(("wgs84", "gcj02", "bd09")))
    product_category = fields.String(required=True, validate=[Length(1, 32), _known_skill], metadata=SKILL_DOC)
    product_model = fields.String(load_default="", validate=Length(max=100))
    issue_category = fields.String(load_default="repair", validate=OneOf(ISSUE_CATEGORIES))
    description = fields.String(load_default="", validate=Length(max=2000))
    required_skill = fields.String(
        load_default=None, allow_none=True, validate=[Length(1, 32), _known_skill], metadata=SKILL_DOC
    )
    priority = fields.String(load_default="normal", validate=OneOf(PRIORITIES))
    appointment_start = fields.AwareDateTime(load_default=None, allow_none=True)
    appointment_end = fields.AwareDateTime(load_default=None, allow_none=True)
    in_warranty = fields.Boolean(load_default=False)


class PersonRef(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String()


class OrderOut(Schema):
    id = fields.Integer()
    number = fields.String()
    status = fields.String()
    version = fields.Integer()
    channel = fields.String()
    customer = fields.Nested(PersonRef)
    address = fields.String()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    geocode_status = fields.String()
    product_category = fields.String()
    product_model = fields.String()
    issue_category = fields.String()
    description = fields.String()
    required_skill = fields.String()
    priority = fields.String()
    appointment_start = fields.DateTime(allow_none=True)
    appointment_end = fields.DateTime(allow_none=True)
    in_warranty = fields.Boolean()
    created_at = fields.DateTime()
    due_at = fields.DateTime()
    outlet_id = fields.Integer(allow_none=True)
    technician = fields.Nested(PersonRef, allow_none=True)
    assignment_locked = fields.Boolean()
    contacted_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    visit_count = fields.Integer()
    allowed_actions = fields.List(fields.String())
    tracking_url = fields.String(
        allow_none=True, metadata={"description": "the customer's link; only when the order is created"}
    )


class OrderPage(Schema):
    items = fields.List(fields.Nested(OrderOut))
    meta = fields.Nested(PageMeta)


class OrderQuery(PageQuery):
    status = fields.List(fields.String(validate=OneOf([s.value for s in Status])), load_default=None)
    outlet_id = fields.Integer(load_default=None)
    technician_id = fields.Integer(load_default=None)
    skill = fields.String(load_default=None, validate=Length(1, 32))
    priority = fields.String(load_default=None, validate=OneOf(PRIORITIES))
    q = fields.String(load_default=None, validate=Length(1, 100))


class TransitionIn(Schema):
    action = fields.String(required=True, validate=OneOf(ACTIONS))
    version = fields.Integer(required=True, validate=Range(min=1))
    reason = fields.String(load_default=None, allow_none=True, validate=Length(max=500))
    technician_id = fields.Integer(load_default=None, allow_none=True)
    lat = Latitude(load_default=None, allow_none=True)
    lon = Longitude(load_default=None, allow_none=True)
    accuracy_m = fields.Float(load_default=None, allow_none=True, validate=Range(0, 100_000))


class EventOut(Schema):
    seq = fields.Integer()
    order_id = fields.Integer()
    at = fields.String(metadata={"format": "date-time"})
    actor_id = fields.Integer(allow_none=True)
    actor_role = fields.String()
    kind = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    data = fields.Dict()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    accuracy_m = fields.Float(allow_none=True)


class EventList(Schema):
    items = fields.List(fields.Nested(EventOut))
    last_seq = fields.Integer()


class EventQuery(Schema):
    TEXT_INPUT = True  # query string / form: every value arrives as text (strict_fields)
    after = fields.Integer(load_default=0, validate=Range(min=0))
    limit = fields.Integer(load_default=500, validate=Range(1, 1000))


class SkillIn(Schema):
    code = fields.String(required=True, validate=Regexp(r"^[a-z][a-z0-9_]{1,31}$"))
    name_en = fields.String(required=True, validate=Length(1, 64))
    name_zh = fields.String(required=True, validate=Length(1, 64))


class SkillOut(Schema):
    code = fields.String()
    name_en = fields.String()
    name_zh = fields.String()
    active = fields.Boolean()


class SkillList(Schema):
    items = fields.List(fields.Nested(SkillOut))


class OutletIn(Schema):
    code = fields.String(required=True, validate=Regexp(r"^[A-Za-z0-9_-]{1,16}$"))
    name = fields.String(required=True, validate=Length(1, 100))
    area = fields.String(load_default="", validate=Length(max=100))
    address = fields.String(load_default="", validate=Length(max=255))
    lat = Latitude(required=True)
    lon = Longitude(required=True)
    speed_kmh = fields.Float(load_default=30.0, validate=Range(5, 120))
    detour_factor = fields.Float(load_default=1.3, validate=Range(1.0, 3.0))
    active = fields.Boolean(load_default=True)
    auto_dispatch = fields.Boolean(load_default=False)
    opens_at = fields.Time(load_default=None, allow_none=True, metadata={"description": "with closes_at, or neither"})
    closes_at = fields.Time(load_default=None, allow_none=True, metadata={"description": "after opens_at"})
    break_start = fields.Time(load_default=None, allow_none=True, metadata={"description": "the break's window opens"})
    break_end = fields.Time(
        load_default=None, allow_none=True, metadata={"description": "the break's window closes (after break_start)"}
    )
    break_minutes = fields.Integer(
        load_default=None, allow_none=True, validate=Range(0, 240),
        metadata={"description": "the break's length, within its window; with the window, or 0 for no break"},
    )  # fmt: skip


class OutletPatch(Schema):
    code = fields.String(validate=Regexp(r"^[A-Za-z0-9_-]{1,16}$"))
    name = fields.String(validate=Length(1, 100))
    area = fields.String(validate=Length(max=100))
    address = fields.String(validate=Length(max=255))
    lat = Latitude()
    lon = Longitude()
    speed_kmh = fields.Float(validate=Range(5, 120))
    detour_factor = fields.Float(validate=Range(1.0, 3.0))
    active = fields.Boolean()
    auto_dispatch = fields.Boolean()
    opens_at = fields.Time(allow_none=True)
    closes_at = fields.Time(allow_none=True)
    break_start = fields.Time(allow_none=True)
    break_end = fields.Time(allow_none=True)
    break_minutes = fields.Integer(allow_none=True, validate=Range(0, 240))


class OutletOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    area = fields.String()
    address = fields.String()
    lat = fields.Float()
    lon = fields.Float()
    speed_kmh = fields.Float()
    detour_factor = fields.Float()
    active = fields.Boolean()
    auto_dispatch = fields.Boolean()
    opens_at = fields.Time(allow_none=True)
    closes_at = fields.Time(allow_none=True)
    break_start = fields.Time(allow_none=True)
    break_end = fields.Time(allow_none=True)
    break_minutes = fields.Integer(allow_none=True)


class OutletPage(Schema):
    items = fields.List(fields.Nested(OutletOut))
    meta = fields.Nested(PageMeta)


WORK_DAYS = Regexp(r"^[1-7]{1,7}$", error="use ISO weekday digits 1-7, e.g. 12345 for Monday to Friday")


class TechnicianIn(Schema):
    outlet_id = fields.Integer(
        required=True, metadata={"description": "an existing outlet (400 naming the field otherwise)"}
    )
    user_id = fields.Integer(load_default=None, allow_none=True)
    name = fields.String(required=True, validate=Length(1, 100))
    phone = Phone(required=True)
    home_lat = Latitude(required=True)
    home_lon = Longitude(required=True)
    shift_start = fields.Time(load_default=None)
    shift_end = fields.Time(load_default=None)
    work_days = fields.String(load_default="123456", validate=WORK_DAYS)
    daily_capacity = fields.Integer(load_default=8, validate=Range(1, 30))
    active = fields.Boolean(load_default=True)
    skills = fields.List(fields.String(validate=Length(1, 32)), required=True, validate=Length(min=1))
    break_start = fields.Time(
        load_default=None,
        allow_none=True,
        metadata={"description": "own break (the outlet's otherwise): its window opens"},
    )
    break_end = fields.Time(
        load_default=None, allow_none=True, metadata={"description": "the break's window closes (after break_start)"}
    )
    break_minutes = fields.Integer(
        load_default=None, allow_none=True, validate=Range(0, 240),
        metadata={"description": "the break's length, within its window; with the window, or 0 for no break"},
    )  # fmt: skip


class TechnicianPatch(Schema):
    outlet_id = fields.Integer()
    user_id = fields.Integer(allow_none=True)
    name = fields.String(validate=Length(1, 100))
    phone = Phone()
    home_lat = Latitude()
    home_lon = Longitude()
    shift_start = fields.Time()
    shift_end = fields.Time()
    work_days = fields.String(validate=WORK_DAYS)
    daily_capacity = fields.Integer(validate=Range(1, 30))
    active = fields.Boolean()
    skills = fields.List(fields.String(validate=Length(1, 32)), validate=Length(min=1))
    break_start = fields.Time(allow_none=True)
    break_end = fields.Time(allow_none=True)
    break_minutes = fields.Integer(allow_none=True, validate=Range(0, 240))


class LeaveIn(Schema):
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    reason = fields.String(load_default="", validate=Length(max=200))


class LeaveOut(Schema):
    id = fields.Integer()
    start_date = fields.Date()
    end_date = fields.Date()
    reason = fields.String()


class TechnicianOut(Schema):
    id = fields.Integer()
    outlet_id = fields.Integer()
    user_id = fields.Integer(allow_none=True)
    name = fields.String()
    phone = fields.String()
    home_lat = fields.Float()
    home_lon = fields.Float()
    shift_start = fields.Time()
    shift_end = fields.Time()
    work_days = fields.String()
    daily_capacity = fields.Integer()
    active = fields.Boolean()
    skills = fields.List(fields.String())
    leaves = fields.List(fields.Nested(LeaveOut))
    last_lat = fields.Float(allow_none=True)
    last_lon = fields.Float(allow_none=True)
    last_seen_at = fields.DateTime(allow_none=True)
    break_start = fields.Time(allow_none=True)
    break_end = fields.Time(allow_none=True)
    break_minutes = fields.Integer(allow_none=True)
    unavailable_from = fields.DateTime(allow_none=True, metadata={"description": "dropped out at (that day only)"})
    unavailable_reason = fields.String(allow_none=True)


class TechnicianPage(Schema):
    items = fields.List(fields.Nested(TechnicianOut))
    meta = fields.Nested(PageMeta)


class TechnicianQuery(PageQuery):
    outlet_id = fields.Integer(load_default=None)
    skill = fields.String(load_default=None, validate=Length(1, 32))
    active = fields.Boolean(load_default=None)


PASSWORD_DOC = {"description": "at least 10 characters, mixing letters with digits or symbols (checked by the API)"}
# core.accounts' rule (letters, digits, '.' or '_'; `\w` is Unicode-aware like str.isalnum).
USERNAME = Regexp(r"^[\w.]{1,64}$", error="use 1–64 letters, digits, '.' or '_'")


class UserIn(Schema):
    username = fields.String(required=True, validate=[Length(1, 64), USERNAME])
    password = fields.String(required=True, validate=Length(1, 256), metadata=PASSWORD_DOC)
    role = fields.String(required=True, validate=OneOf([r.value for r in Role]))
    display_name = fields.String(load_default="", validate=Length(max=100))
    outlet_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "an existing outlet (400 naming the field otherwise)"},
    )


class UserPatch(Schema):
    display_name = fields.String(validate=Length(max=100))
    email = fields.Email(allow_none=True, validate=Length(max=254))
    phone = Phone(allow_none=True)
    role = fields.String(validate=OneOf([r.value for r in Role]))
    outlet_id = fields.Integer(allow_none=True)
    active = fields.Boolean()
    password = fields.String(validate=Length(1, 256), metadata=PASSWORD_DOC)
    locale = fields.String(allow_none=True, validate=OneOf(("en", "zh")))


class UserPage(Schema):
    items = fields.List(fields.Nested(UserOut))
    meta = fields.Nested(PageMeta)


class AuditOut(Schema):
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    action = fields.String()
    changes = fields.Dict()


class AuditList(Schema):
    items = fields.List(fields.Nested(AuditOut))


class CustomerOut(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String()
    address = fields.String()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    orders = fields.List(fields.Nested(OrderOut))
    meta = fields.Nested(PageMeta)
