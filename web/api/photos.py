"""Proof photos over HTTP: upload from the phone, view without EXIF, originals for managers."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import File
from apiflask.validators import OneOf, Range
from flask import Response, abort, current_app, request

from core.errors import NotFound
from dispatch import authenticity, moves
from dispatch.models import AuthenticityVerdict, Photo
from dispatch.photos import add_photo
from web.api import strict_fields as fields
from web.api.base import SECURITY, bp
from web.api.schemas import PageQuery
from web.auth import ANY_ROLE, LOCATION_ROLES, REVIEWERS, current_actor, roles_required
from web.extensions import db
from web.wiring import photo_settings

# What an upload may answer besides 201, for both upload routes.
UPLOAD_RESPONSES = {
    413: "the file is larger than the upload limit, or the picture would take more memory to open than "
    "a photo may (too many pixels, a side longer than 16,383 px, too many decoded bytes); `photo` says which",
    503: "the server is busy opening other photos: nothing was stored, send it again after Retry-After seconds",
}


class PhotoIn(Schema):
    TEXT_INPUT = True  # query string / form: every value arrives as text (strict_fields)
    photo = File(required=True)
    source = fields.String(load_default="camera", validate=OneOf(("camera", "gallery")))
    lat = fields.Float(load_default=None, allow_none=True, validate=Range(-90, 90))
    lon = fields.Float(load_default=None, allow_none=True, validate=Range(-180, 180))
    accuracy_m = fields.Float(load_default=None, allow_none=True, validate=Range(0, 100_000))


class NearCopy(Schema):
    photo_id = fields.Integer()
    order_id = fields.Integer()
    distance = fields.Integer()


class PhotoOut(Schema):
    id = fields.Integer()
    order_id = fields.Integer()
    visit = fields.Integer()
    uploaded_at = fields.DateTime()
    source = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    size_bytes = fields.Integer()
    sha256 = fields.String()
    exif_taken_at = fields.DateTime(allow_none=True)
    exif_lat = fields.Float(allow_none=True, metadata={"description": "managers and admins only"})
    exif_lon = fields.Float(allow_none=True, metadata={"description": "managers and admins only"})
    near_copies = fields.List(fields.Nested(NearCopy))
    exact_copy_of_orders = fields.List(fields.Integer())


class PhotoList(Schema):
    items = fields.List(fields.Nested(PhotoOut))


def photo_out(photo: Photo, near=(), exact=()) -> dict:
    sees_location = current_actor().role in LOCATION_ROLES
    return {
        "id": photo.id, "order_id": photo.order_id, "visit": photo.visit, "uploaded_at": photo.uploaded_at,
        "source": photo.source, "width": photo.width, "height": photo.height, "size_bytes": photo.size_bytes,
        "sha256": photo.sha256, "exif_taken_at": photo.exif_taken_at,
        "exif_lat": photo.exif_lat if sees_location else None, "exif_lon": photo.exif_lon if sees_location else None,
        "near_copies": [{"photo_id": p, "order_id": o, "distance": d} for p, o, d in near],
        "exact_copy_of_orders": list(exact),
    }  # fmt: skip


@bp.post("/orders/<int:order_id>/photos")
@roles_required("technician")
@bp.input(PhotoIn, location="form_and_files", arg_name="body")
@bp.output(PhotoOut, status_code=201)
@bp.doc(security=SECURITY, responses=UPLOAD_RESPONSES | {409: "not on site for this order"})
def upload_photo(order_id: int, body: dict):
    """Add a proof photo (JPEG, PNG or WebP) to the order's current visit, with the phone's
    position at upload. Says whether the same picture was seen on other orders."""
    data = body["photo"].read(current_app.config["MAX_CONTENT_LENGTH"] + 1)
    device = (
        (body["lat"], body["lon"], body["accuracy_m"]) if body["lat"] is not None and body["lon"] is not None else None
    )
    photo, near, exact = add_photo(
        db.session, order_id, data, current_actor(), photo_settings(), source=body["source"], device=device
    )
    return photo_out(photo, near, exact)


@bp.get("/orders/<int:order_id>/photos")
@roles_required(*ANY_ROLE)
@bp.output(PhotoList)
@bp.doc(security=SECURITY)
def list_photos(order_id: int):
    """The order's proof photos, all visits."""
    moves.get_order(db.session, order_id, current_actor())
    photos = db.session.query(Photo).filter(Photo.order_id == order_id).order_by(Photo.id).all()
    return {"items": [photo_out(p) for p in photos]}


