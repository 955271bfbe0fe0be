"""A fake map tile server for tests (no internet): 256-pixel PNG tiles in the usual
`/{z}/{x}/{y}.png` Web-Mercator grid, pale grey everywhere except for "streets".

A street is given in WGS-84 (the truth) and drawn where a Chinese map service would draw it:
converted to GCJ-02 (AMap, Tencent) or BD-09 (Baidu) with prcoords, or left in WGS-84
(OpenStreetMap, Tianditu). Each street is a red cross, 3 pixels wide, through that point, so a
test can check that a marker drawn for the WGS-84 point lands on the street in the tiles.

    with FakeTileServer([(34.2610, 108.9423)], datum="gcj02") as tiles:
        app = create_app({"MAP_TILE_URL": tiles.url_template, "MAP_TILE_CRS": "gcj02", ...})
        tiles.pixel_of(34.2610, 108.9423, zoom=16)  # -> (tile x, tile y, px, py) of the street
"""

from __future__ import annotations

import io
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self

import prcoords
from PIL import Image, ImageDraw

__all__ = ["FakeTileServer", "STREET", "global_pixel"]

TILE = 256
STREET = (214, 40, 40)
GROUND = (236, 238, 241)
HALF_WIDTH = 1  # the street is 2 * HALF_WIDTH + 1 pixels wide


def global_pixel(lat: float, lon: float, zoom: int) -> tuple[float, float]:
    """Web-Mercator pixel of a point at `zoom` (what Leaflet's EPSG:3857 computes)."""
    scale = TILE * 2**zoom
    x = (lon + 180.0) / 360.0 * scale
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * scale
    return x, y


class FakeTileServer:
    """Threaded tile server on 127.0.0.1 (random port)."""

    def __init__(
        self, streets: list[tuple[float, float]], *, datum: Literal["wgs84", "gcj02", "bd09"] = "gcj02"
    ) -> None:
        self.streets = list(streets)
        self.datum = datum
        self.requests: list[str] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def drawn_at(self, lat: float, lon: float) -> tuple[float, float]:
        """Where the map service draws this WGS-84 point (its own datum)."""
        if self.datum == "gcj02":
            return tuple(prcoords.wgs_gcj((lat, lon), True))  # type: ignore[return-value]
        if self.datum == "bd09":
            return tuple(prcoords.wgs_bd((lat, lon), True))  # type: ignore[return-value]
        return lat, lon

    def pixel_of(self, lat: float, lon: float, zoom: int) -> tuple[int, int, int, int]:
        """(tile x, tile y, pixel x, pixel y) of a WGS-84 point as the tiles draw it."""
        gx, gy = global_pixel(*self.drawn_at(lat, lon), zoom)
        return int(gx // TILE), int(gy // TILE), int(gx % TILE), int(gy % TILE)

    def tile(self, z: int, x: int, y: int) -> bytes:
        image = Image.new("RGB", (TILE, TILE), GROUND)
        draw = ImageDraw.Draw(image)
        for lat, lon in self.streets:
            gx, gy = global_pixel(*self.drawn_at(lat, lon), z)
            px, py = int(gx) - x * TILE, int(gy) - y * TILE
            if -HALF_WIDTH <= px < TILE + HALF_WIDTH:
                draw.rectangle([px - HALF_WIDTH, 0, px + HALF_WIDTH, TILE - 1], fill=STREET)
            if -HALF_WIDTH <= py < TILE + HALF_WIDTH:
                draw.rectangle([0, py - HALF_WIDTH, TILE - 1, py + HALF_WIDTH], fill=STREET)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    def start(self) -> Self:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name="fake-tiles")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url_template(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/{{z}}/{{x}}/{{y}}.png"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake: FakeTileServer = self.server.fake  # type: ignore[attr-defined]
        match = re.fullmatch(r"/(\d+)/(\d+)/(\d+)\.png", self.path.split("?")[0])
        if not match:
            self.send_error(404)
            return
        fake.requests.append(self.path)
        body = fake.tile(*(int(g) for g in match.groups()))
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
