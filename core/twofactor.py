"""The optional second factor: RFC 6238 one-time codes from an authenticator app (pyotp).

Offered to admins and managers, who can see every outlet's customers and change the network.
A code is accepted within one 30-second step either side of now (phone clocks drift) and only
once: the last accepted step is kept, so a code seen over someone's shoulder cannot be replayed.
"""

from __future__ import annotations

import hmac
import time
from datetime import datetime

import pyotp
from sqlalchemy.orm import Session

from core.accounts import SENIOR_ROLES, User, authenticate, issue_token, verify_password
from core.audit import record_change
from core.db import transactional
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.numbers import is_ascii_digits

TOTP_ROLES = SENIOR_ROLES
STEP_S = 30
ISSUER = "Field Service Dispatch"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def matching_step(secret: str, code: str, after_step: int | None, now: float | None = None) -> int | None:
    """The time step `code` belongs to (now ± one step), if later than `after_step`."""
    code = (code or "").strip().replace(" ", "")
    if not is_ascii_digits(code, length=6):  # '１２３４５６' is isdigit() too, and compare_digest refuses it
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_S)
    for step in (current - 1, current, current + 1):
        if after_step is not None and step <= after_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_S), code):
            return step
    return None


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


@transactional
def accept_code(session: Session, user_id: int, code: str, now: float | None = None) -> bool:
    """Check a login's second step; an accepted code is spent."""
    user = _user(session, user_id)
    if not user.totp_secret:
        return True
    step = matching_step(user.totp_secret, code, user.totp_last_step, now)
    if step is None:
        return False
    user.totp_last_step = step
    return True


@transactional
def enable(session: Session, user_id: int, secret: str, code: str, now: float | None = None) -> None:
    """Turn the second factor on, once the user proved their app shows the right codes."""
    user = _user(session, user_id)
    if user.role not in TOTP_ROLES:
        raise PermissionDenied("two-factor sign-in is offered to admins and managers")
    if user.totp_secret:
        raise ValidationFailed({"code": "two-factor sign-in is already on"})
    step = matching_step(secret, code, None, now)
    if step is None:
        raise ValidationFailed({"code": "the code does not match; check the phone's clock and try the next code"})
    user.totp_secret = secret
    user.totp_last_step = step
    record_change(session, user.id, "user", user.id, "update", {"totp": ["off", "on"]})


@transactional
def disable(session: Session, user_id: int, password: str, code: str, now: float | None = None) -> None:
    """Turn it off: needs the password and a current code, so a borrowed session cannot."""
    user = _user(session, user_id)
    if not user.totp_secret:
        raise ValidationFailed({"code": "two-factor sign-in is not on"})
    errors = {}
    if not verify_password(user.password_hash, password or ""):
        errors["password"] = "wrong password"
    step = matching_step(user.totp_secret, code, user.totp_last_step, now)
    if step is None:
        errors["code"] = "the code does not match"
    if errors:
        raise ValidationFailed(errors)
    user.totp_secret = None
    user.totp_last_step = None
    record_change(session, user.id, "user", user.id, "update", {"totp": ["on", "off"]})


@transactional
def login_for_token(
    session: Session, username: str, password: str, otp: str | None = None
) -> tuple[User, str, datetime] | None:
    """Check the credentials (and the one-time code of a two-factor account) and issue a
    bearer token; None when they are wrong."""
    user = authenticate(session, username, password)
    if user is None:
        return None
    if user.totp_secret:
        step = matching_step(user.totp_secret, otp or "", user.totp_last_step)
        if step is None:
            return None
        user.totp_last_step = step
    token, expires = issue_token(session, user)
    return user, token, expires
