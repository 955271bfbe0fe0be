"""Whole numbers typed by people: one parser for every place user input becomes an int.

`str.isdigit` is true for '²', '５' (full width) and '٥' (Arabic-Indic); `int()` then fails
on the first ('²') and quietly accepts the others, so "digits, then int()" either crashes or
lets a number through in a spelling nothing else in the system expects (a month "2026-١١" is
another key than "2026-11"; `hmac.compare_digest` refuses non-ASCII text with a TypeError).
Here a number is ASCII 0-9 only, never too long to convert, and inside stated bounds.
"""

from __future__ import annotations

from core.errors import ValidationFailed

# The largest value of the database's 32-bit integer columns (most ids, versions, pages).
MAX_INT32 = 2**31 - 1
# More characters than any bounded number here needs (leading zeros included); longer text is
# refused before `int()` is asked (Python refuses above 4,300 digits, and slowly).
MAX_LENGTH = 20


def is_ascii_digits(text: object, length: int | None = None) -> bool:
    """Whether `text` is a non-empty run of ASCII 0-9 (of exactly `length` characters if given)."""
    if not isinstance(text, str) or not text or not (text.isascii() and text.isdigit()):
        return False
    return length is None or len(text) == length


def parse_int(text: object, low: int = 0, high: int = MAX_INT32) -> int | None:
    """The number `text` spells in ASCII digits if it lies in [low, high]; otherwise None.

    No sign, no spaces, no '_' separators (all of which `int()` would take)."""
    if not is_ascii_digits(text) or len(text) > MAX_LENGTH:  # type: ignore[arg-type]
        return None
    value = int(text)  # type: ignore[arg-type]
    return value if low <= value <= high else None


def require_int(text: object, field: str, low: int = 0, high: int = MAX_INT32) -> int:
    """Like `parse_int`, but a missing or bad number is a `ValidationFailed` naming `field`."""
    value = parse_int(text, low, high)
    if value is None:
        raise ValidationFailed({field: f"must be a whole number from {low} to {high}, in digits 0-9"})
    return value
