"""User accounts, roles and API tokens."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, column, select, table
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.audit import apply_changes, record_change
from core.db import Base, transactional, unit_of_work, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.phones import normalize_phone
from core.security import hash_password, new_token, password_problems, token_digest, verify_password

TOKEN_LIFETIME = timedelta(days=7)


class Role(enum.StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    TECHNICIAN = "technician"
    MANAGER = "manager"


# Who may do what: every role check in the code names one of these sets (templates get them
# as `roles`, web/__init__.py), so a role's reach is changed here or nowhere.
ALL_ROLES = frozenset(Role)
# The office: the board, reviews, callbacks, KPIs, complaints, customers' files.
STAFF_ROLES = frozenset({Role.ADMIN, Role.DISPATCHER, Role.MANAGER})
# Those who run the day: take orders, assign and plan them, keep the technicians' roster.
DISPATCH_ROLES = frozenset({Role.ADMIN, Role.DISPATCHER})
# Those who see across outlets and settle disputes: two-factor sign-in, photo locations, KPI
# settings and closing, anyone's complaint.
SENIOR_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
# Actors without an account: the optimiser and scheduled jobs, a customer on the public pages.
SYSTEM = "system"
CUSTOMER = "customer"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # A dispatcher or manager tied to an outlet sees that outlet only; none means all.
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id"))
    locale: Mapped[str | None] = mapped_column(String(8))
    # Where notices reach this person outside the app (SLA breaches, escalations).
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Base32 secret of the optional authenticator-app second factor (admins and managers).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last 30-second step whose code was accepted: a code works once (core/twofactor.py).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Flask-Login's protocol, kept here so the web layer needs no wrapper class.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


@dataclass(frozen=True)
class Actor:
    """Who is acting, as the use cases see it: no Flask, no session object."""

    user_id: int | None
    role: str
    outlet_id: int | None = None  # dispatchers and managers tied to one outlet
    technician_id: int | None = None  # set for the technician role

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, role=SYSTEM)

    @classmethod
    def public(cls) -> Actor:
        """A customer using the public request form (no account)."""
        return cls(user_id=None, role=CUSTOMER)


class LoginSession(Base):
    """One browser login. The cookie carries a random id whose SHA-256 is stored here, so a
    logout (or a password change, or an admin deactivating the account) ends the session on
    the server, not just in the one browser that asked."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


# The network's table (technicians/), named as the users.outlet_id foreign key names it: core
# is the ground floor and imports nothing above it.
OUTLETS = table("outlets", column("id"))


def _outlet_errors(session: Session, values: dict) -> dict[str, str]:
    """An error for `outlet_id` when it names no outlet (the database would refuse it)."""
    outlet_id = values.get("outlet_id")
    if outlet_id is not None and session.scalar(select(OUTLETS.c.id).where(OUTLETS.c.id == outlet_id)) is None:
        return {"outlet_id": f"outlet {outlet_id} does not exist"}
    return {}


def _check_new_user(username: str, password: str, role: str) -> None:
    errors: dict[str, str] = {}
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").isalnum():
        errors["username"] = "use 1–64 letters, digits, '.' or '_'"
    if role not in {r.value for r in Role}:
        errors["role"] = f"must be one of {', '.join(r.value for r in Role)}"
    problems = password_problems(password)
    if problems:
        errors["password"] = "; ".join(problems)
    if errors:
        raise ValidationFailed(errors)


@transactional
def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    outlet_id: int | None = None,
    actor_id: int | None = None,
    password_hash: str | None = None,
) -> User:
    """Create an account; the caller commits. `password_hash`: `hash_password(password)` made
    already, for accounts created together with one password (the demo's: scrypt costs about
    0.3 s a hash, and the demo's 33 accounts share one)."""
    _check_new_user(username, password, role)
    outlet_errors = _outlet_errors(session, {"outlet_id": outlet_id})
    if outlet_errors:
        raise ValidationFailed(outlet_errors)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username '{username}' is taken", field="username")
    user = User(
        username=username,
        password_hash=password_hash or hash_password(password),
        role=role,
        display_name=display_name or username,
        outlet_id=outlet_id,
    )
    session.add(user)
    session.flush()
    record_change(session, actor_id, "user", user.id, "create", {"username": [None, username], "role": [None, role]})
    return user


def _own_account_errors(user: User, values: dict, actor_id: int | None) -> dict[str, str]:
    """An admin cannot lock themselves out: not deactivate their own account, not take their
    own role away. Another admin does it (and the last admin is never left without one)."""
    if actor_id is None or actor_id != user.id:
        return {}
    errors = {}
    if "active" in values and values["active"] is not True and user.active:
        errors["active"] = "you cannot deactivate your own account; another admin can"
    if "role" in values and values["role"] != user.role:
        errors["role"] = "you cannot change your own role; another admin can"
    return errors


