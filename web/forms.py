"""HTML forms (WTForms through Flask-WTF, which adds the CSRF token to each)."""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FloatField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from core.errors import ValidationFailed
from dispatch.catalog import ISSUE_CATEGORIES, PRIORITIES
from web.labels import CHANNEL, ISSUE, PRIORITY


def apply_errors(form: FlaskForm, error: ValidationFailed) -> None:
    """Show the domain's field errors next to the form's fields (others at the top)."""
    for name, messages in error.fields.items():
        field = getattr(form, name, None)
        translated = [gettext(m) for m in messages]
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + translated
        else:
            form.form_errors.extend(f"{name}: {m}" for m in translated)


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class OneTimeCodeForm(FlaskForm):
    code = StringField(_l("Code from the authenticator app"), validators=[DataRequired(), Length(min=6, max=8)])


class TwoFactorEnableForm(FlaskForm):
    code = StringField(_l("Code the app shows now"), validators=[DataRequired(), Length(min=6, max=8)])
    submit = SubmitField(_l("Turn on two-factor sign-in"))


class TwoFactorOffForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    code = StringField(_l("Code the app shows now"), validators=[DataRequired(), Length(min=6, max=8)])
    submit = SubmitField(_l("Turn off two-factor sign-in"))


class PublicRequestForm(FlaskForm):
    """What a customer fills in on their phone, no account needed."""

    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    phone = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=32)])
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=255)])
    product_category = SelectField(_l("Appliance"), validators=[DataRequired()])
    issue_category = SelectField(
        _l("What do you need?"), choices=[SelectChoice(c, ISSUE[c]) for c in ISSUE_CATEGORIES if c != "complaint"]
    )
    product_model = StringField(_l("Model (optional)"), validators=[Optional(), Length(max=100)])
    description = TextAreaField(_l("What is wrong?"), validators=[Optional(), Length(max=2000)])
    in_warranty = BooleanField(_l("Still under warranty"))
    lat = HiddenField()
    lon = HiddenField()
    # The start of an offered appointment slot (radio buttons web/static/slots.js fills in).
    slot = StringField(_l("Time of the visit"), validators=[Optional(), Length(max=40)])


class HotlineForm(FlaskForm):
    """The dispatcher's intake form for calls, WeChat messages, e-mails and walk-ins."""

    channel = SelectField(
        _l("Channel"), choices=[SelectChoice(c, CHANNEL[c]) for c in ("hotline", "wechat", "email", "walk_in", "app")]
    )
    name = StringField(_l("Customer name"), validators=[DataRequired(), Length(max=100)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=32)])
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=255)])
    # Filled by the address search or a pick on the map (web/static/location-pick.js), never typed:
    # `coord_datum` says which datum the map's tiles draw in, and the server converts to WGS-84.
    lat = FloatField(_l("Latitude"), widget=HiddenInput(), validators=[Optional(), NumberRange(-90, 90)])
    lon = FloatField(_l("Longitude"), widget=HiddenInput(), validators=[Optional(), NumberRange(-180, 180)])
    coord_datum = HiddenField(default="wgs84", validators=[AnyOf(("wgs84", "gcj02", "bd09"))])
    product_category = SelectField(_l("Product"), validators=[DataRequired()])
    product_model = StringField(_l("Model"), validators=[Optional(), Length(max=100)])
    issue_category = SelectField(_l("Issue"), choices=[SelectChoice(c, ISSUE[c]) for c in ISSUE_CATEGORIES])
    required_skill = SelectField(_l("Required skill"), validators=[Optional()])
    priority = SelectField(_l("Priority"), choices=[SelectChoice(p, PRIORITY[p]) for p in PRIORITIES])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    appointment_start = DateTimeLocalField(_l("Appointment from"), validators=[Optional()])
    appointment_end = DateTimeLocalField(_l("Appointment until"), validators=[Optional()])
    in_warranty = BooleanField(_l("In warranty"))
    # An offered appointment slot's start (web/static/slots.js), booked at once; instead of the window above.
    slot = StringField(_l("Time of the visit"), validators=[Optional(), Length(max=40)])


class TransitionForm(FlaskForm):
    action = HiddenField(validators=[DataRequired()])
    version = HiddenField(validators=[DataRequired()])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])
    technician_id = SelectField(_l("Technician"), coerce=int, validators=[Optional()], validate_choice=False)


class OutletForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=16)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    area = StringField(_l("Area"), validators=[Optional(), Length(max=100)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=255)])
    lat = FloatField(_l("Latitude"), validators=[InputRequired(), NumberRange(-90, 90)])
    lon = FloatField(_l("Longitude"), validators=[InputRequired(), NumberRange(-180, 180)])
    speed_kmh = FloatField(_l("Average speed (km/h)"), default=30.0, validators=[InputRequired(), NumberRange(5, 120)])
    detour_factor = FloatField(_l("Road detour factor"), default=1.3, validators=[InputRequired(), NumberRange(1, 3)])
    active = BooleanField(_l("Active"), default=True)
    auto_dispatch = BooleanField(_l("Dispatch automatically (re-optimise on a schedule)"), default=False)
    opens_at = TimeField(_l("Opens at (for SLA rules that pause overnight)"), validators=[Optional()])
    closes_at = TimeField(_l("Closes at"), validators=[Optional()])
    break_start = TimeField(_l("Break from (technicians' default)"), validators=[Optional()])
    break_end = TimeField(_l("Break until"), validators=[Optional()])
    break_minutes = IntegerField(_l("Break minutes"), validators=[Optional(), NumberRange(0, 240)])


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes (not a ctrl-click list)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# ISO weekday digits, as `Technician.work_days` stores them ("123456" = Monday to Saturday).
WEEKDAYS = (
    ("1", _l("Mon")), ("2", _l("Tue")), ("3", _l("Wed")), ("4", _l("Thu")),
    ("5", _l("Fri")), ("6", _l("Sat")), ("7", _l("Sun")),
)  # fmt: skip


