"""Proof photos: check what was uploaded, keep it, and find its twins.

- Content is sniffed from the bytes (never the client's Content-Type): JPEG, PNG or WebP
  only. Pillow's decompression-bomb guard is tightened to an error, truncated files are
  refused, nothing is stored for a refused file.
- The original is kept as received (its EXIF is evidence); what anyone views is a
  re-encoded copy without EXIF, and a thumbnail.
- Reuse: exact copies by SHA-256; near copies (resized, recompressed, lightly cropped) by
  a 64-bit perceptual hash compared with every stored photo's hash in memory (numpy XOR and
  popcount: a million hashes in a few milliseconds).
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import Actor
from core.db import unit_of_work, utcnow
from core.errors import Conflict, TooLarge, ValidationFailed
from dispatch.authenticity import recompute
from dispatch.events import record_event
from dispatch.lifecycle import Status
from dispatch.models import Photo, WorkOrder
from dispatch.moves import get_order
from dispatch.photos.budget import DecodeBudget, MiB, pixel_bytes

MAX_PIXELS = 40_000_000  # a 12 MP phone photo is 12 M; anything past 40 M is refused
# WebP's own limit on a side, and far past any phone's panorama: a 1 × 39,000,000 strip had
# fewer pixels than the cap and still cost a worker 3 GiB to resize.
MAX_SIDE = 16_383
# What opening one picture may take in memory (decoded pixels, conversions, working copies:
# decode_cost below), and what all pictures being opened at once in one process may. A 12 MP
# phone JPEG is counted at about 100 MiB, a 40 MP one (decoded at half size) at about 75 MiB,
# a 12 MP WebP at 190 MiB; a 6,300 × 6,300 palette PNG (280 MiB) is refused.
MAX_DECODE_BYTES = 256 * MiB
PROCESS_DECODE_BYTES = 512 * MiB
DECODE_WAIT_S = 10.0  # then 503: the phone keeps the photo and sends it again
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
VIEW_SIZE = 2048
THUMB_SIZE = 320
NEAR_DISTANCE = 10  # of 64 bits; see docs/benchmarks.md for the measured trade-off
UPLOAD_STATUSES = frozenset({Status.ON_SITE, Status.COMPLETED})

# Process-wide: memory is spent per process, whichever app or thread asks.
DECODING = DecodeBudget(PROCESS_DECODE_BYTES)


class PhotoRejected(ValidationFailed):
    def __init__(self, message: str) -> None:
        super().__init__({"photo": message})


class PhotoTooLarge(PhotoRejected, TooLarge):
    """A picture whose header already says it would cost too much to open (413)."""


@dataclass(frozen=True)
class Inspected:
    """What the bytes turned out to be, and the signals read from them."""

    image_format: str
    width: int
    height: int
    sha256: str
    phash: int
    taken_at: datetime | None
    gps: tuple[float, float] | None
    view_jpeg: bytes
    thumb_jpeg: bytes


def _is_image_signature(data: bytes) -> bool:
    return data.startswith(MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def decode_cost(image: Image.Image, original_size: tuple[int, int], original_mode: str) -> int:
    """Bytes opening `image` (opened, not loaded, after any draft) takes at its peak, from its
    header alone: the decoded pixels, a conversion before shrinking, the decoder's own buffers,
    and the working copies of the view. Measured peaks are 10-30 % below (docs/security.md)."""
    width, height = image.size
    pixels = width * height
    cost = pixels * pixel_bytes(image.mode)
    if image.mode not in ("L", "RGB"):  # palette, alpha, 1-bit, 16-bit, CMYK: converted before shrinking
        cost += pixels * pixel_bytes(_shrinkable_mode(image.mode))
    if image.format == "WEBP":  # libwebp's canvas and the frame it hands over, beside Pillow's copy
        cost += pixels * 8
    if image.format == "JPEG" and image.info.get("progressive"):
        # A progressive JPEG's coefficients are all kept until the last scan, at full size
        # whatever the draft: two bytes a coefficient, each component at its own sampling.
        cost += original_size[0] * original_size[1] * 2 * _sampled_components(image, original_mode)
    view_w, view_h = _fit(image.size, VIEW_SIZE)
    # Resizing goes across first (a view-wide, full-height strip), then down; then the upright
    # RGB view and its pixels-only copy; the hash and the JPEG encoder take a few MiB more.
    return cost + view_w * height * 4 + 2 * view_w * view_h * 4 + 8 * MiB


def _sampled_components(image: Image.Image, mode: str) -> float:
    """Components per pixel a JPEG stores (4:2:0 colour: 1.5), from its frame header."""
    layers = getattr(image, "layer", None) or []  # (id, horizontal, vertical sampling, table)
    if not layers:
        return float(Image.getmodebands(mode))
    largest = max(h for _, h, _, _ in layers) * max(v for _, _, v, _ in layers)
    return sum(h * v for _, h, v, _ in layers) / largest


def _shrinkable_mode(mode: str) -> str:
    """The mode a picture is converted to before it is shrunk: resizing a palette or 1-bit
    image would fall back to nearest-neighbour, and the alpha modes would be copied anyway."""
    return "L" if mode == "1" else "RGB"


def inspect(data: bytes, tz: ZoneInfo, budget: DecodeBudget = DECODING) -> Inspected:
    """Validate and read an uploaded image, or raise PhotoRejected saying why.

    Everything that decides whether the picture may be opened is read from its header first:
    the pixel count, the longest side and the memory decoding would take (a JPEG is decoded
    at 1/2, 1/4 or 1/8 of its size when that still covers the view). Then it is decoded within
    the process's budget and shrunk to the view size before anything else is done with it."""
    if not data:
        raise PhotoRejected("the file is empty")
    if not _is_image_signature(data):
        raise PhotoRejected("is not a JPEG, PNG or WebP image")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in FORMATS:
                    raise PhotoRejected("is not a JPEG, PNG or WebP image")
                if probe.width * probe.height > MAX_PIXELS:
                    raise PhotoTooLarge("has more pixels than a photo may have")
                if max(probe.size) > MAX_SIDE:
                    raise PhotoTooLarge("is longer or wider than a photo may be")
                probe.verify()
            image = Image.open(io.BytesIO(data))
            original_size, original_mode = image.size, image.mode
            view_box = _fit(image.size, VIEW_SIZE)
            image.draft(image.mode, view_box)  # JPEG only: DCT scaling, decoded smaller
            cost = decode_cost(image, original_size, original_mode)
            if cost > MAX_DECODE_BYTES:
                raise PhotoTooLarge("would take more memory to open than a photo may")
            with budget.reserve(cost, wait_s=DECODE_WAIT_S):
                image.load()  # a truncated file fails here
                exif = image.getexif()
                if image.mode not in ("L", "RGB"):
                    image = image.convert(_shrinkable_mode(image.mode))  # keeps info, so the EXIF orientation
                image.thumbnail(view_box, Image.Resampling.LANCZOS)
                upright = _pixels_only(ImageOps.exif_transpose(image).convert("RGB"))
                del image
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise PhotoTooLarge("has more pixels than any photo should (decompression bomb)") from None
        except PhotoRejected:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise PhotoRejected("is damaged or truncated") from None
    return Inspected(
        image_format=probe.format or "",
        width=original_size[0],
        height=original_size[1],
        sha256=hashlib.sha256(data).hexdigest(),
        phash=to_signed(int(str(imagehash.phash(upright)), 16)),
        taken_at=_taken_at(exif, tz),
        gps=_gps(exif),
        view_jpeg=_jpeg(upright, VIEW_SIZE, 85),
        thumb_jpeg=_jpeg(upright, THUMB_SIZE, 75),
    )


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """`size` scaled down to fit a `longest` × `longest` box (never up), as thumbnail() would."""
    scale = min(1.0, longest / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image with the pixels of `image` and nothing else: no EXIF, no JPEG comment, no
    XMP, no ICC profile, no PNG text (Pillow writes a JPEG comment it finds in `info`)."""
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    return clean


def _jpeg(image: Image.Image, size: int, quality: int) -> bytes:
    copy = _pixels_only(image)
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=quality)  # only pixels: `copy` carries no metadata to write
    return out.getvalue()


def _taken_at(exif: Image.Exif, tz: ZoneInfo) -> datetime | None:
    """EXIF DateTimeOriginal (local time of the phone, taken as the service area's zone)."""
    raw = exif.get_ifd(0x8769).get(36867) or exif.get(306)
    try:
        local = datetime.strptime(str(raw).strip(), "%Y:%m:%d %H:%M:%S").replace(tzinfo=tz) if raw else None
        return local.astimezone(UTC) if local else None
    except ValueError:
        return None


def _gps(exif: Image.Exif) -> tuple[float, float] | None:
    gps = exif.get_ifd(0x8825)
    try:
        lat = _degrees(gps[2]) * (-1 if gps.get(1) == "S" else 1)
        lon = _degrees(gps[4]) * (-1 if gps.get(3) == "W" else 1)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None


def _degrees(dms) -> float:
    d, m, s = (float(x) for x in dms)
    return d + m / 60 + s / 3600


def to_signed(value: int) -> int:
    """A 64-bit hash as a signed integer (what a BIGINT column holds)."""
    return value - (1 << 64) if value >= 1 << 63 else value


# --- storage ------------------------------------------------------------------------


class LocalStore:
    """Files under one directory, addressed by key; S3Store stands in behind the same methods."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: a reader never sees half a file

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)


class S3Store:
    """Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, OSS…) under a key prefix, with
    LocalStore's methods. A missing key raises FileNotFoundError, as LocalStore does."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None, **client_options: Any) -> None:
        if client is None:
            import boto3  # only a deployment that stores photos in S3 pays for importing boto3

            client = boto3.client("s3", **{k: v for k, v in client_options.items() if v})
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @classmethod
    def from_url(cls, url: str, **client_options: Any) -> S3Store:
        """`s3://bucket/optional/prefix`; options go to boto3 (endpoint_url, region_name, keys)."""
        parsed = urlsplit(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"PHOTO_STORAGE_URL must look like s3://bucket/prefix, not {url!r}")
        return cls(parsed.netloc, parsed.path, **client_options)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)  # atomic: all or nothing

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)


