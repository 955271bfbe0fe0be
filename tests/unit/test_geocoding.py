"""Unit tests for dispatch.geocoding, against tests/fakes/geo_server.py (no internet)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import prcoords
import pytest

from dispatch.geocoding import (
    AddressNotFound,
    GeocodeCache,
    Geocoder,
    GeocoderUnavailable,
    GeocodingError,
    GeoPoint,
    MemoryCache,
    cache_key,
    from_config,
    normalise_address,
    to_wgs84,
)
from tests.fakes.geo_server import FakeGeoServer

# Xi'an Bell Tower (钟楼), WGS-84.
BELL_TOWER = (34.2610, 108.9423)
BELL_TOWER_ADDR = "陕西省西安市碑林区钟楼"
GOOD_AK = "good-ak"

# Published outputs of the widely used reference implementation
# wandergis/coordtransform (test/app.js), input (lng 116.404, lat 39.915),
# written here as (lat, lon).  prcoords is an independent implementation.
REF_INPUT = (39.915, 116.404)
REF_WGS84_TO_GCJ02 = (39.91640428150164, 116.41024449916938)
REF_GCJ02_TO_BD09 = (39.92133699351021, 116.41036949371029)
REF_GCJ02_TO_WGS84_ROUGH = (39.91359571849836, 116.39775550083061)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return prcoords.Coords(*a).distance(prcoords.Coords(*b))


@pytest.fixture
def server() -> Iterator[FakeGeoServer]:
    places = {
        BELL_TOWER_ADDR: {
            "lat": BELL_TOWER[0],
            "lon": BELL_TOWER[1],
            "display_name": "钟楼, 碑林区, 西安市, 陕西省, 中国",
        },
        "北京市朝阳区建国路88号": (39.9087, 116.4605),
    }
    with FakeGeoServer(places, baidu_aks={GOOD_AK}) as srv:
        yield srv


def nominatim(srv: FakeGeoServer, **kwargs: object) -> Geocoder:
    return Geocoder("nominatim", url=srv.url, **kwargs)  # type: ignore[arg-type]


def baidu(srv: FakeGeoServer, ak: str = GOOD_AK, **kwargs: object) -> Geocoder:
    return Geocoder("baidu", url=srv.url, api_key=ak, **kwargs)  # type: ignore[arg-type]


# -- Nominatim ---------------------------------------------------------------


def test_nominatim_hit_returns_wgs84_point_with_display_name(server: FakeGeoServer) -> None:
    point = nominatim(server).geocode(BELL_TOWER_ADDR)

    assert point == GeoPoint(BELL_TOWER[0], BELL_TOWER[1], "钟楼, 碑林区, 西安市, 陕西省, 中国", "nominatim")
    [request] = server.requests
    assert request.path == "/search"
    assert request.params["q"] == BELL_TOWER_ADDR
    assert request.params["countrycodes"] == "cn"
    assert request.headers["User-Agent"] == "fieldservice-dispatch"


def test_nominatim_city_is_appended_to_the_query(server: FakeGeoServer) -> None:
    point = nominatim(server).geocode("北京市朝阳区建国路88号", city="北京")

    assert (point.lat, point.lon) == (39.9087, 116.4605)
    assert server.requests[0].params["q"] == "北京市朝阳区建国路88号"  # city already in address
    nominatim(server).geocode(BELL_TOWER_ADDR, city="Xi'an")
    assert server.requests[1].params["q"] == f"{BELL_TOWER_ADDR}, Xi'an"


def test_unknown_address_raises_address_not_found(server: FakeGeoServer) -> None:
    with pytest.raises(AddressNotFound):
        nominatim(server).geocode("火星市不存在路1号")


def test_empty_address_raises_address_not_found_without_a_request(server: FakeGeoServer) -> None:
    with pytest.raises(AddressNotFound):
        nominatim(server).geocode("  \u3000 ")
    assert server.requests == []


def test_http_503_raises_geocoder_unavailable(server: FakeGeoServer) -> None:
    server.fail_status = 503
    with pytest.raises(GeocoderUnavailable):
        nominatim(server).geocode(BELL_TOWER_ADDR)


def test_http_500_and_429_raise_geocoder_unavailable(server: FakeGeoServer) -> None:
    for status in (500, 429):
        server.fail_status = status
        with pytest.raises(GeocoderUnavailable):
            nominatim(server).geocode(BELL_TOWER_ADDR)


def test_timeout_raises_geocoder_unavailable_quickly(server: FakeGeoServer) -> None:
    server.hang_seconds = 5
    started = time.monotonic()
    with pytest.raises(GeocoderUnavailable, match="timed out"):
        nominatim(server, timeout=0.2).geocode(BELL_TOWER_ADDR)
    assert time.monotonic() - started < 2


def test_connection_refused_after_server_stopped_raises_geocoder_unavailable(server: FakeGeoServer) -> None:
    geocoder = nominatim(server, timeout=1)
    server.stop()
    with pytest.raises(GeocoderUnavailable):
        geocoder.geocode(BELL_TOWER_ADDR)


def test_geocoding_errors_share_one_base_class() -> None:
    assert issubclass(GeocoderUnavailable, GeocodingError)
    assert issubclass(AddressNotFound, GeocodingError)


# -- Cache -------------------------------------------------------------------


def test_cache_hit_skips_the_network(server: FakeGeoServer) -> None:
    geocoder = nominatim(server)
    first = geocoder.geocode(BELL_TOWER_ADDR)
    second = geocoder.geocode(f"  {BELL_TOWER_ADDR} ")

    assert first == second
    assert len(server.requests) == 1


def test_cache_is_shared_between_geocoders_and_keyed_by_provider(server: FakeGeoServer) -> None:
    cache = MemoryCache()
    nominatim(server, cache=cache).geocode(BELL_TOWER_ADDR)
    nominatim(server, cache=cache).geocode(BELL_TOWER_ADDR)
    baidu(server, cache=cache).geocode(BELL_TOWER_ADDR)

    assert len(server.requests_to("/search")) == 1
    assert len(server.requests_to("/geocoding/v3")) == 1
    assert len(cache) == 2


def test_failures_are_not_cached(server: FakeGeoServer) -> None:
    cache = MemoryCache()
    geocoder = nominatim(server, cache=cache)
    server.fail_status = 503
    with pytest.raises(GeocoderUnavailable):
        geocoder.geocode(BELL_TOWER_ADDR)
    with pytest.raises(AddressNotFound):
        server.fail_status = None
        geocoder.geocode("火星市不存在路1号")
    assert len(cache) == 0

    assert geocoder.geocode(BELL_TOWER_ADDR).lat == BELL_TOWER[0]
    assert len(server.requests) == 3


def test_memory_cache_satisfies_the_protocol_and_evicts_oldest() -> None:
    cache = MemoryCache(maxsize=2)
    assert isinstance(cache, GeocodeCache)
    p = GeoPoint(1.0, 2.0, "x", "nominatim")
    for key in ("a", "b", "c"):
        cache.put(key, p)
    assert cache.get("a") is None
    assert cache.get("c") == p


def test_key_normalisation_folds_full_width_digits_spaces_and_case() -> None:
    assert normalise_address("北京市 朝阳区\u3000建国路８８号  ") == "北京市 朝阳区 建国路88号"
    assert normalise_address("ＡＢＣ  Road\t1") == "abc road 1"
    assert cache_key("baidu", "建国路８８号", "北京") == cache_key("baidu", " 建国路88号 ", " 北京 ")
    assert cache_key("baidu", "建国路88号") != cache_key("nominatim", "建国路88号")
    assert cache_key("baidu", "建国路88号") != cache_key("baidu", "建国路88号", "北京")


def test_full_width_variant_of_an_address_hits_the_cache(server: FakeGeoServer) -> None:
    geocoder = nominatim(server)
    geocoder.geocode("北京市朝阳区建国路88号")
    geocoder.geocode("\u3000北京市朝阳区建国路８８号  ")

    assert len(server.requests) == 1


# -- Baidu -------------------------------------------------------------------


def test_baidu_bd09_answer_is_converted_to_wgs84(server: FakeGeoServer) -> None:
    # The fake answers prcoords.wgs_bd(BELL_TOWER), like Baidu would.
    point = baidu(server).geocode(BELL_TOWER_ADDR, city="西安市")

    assert metres((point.lat, point.lon), BELL_TOWER) < 1.0
    assert point.provider == "baidu"
    assert point.formatted == BELL_TOWER_ADDR
    [request] = server.requests
    assert request.path == "/geocoding/v3/"
    assert request.params == {"ak": GOOD_AK, "output": "json", "address": BELL_TOWER_ADDR, "city": "西安市"}


def test_baidu_raw_bd09_coordinate_round_trips_within_a_metre() -> None:
    bd09 = tuple(prcoords.wgs_bd(BELL_TOWER))
    assert metres(bd09, BELL_TOWER) > 500  # the offset is real (~1 km here)
    with FakeGeoServer(baidu_raw={"钟楼": bd09}) as srv:  # type: ignore[dict-item]
        point = baidu(srv).geocode("钟楼")
    assert metres((point.lat, point.lon), BELL_TOWER) < 1.0


def test_baidu_answer_flagged_gcj02_is_converted_from_gcj02() -> None:
    with FakeGeoServer({BELL_TOWER_ADDR: BELL_TOWER}, baidu_datum="gcj02") as srv:
        point = baidu(srv).geocode(BELL_TOWER_ADDR)
    assert metres((point.lat, point.lon), BELL_TOWER) < 1.0


def test_baidu_no_match_raises_address_not_found(server: FakeGeoServer) -> None:
    with pytest.raises(AddressNotFound):
        baidu(server).geocode("火星市不存在路1号")


def test_baidu_bad_ak_raises_unavailable_saying_the_key_was_refused(server: FakeGeoServer) -> None:
    with pytest.raises(GeocoderUnavailable, match="refused the API key") as info:
        baidu(server, ak="wrong").geocode(BELL_TOWER_ADDR)
    assert "AK有误" in str(info.value)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (1, GeocoderUnavailable),
        (4, GeocoderUnavailable),
        (302, GeocoderUnavailable),
        (2, AddressNotFound),
        (8, AddressNotFound),
    ],
)
def test_baidu_error_statuses_map_to_unavailable_or_not_found(
    server: FakeGeoServer, status: int, expected: type[Exception]
) -> None:
    server.baidu_status = status
    with pytest.raises(expected, match=f"Baidu status {status}"):
        baidu(server).geocode(BELL_TOWER_ADDR)


def test_baidu_http_503_raises_geocoder_unavailable(server: FakeGeoServer) -> None:
    server.fail_status = 503
    with pytest.raises(GeocoderUnavailable):
        baidu(server).geocode(BELL_TOWER_ADDR)


def test_baidu_requires_an_api_key() -> None:
    with pytest.raises(ValueError, match="API key"):
        Geocoder("baidu", url="http://127.0.0.1:9")


# -- Datum conversion --------------------------------------------------------


def test_gcj02_reference_value_converts_back_to_wgs84() -> None:
    lat, lon = to_wgs84(*REF_WGS84_TO_GCJ02, "gcj02")
    assert lat == pytest.approx(REF_INPUT[0], abs=1e-7)
    assert lon == pytest.approx(REF_INPUT[1], abs=1e-7)


def test_bd09_reference_value_converts_to_wgs84_consistently() -> None:
    wgs = to_wgs84(*REF_GCJ02_TO_BD09, "bd09")
    # Exact: converting forward again lands on the published GCJ-02 input.
    gcj = prcoords.wgs_gcj(wgs)
    assert metres(tuple(gcj), REF_INPUT) < 0.01  # type: ignore[arg-type]
    # The published one-step (rough, metre-level) inverse agrees to a few metres.
    assert metres(wgs, REF_GCJ02_TO_WGS84_ROUGH) < 3


def test_gcj02_and_bd09_round_trip_within_a_metre_at_the_bell_tower() -> None:
    assert metres(to_wgs84(*prcoords.wgs_gcj(BELL_TOWER), "gcj02"), BELL_TOWER) < 1.0
    assert metres(to_wgs84(*prcoords.wgs_bd(BELL_TOWER), "bd09"), BELL_TOWER) < 1.0


def test_wgs84_and_points_outside_china_are_left_alone() -> None:
    assert to_wgs84(*BELL_TOWER, "wgs84") == BELL_TOWER
    paris = (48.8584, 2.2945)
    assert to_wgs84(*paris, "gcj02") == paris  # no prcoords warning either (-W error)


def test_unknown_datum_is_rejected() -> None:
    with pytest.raises(ValueError):
        to_wgs84(1.0, 2.0, "utm")  # type: ignore[arg-type]


# -- Provider "none" and configuration ----------------------------------------


def test_provider_none_always_raises_unavailable() -> None:
    with pytest.raises(GeocoderUnavailable, match="no geocoder configured"):
        Geocoder("none").geocode(BELL_TOWER_ADDR)


def test_from_config_defaults_to_no_geocoder() -> None:
    geocoder = from_config({})
    assert geocoder.provider == "none"
    with pytest.raises(GeocoderUnavailable):
        geocoder.geocode("anything")


def test_from_config_reads_provider_url_key_and_timeout(server: FakeGeoServer) -> None:
    geocoder = from_config(
        {
            "GEOCODER_PROVIDER": "Baidu",
            "GEOCODER_URL": server.url,
            "GEOCODER_API_KEY": GOOD_AK,
            "GEOCODER_TIMEOUT": "2.5",
        }
    )
    assert geocoder.provider == "baidu"
    assert geocoder.timeout == 2.5
    point = geocoder.geocode(BELL_TOWER_ADDR)
    assert metres((point.lat, point.lon), BELL_TOWER) < 1.0


def test_unknown_provider_and_bad_url_are_rejected() -> None:
    with pytest.raises(ValueError):
        Geocoder("google")
    with pytest.raises(ValueError):
        Geocoder("nominatim", url="127.0.0.1:8089")


# --- candidates for a person to choose from (the hotline's address search) -------------------


def test_search_lists_every_candidate_nominatim_finds(server: FakeGeoServer) -> None:
    found = nominatim(server).search("建国路")
    assert [(p.lat, p.lon) for p in found] == [(39.9087, 116.4605)]
    both = nominatim(server).search("市")
    assert len(both) == 2 and all(p.provider == "nominatim" for p in both)


def test_search_with_baidu_answers_its_one_match_in_wgs84(server: FakeGeoServer) -> None:
    found = Geocoder("baidu", url=server.url, api_key=GOOD_AK).search(BELL_TOWER_ADDR)
    assert len(found) == 1 and metres((found[0].lat, found[0].lon), BELL_TOWER) < 1.0


def test_search_raises_like_geocode(server: FakeGeoServer) -> None:
    with pytest.raises(AddressNotFound):
        nominatim(server).search("无此地址")
    with pytest.raises(GeocoderUnavailable):
        Geocoder("none").search("建国路")
    server.fail_status = 503
    with pytest.raises(GeocoderUnavailable):
        nominatim(server).search("建国路")
