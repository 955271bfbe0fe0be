"""The Flask application: `create_app` binds extensions, blueprints and Socket.IO."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apiflask import APIFlask
from flask import request, session
from flask_babel import get_locale
from werkzeug.middleware.proxy_fix import ProxyFix

from core.accounts import DISPATCH_ROLES, SENIOR_ROLES, STAFF_ROLES
from web import auth, errors, filters, headers, observability, realtime, realtime_tracking  # noqa: F401  (auth registers the login loaders)
from web import config as config_module
from web.api import bp as api_bp
from web.cli import register as register_cli
from web.extensions import babel, compress, csrf, db, limiter, login_manager, socketio
from web.i18n import LANGUAGES, select_locale
from web.labels import Labels
from web.map_settings import check_tile_crs
from web.pages import bp as pages_bp

# The role sets of core.accounts for the templates (`current_user.role in roles.staff`).
ROLE_SETS = {"staff": STAFF_ROLES, "dispatch": DISPATCH_ROLES, "senior": SENIOR_ROLES}

# APIFlask 3.1 registers a schema twice when it is both a response and nested in another
# response; the document stays valid (tests/integration/test_openapi.py checks it).
warnings.filterwarnings("ignore", message=r".*has already been added to the spec", category=UserWarning)


def create_app(test_config: dict[str, Any] | None = None) -> APIFlask:
    app = APIFlask(
        __name__,
        title="Field-service dispatch API",
        version="1.0",
        spec_path="/api/openapi.json",
        docs_path=None,  # /api/docs is web/pages/api_docs.py: vendored Swagger UI under the CSP
        json_errors=False,
        instance_path=str(Path(__file__).resolve().parent.parent / "instance"),
    )
    app.config.update(config_module.from_environment(Path(app.instance_path)))
    app.config.update(
        VALIDATION_ERROR_STATUS_CODE=400,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in `_csrf` below, skipped for bearer tokens
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        LOGIN_DISABLED=False,
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    app.config["TIMEZONE"] = ZoneInfo(app.config["APP_TIMEZONE"])
    check_tile_crs(app.config)
    # Flask-Babel's format_datetime/format_time convert to this zone whatever zone they are
    # given (UTC by default): without it every history time read in UTC, 8 hours off in Xi'an.
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config["APP_TIMEZONE"])
    # The catalogues Flask-Babel reads; the notices (dispatch/notify.py) word themselves with them too.
    app.config.setdefault("TRANSLATIONS_DIR", app.config["BABEL_TRANSLATION_DIRECTORIES"])
    app.security_schemes = {
        "BearerAuth": {"type": "http", "scheme": "bearer"},
        "CookieAuth": {"type": "apiKey", "in": "cookie", "name": "session"},
    }
    if app.config["PROXY_FIX_X_FOR"]:
        n = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    db.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "pages.login"
    csrf.init_app(app)
    # Flask-Limiter keeps `enabled` on the one module-level limiter and reads the config with
    # that as its default: an app made with limits off would leave them off for every app made
    # after it in the process. Each app says for itself.
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
    compress.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config["REDIS_URL"],
        cors_allowed_origins=app.config.get("SOCKETIO_ALLOWED_ORIGINS"),
        manage_session=False,
    )

    # APIFlask's error processor also takes over every Werkzeug error (a JSON 404 for a page):
    # set it first, so that errors.register puts the page-or-JSON handler back on top.
    @app.error_processor
    def api_error(error):
        return errors.error_body(error.status_code, error.message or "", error.detail), error.status_code, error.headers

    errors.register(app)
    headers.register(app)
    filters.register(app)
    realtime.register(app)
    realtime_tracking.register(app)  # after realtime: it wraps the publisher
    observability.register(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(pages_bp)
    register_cli(app)

    @app.before_request
    def _csrf() -> None:
        # CSRF rides on the browser's ambient session cookie, so every page form and every
        # API call made with a logged-in session must carry the token; API calls without
        # a session (bearer token, or the login call itself) have nothing to forge.
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return
        if request.path.startswith("/api/") and "_user_id" not in session:
            return
        csrf.protect()

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        return {"current_locale": str(get_locale()), "languages": LANGUAGES, "labels": Labels, "roles": ROLE_SETS}

    if app.config["SCHEDULER_IN_PROCESS"] and not app.config.get("TESTING"):
        start_in_process_scheduler(app)
    return app


def start_in_process_scheduler(app: APIFlask) -> None:
    """The default single-process set-up sweeps in a background thread, under the same lock
    a separate scheduler process would take, so starting one later is harmless."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from web.wiring import guarded_jobs

    interval = app.config["SCHEDULER_INTERVAL_S"]
    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    guarded_jobs(app.config, interval).install(scheduler, interval)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
