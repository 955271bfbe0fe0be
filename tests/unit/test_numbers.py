"""The one parser for numbers people type (core/numbers.py), the KPI month rule built on it,
and the one-time code check that relies on it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyotp
import pytest

from core.dates import within_range
from core.errors import ValidationFailed
from core.numbers import MAX_INT32, is_ascii_digits, parse_int, require_int
from core.twofactor import matching_step
from dispatch.kpis import last_months, month_bounds, parse_month


@pytest.mark.parametrize(
    "text",
    ["²", "５", "٥", "١٢", "1²", "+1", "-1", " 1", "1 ", "1_000", "1.0", "", "0x1", "9" * 21, None, 5, "1\n"],
)
def test_only_ascii_digits_make_a_number(text):
    assert parse_int(text) is None


def test_a_number_outside_its_bounds_is_none():
    assert parse_int("0", 1) is None
    assert parse_int("6", 1, 5) is None
    assert parse_int(str(MAX_INT32 + 1)) is None
    assert parse_int(str(MAX_INT32)) == MAX_INT32
    assert parse_int("007", 1, 10) == 7


def test_require_int_names_the_field():
    assert require_int("42", "version", 1) == 42
    with pytest.raises(ValidationFailed) as raised:
        require_int("²", "version", 1)
    assert raised.value.fields == {"version": ["must be a whole number from 1 to 2147483647, in digits 0-9"]}


def test_is_ascii_digits_checks_the_length_when_asked():
    assert is_ascii_digits("123456", length=6)
    assert not is_ascii_digits("12345", length=6)
    assert not is_ascii_digits("１２３４５６", length=6)


@pytest.mark.parametrize("month", ["2026-11", "1900-01", "2199-12"])
def test_kpi_months_in_ascii_digits_and_in_range_are_taken(month):
    assert parse_month(month) == month


@pytest.mark.parametrize("month", ["2026-0²", "0000-01", "9999-12", "10000-01", "1899-12", "2200-01", "2026-13",
                                   "2026-00", "20٢٦-11", "２０２６-11", "2026-11\n", "2026/11", "2026-1", None])  # fmt: skip
def test_other_kpi_months_are_refused(month):
    assert parse_month(month) is None


def test_month_arithmetic_refuses_a_bad_month_as_input_not_as_an_arithmetic_error():
    for month in ("9999-12", "0000-01", "2026-1²"):
        with pytest.raises(ValidationFailed):
            month_bounds(month, UTC)
        with pytest.raises(ValidationFailed):
            last_months(month, 12)
    assert last_months("1900-01", 2) == ["1899-12", "1900-01"]


def test_a_one_time_code_in_other_digits_matches_no_step():
    secret = pyotp.random_base32()
    code = pyotp.TOTP(secret).now()
    full_width = "".join(chr(ord("０") + int(d)) for d in code)
    assert matching_step(secret, code, None) is not None
    assert matching_step(secret, full_width, None) is None  # was a TypeError in hmac.compare_digest


def test_dates_people_may_enter_lie_in_the_years_2000_to_2099():
    assert within_range(date(2000, 1, 1)) and within_range(datetime(2099, 12, 31, 23, 59, tzinfo=UTC))
    assert not within_range(date(1999, 12, 31)) and not within_range(datetime(9999, 12, 31, 22, 0))
