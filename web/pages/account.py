"""Logging in and out, the home redirect, and the language switch."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import segno
from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from core import twofactor
from core.accounts import (
    User,
    authenticate,
    change_own_password,
    end_login_session,
    set_locale,
    start_login_session,
)
from core.errors import DomainError, ValidationFailed
from web.auth import LOGIN_KEY, login_attempts
from web.extensions import db, limiter
from web.forms import (
    LoginForm,
    OneTimeCodeForm,
    PasswordChangeForm,
    TwoFactorEnableForm,
    TwoFactorOffForm,
    apply_errors,
)
from web.i18n import LANGUAGES
from web.pages.base import bp

# Staff start on the live board; technicians on their orders (their phone app comes later).
HOME_BY_ROLE = {
    "admin": "pages.board",
    "dispatcher": "pages.board",
    "manager": "pages.board",
    "technician": "pages.tech",  # the phone app (web/pages/tech.py)
}


@bp.get("/")
def home():
    """Send each role to its own start page; anonymous visitors to the request form."""
    if not current_user.is_authenticated:
        return redirect(url_for("pages.public_request"))
    return redirect(url_for(HOME_BY_ROLE.get(current_user.role, "pages.orders")))


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    return (
        target
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//")
        else None
    )


@bp.route("/login", methods=["GET", "POST"])
@login_attempts
def login():
    """The login page."""
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.username.data, form.password.data)
        if user is not None:
            session.clear()  # a fresh session on login: no fixation
            target = _safe_next(request.args.get("next"))
            if user.totp_secret:
                session[PENDING_KEY] = {"user_id": user.id, "at": time.time(), "next": target}
                return redirect(url_for("pages.login_code"))
            _begin_login(user)
            return redirect(target or url_for("pages.home"))
        form.form_errors.append(_("Wrong username or password."))
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form)


# The password step passed, the one-time code is still due (two-factor accounts only).
PENDING_KEY = "_2fa_pending"
PENDING_FOR_S = 300


def _begin_login(user: User) -> None:
    session[LOGIN_KEY] = start_login_session(
        db.session, user.id, ip=request.remote_addr or "", user_agent=request.user_agent.string
    )
    login_user(user)


@bp.route("/login/code", methods=["GET", "POST"])
@login_attempts
def login_code():
    """The second step for accounts with two-factor sign-in: the authenticator's code."""
    pending = session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_FOR_S:
        session.pop(PENDING_KEY, None)
        flash(_("Log in again: the code step timed out."), "error")
        return redirect(url_for("pages.login"))
    form = OneTimeCodeForm()
    if form.validate_on_submit():
        if twofactor.accept_code(db.session, pending["user_id"], form.code.data):
            user = db.session.get(User, pending["user_id"])
            session.clear()
            if user is None or not user.active:
                return redirect(url_for("pages.login"))
            _begin_login(user)
            return redirect(pending.get("next") or url_for("pages.home"))
        form.code.errors = [_("The code does not match. Wait for the next one and try again.")]
        return render_template("login_code.html", form=form), 401
    return render_template("login_code.html", form=form)


TOTP_SETUP_KEY = "_2fa_setup"


@bp.route("/account/security", methods=["GET", "POST"])
@login_required
def account_security():
    """Two-factor sign-in for admins and managers: set up with a QR code, or turn it off."""
    user: User = current_user  # type: ignore[assignment]
    enable_form, off_form = TwoFactorEnableForm(prefix="on"), TwoFactorOffForm(prefix="off")
    status = 200
    try:
        if user.totp_secret and off_form.submit.data and off_form.validate_on_submit():
            twofactor.disable(db.session, user.id, off_form.password.data, off_form.code.data)
            flash(_("Two-factor sign-in is off."), "info")
            return redirect(url_for("pages.account_security"))
        if not user.totp_secret and enable_form.submit.data and enable_form.validate_on_submit():
            twofactor.enable(db.session, user.id, session.get(TOTP_SETUP_KEY, ""), enable_form.code.data)
            session.pop(TOTP_SETUP_KEY, None)
            flash(_("Two-factor sign-in is on. You will be asked for a code at each login."), "info")
            return redirect(url_for("pages.account_security"))
    except ValidationFailed as exc:
        apply_errors(off_form if user.totp_secret else enable_form, exc)
        status = 400
    except DomainError as exc:
        flash(_(str(exc)), "error")
        status = 403
    qr = secret = None
    if not user.totp_secret and user.role in twofactor.TOTP_ROLES:
        secret = session.get(TOTP_SETUP_KEY) or twofactor.new_secret()
        session[TOTP_SETUP_KEY] = secret
        uri = twofactor.provisioning_uri(secret, user.username)
        qr = segno.make(uri, error="m").svg_inline(scale=5, title=_("Scan with an authenticator app"))
    template = render_template(
        "account_security.html",
        enable_form=enable_form,
        off_form=off_form,
        qr=qr,
        secret=secret,
        offered=user.role in twofactor.TOTP_ROLES,
    )
    return template, status


# A wrong current password spends the same budget as a failed login (LOGIN_LIMIT per
# address): a borrowed, unlocked browser is no way to guess the password at leisure.
password_attempts = limiter.shared_limit(
    lambda: current_app.config["LOGIN_LIMIT"],
    scope="login",
    methods=["POST"],
    deduct_when=lambda response: bool(g.get("wrong_password")),
)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@password_attempts
def account_password():
    """Change one's own password: every other login and API token of the account ends."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            change_own_password(
                db.session, current_user.id, form.current_password.data, form.new_password.data,
                keep_login=session.get(LOGIN_KEY),
            )  # fmt: skip
        except ValidationFailed as exc:
            g.wrong_password = "current_password" in exc.fields
            apply_errors(form, exc)
        else:
            flash(_("Your password is changed. Your other sessions and API tokens have ended."), "info")
            return redirect(url_for("pages.account_password"))
    status = 400 if request.method == "POST" else 200
    return render_template("account_password.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Log out: the login ends on the server (its sockets drop within seconds), the cookie is
    cleared and so is what the site stored in this browser."""
    secret = session.get(LOGIN_KEY)
    if secret:
        end_login_session(db.session, secret)
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    response = redirect(url_for("pages.login"))
    # Nothing of this user stays in the browser: the phone app's offline copies, its saved list
    # and queue, and its service worker go (a shared phone's next user must not see them).
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.post("/lang/<code>")
def set_language(code: str):
    """Choose the interface language for this browser session."""
    if code in LANGUAGES:
        session["lang"] = code
        if current_user.is_authenticated:
            set_locale(db.session, current_user.id, code)
    return redirect(_safe_next(request.form.get("next")) or url_for("pages.home"))
