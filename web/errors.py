"""Domain errors and HTTP errors as responses: JSON under /api/, a page elsewhere."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from core.errors import (
    Conflict,
    DomainError,
    IdempotencyKeyReused,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleWrite,
    ValidationFailed,
)

STATUS = {
    ValidationFailed: 400,
    PermissionDenied: 403,
    NotFound: 404,
    StaleWrite: 409,
    InvalidTransition: 409,
    Conflict: 409,
    IdempotencyKeyReused: 422,
}


def status_for(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def translate_fields(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: [gettext(m) for m in messages] for name, messages in fields.items()}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_body(status: int, message: str, detail: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"message": message, "detail": detail or {}, "status": status, **extra}


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        status = status_for(error)
        detail: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if isinstance(error, ValidationFailed):
            detail = {"json": translate_fields(error.fields)}
        else:
            extra = {
                k: v for k, v in error.details.items() if k in ("allowed", "order_status", "current_version", "field")
            }
        if wants_json():
            return jsonify(error_body(status, gettext(error.message), detail, **extra)), status
        return render_template("error.html", status=status, message=gettext(error.message), detail=detail), status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if wants_json():
            response = jsonify(error_body(error.code or 500, error.description or error.name))
            for key, value in error.get_headers():
                if key.lower() != "content-type":
                    response.headers[key] = value
            return response, error.code
        return render_template("error.html", status=error.code, message=error.description, detail={}), error.code
