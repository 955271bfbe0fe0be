"""A fake geocoding HTTP server for tests (no internet needed).

Emulates just enough of two providers:

* Nominatim ``GET /search?q=...&format=json|jsonv2`` -> JSON list of
  ``{"place_id", "lat", "lon", "display_name", ...}`` (``[]`` when unknown).
* Baidu geocoding v3 ``GET /geocoding/v3/?address=...&ak=...&output=json`` ->
  ``{"status": 0, "result": {"location": {"lng", "lat"}, ...}}``; unknown
  address -> ``{"status": 1, "msg": "Internal Service Error:无相关结果"}``
  (what Baidu really answers); missing ak -> status 101; ak not in
  ``baidu_aks`` -> status 200 ("APP不存在，AK有误请检查再重试").

Known places are given once, in WGS-84 (the truth).  Nominatim answers them
verbatim; Baidu answers them converted forward to BD-09 (``baidu_datum="bd09"``,
default) or GCJ-02 (``"gcj02"``, and then it also says
``"coordtype": "gcj02ll"`` in the result) with prcoords -- i.e. like the real
service.  ``baidu_raw`` lets a test hand Baidu exact coordinates instead.

Addresses are matched after NFKC + casefold + whitespace collapsing; for
Nominatim a ``"address, city"`` query also matches on its first component.

Usage::

    with FakeGeoServer({"西安钟楼": (34.2610, 108.9423)}) as server:
        geocoder = Geocoder("nominatim", url=server.url)
        ...
        assert len(server.requests) == 1

Switches (may be changed while running): ``fail_status`` (e.g. 503 / 429:
every request answers that HTTP status), ``hang_seconds`` (sleep before
answering; cut short by :meth:`stop`), ``baidu_status`` (Baidu answers HTTP 200
with this non-zero status, e.g. 1 internal error, 4/302 quota, 8 bad query).
"""

from __future__ import annotations

import json
import threading
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self
from urllib.parse import parse_qs, urlsplit

import prcoords

__all__ = ["FakeGeoServer", "FakePlace", "RecordedRequest"]

BAIDU_NOT_FOUND = {"status": 1, "msg": "Internal Service Error:无相关结果", "results": []}
BAIDU_NO_AK = {"status": 101, "message": "AK参数不存在"}
BAIDU_BAD_AK = {"status": 200, "message": "APP不存在，AK有误请检查再重试"}


@dataclass(frozen=True)
class FakePlace:
    """A known place: WGS-84 coordinates plus a display name."""

    lat: float
    lon: float
    display_name: str = ""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _as_place(name: str, value: FakePlace | tuple[float, float] | Mapping[str, Any]) -> FakePlace:
    if isinstance(value, FakePlace):
        return value
    if isinstance(value, Mapping):
        return FakePlace(float(value["lat"]), float(value["lon"]), str(value.get("display_name", name)))
    lat, lon = value
    return FakePlace(float(lat), float(lon), name)