def _visible_photo(photo_id: int) -> Photo:
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        raise NotFound(f"photo {photo_id} not found")
    moves.get_order(db.session, photo.order_id, current_actor())  # 404 unless the order is visible
    return photo


@bp.get("/photos/<int:photo_id>")
@roles_required(*ANY_ROLE)
@bp.doc(security=SECURITY, responses={200: {"description": "a JPEG without EXIF", "content": {"image/jpeg": {}}}})
def view_photo(photo_id: int):
    """The photo re-encoded without EXIF (`?size=thumb` for the thumbnail)."""
    photo = _visible_photo(photo_id)
    key = photo.thumb_key if request.args.get("size") == "thumb" else photo.view_key
    return Response(
        photo_settings().store.get(key), mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@bp.get("/photos/<int:photo_id>/original")
@roles_required(*LOCATION_ROLES)
@bp.doc(security=SECURITY, responses={200: {"description": "the file as uploaded, EXIF included"}})
def original_photo(photo_id: int):
    """The file exactly as uploaded, EXIF included (managers and admins: it holds the place)."""
    photo = _visible_photo(photo_id)
    mimetype = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}.get(photo.image_format)
    if mimetype is None:
        abort(404)
    return Response(
        photo_settings().store.get(photo.original_key), mimetype=mimetype, headers={"Cache-Control": "private"}
    )


class VerdictOut(Schema):
    order_id = fields.Integer()
    visit = fields.Integer()
    status = fields.String(metadata={"description": "verified, doubtful or failed"})
    reasons = fields.List(fields.Dict())
    computed_at = fields.DateTime()
    review_decision = fields.String(allow_none=True)
    reviewed_by_id = fields.Integer(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    review_note = fields.String(allow_none=True)


class VerdictPage(Schema):
    items = fields.List(fields.Nested(VerdictOut))
    meta = fields.Dict()


class ReviewIn(Schema):
    decision = fields.String(required=True, validate=OneOf(("confirmed", "rejected")))
    note = fields.String(load_default=None, allow_none=True)


@bp.get("/orders/<int:order_id>/authenticity")
@roles_required(*REVIEWERS)
@bp.output(VerdictOut)
@bp.doc(security=SECURITY)
def order_authenticity(order_id: int):
    """The order's authenticity verdict and the reasons behind it."""
    moves.get_order(db.session, order_id, current_actor())
    verdict = db.session.get(AuthenticityVerdict, order_id)
    if verdict is None:
        raise NotFound("this order has no verdict yet (it is not completed)")
    return verdict


@bp.get("/reviews")
@roles_required(*REVIEWERS)
@bp.input(PageQuery, location="query", arg_name="args")
@bp.output(VerdictPage)
@bp.doc(security=SECURITY)
def review_queue(args: dict):
    """Doubtful and failed orders waiting for a reviewer, oldest first."""
    page = authenticity.review_orders(db.session, current_actor(), args["page"], args["per_page"])
    return {"items": [verdict for _, verdict in page.items], "meta": page.meta()}


@bp.post("/orders/<int:order_id>/authenticity/review")
@roles_required(*REVIEWERS)
@bp.input(ReviewIn, arg_name="body")
@bp.output(VerdictOut)
@bp.doc(security=SECURITY, responses={409: "the order is verified: nothing to review"})
def review_authenticity(order_id: int, body: dict):
    """Confirm that the service happened, or reject it; recorded as an event."""
    moves.get_order(db.session, order_id, current_actor())
    return authenticity.review(db.session, order_id, body["decision"], current_actor(), body["note"])
