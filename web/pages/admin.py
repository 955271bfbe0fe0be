"""Pages for shaping the service network: outlets, technicians (with leave) and accounts."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from core import accounts, audit
from core.accounts import DISPATCH_ROLES, STAFF_ROLES, Role, User
from core.db import utcnow
from core.errors import Conflict, DomainError, ValidationFailed
from core.numbers import parse_int
from core.pagination import paginate
from core.phones import display_phone
from dispatch.geocoding import AddressNotFound, GeocoderUnavailable
from dispatch.permissions import can_assign_to, can_manage_roster, covers_outlet
from dispatch.planning import dropout
from technicians import network
from technicians.availability import dropped_out
from web.auth import current_actor, roles_required
from web.extensions import db
from web.forms import WEEKDAYS, LeaveForm, OutletForm, TechnicianForm, UserForm, apply_errors
from web.labels import DROP_OUT_REASON, ROLE
from web.pages.base import bp
from web.wiring import intake_settings, planning_settings

OUTLET_FIELDS = (
    "code",
    "name",
    "area",
    "address",
    "lat",
    "lon",
    "speed_kmh",
    "detour_factor",
    "active",
    "auto_dispatch",
    "break_start",
    "break_end",
    "break_minutes",
)
TECH_FIELDS = (
    "name", "phone", "outlet_id", "home_lat", "home_lon", "shift_start", "shift_end",
    "work_days", "daily_capacity", "active", "break_start", "break_end", "break_minutes",
)  # fmt: skip
# Where the home-base map starts when there is no outlet to centre on (Xi'an, as the demo data).
DEFAULT_CENTRE = (34.26, 108.94)
# Least privileged first: a new account's form starts with the first.
ROLE_ORDER = ("technician", "dispatcher", "manager", "admin")


def _page() -> int:
    value = request.args.get("page", "1")
    return parse_int(value, 1) or 1


def _save(form, action) -> bool:
    """Run a use case for a submitted form; domain errors go back onto the form."""
    try:
        action()
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return False
    except Conflict as exc:
        field = getattr(form, exc.details.get("field", ""), None)
        (field.errors if field is not None else form.form_errors).append(_(exc.message))
        return False
    flash(_("Saved."), "info")
    return True


# --- outlets ------------------------------------------------------------------------


@bp.route("/admin/outlets", methods=["GET", "POST"])
@roles_required("admin")
def admin_outlets():
    """List outlets and open a new one."""
    form = OutletForm()
    actor_id = current_actor().user_id
    if form.validate_on_submit():
        values = {f: getattr(form, f).data for f in OUTLET_FIELDS}
        if _save(form, lambda: network.create_outlet(db.session, values, actor_id=actor_id)):
            return redirect(url_for("pages.admin_outlets"))
    return render_template("admin/outlets.html", outlets=network.list_outlets(db.session), form=form)


@bp.route("/admin/outlets/<int:outlet_id>", methods=["GET", "POST"])
@roles_required("admin")
def admin_outlet(outlet_id: int):
    """Edit or deactivate one outlet; see its history."""
    try:
        outlet = network.get_outlet(db.session, outlet_id)
    except DomainError:
        abort(404)
    form = OutletForm(obj=outlet)
    if form.validate_on_submit():
        values = {f: getattr(form, f).data for f in OUTLET_FIELDS}
        actor_id = current_actor().user_id
        if _save(form, lambda: network.update_outlet(db.session, outlet_id, values, actor_id=actor_id)):
            return redirect(url_for("pages.admin_outlet", outlet_id=outlet_id))
    history = audit.history(db.session, "outlet", outlet_id)
    return render_template("admin/outlet.html", outlet=outlet, form=form, history=history)


# --- technicians --------------------------------------------------------------------


def _technician_form(obj=None) -> TechnicianForm:
    form = TechnicianForm(obj=obj)
    actor = current_actor()
    locale = str(get_locale())
    outlets = [o for o in network.list_outlets(db.session) if covers_outlet(actor.outlet_id, o.id)]
    form.outlet_id.choices = [(o.id, f"{o.code} {o.name}") for o in outlets]
    form.skills.choices = [(s.code, s.name(locale)) for s in network.list_skills(db.session)]
    tech_users = db.session.scalars(select(User).where(User.role == "technician").order_by(User.username))
    form.user_id.choices = [(0, "—")] + [(u.id, u.username) for u in tech_users]
    if obj is not None and request.method == "GET":
        form.skills.data = obj.skill_codes
        form.user_id.data = obj.user_id or 0
        form.phone.data = display_phone(obj.phone)  # as people read it; saved back as E.164
    return form


def _technician_values(form: TechnicianForm) -> dict:
    values = {f: getattr(form, f).data for f in TECH_FIELDS if f != "work_days"}
    return values | {"work_days": form.work_days.digits, "user_id": form.user_id.data or None}


def _home_map(form: TechnicianForm, tech=None) -> dict:
    """What the home-base map (web/static/home-map.js) needs: tiles, a starting point, words."""
    config = current_app.config
    outlet = tech.outlet if tech is not None else None
    centre = (outlet.lat, outlet.lon) if outlet is not None else DEFAULT_CENTRE
    return {
        "tile_url": config["MAP_TILE_URL"],
        "tile_attribution": config["MAP_TILE_ATTRIBUTION"],
        "centre": centre,
        "strings": {"home": _("Home base")},
    }


def _locate_home(form: TechnicianForm) -> None:
    """Put the geocoder's point for the typed home address into the form (nothing is saved)."""
    settings = intake_settings()
    address = (form.home_address.data or "").strip()
    if not address:
        form.home_address.errors = [_("Type the address to look for.")]
        return
    # The read transaction ends first: none is held across the geocoder's network call (and
    # on SQLite it would lock out the geocoder's cache writes).
    db.session.rollback()
    try:
        point = settings.geocoder.geocode(address, settings.city)
    except AddressNotFound:
        form.home_address.errors = [_("No place found for this address; pick the home on the map.")]
        return
    except GeocoderUnavailable:
        form.home_address.errors = [_("The address search is unavailable now; pick the home on the map.")]
        return
    for field, value in ((form.home_lat, point.lat), (form.home_lon, point.lon)):
        field.data, field.raw_data, field.errors = round(value, 6), None, []  # shown instead of what was typed
    flash(_("Found %(place)s. Check the pin on the map, then save.", place=point.formatted), "info")


