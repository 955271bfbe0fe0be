"""Logging in and out, the home redirect, and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from core.accounts import authenticate, set_locale
from web.extensions import db, limiter
from web.forms import LoginForm
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


def _login_limit() -> str:
    return current_app.config["LOGIN_LIMIT"]


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
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda response: response.status_code == 401)
def login():
    """The login page."""
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.username.data, form.password.data)
        if user is not None:
            session.clear()  # a fresh session on login: no fixation
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("pages.home"))
        form.form_errors.append(_("Wrong username or password."))
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Log out and forget the session."""
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("pages.login"))


@bp.post("/lang/<code>")
def set_language(code: str):
    """Choose the interface language for this browser session."""
    if code in LANGUAGES:
        session["lang"] = code
        if current_user.is_authenticated:
            set_locale(db.session, current_user.id, code)
    return redirect(_safe_next(request.form.get("next")) or url_for("pages.home"))