# --- near-duplicate index -----------------------------------------------------------


class HashIndex:
    """Every stored photo's perceptual hash in memory, refreshed from the database by id, so
    each process sees photos other processes stored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ids = np.empty(0, dtype=np.int64)
        self.orders = np.empty(0, dtype=np.int64)
        self.hashes = np.empty(0, dtype=np.uint64)
        self.last_id = 0

    def refresh(self, session: Session) -> None:
        rows = session.execute(
            select(Photo.id, Photo.order_id, Photo.phash).where(Photo.id > self.last_id).order_by(Photo.id)
        ).all()
        if rows:
            self.add(
                np.array([r[0] for r in rows], dtype=np.int64),
                np.array([r[1] for r in rows], dtype=np.int64),
                np.array([r[2] for r in rows], dtype=np.int64).view(np.uint64),
            )

    def add(self, ids: np.ndarray, orders: np.ndarray, hashes: np.ndarray) -> None:
        with self._lock:
            self.ids = np.concatenate([self.ids, ids])
            self.orders = np.concatenate([self.orders, orders])
            self.hashes = np.concatenate([self.hashes, hashes.astype(np.uint64)])
            self.last_id = int(max(self.last_id, ids.max()))

    def near(
        self, phash: int, *, exclude_order: int | None = None, max_distance: int = NEAR_DISTANCE
    ) -> list[tuple[int, int, int]]:
        """(photo id, order id, distance) of stored photos within `max_distance` bits."""
        with self._lock:
            ids, orders, hashes = self.ids, self.orders, self.hashes
        if len(hashes) == 0:
            return []
        distances = np.bitwise_count(hashes ^ np.array(phash, dtype=np.int64).view(np.uint64))
        hit = distances <= max_distance
        if exclude_order is not None:
            hit &= orders != exclude_order
        order = np.argsort(distances[hit], kind="stable")
        return [
            (int(i), int(o), int(d))
            for i, o, d in zip(ids[hit][order], orders[hit][order], distances[hit][order], strict=True)
        ]


# --- the use case -------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoSettings:
    store: LocalStore | S3Store
    timezone: ZoneInfo
    index: HashIndex
    decoding: DecodeBudget = DECODING


def _may_add_proof(order: WorkOrder, actor: Actor) -> None:
    if actor.role != "technician" or actor.technician_id != order.technician_id:
        raise Conflict("only the technician doing the job adds proof photos")
    if order.status not in UPLOAD_STATUSES:
        raise Conflict(f"proof photos are taken on site; this order is {order.status}")


def add_photo(
    session: Session,
    order_id: int,
    data: bytes,
    actor: Actor,
    settings: PhotoSettings,
    *,
    source: str,
    device: tuple[float, float, float | None] | None = None,
) -> tuple[Photo, list[tuple[int, int, int]], list[int]]:
    """Store a proof photo for the order's current visit.

    Returns (photo, near copies elsewhere, orders with an exact copy). Only the order's own
    technician, on site or just completed, adds proof; nothing is stored for a refused file.
    """
    _may_add_proof(get_order(session, order_id, actor), actor)
    if source not in ("camera", "gallery"):
        raise ValidationFailed({"source": "must be camera or gallery"})
    # Opening a large picture takes a while: no transaction waits for it (SQLite's write lock,
    # a PostgreSQL connection). The order is read again, and locked, once the picture is known.
    session.rollback()
    seen = inspect(data, settings.timezone, settings.decoding)
    stamp = utcnow()
    base = f"{stamp:%Y/%m}/{order_id}/{seen.sha256[:16]}-{stamp:%H%M%S%f}"
    keys = (f"{base}.orig.{FORMATS[seen.image_format]}", f"{base}.view.jpg", f"{base}.thumb.jpg")
    try:
        for key, blob in zip(keys, (data, seen.view_jpeg, seen.thumb_jpeg), strict=True):
            settings.store.put(key, blob)
        with unit_of_work(session):
            # A photo is a write to its order: the version moves on (the phone's offline queue
            # counts on it for the moves it sends after). Holding the row from here to the commit
            # makes parallel uploads to one order queue instead of failing on that version.
            order = get_order(session, order_id, actor, lock=True)
            _may_add_proof(order, actor)
            exact = sorted(
                set(
                    session.scalars(
                        select(Photo.order_id).where(Photo.sha256 == seen.sha256, Photo.order_id != order_id)
                    )
                )
            )
            settings.index.refresh(session)
            near = settings.index.near(seen.phash, exclude_order=order_id)
            photo = Photo(
                order_id=order_id, visit=order.visit_count, uploaded_by_id=actor.user_id, uploaded_at=stamp,
                sha256=seen.sha256, phash=seen.phash, image_format=seen.image_format, width=seen.width,
                height=seen.height, size_bytes=len(data), source=source, original_key=keys[0], view_key=keys[1],
                thumb_key=keys[2], exif_taken_at=seen.taken_at, exif_lat=seen.gps[0] if seen.gps else None,
                exif_lon=seen.gps[1] if seen.gps else None, device_lat=device[0] if device else None,
                device_lon=device[1] if device else None, device_accuracy_m=device[2] if device else None,
            )  # fmt: skip
            session.add(photo)
            session.flush()
            record_event(
                session, order, "photo", actor, from_status=order.status, to_status=order.status,
                data={"photo_id": photo.id, "source": source, "exact_copy_of_orders": exact,
                      "near_copies": [{"photo_id": p, "order_id": o, "distance": d} for p, o, d in near[:5]]},
                at=stamp,
            )  # fmt: skip
            order.updated_at = stamp
            if order.status == Status.COMPLETED:
                recompute(session, order, stamp)
    except BaseException:
        for key in keys:  # nothing left behind for a photo that was not recorded
            settings.store.delete(key)
        raise
    return photo, near, exact
