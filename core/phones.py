"""Phone numbers, validated by Google's libphonenumber (the `phonenumbers` package)."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType


def normalize_phone(raw: str, region: str = "CN", *, mobile_only: bool = True) -> str:
    """Return the number in E.164 form, or raise ValueError with a message for the user.

    Mainland mobile numbers are the default expectation; landlines are accepted when
    `mobile_only` is False (a hotline operator may type one).
    """
    text = (raw or "").strip()
    if not text:
        raise ValueError("is required")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        raise ValueError("is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    kind = phonenumbers.number_type(number)
    if mobile_only and kind not in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise ValueError("must be a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def can_take_texts(e164: str) -> bool:
    """Whether a stored number can receive an SMS or a WeChat message (a mobile number)."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return False
    return phonenumbers.number_type(number) in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def display_phone(e164: str) -> str:
    """A number as people read it: national format for +86, international otherwise."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 86
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)


def mask_phone(e164: str) -> str:
    """138****5678: enough to recognise a number, not enough to call it."""
    digits = e164.removeprefix("+86")
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else "****"


def phone_pattern(region: str = "CN") -> str:
    """A regular expression for the numbers `normalize_phone(..., mobile_only=False)` takes
    written without separators: the region's mobile numbers (optionally with the country
    code) and its landlines with the trunk prefix. Built from libphonenumber's own metadata,
    so every string it matches is a valid number; ASCII digits only (`\\d` would match any
    script's digits in some regex engines)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    mobile = metadata.mobile.national_number_pattern.replace(r"\d", "[0-9]")
    fixed = metadata.fixed_line.national_number_pattern.replace(r"\d", "[0-9]")
    code = metadata.country_code
    return rf"^(?:\+{code})?(?:{mobile})$|^{metadata.national_prefix}(?:{fixed})$"
