"""Address geocoding for the dispatch system.

Plain Python (no Flask, no SQLAlchemy).  Turns a free-text address into a
WGS-84 :class:`GeoPoint` through geopy, with a pluggable cache.

Providers:

* ``"nominatim"`` -- OpenStreetMap Nominatim (answers WGS-84).
* ``"baidu"``     -- Baidu Maps geocoding v3 (answers BD-09, converted here).
* ``"none"``      -- no geocoder; every lookup raises :class:`GeocoderUnavailable`.

Error contract for callers:

* :class:`GeocoderUnavailable` -- transient / infrastructure problem (timeout,
  connection refused, 5xx, rate limit, quota, API key refused).  Keep the order
  in intake with a flag and retry later.
* :class:`AddressNotFound` -- the provider answered but had no match, or
  rejected the address itself as invalid (Baidu status 2/8, HTTP 400); a
  human has to fix the address.

:meth:`Geocoder.geocode` raises nothing else for provider/network failures,
so catching those two subclasses is enough; :class:`GeocodingError` is their
common base.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

import prcoords
from geopy import exc as geopy_exc
from geopy.adapters import URLLibAdapter
from geopy.geocoders import BaiduV3, Nominatim
from geopy.location import Location

__all__ = [
    "PROVIDERS",
    "AddressNotFound",
    "Datum",
    "GeoPoint",
    "GeocodeCache",
    "Geocoder",
    "GeocoderUnavailable",
    "GeocodingError",
    "MemoryCache",
    "cache_key",
    "from_config",
    "normalise_address",
    "to_wgs84",
]

log = logging.getLogger(__name__)

Datum = Literal["wgs84", "gcj02", "bd09"]
PROVIDERS = ("nominatim", "baidu", "none")


# --------------------------------------------------------------------------
# Value object, errors
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class GeoPoint:
    """A geocoded point. ``lat``/``lon`` are always WGS-84 degrees."""

    lat: float
    lon: float
    formatted: str
    provider: str


class GeocodingError(Exception):
    """Base class for geocoding failures."""


class GeocoderUnavailable(GeocodingError):
    """The geocoder could not be used right now; retry later."""


class AddressNotFound(GeocodingError):
    """The geocoder answered but found no match for the address."""


# --------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------


@runtime_checkable
class GeocodeCache(Protocol):
    """Storage for successful geocoding results, keyed by :func:`cache_key`."""

    def get(self, key: str) -> GeoPoint | None:
        """Return the cached point for ``key`` or ``None``."""
        ...

    def put(self, key: str, point: GeoPoint) -> None:
        """Store ``point`` under ``key``."""
        ...


class MemoryCache:
    """Thread-safe in-process LRU implementation of :class:`GeocodeCache`."""

    def __init__(self, maxsize: int | None = 10_000) -> None:
        """``maxsize=None`` means unbounded."""
        self._data: OrderedDict[str, GeoPoint] = OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize

    def get(self, key: str) -> GeoPoint | None:
        """Return the cached point for ``key`` or ``None``."""
        with self._lock:
            point = self._data.get(key)
            if point is not None:
                self._data.move_to_end(key)
            return point

    def put(self, key: str, point: GeoPoint) -> None:
        """Store ``point`` under ``key`` (evicting the oldest entry if full)."""
        with self._lock:
            self._data[key] = point
            self._data.move_to_end(key)
            if self._maxsize is not None:
                while len(self._data) > self._maxsize:
                    self._data.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._data.clear()


def normalise_address(text: str) -> str:
    """NFKC (full-width -> half-width), casefold, collapse/strip whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def cache_key(provider: str, address: str, city: str | None = None) -> str:
    """Cache key: provider + normalised address (+ normalised city, if any)."""
    key = f"{provider}:{normalise_address(address)}"
    if city and city.strip():
        key += f"|{normalise_address(city)}"
    return key


# --------------------------------------------------------------------------
# Datum conversion
# --------------------------------------------------------------------------


def _in_china(lat: float, lon: float) -> bool:
    return bool(prcoords.sanity_in_china_p(prcoords.Coords(lat, lon)))


