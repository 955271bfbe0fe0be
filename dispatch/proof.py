"""What a completion must show. Photos arrive with the photo-proof work; until then the
rule's place is here so that `transition` already asks it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dispatch.models import WorkOrder


def check_completion(session: Session, order: WorkOrder) -> None:
    """Raise ValidationFailed when the order lacks the proof its job type needs."""
    return None
