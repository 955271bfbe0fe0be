"""Who is calling: browser sessions (Flask-Login) or bearer tokens; and role checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, after_this_request, g, request, session
from flask_login import current_user

from core.accounts import Actor, User, live_login_session, user_for_token
from core.security import token_digest
from technicians.services import technician_for_user
from web.extensions import db, login_manager

# The signed cookie names the login (`_sid`); the login row on the server says whether it
# still holds, so logging out, a password change or a deactivation ends it everywhere.
LOGIN_KEY = "_sid"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    secret = session.get(LOGIN_KEY)
    if not user_id.isdigit() or not secret:
        return None
    login = live_login_session(db.session, secret)
    if login is None or login.user_id != int(user_id):
        return None
    g.login_id = login.id
    return db.session.get(User, login.user_id)


@login_manager.request_loader
def load_user_from_token(req) -> User | None:
    token = bearer_token(req)
    if token is None:
        return None
    user = user_for_token(db.session, token)
    if user is not None:
        g.token_digest = token_digest(token)  # a socket opened with it ends with it (web/realtime.py)
    return user


def bearer_token(req) -> str | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_actor() -> Actor:
    """The caller as the use cases see them (computed once per request)."""
    if "actor" not in g:
        if not current_user.is_authenticated:
            g.actor = Actor.public()
        else:
            user: User = current_user  # type: ignore[assignment]
            tech_id = None
            if user.role == "technician":
                tech = technician_for_user(db.session, user.id)
                tech_id = tech.id if tech else None
            g.actor = Actor(user_id=user.id, role=user.role, outlet_id=user.outlet_id, technician_id=tech_id)
    return g.actor


def roles_required(*roles: str) -> Callable:
    """Refuse anonymous callers with 401 and the wrong roles with 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if request.path.startswith("/api/"):
                    abort(401)
                return login_manager.unauthorized()
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]  # read by the access-matrix test
        return wrapped

    return decorator


# Names the signed-in user on the responses the phone app keeps for offline use, so that its
# service worker (web/static/sw.js) holds one user's copies only and drops them when another
# user's arrive.
OWNER_HEADER = "X-Tech-User"


def name_the_owner() -> None:
    """Mark this request's response as personal to the signed-in user (see OWNER_HEADER)."""
    owner = str(current_user.id)

    @after_this_request
    def _owner(response):
        response.headers[OWNER_HEADER] = owner
        return response


STAFF = ("admin", "dispatcher", "manager")
ANY_ROLE = ("admin", "dispatcher", "manager", "technician")
