"""Proof photos: real image files made here, every bad-file case, EXIF never leaking, copies
from other orders found, and completion needing proof."""

from __future__ import annotations

import dataclasses
import io
import random
import struct
import threading
import zlib

import pytest
from PIL import Image, ImageCms, ImageDraw, ImageFile
from PIL.PngImagePlugin import PngInfo

from dispatch.models import Photo, WorkOrder, WorkOrderEvent
from tests.integration.helpers import act, create_order


def picture(seed: int = 1, size=(800, 600), fmt="JPEG", exif: Image.Exif | None = None, quality=90) -> bytes:
    """A distinct photo-like picture: shapes and colours from a seed."""
    rnd = random.Random(seed)
    img = Image.new("RGB", size, tuple(rnd.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(25):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        draw.ellipse(
            [x, y, x + rnd.randrange(40, 300), y + rnd.randrange(40, 300)],
            fill=tuple(rnd.randrange(256) for _ in range(3)),
        )
    out = io.BytesIO()
    kwargs = {"quality": quality} if fmt == "JPEG" else {}
    if exif is not None:
        kwargs["exif"] = exif
    img.save(out, fmt, **kwargs)
    return out.getvalue()


def with_exif(taken: str | None = None, gps: tuple[float, float] | None = None) -> Image.Exif:
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[36867] = taken
    if gps:

        def dms(v):
            d = int(v)
            m = int((v - d) * 60)
            return (d, m, round(((v - d) * 60 - m) * 60, 4))

        exif.get_ifd(0x8825).update({1: "N", 2: dms(gps[0]), 3: "E", 4: dms(gps[1])})
    return exif


@pytest.fixture
def on_site(app, client, network, auth):
    """An order of tech2's, on site, with proof required as in production."""
    app.extensions.pop("intake_settings", None)
    app.config["PROOF_PHOTOS_REQUIRED"] = 1
    dispatcher = auth.token("dispatcher")
    tech = auth.token("tech2")
    order = create_order(client, dispatcher)
    order = act(client, dispatcher, order, "assign", technician_id=network.techs[1].id).get_json()
    for step in ("accept", "depart", "arrive"):
        order = act(client, tech, order, step).get_json()
    assert order["status"] == "on_site"
    return order, tech, dispatcher


def upload(client, headers, order_id, data: bytes, name="proof.jpg", content_type="image/jpeg", **fields):
    form = {"photo": (io.BytesIO(data), name, content_type), **{k: str(v) for k, v in fields.items()}}
    return client.post(f"/api/orders/{order_id}/photos", data=form, headers=headers, content_type="multipart/form-data")


def test_completion_needs_a_proof_photo_from_this_visit(client, on_site):
    order, tech, _ = on_site
    refused = act(client, tech, order, "complete")
    assert refused.status_code == 400
    assert "needs 1 proof photo" in refused.get_json()["detail"]["json"]["photo"][0]
    assert upload(client, tech, order["id"], picture(), lat=34.21, lon=108.95, accuracy_m=8).status_code == 201
    order = client.get(f"/api/orders/{order['id']}", headers=tech).get_json()
    assert act(client, tech, order, "complete").status_code == 200


def test_exif_time_and_place_are_read_kept_in_the_original_and_never_served(client, auth, on_site, db_session):
    order, tech, dispatcher = on_site
    data = picture(exif=with_exif("2026:11:24 10:30:00", (34.2101, 108.9502)))
    body = upload(client, tech, order["id"], data).get_json()
    assert body["exif_taken_at"].startswith("2026-11-24T02:30:00")  # 10:30 in Xi'an
    assert body["exif_lat"] is None, "a technician is not shown photo locations"
    photo = db_session.get(Photo, body["id"])
    assert photo.exif_lat == pytest.approx(34.2101, abs=1e-4) and photo.exif_lon == pytest.approx(108.9502, abs=1e-4)
    db_session.rollback()

    served = client.get(f"/api/photos/{body['id']}", headers=dispatcher)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert not Image.open(io.BytesIO(served.data)).getexif(), "the served copy carries no EXIF"
    assert client.get(f"/api/photos/{body['id']}?size=thumb", headers=tech).status_code == 200
    assert client.get(f"/api/photos/{body['id']}/original", headers=dispatcher).status_code == 403
    manager = auth.token("manager")
    original = client.get(f"/api/photos/{body['id']}/original", headers=manager)
    assert original.data == data
    listed = client.get(f"/api/orders/{order['id']}/photos", headers=manager).get_json()["items"]
    assert listed[0]["exif_lat"] == pytest.approx(34.2101, abs=1e-4)
    assert client.get(f"/api/photos/{body['id']}", headers=auth.token("tech1")).status_code == 404


def test_a_photo_used_on_another_order_is_flagged_exact_and_near(app, client, network, auth, on_site):
    order, tech, dispatcher = on_site
    original = picture(seed=7)
    assert upload(client, tech, order["id"], original).status_code == 201
    # A second job of the same technician, later: the same picture comes back.
    second = create_order(client, dispatcher, phone="13900139000")
    second = act(client, dispatcher, second, "assign", technician_id=network.techs[1].id).get_json()
    for step in ("accept", "depart", "arrive"):
        second = act(client, tech, second, step).get_json()
    exact = upload(client, tech, second["id"], original).get_json()
    assert exact["exact_copy_of_orders"] == [order["id"]]
    resized = Image.open(io.BytesIO(original)).resize((560, 420)).crop((10, 8, 550, 412))
    out = io.BytesIO()
    resized.save(out, "JPEG", quality=55)
    near = upload(client, tech, second["id"], out.getvalue()).get_json()
    assert near["exact_copy_of_orders"] == []
    assert [c["order_id"] for c in near["near_copies"]] == [order["id"]]
    other = upload(client, tech, second["id"], picture(seed=99)).get_json()
    assert other["near_copies"] == [] and other["exact_copy_of_orders"] == []


@pytest.mark.parametrize(
    ("case", "data", "message"),
    [
        ("empty", b"", "empty"),
        ("svg disguised as jpeg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>', "not a JPEG"),
        ("html disguised as jpeg", b"<!doctype html><script>alert(1)</script>", "not a JPEG"),
        ("gif", b"GIF89a" + b"\x00" * 64, "not a JPEG"),
        ("truncated jpeg", None, "damaged or truncated"),
        (
            "jpeg header then html (polyglot)",
            b"\xff\xd8\xff\xe0" + b"<html><script>alert(1)</script></html>",
            "damaged",
        ),
    ],
)
def test_bad_files_get_a_clear_400_and_leave_nothing_behind(client, on_site, db_session, tmp_path, case, data, message):
    order, tech, _ = on_site
    if data is None:
        data = picture()[:3000]
    response = upload(client, tech, order["id"], data)
    assert response.status_code == 400, case
    assert message in response.get_json()["detail"]["json"]["photo"][0]
    assert db_session.query(Photo).count() == 0
    db_session.rollback()
    assert not any((tmp_path / "photos").rglob("*.*")), "no file may remain for a refused upload"


def test_a_decompression_bomb_is_refused_without_decoding_it(client, on_site):
    order, tech, _ = on_site
    out = io.BytesIO()
    Image.new("1", (12000, 12000)).save(out, "PNG")  # 144 Mpx in a few hundred kB
    assert len(out.getvalue()) < 1_000_000
    response = upload(client, tech, order["id"], out.getvalue(), name="bomb.png", content_type="image/png")
    assert response.status_code == 413  # too large to open, like every picture refused for its size
    assert "decompression bomb" in response.get_json()["detail"]["json"]["photo"][0]


def png_of(width: int, height: int, color_type: int = 3) -> bytes:
    """A valid 8-bit PNG of one flat colour (type 0 grey, 2 RGB, 3 palette), written with zlib
    row by row: tens of megapixels in a few dozen kB without ever holding them in memory."""
    row = b"\x00" + b"\x07" * (width * {0: 1, 2: 3, 3: 1}[color_type])
    packer, left, rows_per_block = zlib.compressobj(9), height, max(1, (1 << 20) // len(row))
    idat = []
    while left:
        n = min(rows_per_block, left)
        idat.append(packer.compress(row * n))
        left -= n
    idat.append(packer.flush())

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
    palette = chunk(b"PLTE", bytes(range(256)) * 3) if color_type == 3 else b""
    return b"\x89PNG\r\n\x1a\n" + header + palette + chunk(b"IDAT", b"".join(idat)) + chunk(b"IEND", b"")


@pytest.fixture
def decodes(monkeypatch) -> list[tuple[int, int]]:
    """The size of every picture Pillow decodes during the test (observed, still decoded)."""
    seen: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def observed(self):
        seen.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", observed)
    return seen


@pytest.mark.parametrize(
    ("case", "size", "color_type", "message"),
    [
        # 39 Mpx, under the pixel cap, 80 kB: it cost a worker 2.8 GiB and 15 s to resize.
        ("a 1 × 39,000,000 strip", (1, 39_000_000), 0, "is longer or wider than a photo may be"),
        # 39.7 Mpx, 8-bit palette, 50 kB: 40 MB decoded, 160 MB more as RGB.
        ("a 6,300 × 6,300 palette picture", (6_300, 6_300), 3, "would take more memory to open than a photo may"),
    ],
)
def test_a_picture_too_costly_to_open_is_refused_from_its_header_before_any_decoding(
    client, on_site, db_session, tmp_path, decodes, case, size, color_type, message
):
    order, tech, _ = on_site
    data = png_of(*size, color_type)
    assert len(data) < 120_000, "a small upload"
    response = upload(client, tech, order["id"], data, name="strip.png", content_type="image/png")
    assert response.status_code == 413, case
    assert response.get_json()["detail"]["json"]["photo"] == [message]
    assert decodes == [], "nothing was decoded"
    assert db_session.query(Photo).count() == 0
    db_session.rollback()
    assert not any((tmp_path / "photos").rglob("*.*"))


def test_the_refusal_is_translated(client, on_site):
    order, tech, _ = on_site
    response = upload(
        client, {**tech, "Accept-Language": "zh-CN"}, order["id"], png_of(1, 39_000_000, 0), content_type="image/png"
    )
    assert response.status_code == 413
    assert response.get_json()["detail"]["json"]["photo"] == ["长或宽超出了照片允许的尺寸"]


def test_a_large_jpeg_is_decoded_at_a_fraction_of_its_size_and_keeps_its_own(client, on_site, decodes):
    order, tech, _ = on_site
    data = picture(seed=5, size=(4800, 3600), quality=70)
    body = upload(client, tech, order["id"], data).get_json()
    assert (body["width"], body["height"]) == (4800, 3600)
    assert decodes[0] == (2400, 1800) and (4800, 3600) not in decodes, "libjpeg scaled it by half while decoding"
    view = Image.open(io.BytesIO(client.get(f"/api/photos/{body['id']}", headers=tech).data))
    assert view.size == (2048, 1536)


def test_an_upload_waits_for_memory_other_decodes_hold_and_gets_a_503_when_they_hold_it_too_long(
    app, client, on_site, db_session, tmp_path, monkeypatch
):
    from dispatch import photos
    from dispatch.photos.budget import DecodeBudget
    from web.wiring import photo_settings

    order, tech, _ = on_site
    with app.app_context():
        budget = DecodeBudget(photos.MAX_DECODE_BYTES)
        app.extensions["photo_settings"] = dataclasses.replace(photo_settings(), decoding=budget)
    monkeypatch.setattr(photos, "DECODE_WAIT_S", 0.2)
    with budget.reserve(photos.MAX_DECODE_BYTES, wait_s=0):  # another request is opening a big picture
        busy = upload(client, tech, order["id"], picture(seed=21))
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
    assert "busy" in busy.get_json()["message"]
    assert db_session.query(Photo).count() == 0
    db_session.rollback()
    assert not any((tmp_path / "photos").rglob("*.*"))
    assert upload(client, tech, order["id"], picture(seed=21)).status_code == 201, "once it is free, it goes"
    assert budget.in_use == 0


PERSONAL = "home 34.2101N 108.9502E, 张三, 13800138000"


def jpeg_markers(data: bytes) -> list[int]:
    """The marker of every JPEG segment before the compressed pixels (start of scan)."""
    assert data[:2] == b"\xff\xd8"
    markers, at = [], 2
    while True:
        assert data[at] == 0xFF
        markers.append(data[at + 1])
        if data[at + 1] == 0xDA:
            return markers
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")


def assert_only_pixels(served: bytes) -> None:
    # JFIF header, quantisation and Huffman tables, frame, scan: no comment (FE), no EXIF or
    # XMP (E1), no ICC profile (E2), no other application segment (E3-EF).
    assert set(jpeg_markers(served)) <= {0xE0, 0xDB, 0xC4, 0xC0, 0xDA}, [hex(m) for m in jpeg_markers(served)]
    for word in ("13800138000", "张三", "34.2101"):
        assert word.encode() not in served


def test_the_served_copies_of_a_jpeg_carry_its_pixels_and_no_comment_xmp_icc_or_exif(client, on_site):
    order, tech, dispatcher = on_site
    exif = with_exif("2026:11:24 10:30:00", (34.2101, 108.9502))
    exif[0x0112] = 6  # the phone was held upright: the pixels lie on their side
    exif[0x010E] = PERSONAL  # ImageDescription
    out = io.BytesIO()
    Image.open(io.BytesIO(picture(seed=31))).save(
        out, "JPEG", quality=90, exif=exif, comment=PERSONAL.encode(),
        xmp=f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc>{PERSONAL}</dc></x:xmpmeta>'.encode(),
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    )  # fmt: skip
    original = out.getvalue()
    assert PERSONAL.encode() in original
    body = upload(client, tech, order["id"], original).get_json()
    for size in ("", "?size=thumb"):
        served = client.get(f"/api/photos/{body['id']}{size}", headers=dispatcher)
        assert served.status_code == 200
        assert_only_pixels(served.data)
        view = Image.open(io.BytesIO(served.data))
        assert view.height > view.width, "the orientation is applied, then dropped"
        assert view.info.get("comment") is None and not view.getexif()


def test_the_served_copies_of_a_png_carry_none_of_its_text(client, on_site):
    order, tech, dispatcher = on_site
    text = PngInfo()
    text.add_text("comment", PERSONAL)  # Pillow's JPEG writer used to copy this one as a COM
    text.add_text("Author", PERSONAL, zip=True)
    text.add_itxt("Description", PERSONAL, lang="zh")
    out = io.BytesIO()
    Image.open(io.BytesIO(picture(seed=32))).save(out, "PNG", pnginfo=text, exif=with_exif(gps=(34.2101, 108.9502)))
    body = upload(client, tech, order["id"], out.getvalue(), name="proof.png", content_type="image/png").get_json()
    for size in ("", "?size=thumb"):
        assert_only_pixels(client.get(f"/api/photos/{body['id']}{size}", headers=dispatcher).data)


def test_an_oversized_upload_is_a_413(app, client, on_site):
    order, tech, _ = on_site
    app.config["MAX_CONTENT_LENGTH"] = 200_000
    response = upload(client, tech, order["id"], picture(size=(3000, 3000), quality=100))
    assert response.status_code == 413


def test_only_the_technician_on_site_adds_proof(client, auth, network, on_site):
    order, _, dispatcher = on_site
    assert upload(client, auth.token("tech1"), order["id"], picture()).status_code in (403, 404)
    assert upload(client, dispatcher, order["id"], picture()).status_code == 403
    fresh = create_order(client, dispatcher, phone="13900139001")
    fresh = act(client, dispatcher, fresh, "assign", technician_id=network.techs[1].id).get_json()
    assert upload(client, auth.token("tech2"), fresh["id"], picture()).status_code == 409  # not on site yet


def test_the_returned_visit_needs_new_proof(client, on_site, db_session):
    order, tech, dispatcher = on_site
    upload(client, tech, order["id"], picture(seed=3))
    order = client.get(f"/api/orders/{order['id']}", headers=tech).get_json()
    order = act(client, tech, order, "complete").get_json()
    order = act(client, dispatcher, order, "return", reason="still leaking").get_json()
    order = act(client, tech, order, "depart").get_json()
    order = act(client, tech, order, "arrive").get_json()
    assert act(client, tech, order, "complete").status_code == 400, "the first visit's photo does not count"
    upload(client, tech, order["id"], picture(seed=4))
    order = client.get(f"/api/orders/{order['id']}", headers=tech).get_json()
    assert act(client, tech, order, "complete").status_code == 200
    assert {p.visit for p in db_session.query(Photo).filter_by(order_id=order["id"])} == {1, 2}
    assert db_session.get(WorkOrder, order["id"]).visit_count == 2
    db_session.rollback()


def complete_with(client, tech, order, data, **fields):
    assert upload(client, tech, order["id"], data, **fields).status_code == 201
    order = client.get(f"/api/orders/{order['id']}", headers=tech).get_json()
    return act(client, tech, order, "complete").get_json()


def test_an_honest_completion_is_verified(app, client, auth, network, db_session):
    dispatcher, tech = auth.token("dispatcher"), auth.token("tech2")
    app.config["PROOF_PHOTOS_REQUIRED"] = 1
    app.extensions.pop("intake_settings", None)
    order = create_order(client, dispatcher, lat=34.2100, lon=108.9500)
    order = act(client, dispatcher, order, "assign", technician_id=network.techs[1].id).get_json()
    order = act(client, tech, order, "accept").get_json()
    order = act(client, tech, order, "depart").get_json()
    order = act(client, tech, order, "arrive", lat=34.2101, lon=108.9501, accuracy_m=8).get_json()
    complete_with(client, tech, order, picture(seed=11), lat=34.2101, lon=108.9500, accuracy_m=12)
    verdict = client.get(f"/api/orders/{order['id']}/authenticity", headers=dispatcher).get_json()
    assert verdict["status"] == "verified" and verdict["reasons"] == []
    assert client.get("/api/reviews", headers=dispatcher).get_json()["items"] == []


def test_a_completion_with_a_photo_from_home_goes_to_review_and_the_decision_is_recorded(
    client, auth, on_site, db_session
):
    order, tech, dispatcher = on_site  # checked in without a position
    home = picture(seed=12, exif=with_exif(gps=(34.30, 108.95)))  # 10 km from the address
    order = complete_with(client, tech, order, home, source="gallery")
    verdict = client.get(f"/api/orders/{order['id']}/authenticity", headers=dispatcher).get_json()
    assert verdict["status"] == "failed"
    assert {r["code"] for r in verdict["reasons"]} == {"no_checkin_location", "photo_gps_far", "gallery_only"}
    queue = client.get("/api/reviews", headers=dispatcher).get_json()
    assert [v["order_id"] for v in queue["items"]] == [order["id"]]
    assert client.get("/api/reviews", headers=tech).status_code == 403

    manager = auth.token("manager")
    decided = client.post(
        f"/api/orders/{order['id']}/authenticity/review",
        json={"decision": "rejected", "note": "photo taken at home"},
        headers=manager,
    )
    assert decided.status_code == 200 and decided.get_json()["review_decision"] == "rejected"
    assert client.get("/api/reviews", headers=dispatcher).get_json()["items"] == []
    trail = client.get(f"/api/orders/{order['id']}/events", headers=manager).get_json()["items"]
    assert trail[-1]["kind"] == "authenticity_review" and trail[-1]["data"]["decision"] == "rejected"
    bad = client.post(f"/api/orders/{order['id']}/authenticity/review", json={"decision": "maybe"}, headers=manager)
    assert bad.status_code == 400


def test_six_photos_uploaded_at_once_to_one_order_are_all_stored(app, on_site, db_session):
    """The phone sends its queued photos in parallel; none of them may meet a 500 (each upload
    is a write to the order, and they used to race on its version)."""
    order, tech, _ = on_site
    pictures = [picture(seed=100 + i) for i in range(6)]
    barrier = threading.Barrier(6)
    codes: list[int] = []
    errors: list[str] = []

    def send(data: bytes) -> None:
        client = app.test_client()
        barrier.wait()
        try:
            response = client.post(
                f"/api/tech/orders/{order['id']}/photos",
                data={"photo": (io.BytesIO(data), "proof.jpg", "image/jpeg")},
                headers=tech,
                content_type="multipart/form-data",
            )
        except Exception as exc:  # noqa: BLE001 - a test app re-raises what would be a 500
            errors.append(repr(exc))
            return
        codes.append(response.status_code)

    threads = [threading.Thread(target=send, args=(data,)) for data in pictures]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(codes) == [201] * 6
    assert db_session.query(Photo).filter_by(order_id=order["id"]).count() == 6
    events = db_session.query(WorkOrderEvent).filter_by(order_id=order["id"], kind="photo").count()
    assert events == 6
    # Each photo is a write the phone's offline queue counts: the version moved on by six.
    assert db_session.get(WorkOrder, order["id"]).version == order["version"] + 6
    db_session.rollback()
