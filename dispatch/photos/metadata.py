"""Personal data in a stored photo's metadata, and taking it out.

A phone writes where the photo was taken (EXIF GPS: the customer's home), and apps add
comments, XMP and maker notes that can hold names and numbers. The original is kept as
received while it is evidence; when the retention sweep anonymizes the customer, every file
of the photo is written again with only what says when it was taken and which way is up.
The pixels stay (a JPEG is re-encoded with its own quantisation tables, `quality="keep"`).
"""

from __future__ import annotations

import io

from PIL import Image

ORIENTATION, DATE_TIME, EXIF_IFD = 0x0112, 0x0132, 0x8769
DATE_TIME_ORIGINAL, DATE_TIME_DIGITIZED = 36867, 36868
# Image options that describe the pixels, not the person: kept when written again.
PIXEL_OPTIONS = ("icc_profile", "transparency", "dpi")


def kept_exif(image: Image.Image) -> Image.Exif:
    """The orientation and the dates of `image`'s EXIF; nothing else (no GPS, no notes)."""
    old, new = image.getexif(), Image.Exif()
    for tag in (ORIENTATION, DATE_TIME):
        if tag in old:
            new[tag] = old[tag]
    dates = {t: v for t, v in old.get_ifd(EXIF_IFD).items() if t in (DATE_TIME_ORIGINAL, DATE_TIME_DIGITIZED)}
    if dates:
        new[EXIF_IFD] = dates
    return new


def without_personal_metadata(data: bytes) -> bytes:
    """The image in `data` written again in its own format with only `kept_exif`: no GPS,
    no comment, no XMP, no text chunks. Raises what Pillow raises for a file it cannot read."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        image_format = image.format
        exif = kept_exif(image).tobytes()
        options = {k: image.info[k] for k in PIXEL_OPTIONS if k in image.info}
        image.info.clear()  # Pillow writes a JPEG's comment and XMP back from here
        out = io.BytesIO()
        if image_format == "JPEG":
            image.save(out, "JPEG", quality="keep", exif=exif, **options)
        elif image_format == "PNG":
            image.save(out, "PNG", exif=exif, **options)
        elif image_format == "WEBP":
            image.save(out, "WEBP", quality=90, exif=exif, **{k: v for k, v in options.items() if k == "icc_profile"})
        else:
            raise ValueError(f"not a photo format this store keeps: {image_format}")
    return out.getvalue()