@transactional
def update_user(session: Session, user_id: int, values: dict, *, actor_id: int | None) -> User:
    """Change role, name, outlet, active flag or password; every change is audited."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    values = dict(values)
    password = values.pop("password", None)
    if "role" in values and values["role"] not in {r.value for r in Role}:
        raise ValidationFailed({"role": f"must be one of {', '.join(r.value for r in Role)}"})
    own_errors = _own_account_errors(user, values, actor_id)
    if own_errors:
        raise ValidationFailed(own_errors)
    outlet_errors = _outlet_errors(session, values)
    if outlet_errors:
        raise ValidationFailed(outlet_errors)
    if values.get("phone"):
        try:
            values["phone"] = normalize_phone(values["phone"], mobile_only=False)
        except ValueError as exc:
            raise ValidationFailed({"phone": str(exc)}) from None
    changes = apply_changes(user, values)
    if password is not None:
        problems = password_problems(password)
        if problems:
            raise ValidationFailed({"password": "; ".join(problems)})
        user.password_hash = hash_password(password)
        changes["password"] = ["***", "***"]
    if changes:
        record_change(session, actor_id, "user", user.id, "update", changes)
    if values.get("active") is False or password is not None:
        revoke_tokens(session, user.id)
    return user


@transactional
def change_own_password(session: Session, user_id: int, current: str, new: str, *, keep_login: str | None) -> None:
    """Someone changes their own password, proving it with the current one. Every other way
    they are signed in ends, as with an admin's reset (other browsers, API tokens); the login
    `keep_login` names (the browser that asked) holds."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if not verify_password(user.password_hash, current):
        raise ValidationFailed({"current_password": "is not your current password"})
    problems = password_problems(new)
    if new == current:
        problems.append("must differ from the current password")
    if problems:
        raise ValidationFailed({"new_password": problems})
    user.password_hash = hash_password(new)
    record_change(session, user.id, "user", user.id, "update", {"password": ["***", "***"]})
    revoke_tokens(session, user.id, keep_login=keep_login)


@transactional
def set_locale(session: Session, user_id: int, locale: str | None) -> None:
    user = session.get(User, user_id)
    if user is not None:
        user.locale = locale


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same answer for every failure)."""
    user = session.scalar(select(User).where(User.username == username))
    # The password is checked in every case, before `active` (an unknown name against a
    # stand-in hash): a failure takes the same time whichever reason it has.
    matches = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not matches or not user.active:
        return None
    return user


def issue_token(session: Session, user: User, now: datetime | None = None) -> tuple[str, datetime]:
    """A new bearer token for `user`; only its digest is stored."""
    now = now or utcnow()
    token = new_token()
    expires = now + TOKEN_LIFETIME
    session.add(ApiToken(user_id=user.id, digest=token_digest(token), expires_at=expires))
    return token, expires


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    now = now or utcnow()
    row = session.scalar(select(ApiToken).where(ApiToken.digest == token_digest(token)))
    if row is None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def live_tokens(session: Session, digests: list[str], now: datetime | None = None) -> set[str]:
    """Which of these token digests still sign someone in (not revoked, not expired, user
    active): the Socket.IO side drops the connections made with the others."""
    if not digests:
        return set()
    now = now or utcnow()
    rows = session.execute(
        select(ApiToken.digest)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.digest.in_(digests), ApiToken.expires_at > now, User.active.is_(True))
    )
    return set(rows.scalars())


def revoke_tokens(session: Session, user_id: int, *, keep_login: str | None = None) -> None:
    """End every way this user is signed in: API tokens and browser sessions (but the login
    whose secret is `keep_login`, when given)."""
    for row in session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)):
        session.delete(row)
    now = utcnow()
    kept = token_digest(keep_login) if keep_login else None
    for login in session.scalars(
        select(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
    ):
        if login.digest != kept:
            login.revoked_at = now


# --- browser login sessions -----------------------------------------------------------

# How long a browser session may sit unused, and how often its last use is written down
# (not on every request: a busy board would otherwise write a row per poll).
SESSION_IDLE = timedelta(hours=12)
SESSION_TOUCH_EVERY = timedelta(minutes=5)


@transactional
def start_login_session(session: Session, user_id: int, *, ip: str = "", user_agent: str = "") -> str:
    """Record a new browser login; the returned secret goes into the signed cookie only."""
    secret = new_token()
    session.add(LoginSession(user_id=user_id, digest=token_digest(secret), ip=ip[:45], user_agent=user_agent[:255]))
    return secret


def live_login_session(session: Session, secret: str, now: datetime | None = None) -> LoginSession | None:
    """The login behind `secret` if it is neither ended nor idle too long (its user active)."""
    now = now or utcnow()
    login = session.scalar(select(LoginSession).where(LoginSession.digest == token_digest(secret)))
    if login is None or login.revoked_at is not None or now - login.last_seen_at > SESSION_IDLE:
        return None
    user = session.get(User, login.user_id)
    if user is None or not user.active:
        return None
    if now - login.last_seen_at > SESSION_TOUCH_EVERY:
        with unit_of_work(session):
            login.last_seen_at = now
    return login


@transactional
def end_login_session(session: Session, secret: str) -> int | None:
    """Log out on the server: the cookie is worthless from now on. Returns the login's id."""
    login = session.scalar(select(LoginSession).where(LoginSession.digest == token_digest(secret)))
    if login is None:
        return None
    login.revoked_at = login.revoked_at or utcnow()
    return login.id


def ended_logins(session: Session, login_ids: list[int], now: datetime | None = None) -> set[int]:
    """Which of these logins no longer hold (logged out, revoked, idle, user deactivated):
    the Socket.IO side drops their connections."""
    if not login_ids:
        return set()
    now = now or utcnow()
    rows = session.execute(
        select(LoginSession.id, LoginSession.revoked_at, LoginSession.last_seen_at, User.active)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.id.in_(login_ids))
    ).all()
    alive = {row.id for row in rows if row.revoked_at is None and row.active and now - row.last_seen_at <= SESSION_IDLE}
    return set(login_ids) - alive