def to_wgs84(lat: float, lon: float, datum: Datum) -> tuple[float, float]:
    """Convert a ``(lat, lon)`` from ``datum`` to WGS-84.

    ``gcj02`` is the "Mars" datum used by Amap/Tencent/Chinese map widgets,
    ``bd09`` is Baidu's (``bd09ll``).  Uses prcoords' iterative ("bored")
    inverse, accurate far below a metre.  GCJ-02 is only offset inside
    China's bounding box; outside it the point is returned unshifted (for
    BD-09 only Baidu's own offset is removed).
    """
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError(f"non-finite coordinate: {lat!r}, {lon!r}")
    if datum == "wgs84":
        return float(lat), float(lon)
    if datum == "gcj02":
        if not _in_china(lat, lon):
            return float(lat), float(lon)
        wgs = prcoords.gcj_wgs_bored((lat, lon))
        return float(wgs.lat), float(wgs.lon)
    if datum == "bd09":
        # Check the intermediate GCJ-02 point first: prcoords warns (and
        # returns the input unchanged) for points outside China.
        gcj = prcoords.bd_gcj((lat, lon))
        if not _in_china(gcj.lat, gcj.lon):
            return float(gcj.lat), float(gcj.lon)
        wgs = prcoords.bd_wgs_bored((lat, lon))
        return float(wgs.lat), float(wgs.lon)
    raise ValueError(f"unknown datum {datum!r}; expected 'wgs84', 'gcj02' or 'bd09'")


# --------------------------------------------------------------------------
# geopy back-ends
# --------------------------------------------------------------------------

# Baidu's answer for "no match" is status 1 (internal error) with this msg.
_BAIDU_NO_RESULT = "无相关结果"


