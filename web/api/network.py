"""Managing the service network over JSON: skills, outlets, technicians, leave, accounts."""

from __future__ import annotations

from apiflask import abort
from sqlalchemy import select

from core import accounts, audit
from core.accounts import DISPATCH_ROLES, SENIOR_ROLES, User
from core.pagination import paginate
from dispatch.permissions import can_manage_roster
from technicians import network
from technicians.models import Outlet
from web.api.base import SECURITY, bp
from web.api.presenters import page_out, technician_out, user_out
from web.api.schemas import (
    AuditList,
    LeaveIn,
    LeaveOut,
    OutletIn,
    OutletOut,
    OutletPage,
    OutletPatch,
    PageQuery,
    SkillIn,
    SkillList,
    SkillOut,
    TechnicianIn,
    TechnicianOut,
    TechnicianPage,
    TechnicianPatch,
    TechnicianQuery,
    UserIn,
    UserOut,
    UserPage,
    UserPatch,
)
from web.auth import STAFF, current_actor, roles_required
from web.extensions import db

ADMIN = ("admin",)
# Dispatchers keep the roster current (leave, shifts); only admins shape the network.
ROSTER = DISPATCH_ROLES


def _actor_id() -> int | None:
    return current_actor().user_id


def _check_outlet_scope(outlet_id: int) -> None:
    """A dispatcher tied to one outlet manages only that outlet's technicians."""
    if not can_manage_roster(current_actor(), outlet_id):
        abort(403, "you may manage only your own outlet's technicians")


# --- skills -------------------------------------------------------------------------


@bp.get("/skills")
@roles_required(*STAFF, "technician")
@bp.output(SkillList)
@bp.doc(security=SECURITY)
def list_skills():
    """The managed list of skills (also the product categories)."""
    return {"items": network.list_skills(db.session)}


@bp.post("/skills")
@roles_required(*ADMIN)
@bp.input(SkillIn, arg_name="body")
@bp.output(SkillOut, status_code=201)
@bp.doc(security=SECURITY, responses={409: "the code is taken"})
def create_skill(body: dict):
    """Add a skill to the managed list."""
    return network.create_skill(db.session, body["code"], body["name_en"], body["name_zh"], actor_id=_actor_id())


# --- outlets ------------------------------------------------------------------------


@bp.get("/outlets")
@roles_required(*STAFF)
@bp.input(PageQuery, location="query", arg_name="args")
@bp.output(OutletPage)
@bp.doc(security=SECURITY)
def list_outlets(args: dict):
    """All outlets, by code."""
    page = paginate(db.session, select(Outlet).order_by(Outlet.code), args["page"], args["per_page"])
    return page_out(page, lambda o: o)


@bp.post("/outlets")
@roles_required(*ADMIN)
@bp.input(OutletIn, arg_name="body")
@bp.output(OutletOut, status_code=201)
@bp.doc(security=SECURITY, responses={409: "the code is taken"})
def create_outlet(body: dict):
    """Open an outlet."""
    return network.create_outlet(db.session, body, actor_id=_actor_id())


@bp.get("/outlets/<int:outlet_id>")
@roles_required(*STAFF)
@bp.output(OutletOut)
@bp.doc(security=SECURITY)
def get_outlet(outlet_id: int):
    """One outlet."""
    return network.get_outlet(db.session, outlet_id)


@bp.patch("/outlets/<int:outlet_id>")
@roles_required(*ADMIN)
@bp.input(OutletPatch, arg_name="body")
@bp.output(OutletOut)
@bp.doc(security=SECURITY, responses={409: "the code is taken"})
def update_outlet(outlet_id: int, body: dict):
    """Change an outlet; `active: false` deactivates it."""
    return network.update_outlet(db.session, outlet_id, body, actor_id=_actor_id())


@bp.get("/outlets/<int:outlet_id>/history")
@roles_required(*SENIOR_ROLES)
@bp.output(AuditList)
@bp.doc(security=SECURITY)
def outlet_history(outlet_id: int):
    """Who changed what on this outlet."""
    network.get_outlet(db.session, outlet_id)
    return {"items": audit.history(db.session, "outlet", outlet_id)}


# --- technicians --------------------------------------------------------------------


@bp.get("/technicians")
@roles_required(*STAFF)
@bp.input(TechnicianQuery, location="query", arg_name="args")
@bp.output(TechnicianPage)
@bp.doc(security=SECURITY)
def list_technicians(args: dict):
    """Technicians, filtered by outlet, skill and active flag."""
    query = network.technician_query(outlet_id=args["outlet_id"], skill=args["skill"], active=args["active"])
    return page_out(paginate(db.session, query, args["page"], args["per_page"]), technician_out)


