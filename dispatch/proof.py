"""What a completion must show: the proof photos its job type asks for, taken this visit."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import ValidationFailed
from dispatch.models import Photo, WorkOrder


def check_completion(session: Session, order: WorkOrder) -> None:
    """Raise ValidationFailed when the current visit lacks its required proof photos."""
    if order.proof_photos_required <= 0:
        return
    taken = session.scalar(
        select(func.count()).select_from(Photo).where(Photo.order_id == order.id, Photo.visit == order.visit_count)
    )
    if taken < order.proof_photos_required:
        raise ValidationFailed(
            {
                "photo": f"a completed job needs {order.proof_photos_required} proof photo(s) from this visit; {taken} taken"
            }
        )
