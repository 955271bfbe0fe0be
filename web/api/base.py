"""The API blueprint every API module adds its routes to."""

from __future__ import annotations

from apiflask import APIBlueprint

bp = APIBlueprint("api", __name__, url_prefix="/api")

SECURITY = ["BearerAuth", "CookieAuth"]
