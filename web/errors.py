"""Domain errors and HTTP errors as responses: JSON under /api/, a page elsewhere."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
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


def _at_most(limit: int) -> str:
    """A regular expression for the decimal numbers from 0 to `limit` (no sign)."""
    digits = str(limit)
    parts = [rf"\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, ch in enumerate(digits):
        if ch != "0":
            parts.append(rf"{digits[:i]}[0-{int(ch) - 1}]\d{{{len(digits) - i - 1}}}")
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


class IdConverter(IntegerConverter):
    """`<int:…>` in a path: a number beyond any database id names nothing, so it is a 404
    like any other unknown id (instead of an overflow deep in the database driver). The bound
    is in the pattern, so such a path matches no rule at all: a converter that refused it after
    matching would leave werkzeug a rule of another method on the same path (GET and PATCH
    /api/orders/<id>) and a 405 instead of the 404."""

    regex = _at_most(MAX_ID)

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


# What each status means to someone using the pages, in their language (the API keeps
# Werkzeug's English descriptions in its JSON).
PAGE_TEXT = {
    400: (_l("Something in the request was not right"), _l("Please go back, check what you entered and try again.")),
    403: (_l("You may not open this page"), _l("Your account has no access to it. Ask an administrator if you need it.")),
    404: (_l("This page does not exist"), _l("The address may be mistyped, or what it showed has been removed.")),
    405: (_l("This cannot be done here"), _l("The page was opened in a way it does not support. Please use the links and buttons of the site.")),
    410: (_l("This page is no longer available"), _l("What it showed has expired or been withdrawn.")),
    413: (_l("What you sent is too large"), _l("Please send smaller files (photos of at most a few megabytes) and try again.")),
    429: (_l("Too many attempts"), _l("Please wait a minute, then try again.")),
    500: (_l("Something went wrong on our side"), _l("Nothing was saved. Please try again; if it happens again, tell us the time it happened.")),
    503: (_l("The service is briefly unavailable"), _l("Please try again in a few seconds.")),
}  # fmt: skip


def error_page(status: int, message: str | None = None, detail: dict[str, Any] | None = None, headers=()):
    """The HTML answer to an error outside the API: what happened, in the user's language,
    and a way back (the page they came from on this site, and the start page)."""
    title, advice = PAGE_TEXT.get(status, PAGE_TEXT[500] if status >= 500 else PAGE_TEXT[400])
    back = request.referrer if _same_site(request.referrer) and request.referrer != request.url else None
    html = render_template(
        "error.html", status=status, title=title, message=message, advice=advice, detail=detail or {}, back=back
    )
    response = make_response(html, status)
    for key, value in headers:
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


def _same_site(url: str | None) -> bool:
    return bool(url) and (url.startswith(request.host_url) or (url.startswith("/") and not url.startswith("//")))


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
        return error_page(400, message)

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
            response = jsonify(error_body(503, message)) if wants_json() else error_page(503)
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
        return error_page(400, message)

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
                if k in ("allowed", "order_status", "current_version", "field", "pending", "reason")
            }
        if wants_json():
            response = jsonify(error_body(status, translated(error), detail, **extra))
            response.status_code = status
        else:
            response = error_page(status, translated(error), detail)
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
        # Werkzeug's descriptions are English prose for developers: the page says it in the
        # user's words instead. An unexpected failure (500) must not take the page down too.
        status = error.code or 500
        if status >= 500:
            _end_failed_transaction()
        return error_page(status, headers=error.get_headers())


def _end_failed_transaction() -> None:
    """After an unexpected error the session may hold a failed transaction: end it before
    the error page (its locale lookup) reads the database."""
    from web.extensions import db

    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass
