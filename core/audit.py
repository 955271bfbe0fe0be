"""Who changed what in the service network (outlets, technicians, accounts, skills)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, BigId, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def record_change(
    session: Session, actor_id: int | None, entity: str, entity_id: int, action: str, changes: dict[str, Any]
) -> None:
    """Append one history row; `changes` maps field → [old, new]."""
    session.add(AuditEntry(actor_id=actor_id, entity=entity, entity_id=entity_id, action=action, changes=changes))


def apply_changes(obj: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set attributes on `obj` and return {field: [old, new]} for those that really changed."""
    changed: dict[str, list[Any]] = {}
    for field, new in values.items():
        old = getattr(obj, field)
        if old != new:
            setattr(obj, field, new)
            changed[field] = [_jsonable(old), _jsonable(new)]
    return changed


def history(session: Session, entity: str, entity_id: int) -> list[AuditEntry]:
    query = (
        select(AuditEntry).where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id).order_by(AuditEntry.id)
    )
    return list(session.scalars(query))


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