def _render_technician(tech, form: TechnicianForm, *, may_edit: bool, status: int = 200):
    history = audit.history(db.session, "technician", tech.id) if tech is not None else []
    actor, tz = current_actor(), current_app.config["TIMEZONE"]
    return render_template(
        "admin/technician.html", tech=tech, form=form, may_edit=may_edit, history=history,
        leave_form=LeaveForm() if tech is not None else None, home_map=_home_map(form, tech),
        weekdays=dict(WEEKDAYS), can_locate=current_app.config.get("GEOCODER_PROVIDER", "none") != "none",
        may_drop_out=tech is not None and actor.role in DISPATCH_ROLES and can_assign_to(actor, tech.outlet_id),
        out_today=tech is not None and dropped_out(tech, utcnow(), tz), drop_out_reasons=DROP_OUT_REASON,
    ), status  # fmt: skip


@bp.get("/admin/technicians")
@roles_required(*STAFF_ROLES)
def admin_technicians():
    """Technicians, filtered by outlet and skill, paged."""
    actor = current_actor()
    outlet_id = request.args.get("outlet_id", "")
    outlet_id = parse_int(outlet_id, 1) or actor.outlet_id
    skill = request.args.get("skill") or None
    query = network.technician_query(outlet_id=outlet_id, skill=skill)
    page = paginate(db.session, query, _page(), 50)
    return render_template(
        "admin/technicians.html", page=page, outlets=network.list_outlets(db.session),
        skills=network.list_skills(db.session), outlet_id=outlet_id, skill=skill, weekdays=dict(WEEKDAYS),
    )  # fmt: skip


@bp.route("/admin/technicians/new", methods=["GET", "POST"])
@roles_required(*DISPATCH_ROLES)
def admin_technician_new():
    """Add a technician."""
    form = _technician_form()
    if request.method == "POST" and request.form.get("locate"):
        _locate_home(form)
        return _render_technician(None, form, may_edit=True, status=400 if form.home_address.errors else 200)
    if form.validate_on_submit():
        values = _technician_values(form)
        actor_id = current_actor().user_id
        created = []
        if _save(form, lambda: created.append(
            network.create_technician(db.session, values, form.skills.data, actor_id=actor_id)
        )):  # fmt: skip
            return redirect(url_for("pages.admin_technician", tech_id=created[0].id))
    return _render_technician(None, form, may_edit=True, status=400 if request.method == "POST" else 200)