class WorkDaysField(CheckboxesField):
    """Work days as seven checkboxes; reads and gives the stored digits ("123456")."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, choices=[SelectChoice(v, t) for v, t in WEEKDAYS], **kwargs)

    def process_data(self, value):
        super().process_data(list(value) if isinstance(value, str) else value)

    @property
    def digits(self) -> str:
        """The ticked days in week order, as stored."""
        return "".join(d for d, _ in WEEKDAYS if d in (self.data or []))


class TechnicianForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=32)])
    outlet_id = SelectField(_l("Outlet"), coerce=int)
    user_id = SelectField(_l("Login account"), coerce=int, default=0)
    skills = CheckboxesField(_l("Skills"), validators=[DataRequired(_l("Tick at least one skill."))])
    home_lat = FloatField(_l("Home latitude"), validators=[InputRequired(), NumberRange(-90, 90)])
    home_lon = FloatField(_l("Home longitude"), validators=[InputRequired(), NumberRange(-180, 180)])
    # Only to find the home on the map through the geocoder; not stored.
    home_address = StringField(_l("Home address"), validators=[Optional(), Length(max=255)])
    shift_start = TimeField(_l("Shift starts"), validators=[InputRequired()])
    shift_end = TimeField(_l("Shift ends"), validators=[InputRequired()])
    work_days = WorkDaysField(
        _l("Work days"), default="123456", validators=[DataRequired(_l("Tick at least one work day."))]
    )
    daily_capacity = IntegerField(_l("Orders per day"), default=8, validators=[InputRequired(), NumberRange(1, 30)])
    active = BooleanField(_l("Active"), default=True)
    # Empty: the outlet's break; 0 minutes: no break.
    break_start = TimeField(_l("Break from (empty: the outlet's)"), validators=[Optional()])
    break_end = TimeField(_l("Break until"), validators=[Optional()])
    break_minutes = IntegerField(_l("Break minutes"), validators=[Optional(), NumberRange(0, 240)])


class LeaveForm(FlaskForm):
    start_date = DateField(_l("From"), validators=[InputRequired()])
    end_date = DateField(_l("Until"), validators=[InputRequired()])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=100)])
    # A new account starts with the least privilege; an admin raises it on purpose.
    role = SelectField(_l("Role"), default="technician")
    outlet_id = SelectField(_l("Outlet"), coerce=int, default=0)
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=256)])
    active = BooleanField(_l("Active"), default=True)


class PasswordChangeForm(FlaskForm):
    """Anyone changes their own password: the current one, then the new one twice."""

    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    new_password_again = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", _l("The two new passwords differ."))],
    )


class LocationForm(FlaskForm):
    """Correcting an order's address and position on its page (the map fills lat/lon)."""

    version = HiddenField(validators=[DataRequired()])
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=255)])
    lat = FloatField(_l("Latitude"), widget=HiddenInput(), validators=[Optional(), NumberRange(-90, 90)])
    lon = FloatField(_l("Longitude"), widget=HiddenInput(), validators=[Optional(), NumberRange(-180, 180)])
    coord_datum = HiddenField(default="wgs84", validators=[AnyOf(("wgs84", "gcj02", "bd09"))])


POLICY_LABELS = (
    ("baseline", _l("Today's practice (a dispatcher looks every 30 minutes)")),
    ("instant", _l("Instant placement")),
    ("reoptimise", _l("Instant placement + re-planning every 15 minutes")),
    ("auto", _l("Automatic dispatch per outlet")),
)


class LabForm(FlaskForm):
    """The policy lab: which policies, how long, how many seeds, and the what-if knobs."""

    policies = CheckboxesField(
        _l("Policies"), choices=[SelectChoice(v, t) for v, t in POLICY_LABELS], default=["baseline", "instant", "reoptimise"],
        validators=[DataRequired(message=_l("Choose at least one policy."))],
    )  # fmt: skip
    days = IntegerField(_l("Days"), default=3, validators=[InputRequired(), NumberRange(1, 31)])
    seeds = IntegerField(_l("Seeds (repetitions)"), default=2, validators=[InputRequired(), NumberRange(1, 5)])
    technicians = IntegerField(_l("Technicians per outlet"), validators=[Optional(), NumberRange(1, 50)])
    orders_per_day = IntegerField(_l("Orders per day"), validators=[Optional(), NumberRange(1, 500)])
    shift_start = TimeField(_l("Shift starts"), validators=[Optional()])
    shift_end = TimeField(_l("Shift ends"), validators=[Optional()])
    promise_hours = IntegerField(_l("Completion promise (hours)"), validators=[Optional(), NumberRange(1, 240)])
    horizon_days = IntegerField(_l("Planning horizon (days)"), validators=[Optional(), NumberRange(1, 7)])
    period_from = DateField(_l("Replay the real orders from"), validators=[Optional()])
    submit = SubmitField(_l("Start the simulation"))
