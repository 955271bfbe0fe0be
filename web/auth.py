"""Who is calling: browser sessions (Flask-Login) or bearer tokens; and role checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, after_this_request, current_app, g, request, session
from flask_login import current_user

from core.accounts import ALL_ROLES, SENIOR_ROLES, STAFF_ROLES, Actor, User, live_login_session, user_for_token
from core.numbers import parse_int
from core.security import token_digest
from technicians.network import technician_for_user
from web.extensions import db, limiter, login_manager


def _login_limit() -> str:
    return current_app.config["LOGIN_LIMIT"]


# One budget of failed sign-in attempts per client address (LOGIN_LIMIT, 5 a minute), spent
# alike by the login page, its one-time-code step and the API's token login: with a budget
# each, an attacker had twice the guesses by alternating page and API. Only failures (401)
# count. Not per username: a per-name budget would let anyone lock a named user out.
login_attempts = limiter.shared_limit(
    _login_limit, scope="login", methods=["POST"], deduct_when=lambda response: response.status_code == 401
)

# The signed cookie names the login (`_sid`); the login row on the server says whether it
# still holds, so logging out, a password change or a deactivation ends it everywhere.
LOGIN_KEY = "_sid"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    secret, wanted = session.get(LOGIN_KEY), parse_int(user_id, 1)
    if wanted is None or not secret:
        return None
    login = live_login_session(db.session, secret)
    if login is None or login.user_id != wanted:
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


# The role sets of core.accounts, as the views have long named them.
STAFF = STAFF_ROLES
ANY_ROLE = ALL_ROLES
# Who reviews doubtful proof photos, and who makes the customer callbacks: all staff.
REVIEWERS = STAFF
CLERKS = STAFF
# Who may see where a photo was taken (EXIF GPS, the original file): managers and admins.
LOCATION_ROLES = SENIOR_ROLES

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
