"""Extensions created unbound here and bound to an app in `create_app`."""

from __future__ import annotations

from flask import g, request
from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_wtf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.db import Database


class FlaskDatabase(Database):
    """A `Database` that gives each request its own session, closed at teardown."""

    def init_app(self, app) -> None:
        self.configure(app.config["DATABASE_URL"])
        app.extensions["database"] = self

        @app.teardown_appcontext
        def close_session(_exc: BaseException | None) -> None:
            session = g.pop("db_session", None)
            if session is None:
                return
            try:
                session.rollback()
            except SQLAlchemyError as error:  # the connection died with the database: let it go
                app.logger.warning("ending the request's session: %s", error)
                session.invalidate()
            finally:
                session.close()

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self.new_session()
        return g.db_session


def _client_key() -> str:
    return get_remote_address() or request.remote_addr or "unknown"


db = FlaskDatabase()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=_client_key, default_limits=[])
babel = Babel()
socketio = SocketIO()

# JSON (the board's snapshot is ~1 MB for 2,000 orders), scripts and styles; not HTML pages,
# which carry the CSRF token (BREACH).
compress = Compress()