@bp.route("/admin/technicians/<int:tech_id>", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def admin_technician(tech_id: int):
    """Edit a technician (skills, home, shift, work days, capacity), manage leave, see history;
    read-only for those who may not change the roster (managers, other outlets' dispatchers)."""
    try:
        tech = network.get_technician(db.session, tech_id)
    except DomainError:
        abort(404)
    actor = current_actor()
    may_edit = can_manage_roster(actor, tech.outlet_id)
    form = _technician_form(tech)
    if request.method == "POST":
        if not may_edit:
            abort(403)
        if request.form.get("locate"):
            _locate_home(form)
            return _render_technician(tech, form, may_edit=True, status=400 if form.home_address.errors else 200)
        if form.validate_on_submit():
            values = _technician_values(form)
            if _save(form, lambda: network.update_technician(
                db.session, tech_id, values, form.skills.data, actor_id=actor.user_id
            )):  # fmt: skip
                return redirect(url_for("pages.admin_technician", tech_id=tech_id))
        return _render_technician(tech, form, may_edit=True, status=400)
    return _render_technician(tech, form, may_edit=may_edit)


@bp.post("/admin/technicians/<int:tech_id>/leaves")
@roles_required(*DISPATCH_ROLES)
def admin_add_leave(tech_id: int):
    """Record leave for a technician."""
    form = LeaveForm()
    actor = current_actor()
    tech = network.get_technician(db.session, tech_id)
    if not can_manage_roster(actor, tech.outlet_id):
        abort(403)
    if form.validate_on_submit():
        try:
            network.add_leave(
                db.session, tech_id, form.start_date.data, form.end_date.data, form.reason.data or "",
                actor_id=actor.user_id,
            )  # fmt: skip
            flash(_("Leave recorded."), "info")
        except ValidationFailed as exc:
            flash("; ".join(_(m) for msgs in exc.fields.values() for m in msgs), "error")
    else:
        flash(_("Give both dates of the leave."), "error")
    return redirect(url_for("pages.admin_technician", tech_id=tech_id))


@bp.post("/admin/technicians/<int:tech_id>/leaves/<int:leave_id>/delete")
@roles_required(*DISPATCH_ROLES)
def admin_remove_leave(tech_id: int, leave_id: int):
    """Cancel recorded leave."""
    actor = current_actor()
    tech = network.get_technician(db.session, tech_id)
    if not can_manage_roster(actor, tech.outlet_id):
        abort(403)
    network.remove_leave(db.session, tech_id, leave_id, actor_id=actor.user_id)
    flash(_("Leave removed."), "info")
    return redirect(url_for("pages.admin_technician", tech_id=tech_id))


@bp.post("/admin/technicians/<int:tech_id>/drop-out")
@roles_required(*DISPATCH_ROLES)
def admin_drop_out(tech_id: int):
    """The technician is out from now to the end of the day (sick, vehicle broken…): their
    orders not started yet are re-planned as a proposal, opened on the board to be applied."""
    try:
        tech = network.get_technician(db.session, tech_id)
    except DomainError:
        abort(404)
    actor = current_actor()
    if not can_assign_to(actor, tech.outlet_id):
        abort(403)
    try:
        proposal = dropout.drop_out(db.session, tech_id, request.form.get("reason", ""), actor, planning_settings())
    except ValidationFailed:
        flash(_("Why is the technician out? Pick one of the reasons."), "error")
        return _render_technician(tech, _technician_form(tech), may_edit=can_manage_roster(actor, tech.outlet_id),
                                  status=400)  # fmt: skip
    return redirect(url_for("pages.board", plan=proposal.id))


# --- accounts -----------------------------------------------------------------------


def _user_form(obj=None) -> UserForm:
    form = UserForm(obj=obj)
    roles = sorted((r.value for r in Role), key=lambda r: ROLE_ORDER.index(r) if r in ROLE_ORDER else len(ROLE_ORDER))
    form.role.choices = [(r, str(ROLE.get(r, r))) for r in roles]
    form.outlet_id.choices = [(0, "—")] + [(o.id, f"{o.code} {o.name}") for o in network.list_outlets(db.session)]
    if obj is not None and request.method == "GET":
        form.outlet_id.data = obj.outlet_id or 0
    return form


@bp.route("/admin/users", methods=["GET", "POST"])
@roles_required("admin")
def admin_users():
    """Accounts, and a form to create one."""
    form = _user_form()
    if form.validate_on_submit():
        actor_id = current_actor().user_id
        if _save(form, lambda: accounts.create_user(
            db.session, form.username.data, form.password.data or "", form.role.data,
            display_name=form.display_name.data or "", outlet_id=form.outlet_id.data or None, actor_id=actor_id,
        )):  # fmt: skip
            return redirect(url_for("pages.admin_users"))
    page = paginate(db.session, select(User).order_by(User.username), _page(), 50)
    outlets = {o.id: f"{o.code} {o.name}" for o in network.list_outlets(db.session)}
    return render_template("admin/users.html", page=page, form=form, outlets=outlets)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def admin_user(user_id: int):
    """Edit or disable an account."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = _user_form(user)
    if form.validate_on_submit():
        values = {
            "display_name": form.display_name.data or "", "role": form.role.data,
            "outlet_id": form.outlet_id.data or None, "active": form.active.data,
        }  # fmt: skip
        if form.password.data:
            values["password"] = form.password.data
        actor_id = current_actor().user_id
        if _save(form, lambda: accounts.update_user(db.session, user_id, values, actor_id=actor_id)):
            return redirect(url_for("pages.admin_user", user_id=user_id))
    history = audit.history(db.session, "user", user_id)
    status = 400 if form.errors or form.form_errors else 200
    return render_template("admin/user.html", user=user, form=form, history=history), status
