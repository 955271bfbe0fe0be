"""Domain errors. The web layer maps each class to one HTTP status; nothing else does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class DomainError(Exception):
    """Base class; `message` is safe to show to the user. A message with values in it comes
    as a template and its `params` (`"above ¥%(limit)s"`, params={"limit": …}): the web layer
    translates the template, then fills it in (`template`, `params`)."""

    def __init__(self, message: str, *, params: Mapping[str, Any] | None = None, **details: Any) -> None:
        self.template = message
        self.params = dict(params or {})
        self.message = message % self.params if self.params else message
        super().__init__(self.message)
        self.details = details


class NotFound(DomainError):
    """The thing asked for does not exist (or the caller may not know that it does)."""


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""


class ValidationFailed(DomainError):
    """Input broke one or more rules; `fields` maps each bad field to its messages."""

    def __init__(self, fields: Mapping[str, str | Iterable[str]], message: str = "Validation error") -> None:
        normalised = {k: [v] if isinstance(v, str) else list(v) for k, v in fields.items()}
        super().__init__(message, fields=normalised)
        self.fields = normalised


class Conflict(DomainError):
    """The request is well formed but clashes with the current state."""


class InvalidTransition(Conflict):
    """The order's status does not allow this move; `allowed` lists the moves that are."""

    def __init__(self, message: str, allowed: list[str], status: str) -> None:
        super().__init__(message, allowed=allowed, order_status=status)
        self.allowed = allowed
        self.status = status


class StaleWrite(Conflict):
    """Someone else changed the record since the caller read it (`current_version`, when
    known, is the version it has now)."""

    def __init__(
        self,
        message: str = "this was changed by someone else at the same moment; reload it and try again",
        current_version: int | None = None,
    ) -> None:
        super().__init__(message, **({} if current_version is None else {"current_version": current_version}))
        self.current_version = current_version


class Refused(DomainError):
    """A well-formed request the domain turns down for a reason the user can act on (the
    technician lacks the skill, is on leave, is full, the shift ends first); `reason` is a
    stable code for clients, the message says it in words."""

    def __init__(self, message: str, reason: str, *, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, params=params, reason=reason)
        self.reason = reason


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key came back with a different request body."""


class TooLarge(ValidationFailed):
    """Input that is well formed but too large to process (a picture that would take more
    memory to open than one may); `fields` names it."""


class Busy(DomainError):
    """The service cannot take this request right now; the same request may succeed in a few
    seconds (nothing was written)."""
