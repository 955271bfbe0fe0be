"""What opening a picture may cost: counted from its header, and shared by one process's threads."""

from __future__ import annotations

import io
import threading
import time

import pytest
from PIL import Image

from core.errors import Busy
from dispatch.photos import MAX_DECODE_BYTES, PROCESS_DECODE_BYTES, decode_cost
from dispatch.photos.budget import DecodeBudget, pixel_bytes


def test_pillow_keeps_rgb_in_four_bytes_a_pixel_and_palette_in_one():
    assert [pixel_bytes(m) for m in ("1", "L", "P", "I;16", "LA", "RGB", "RGBA", "CMYK")] == [1, 1, 1, 2, 4, 4, 4, 4]


def test_a_reservation_that_fits_is_taken_at_once_and_given_back():
    budget = DecodeBudget(100)
    with budget.reserve(60, wait_s=0), budget.reserve(40, wait_s=0):
        assert budget.in_use == 100
    assert budget.in_use == 0


def test_a_reservation_that_does_not_fit_waits_for_the_holder_to_finish():
    budget = DecodeBudget(100)
    held, waited = threading.Event(), []

    def holder() -> None:
        with budget.reserve(80, wait_s=0):
            held.set()
            time.sleep(0.3)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait()
    started = time.monotonic()
    with budget.reserve(50, wait_s=5):
        waited.append(time.monotonic() - started)
        assert budget.in_use == 50
    thread.join()
    assert 0.1 < waited[0] < 5


def test_a_reservation_still_not_fitting_after_the_wait_is_busy_and_takes_nothing():
    budget = DecodeBudget(100)
    with budget.reserve(80, wait_s=0):
        with pytest.raises(Busy), budget.reserve(50, wait_s=0.05):
            pass
        assert budget.in_use == 80


def test_one_picture_may_never_take_more_than_the_whole_budget():
    assert MAX_DECODE_BYTES <= PROCESS_DECODE_BYTES
    with pytest.raises(ValueError):
        DecodeBudget(100).reserve(101, wait_s=0).__enter__()


def opened(size, fmt: str, mode: str = "RGB", **save) -> Image.Image:
    out = io.BytesIO()
    Image.new(mode, size).save(out, fmt, **save)
    return Image.open(io.BytesIO(out.getvalue()))


def test_a_palette_picture_is_counted_with_its_conversion_to_rgb():
    grey, palette = opened((1000, 1000), "PNG", "L"), opened((1000, 1000), "PNG", "P")
    assert decode_cost(palette, palette.size, "P") - decode_cost(grey, grey.size, "L") == 4 * 1000 * 1000


def test_a_progressive_jpeg_is_counted_with_its_coefficients_at_full_size_whatever_the_draft():
    baseline = opened((1600, 1200), "JPEG")
    progressive = opened((1600, 1200), "JPEG", progressive=True)
    for image in (baseline, progressive):
        image.draft("RGB", (400, 300))
        assert image.size == (400, 300)
    extra = decode_cost(progressive, (1600, 1200), "RGB") - decode_cost(baseline, (1600, 1200), "RGB")
    assert extra == 1600 * 1200 * 2 * 1.5  # 4:2:0: a full-size luma plane and two quarter-size chroma ones
