"""API login: a bearer token for API clients."""

from __future__ import annotations

from apiflask import abort
from flask_login import current_user

from core.twofactor import login_for_token
from technicians.network import technician_for_user
from web.api.base import SECURITY, bp
from web.api.presenters import user_out
from web.api.schemas import LoginIn, TokenOut, UserOut
from web.auth import ANY_ROLE, current_actor, login_attempts, roles_required
from web.extensions import db


@bp.post("/auth/login")
@login_attempts
@bp.input(LoginIn, arg_name="body")
@bp.output(TokenOut)
@bp.doc(responses={401: "wrong username or password", 429: "too many failed attempts"})
def login(body: dict):
    """Exchange a username and password (and `otp` for two-factor accounts) for a bearer token (valid 7 days)."""
    result = login_for_token(db.session, body["username"], body["password"], body.get("otp"))
    if result is None:
        abort(401, "wrong username, password or one-time code")
    user, token, expires = result
    tech = technician_for_user(db.session, user.id)
    return {"token": token, "expires_at": expires, "user": user_out(user, tech.id if tech else None)}


@bp.get("/me")
@roles_required(*ANY_ROLE)
@bp.output(UserOut)
@bp.doc(security=SECURITY)
def me():
    """The logged-in user."""
    return user_out(current_user, current_actor().technician_id)
