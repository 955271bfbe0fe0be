"""Domain errors and HTTP errors as responses: JSON under /api/, a page elsewhere."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as werkzeug_not_found
from werkzeug.routing import IntegerConverter

from core.errors import (
    Busy,
    Conflict,
    DomainError,
    IdempotencyKeyReused,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Refused,
    StaleWrite,
    TooLarge,
    ValidationFailed,
)
from core.numbers import MAX_INT32, is_ascii_digits, parse_int

STATUS = {
    ValidationFailed: 400,
    PermissionDenied: 403,
    NotFound: 404,
    StaleWrite: 409,
    InvalidTransition: 409,
    Conflict: 409,
    IdempotencyKeyReused: 422,
    Refused: 422,
    TooLarge: 413,
    Busy: 503,
}


def status_for(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def translate_fields(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: [gettext(m) for m in messages] for name, messages in fields.items()}


def translated(error: DomainError) -> str:
    """The error's message in the user's language, with its values filled in."""
    return gettext(error.template, **error.params) if error.params else gettext(error.message)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_body(status: int, message: str, detail: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"message": message, "detail": detail or {}, "status": status, **extra}


# The largest id in a path or an `*_id` field: most tables use 32-bit ids on PostgreSQL (the
# 64-bit ones, photos and events, will not pass two billion rows either).
MAX_ID = MAX_INT32
ID_OUT_OF_RANGE = "is out of range (at most 2147483647)"


class IdConverter(IntegerConverter):
    """`<int:…>` in a path: a number beyond any database id names nothing, so it is a 404
    like any other unknown id (instead of an overflow deep in the database driver)."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > MAX_ID:
            raise werkzeug_not_found()
        return number


# Text no database column can hold: NUL (PostgreSQL refuses it) and lone UTF-16 surrogates
# (a JSON "\ud800" escape decodes to one; no UTF-8 encoder accepts it).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "must not contain NUL characters or unpaired surrogates"


def _number_out_of_range(name: str, value: Any) -> bool:
    """An id (`*_id`) or page number beyond the database's 32-bit integers."""
    if not (name.endswith("_id") or name in ("page", "per_page", "limit")) or isinstance(value, bool):
        return False
    if isinstance(value, str):
        text = value.strip().lstrip("+-")
        if not is_ascii_digits(text):
            return False  # not a number at all ('²' and '５' included): the schema or the page says so
        return parse_int(text, 0, MAX_ID) is None
    return isinstance(value, int) and abs(value) > MAX_ID


def bad_field(value: Any, where: str = "") -> tuple[str, str] | None:
    """(field, problem) for the first value in `value` that no database can store: text with
    NUL or a lone surrogate, an id beyond the id range. Iterative, so a deeply nested body
    cannot exhaust the stack here."""
    stack = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str) and UNSTORABLE.search(item):
            return path or "body", UNSTORABLE_MESSAGE
        if path and _number_out_of_range(path.rsplit(".", 1)[-1], item):
            return path, ID_OUT_OF_RANGE
        if isinstance(item, dict):
            for key, child in item.items():
                name = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and UNSTORABLE.search(key):
                    return name, UNSTORABLE_MESSAGE
                stack.append((name, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return None


def refuse_unstorable_input() -> None:
    """Before any view: a JSON body nested too deeply to parse, text that no database can
    store, or an id beyond the id range, anywhere in the query string, form or JSON body, is
    a 400 naming the field, instead of a 500 from the parser or the database driver."""
    found = next(filter(None, (bad_field({k: v}) for k, v in request.args.items(multi=True))), None)
    if found is None and request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            pairs = request.form.items(multi=True)
            found = next(filter(None, (bad_field({k: v}) for k, v in pairs)), None)
        elif request.is_json:
            try:
                found = bad_field(request.get_json(silent=True))
            except RecursionError:
                found = ("body", "the JSON is nested too deeply")
    if found is not None:
        raise ValidationFailed({found[0]: found[1]})


def register(app: Flask) -> None:
    # Before any blueprint adds its rules: converters are bound when a rule is added.
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_unstorable_input)

    @app.errorhandler(DataError)
    def database_refused_value(error: DataError):
        """The last net: a value the database refuses (a number too large for its column)."""
        from web.extensions import db  # the session's transaction is dead: end it before rendering

        db.session.rollback()
        message = gettext("a value in the request is out of range")
        if wants_json():
            return jsonify(error_body(400, message)), 400
        return render_template("error.html", status=400, message=message, detail={}), 400

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError):
        """The database is restarting, unreachable or busy: nothing was written, try again."""
        from web.extensions import db

        app.logger.warning("database unavailable: %s", error.orig or error)
        try:  # the session's connection died with its transaction: end it before anything else
            db.session.rollback()
        except SQLAlchemyError:
            pass
        try:  # the locale (the user's choice) and the page may need the database themselves
            message = gettext("the service is briefly unavailable; please try again in a few seconds")
            if wants_json():
                response = jsonify(error_body(503, message))
            else:
                response = app.make_response(render_template("error.html", status=503, message=message, detail={}))
        except SQLAlchemyError:
            db.session.rollback()
            message = "the service is briefly unavailable; please try again in a few seconds"
            response = jsonify(error_body(503, message)) if wants_json() else app.make_response(message)
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(OverflowError)
    def number_out_of_range(error: OverflowError):
        """A number too large for the database (a query or body field without a bound)."""
        message = gettext("a number in the request is out of range")
        if wants_json():
            return jsonify(error_body(400, message)), 400
        return render_template("error.html", status=400, message=message, detail={}), 400

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        status = status_for(error)
        detail: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if isinstance(error, ValidationFailed):
            detail = {"json": translate_fields(error.fields)}
        else:
            extra = {
                k: v
                for k, v in error.details.items()
                if k in ("allowed", "order_status", "current_version", "field", "reason")
            }
        if wants_json():
            response = jsonify(error_body(status, translated(error), detail, **extra))
        else:
            page = render_template("error.html", status=status, message=translated(error), detail=detail)
            response = app.make_response(page)
        response.status_code = status
        if isinstance(error, Busy):
            response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if wants_json():
            response = jsonify(error_body(error.code or 500, error.description or error.name))
            for key, value in error.get_headers():
                if key.lower() != "content-type":
                    response.headers[key] = value
            return response, error.code
        return render_template("error.html", status=error.code, message=error.description, detail={}), error.code
