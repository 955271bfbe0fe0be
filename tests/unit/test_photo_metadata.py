"""Writing a photo again without personal metadata: GPS, comments and text chunks go, the
time it was taken and its orientation stay, in each format the store keeps."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from dispatch.photos.metadata import without_personal_metadata

SECRET = "Li Si 13800000009"


def photo(fmt: str) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[36867] = "2026:11:24 10:30:00"
    exif.get_ifd(0x8825).update({1: "N", 2: (34.0, 12.0, 36.0), 3: "E", 4: (108.0, 57.0, 0.0)})
    extra: dict = {"JPEG": {"comment": SECRET}, "PNG": {"pnginfo": PngInfo()}, "WEBP": {}}[fmt]
    if fmt == "PNG":
        extra["pnginfo"].add_text("Comment", SECRET)
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, fmt, exif=exif.tobytes(), **extra)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_gps_and_comments_go_the_time_and_orientation_stay(fmt):
    before = photo(fmt)
    assert Image.open(io.BytesIO(before)).getexif().get_ifd(0x8825)
    after = without_personal_metadata(before)
    image = Image.open(io.BytesIO(after))
    assert image.format == fmt and image.size == (64, 48)
    exif = image.getexif()
    assert not exif.get_ifd(0x8825) and exif.get(0x0112) == 6
    assert exif.get_ifd(0x8769).get(36867) == "2026:11:24 10:30:00"
    assert SECRET.encode() not in after and "comment" not in image.info and "Comment" not in image.info


def test_a_file_that_is_not_an_image_is_refused():
    with pytest.raises(OSError):
        without_personal_metadata(b"not an image")
