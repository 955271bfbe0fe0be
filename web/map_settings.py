"""What every page with a map needs to draw its base layer: tiles, their datum, a centre.

The browser converts WGS-84 positions (what the database holds) into the tiles' datum for
display with a small port of the forward formulas (web/static/map-crs.js); a place picked on
the map is sent back with its datum (`coord_datum`) and converted to WGS-84 on the server with
prcoords' precise inverse (dispatch.geocoding.to_wgs84). See docs/board.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TILE_CRS = ("wgs84", "gcj02", "bd09")
DEFAULT_CENTRE = (34.26, 108.94)


def check_tile_crs(config: Mapping[str, Any]) -> None:
    """Refuse to start with a datum the map cannot convert (a typo would put markers 500 m off)."""
    crs = config.get("MAP_TILE_CRS", "wgs84")
    if crs not in TILE_CRS:
        raise RuntimeError(f"MAP_TILE_CRS must be one of {', '.join(TILE_CRS)}, not {crs!r}")


def map_settings(config: Mapping[str, Any], centre: tuple[float, float] | None = None) -> dict[str, Any]:
    """The base layer's settings for a page's JSON data block."""
    return {
        "tile_url": config.get("MAP_TILE_URL", ""),
        "tile_attribution": config.get("MAP_TILE_ATTRIBUTION", ""),
        "tile_subdomains": config.get("MAP_TILE_SUBDOMAINS", "abc") or "abc",
        "tile_crs": config.get("MAP_TILE_CRS", "wgs84"),
        "centre": list(centre or DEFAULT_CENTRE),
    }
