"""The API blueprint every API module adds its routes to."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

bp = APIBlueprint("api", __name__, url_prefix="/api")

SECURITY = ["BearerAuth", "CookieAuth"]

FORBIDDEN = {
    "description": "logged in, but this role (or this outlet) may not do it",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}},
}


def document_refusals(spec: dict[str, Any]) -> dict[str, Any]:
    """Every operation that needs a login can also answer 403 (`roles_required`, outlet
    scope); APIFlask documents only the 401."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and operation.get("security"):
                operation.setdefault("responses", {}).setdefault("403", FORBIDDEN)
    return spec


@bp.record_once
def _register_spec_processor(state) -> None:
    app = state.app
    previous = app.spec_callback
    if app.config.get("SPEC_PROCESSOR_PASS_OBJECT"):
        return  # another processor wants the APISpec object; leave the document as it is
    app.spec_callback = (lambda spec: document_refusals(previous(spec))) if previous else document_refusals
