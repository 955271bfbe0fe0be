"""The API blueprint every API module adds its routes to, and what the document says about
every operation beyond its schemas (statuses the app answers anywhere, required bodies)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import current_app, request

from core.errors import ValidationFailed
from web.errors import MAX_ID

bp = APIBlueprint("api", __name__, url_prefix="/api")

SECURITY = ["BearerAuth", "CookieAuth"]

FORBIDDEN = {
    "description": "logged in, but this role (or this outlet) may not do it",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}},
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}},
    }


BAD_REQUEST = _error(
    "a field the document refuses, or text or a number no database can store (the detail names the field)"
)
NOT_FOUND = _error("no such object, or not one the caller may see")
TOO_LARGE = _error("the request body is larger than the upload limit")
UNAVAILABLE = {
    **_error("the database is briefly unavailable; nothing was written, retry after Retry-After seconds"),
    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1, "maximum": 3600}}},
}
TOO_MANY = _error("too many requests from this address; retry later")


def document_refusals(spec: dict[str, Any]) -> dict[str, Any]:
    """What every operation can answer besides what its decorators say. APIFlask documents
    the 401 and a 400 for schema errors only; the app also answers 403 for a login without
    the role or outlet (`roles_required`), 404 for an id that names nothing, 400 for text or
    ids no database stores (`web.errors.refuse_unstorable_input`, before any view), 413 for
    a body over MAX_CONTENT_LENGTH and 503 while the database is unreachable. A request body
    is required wherever one is documented (`refuse_missing_body`). Ids in paths are
    integers from 0 to MAX_ID."""
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "path" and schema.get("type") == "integer":
                    # `<int:…>`: digits only, and beyond MAX_ID a 404 (web.errors.IdConverter)
                    schema.update(minimum=0, maximum=MAX_ID)
            if operation.get("security"):
                responses.setdefault("403", FORBIDDEN)
            responses.setdefault("400", BAD_REQUEST)
            if "{" in path:
                responses.setdefault("404", NOT_FOUND)
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True
                responses.setdefault("413", TOO_LARGE)
            responses.setdefault("503", UNAVAILABLE)
    return spec


@bp.before_request
def refuse_missing_body() -> None:
    """An operation documented with a request body needs one: an empty POST to an operation
    whose fields are all optional is a client error, not a request for the defaults."""
    view = current_app.view_functions.get(request.endpoint or "")
    spec = getattr(view, "_spec", None) or {}
    if spec.get("body") is None or request.content_length:
        return
    if not request.get_data(cache=True):
        raise ValidationFailed({"body": "a request body is required"})


@bp.record_once
def _register_spec_processor(state) -> None:
    app = state.app
    previous = app.spec_callback
    if app.config.get("SPEC_PROCESSOR_PASS_OBJECT"):
        return  # another processor wants the APISpec object; leave the document as it is
    app.spec_callback = (lambda spec: document_refusals(previous(spec))) if previous else document_refusals