@bp.post("/technicians")
@roles_required(*ROSTER)
@bp.input(TechnicianIn, arg_name="body")
@bp.output(TechnicianOut, status_code=201)
@bp.doc(security=SECURITY)
def create_technician(body: dict):
    """Add a technician with skills, home base, shift, work days and capacity."""
    _check_outlet_scope(body["outlet_id"])
    skills = body.pop("skills")
    values = {k: v for k, v in body.items() if v is not None or k == "user_id"}
    return technician_out(network.create_technician(db.session, values, skills, actor_id=_actor_id()))


@bp.get("/technicians/<int:tech_id>")
@roles_required(*STAFF)
@bp.output(TechnicianOut)
@bp.doc(security=SECURITY)
def get_technician(tech_id: int):
    """One technician."""
    return technician_out(network.get_technician(db.session, tech_id))


@bp.patch("/technicians/<int:tech_id>")
@roles_required(*ROSTER)
@bp.input(TechnicianPatch, arg_name="body")
@bp.output(TechnicianOut)
@bp.doc(security=SECURITY)
def update_technician(tech_id: int, body: dict):
    """Change a technician; `active: false` deactivates (no new work is offered)."""
    _check_outlet_scope(network.get_technician(db.session, tech_id).outlet_id)
    if "outlet_id" in body:
        _check_outlet_scope(body["outlet_id"])
    skills = body.pop("skills", None)
    return technician_out(network.update_technician(db.session, tech_id, body, skills, actor_id=_actor_id()))


@bp.post("/technicians/<int:tech_id>/leaves")
@roles_required(*ROSTER)
@bp.input(LeaveIn, arg_name="body")
@bp.output(LeaveOut, status_code=201)
@bp.doc(security=SECURITY)
def add_leave(tech_id: int, body: dict):
    """Record days off or leave (inclusive); no work is offered on those days."""
    _check_outlet_scope(network.get_technician(db.session, tech_id).outlet_id)
    return network.add_leave(
        db.session, tech_id, body["start_date"], body["end_date"], body["reason"], actor_id=_actor_id()
    )


@bp.delete("/technicians/<int:tech_id>/leaves/<int:leave_id>")
@roles_required(*ROSTER)
@bp.output({}, status_code=204)
@bp.doc(security=SECURITY)
def remove_leave(tech_id: int, leave_id: int):
    """Cancel recorded leave."""
    _check_outlet_scope(network.get_technician(db.session, tech_id).outlet_id)
    network.remove_leave(db.session, tech_id, leave_id, actor_id=_actor_id())
    return ""


@bp.get("/technicians/<int:tech_id>/history")
@roles_required(*STAFF)
@bp.output(AuditList)
@bp.doc(security=SECURITY)
def technician_history(tech_id: int):
    """Who changed what on this technician."""
    network.get_technician(db.session, tech_id)
    return {"items": audit.history(db.session, "technician", tech_id)}


# --- accounts -----------------------------------------------------------------------


@bp.get("/users")
@roles_required(*ADMIN)
@bp.input(PageQuery, location="query", arg_name="args")
@bp.output(UserPage)
@bp.doc(security=SECURITY)
def list_users(args: dict):
    """All accounts."""
    page = paginate(db.session, select(User).order_by(User.username), args["page"], args["per_page"])
    return page_out(page, user_out)


@bp.post("/users")
@roles_required(*ADMIN)
@bp.input(UserIn, arg_name="body")
@bp.output(UserOut, status_code=201)
@bp.doc(security=SECURITY, responses={409: "the username is taken"})
def create_user(body: dict):
    """Create an account (password: at least 10 characters mixing letters and digits)."""
    user = accounts.create_user(
        db.session, body["username"], body["password"], body["role"],
        display_name=body["display_name"], outlet_id=body["outlet_id"], actor_id=_actor_id(),
    )  # fmt: skip
    return user_out(user)


@bp.patch("/users/<int:user_id>")
@roles_required(*ADMIN)
@bp.input(UserPatch, arg_name="body")
@bp.output(UserOut)
@bp.doc(security=SECURITY)
def update_user(user_id: int, body: dict):
    """Change an account; `active: false` disables it and revokes its tokens."""
    return user_out(accounts.update_user(db.session, user_id, body, actor_id=_actor_id()))