class FakeGeoServer:
    """Threaded fake Nominatim + Baidu v3 server on 127.0.0.1 (random port)."""

    def __init__(
        self,
        places: Mapping[str, FakePlace | tuple[float, float] | Mapping[str, Any]] | None = None,
        *,
        baidu_aks: Collection[str] | None = None,
        baidu_datum: Literal["bd09", "gcj02"] = "bd09",
        baidu_raw: Mapping[str, tuple[float, float]] | None = None,
        fail_status: int | None = None,
        hang_seconds: float = 0.0,
        baidu_status: int | None = None,
    ) -> None:
        """``places``: address -> WGS-84 ``(lat, lon)`` / :class:`FakePlace` /
        mapping with ``lat``, ``lon``, ``display_name``.  ``baidu_aks``: keys
        Baidu accepts (``None`` = any non-empty ak).  ``baidu_raw``: address ->
        ``(lat, lng)`` Baidu returns verbatim (takes precedence)."""
        self.places: dict[str, FakePlace] = {}
        for name, value in (places or {}).items():
            self.add_place(name, value)
        self.baidu_aks = set(baidu_aks) if baidu_aks is not None else None
        self.baidu_datum = baidu_datum
        self.baidu_raw = {_norm(k): v for k, v in (baidu_raw or {}).items()}
        self.fail_status = fail_status
        self.hang_seconds = hang_seconds
        self.baidu_status = baidu_status
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Self:
        """Bind 127.0.0.1:0 and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-geo-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (later connects are refused)."""
        self._stopping.set()  # wake up hanging handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._httpd is None:
            raise RuntimeError("FakeGeoServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://127.0.0.1:{self.port}"

    # -- helpers for tests -------------------------------------------------

    def add_place(self, name: str, value: FakePlace | tuple[float, float] | Mapping[str, Any]) -> None:
        """Register (or replace) a known address."""
        self.places[_norm(name)] = _as_place(name, value)

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        """Recorded requests whose path starts with ``path_prefix``."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def clear_requests(self) -> None:
        """Forget recorded requests."""
        with self._lock:
            self.requests.clear()

    # -- request handling (called from handler threads) ---------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _find(self, query: str) -> FakePlace | None:
        return self.places.get(_norm(query))

    def _nominatim(self, params: dict[str, str]) -> tuple[int, Any]:
        query = params.get("q", "")
        place = self._find(query) or self._find(query.split(",")[0])
        limit = int(params.get("limit") or 10)
        if place is None:
            # Like Nominatim's free-text search, part of a name finds the places holding it.
            part = _norm(query.split(",")[0])
            found = [p for name, p in self.places.items() if part and part in name][:limit]
            return 200, [self._nominatim_body(p, params) for p in found]
        return 200, [self._nominatim_body(place, params)][:limit]

    def _nominatim_body(self, place: FakePlace, params: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "place_id": abs(hash(place.display_name)) % 10**8,
            "licence": "Data © OpenStreetMap contributors, ODbL 1.0. fake",
            "lat": repr(place.lat),
            "lon": repr(place.lon),
            "display_name": place.display_name,
            "importance": 0.5,
        }
        if params.get("format") == "jsonv2":
            body.update(category="place", type="house", place_rank=30, addresstype="place")
        else:
            body.update({"class": "place", "type": "house"})
        return body

    def _baidu(self, params: dict[str, str]) -> tuple[int, Any]:
        ak = params.get("ak", "")
        if not ak:
            return 200, BAIDU_NO_AK
        if self.baidu_aks is not None and ak not in self.baidu_aks:
            return 200, BAIDU_BAD_AK
        if self.baidu_status is not None:
            return 200, {"status": self.baidu_status, "msg": f"fake status {self.baidu_status}", "results": []}
        address = params.get("address", "")
        if not address.strip():
            return 200, {"status": 2, "msg": "Request Parameter Error: lack address or location", "results": []}
        result: dict[str, Any] = {"precise": 1, "confidence": 80, "comprehension": 100, "level": "门址"}
        raw = self.baidu_raw.get(_norm(address))
        if raw is not None:
            lat, lng = raw
        else:
            place = self._find(address)
            if place is None:
                return 200, BAIDU_NOT_FOUND
            if self.baidu_datum == "gcj02":
                lat, lng = prcoords.wgs_gcj((place.lat, place.lon), False)
                result["coordtype"] = "gcj02ll"
            else:
                lat, lng = prcoords.wgs_bd((place.lat, place.lon), False)
        result["location"] = {"lng": lng, "lat": lat}
        return 200, {"status": 0, "result": result}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeGeoServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are expected; stay quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        fake._record(RecordedRequest("GET", parts.path, params, dict(self.headers.items())))

        if fake.hang_seconds > 0 and fake._stopping.wait(fake.hang_seconds):
            return  # server is stopping: drop the connection
        if fake.fail_status is not None:
            self._send(
                fake.fail_status,
                {"error": f"fake failure {fake.fail_status}"},
                {"Retry-After": "1"} if fake.fail_status in (429, 503) else None,
            )
            return

        path = parts.path.rstrip("/")
        if path in ("/search", "/search.php"):
            status, body = fake._nominatim(params)
        elif path in ("/geocoding/v3", "/geocoder/v2"):
            status, body = fake._baidu(params)
        else:
            status, body = 404, {"error": f"unknown path {parts.path}"}
        self._send(status, body)

    def _send(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (ConnectionError, TimeoutError):
            pass