class _BaiduV3(BaiduV3):
    """geopy's BaiduV3 with an overridable endpoint, ``city`` support and
    error handling that keeps Baidu's message and tells "no match" apart
    from a real internal error."""

    def __init__(self, api_key: str, *, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        if base_url:
            base = base_url.rstrip("/")
            self.api = base + self.api_path
            self.reverse_api = base + self.reverse_path

    def geocode(  # type: ignore[override]
        self, query: str, *, city: str | None = None
    ) -> Location | None:
        params = {"ak": self.api_key, "output": "json", "address": query}
        if city:
            params["city"] = city
        url = self._construct_url(self.api, self.api_path, params)
        log.debug("baidu geocode: %s", url.replace(self.api_key, "***") if self.api_key else url)
        return self._call_geocoder(url, self._parse_page)

    def _parse_page(self, page: Any) -> Location | None:
        if not isinstance(page, Mapping):
            raise geopy_exc.GeocoderParseError(f"unexpected Baidu response: {page!r}")
        status = page.get("status")
        message = str(page.get("msg") or page.get("message") or "")
        result = page.get("result")
        if status in (0, "0"):
            if not result or "location" not in result:
                return None
            try:
                lat, lng = float(result["location"]["lat"]), float(result["location"]["lng"])
            except (KeyError, TypeError, ValueError) as err:
                raise geopy_exc.GeocoderParseError(f"malformed Baidu location: {result!r}") from err
            return Location(result.get("formatted_address") or result.get("level") or "", (lat, lng), dict(page))
        if status in (1, "1") and _BAIDU_NO_RESULT in message:
            return None
        self._raise_for_status(status, message)
        return None  # pragma: no cover - _raise_for_status always raises

    @staticmethod
    def _raise_for_status(status: Any, message: str) -> None:
        try:
            code = int(status)
        except (TypeError, ValueError):
            raise geopy_exc.GeocoderParseError(
                f"Baidu response without a usable status: {status!r} {message}"
            ) from None
        text = f"Baidu status {code}: {message}".rstrip(": ")
        if code in (2, 8):
            raise geopy_exc.GeocoderQueryError(text)
        if code in (3, 5, 9, 101, 102) or 200 <= code < 300:
            raise geopy_exc.GeocoderAuthenticationFailure(text)
        if code == 4 or 300 <= code < 500:
            raise geopy_exc.GeocoderQuotaExceeded(text)
        raise geopy_exc.GeocoderServiceError(text)


def _baidu_datum(page: Mapping[str, Any]) -> Datum:
    """Datum of a Baidu answer: bd09ll unless the response says otherwise."""
    result = page.get("result") or {}
    for source in (result, page):
        for field in ("coordtype", "coord_type", "ret_coordtype", "coordType"):
            value = source.get(field) if isinstance(source, Mapping) else None
            if value:
                value = str(value).lower()
                if value.startswith("gcj02"):
                    return "gcj02"
                if value in ("bd09ll", "bd09"):
                    return "bd09"
                if value in ("wgs84", "wgs84ll"):
                    return "wgs84"
                raise GeocoderUnavailable(f"unsupported Baidu coordinate type {value!r}")
    return "bd09"


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------
# Public geocoder
# --------------------------------------------------------------------------


class Geocoder:
    """Provider-agnostic geocoder returning WGS-84 :class:`GeoPoint` values.

    ``url`` overrides the provider endpoint (``http://127.0.0.1:8089``); for a
    loopback host system HTTP proxies are bypassed.  ``country_codes`` limits
    Nominatim results (comma separated ISO codes, ``None``/``""`` = any).
    Successful results are cached; failures (including "not found") are not.
    """

    def __init__(
        self,
        provider: str,
        *,
        url: str | None = None,
        api_key: str | None = None,
        timeout: float = 5.0,
        user_agent: str = "fieldservice-dispatch",
        cache: GeocodeCache | None = None,
        country_codes: str | None = "cn",
    ) -> None:
        provider = (provider or "none").strip().lower()
        if provider not in PROVIDERS:
            raise ValueError(f"unknown geocoder provider {provider!r}; expected one of {PROVIDERS}")
        self.provider = provider
        self.url = url or None
        self.timeout = float(timeout)
        self.cache: GeocodeCache = cache if cache is not None else MemoryCache()
        self.country_codes = [c.strip() for c in (country_codes or "").split(",") if c.strip()]
        self._backend: Nominatim | _BaiduV3 | None = None

        parts = urlsplit(url) if url else None
        if parts is not None and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise ValueError(f"geocoder url must look like http(s)://host[:port][/path], got {url!r}")
        # geopy would pick its requests adapter (which retries 5xx on its own) whenever
        # `requests` happens to be installed; urllib's makes one attempt per call, whatever
        # else is installed, and the retry policy stays ours (retry_geocoding).
        common: dict[str, Any] = {"timeout": self.timeout, "user_agent": user_agent, "adapter_factory": URLLibAdapter}
        if parts is not None:
            common["scheme"] = parts.scheme
            if _is_loopback(parts.hostname):
                common["proxies"] = {}

        if provider == "nominatim":
            if parts is not None:
                common["domain"] = parts.netloc + parts.path.rstrip("/")
            self._backend = Nominatim(**common)
        elif provider == "baidu":
            if not api_key:
                raise ValueError("the baidu geocoder needs an API key (ak)")
            base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}" if parts else None
            self._backend = _BaiduV3(api_key, base_url=base_url, **common)

    def __repr__(self) -> str:
        return f"Geocoder(provider={self.provider!r}, url={self.url!r})"

    def geocode(self, address: str, city: str | None = None) -> GeoPoint:
        """Geocode ``address`` (optionally within ``city``) to a WGS-84 point.

        Raises :class:`GeocoderUnavailable` (retry later) or
        :class:`AddressNotFound` (no match / address rejected as invalid).
        """
        if self._backend is None:
            raise GeocoderUnavailable("no geocoder configured")
        if not address or not normalise_address(address):
            raise AddressNotFound("empty address")

        key = cache_key(self.provider, address, city)
        cached = self.cache.get(key)
        if cached is not None:
            return cached

        try:
            point = self._lookup(address.strip(), city.strip() if city else None)
        except GeocodingError as err:
            log.warning("geocoding %r via %s failed: %s", address, self.provider, err)
            raise
        self.cache.put(key, point)
        return point

    def search(self, address: str, city: str | None = None, limit: int = 5) -> list[GeoPoint]:
        """Up to ``limit`` WGS-84 candidates for ``address``, best first, for a person to
        choose from (the hotline's address search). Baidu's v3 answers one match; Nominatim
        several. Same errors as :meth:`geocode`; ``[]`` is never returned (no match raises
        :class:`AddressNotFound`). Candidates are not cached: the chosen one is stored with
        the order."""
        if self._backend is None:
            raise GeocoderUnavailable("no geocoder configured")
        if not address or not normalise_address(address):
            raise AddressNotFound("empty address")
        if isinstance(self._backend, _BaiduV3):
            return [self.geocode(address, city)]
        query = address.strip()
        if city and normalise_address(city) not in normalise_address(query):
            query = f"{query}, {city}"
        try:
            found = self._backend.geocode(
                query, exactly_one=False, limit=max(1, min(limit, 10)), country_codes=self.country_codes or None
            )
        except geopy_exc.GeopyError as err:
            raise GeocoderUnavailable(f"{self.provider} geocoder error: {err}") from err
        except OSError as err:
            raise GeocoderUnavailable(f"{self.provider} geocoder unreachable: {err}") from err
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise GeocoderUnavailable(f"{self.provider} sent a malformed answer: {err!r}") from err
        if not found:
            raise AddressNotFound(f"{self.provider} found no match for {address!r}")
        return [
            GeoPoint(
                lat=float(loc.latitude),
                lon=float(loc.longitude),
                formatted=loc.address or address,
                provider=self.provider,
            )  # fmt: skip
            for loc in found
        ]

    # -- internals ---------------------------------------------------------

    def _lookup(self, address: str, city: str | None) -> GeoPoint:
        try:
            if isinstance(self._backend, _BaiduV3):
                location = self._backend.geocode(address, city=city)
            else:
                assert self._backend is not None
                query = address
                if city and normalise_address(city) not in normalise_address(address):
                    query = f"{address}, {city}"
                location = self._backend.geocode(query, exactly_one=True, country_codes=self.country_codes or None)
        except (geopy_exc.GeocoderAuthenticationFailure, geopy_exc.GeocoderInsufficientPrivileges) as err:
            raise GeocoderUnavailable(
                f"{self.provider} refused the API key / access ({err}); check GEOCODER_API_KEY"
            ) from err
        except geopy_exc.GeocoderQueryError as err:
            raise AddressNotFound(f"{self.provider} rejected the address as invalid: {err}") from err
        except geopy_exc.GeocoderServiceError as err:
            # timeouts, 5xx, rate limit, quota, connection errors, parse errors
            raise GeocoderUnavailable(f"{self.provider} geocoder unavailable: {err}") from err
        except geopy_exc.GeopyError as err:
            raise GeocoderUnavailable(f"{self.provider} geocoder error: {err}") from err
        except OSError as err:  # urllib/requests/socket errors geopy did not wrap
            raise GeocoderUnavailable(f"{self.provider} geocoder unreachable: {err}") from err
        except (KeyError, TypeError, ValueError, AttributeError) as err:  # malformed answer
            raise GeocoderUnavailable(f"{self.provider} sent a malformed answer: {err!r}") from err

        if location is None:
            raise AddressNotFound(f"{self.provider} found no match for {address!r}")

        if isinstance(self._backend, _BaiduV3):
            page = location.raw
            lat, lon = to_wgs84(location.latitude, location.longitude, _baidu_datum(page))
            formatted = (page.get("result") or {}).get("formatted_address") or address
        else:
            lat, lon = location.latitude, location.longitude
            formatted = location.address or address
        return GeoPoint(lat=float(lat), lon=float(lon), formatted=formatted, provider=self.provider)


def from_config(config: Mapping[str, Any], *, cache: GeocodeCache | None = None) -> Geocoder:
    """Build a :class:`Geocoder` from ``GEOCODER_PROVIDER`` (default ``"none"``),
    ``GEOCODER_URL``, ``GEOCODER_API_KEY`` and ``GEOCODER_TIMEOUT`` (seconds)."""

    def opt(name: str) -> Any:
        value = config.get(name)
        if isinstance(value, str):
            value = value.strip()
        return value if value not in (None, "") else None

    timeout = opt("GEOCODER_TIMEOUT")
    return Geocoder(
        opt("GEOCODER_PROVIDER") or "none",
        url=opt("GEOCODER_URL"),
        api_key=opt("GEOCODER_API_KEY"),
        timeout=float(timeout) if timeout is not None else 5.0,
        cache=cache,
    )
