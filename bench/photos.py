"""Benchmark of photo proof: reuse detection quality, lookup speed, upload cost, bomb memory.

    python -m bench.photos [--distinct 2000] [--index 1000000]

A script that prints figures, not a test. Images are drawn with Pillow (seeded), copies are
made the way reused proof is: re-saved, rescaled 50–90 %, JPEG quality 40–90, cropped ≤ 10 %.
"""

from __future__ import annotations

import argparse
import io
import random
import resource
import statistics
import time
from zoneinfo import ZoneInfo

import imagehash
import numpy as np
from PIL import Image, ImageDraw

from dispatch.photos import NEAR_DISTANCE, HashIndex, PhotoRejected, inspect, to_signed

TZ = ZoneInfo("Asia/Shanghai")


def drawing(seed: int, size=(640, 480)) -> Image.Image:
    rnd = random.Random(seed)
    img = Image.new("RGB", size, tuple(rnd.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(rnd.randint(8, 30)):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        box = [x, y, x + rnd.randrange(20, 300), y + rnd.randrange(20, 300)]
        colour = tuple(rnd.randrange(256) for _ in range(3))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return img


def copy_of(img: Image.Image, rnd: random.Random) -> Image.Image:
    w, h = img.size
    kind = rnd.choice(["resave", "rescale", "quality", "crop", "all"])
    out = img
    if kind in ("rescale", "all"):
        f = rnd.uniform(0.5, 0.9)
        out = out.resize((int(w * f), int(h * f)))
    if kind in ("crop", "all"):
        cw, ch = out.size
        dx, dy = int(cw * rnd.uniform(0, 0.05)), int(ch * rnd.uniform(0, 0.05))
        out = out.crop((dx, dy, cw - dx, ch - dy))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=rnd.randint(40, 90) if kind in ("quality", "all") else 90)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def phash(img: Image.Image) -> int:
    return to_signed(int(str(imagehash.phash(img)), 16))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--distinct", type=int, default=2000)
    parser.add_argument("--index", type=int, default=1_000_000)
    args = parser.parse_args()
    rnd = random.Random(5)

    t0 = time.perf_counter()
    originals = [drawing(i) for i in range(args.distinct)]
    index = HashIndex()
    hashes = np.array([phash(im) for im in originals], dtype=np.int64)
    index.add(np.arange(1, len(hashes) + 1), np.arange(1, len(hashes) + 1), hashes.view(np.uint64))
    copies = [(i, copy_of(originals[i], rnd)) for i in rnd.sample(range(args.distinct), args.distinct // 2)]
    fresh = [drawing(10_000_000 + i) for i in range(args.distinct // 2)]
    print(f"reuse set: {args.distinct} originals, {len(copies)} copies, {len(fresh)} new distinct images "
          f"({time.perf_counter() - t0:.1f} s to draw and hash)")  # fmt: skip
    for threshold in (6, 8, NEAR_DISTANCE, 12):
        found = sum(any(o == i + 1 for _, o, _ in index.near(phash(c), max_distance=threshold)) for i, c in copies)
        false = sum(bool(index.near(phash(f), max_distance=threshold)) for f in fresh)
        print(f"  distance ≤ {threshold:2d}: copies flagged {100 * found / len(copies):5.1f} %, "
              f"distinct falsely flagged {100 * false / len(fresh):4.1f} %")  # fmt: skip

    big = HashIndex()
    n = args.index
    big.add(
        np.arange(1, n + 1),
        np.arange(1, n + 1),
        np.random.default_rng(1).integers(0, 2**63, n, dtype=np.int64).view(np.uint64),
    )
    probe = [int(x) for x in np.random.default_rng(2).integers(0, 2**63, 200, dtype=np.int64)]
    times = []
    for h in probe:
        t = time.perf_counter()
        big.near(h)
        times.append((time.perf_counter() - t) * 1000)
    print(f"near-duplicate lookup in {n:,} hashes: p50 {statistics.median(times):.1f} ms, "
          f"p95 {sorted(times)[int(0.95 * len(times))]:.1f} ms, memory {big.hashes.nbytes / 2**20:.0f} MiB")  # fmt: skip

    # Camera noise makes a 12 MP photo weigh what a phone's does (about 4 MB).
    noise = np.random.default_rng(3).integers(0, 40, (3000, 4000, 3), dtype=np.uint8)
    photo = Image.fromarray(np.asarray(drawing(42, size=(4000, 3000)), dtype=np.uint8) // 2 + noise)
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        inspect(data, TZ)
        times.append(time.perf_counter() - t)
    print(f"a {len(data) / 2**20:.1f} MB 12 MP JPEG: checks, EXIF, hashes and both re-encodings "
          f"{statistics.median(times) * 1000:.0f} ms (median of 5)")  # fmt: skip

    bomb = io.BytesIO()
    Image.new("1", (30_000, 30_000)).save(bomb, "PNG")
    del photo, noise, originals
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # a high-water mark: only growth shows
    t = time.perf_counter()
    try:
        inspect(bomb.getvalue(), TZ)
    except PhotoRejected as exc:
        verdict = exc.fields["photo"][0]
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"decompression bomb ({len(bomb.getvalue()) / 1024:.0f} kB file, 900 Mpx): refused in "
          f"{(time.perf_counter() - t) * 1000:.0f} ms ('{verdict}'), peak memory grew {max(0, after - before) / 1024:.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
